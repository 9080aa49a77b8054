package loader

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// BundleTarget is a Target that takes batch and transaction Bundles (a server over HTTP).
type BundleTarget interface {
	Target
	// Bundle posts a batch or transaction Bundle and returns the answers to its entries, in
	// order. A transaction refused as a whole is a *RejectedError.
	Bundle(ctx context.Context, bundle []byte) ([]EntryAnswer, error)
}

// EntryAnswer is the answer to one entry of a batch or transaction.
type EntryAnswer struct {
	Status   int
	Location string
	Etag     string
	Resource json.RawMessage
	Outcome  json.RawMessage
}

var _ BundleTarget = (*HTTPTarget)(nil)

// Bundle sends POST [base] with the Bundle.
func (t *HTTPTarget) Bundle(ctx context.Context, bundle []byte) ([]EntryAnswer, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/fhir+json")
	h.Set("Prefer", "return=representation")
	resp, answer, err := t.do(ctx, http.MethodPost, t.base, bundle, h)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, answerError(resp, answer)
	}
	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
			Response struct {
				Status   string          `json:"status"`
				Location string          `json:"location"`
				Etag     string          `json:"etag"`
				Outcome  json.RawMessage `json:"outcome"`
			} `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(answer, &b); err != nil {
		return nil, fmt.Errorf("POST %s answered a body that is not a Bundle: %v", t.base, err)
	}
	out := make([]EntryAnswer, len(b.Entry))
	for i, e := range b.Entry {
		code, _, _ := strings.Cut(e.Response.Status, " ")
		status, err := strconv.Atoi(code)
		if err != nil {
			return nil, fmt.Errorf("POST %s: entry %d has the status %q", t.base, i, e.Response.Status)
		}
		out[i] = EntryAnswer{Status: status, Location: e.Response.Location, Etag: e.Response.Etag, Resource: e.Resource, Outcome: e.Response.Outcome}
	}
	return out, nil
}

// answer turns an entry's answer into what a single request's answer would be, for the
// functions that read those.
func (a EntryAnswer) answer() (*http.Response, []byte) {
	resp := &http.Response{StatusCode: a.Status, Header: http.Header{}}
	resp.Header.Set("ETag", a.Etag)
	if a.Status >= 300 {
		return resp, a.Outcome
	}
	return resp, a.Resource
}

// BatchTarget sends the reads and writes of the loader's workers to an HTTP target in
// batch Bundles of up to Size entries instead of one request each: the calls that arrive
// together (within a few milliseconds) share one Bundle. Each call still gets its own
// answer, so the loader works as it does without it.
type BatchTarget struct {
	*HTTPTarget
	size int
	wait time.Duration

	mu      sync.Mutex
	pending []*batchCall
	timer   *time.Timer
}

type batchCall struct {
	entry map[string]any
	done  chan batchDone
}

type batchDone struct {
	answer EntryAnswer
	err    error
}

var _ Target = (*BatchTarget)(nil)

// NewBatchTarget returns t sending batches of up to size entries.
func NewBatchTarget(t *HTTPTarget, size int) *BatchTarget {
	return &BatchTarget{HTTPTarget: t, size: max(1, size), wait: 5 * time.Millisecond}
}

// submit adds one entry to the next batch and waits for its answer.
func (b *BatchTarget) submit(ctx context.Context, entry map[string]any) (EntryAnswer, error) {
	c := &batchCall{entry: entry, done: make(chan batchDone, 1)}
	b.mu.Lock()
	b.pending = append(b.pending, c)
	if len(b.pending) >= b.size {
		calls := b.take()
		b.mu.Unlock()
		go b.send(calls)
	} else {
		if b.timer == nil {
			b.timer = time.AfterFunc(b.wait, func() {
				b.mu.Lock()
				calls := b.take()
				b.mu.Unlock()
				b.send(calls)
			})
		}
		b.mu.Unlock()
	}
	select {
	case d := <-c.done:
		return d.answer, d.err
	case <-ctx.Done():
		return EntryAnswer{}, ctx.Err()
	}
}

// take empties the pending calls; the caller holds mu.
func (b *BatchTarget) take() []*batchCall {
	calls := b.pending
	b.pending = nil
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	return calls
}

// send posts one batch and hands each call its answer.
func (b *BatchTarget) send(calls []*batchCall) {
	if len(calls) == 0 {
		return
	}
	entries := make([]any, len(calls))
	for i, c := range calls {
		entries[i] = c.entry
	}
	body, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "batch", "entry": entries})
	var answers []EntryAnswer
	if err == nil {
		answers, err = b.HTTPTarget.Bundle(context.Background(), body)
	}
	if err == nil && len(answers) != len(calls) {
		err = fmt.Errorf("the batch of %d entries was answered with %d", len(calls), len(answers))
	}
	for i, c := range calls {
		if err != nil {
			c.done <- batchDone{err: err}
			continue
		}
		c.done <- batchDone{answer: answers[i]}
	}
}

// Current reads typ/id in a batch.
func (b *BatchTarget) Current(ctx context.Context, typ, id string) (*Stored, error) {
	a, err := b.submit(ctx, map[string]any{"request": map[string]any{"method": "GET", "url": resourcePath(typ, id)}})
	if err != nil {
		return nil, err
	}
	resp, body := a.answer()
	return currentAnswer(typ, id, resp, body)
}

// Put writes typ/id in a batch.
func (b *BatchTarget) Put(ctx context.Context, typ, id string, body []byte, ifMatch int64) (bool, error) {
	req := map[string]any{"method": "PUT", "url": resourcePath(typ, id)}
	if ifMatch > 0 {
		req["ifMatch"] = `W/"` + strconv.FormatInt(ifMatch, 10) + `"`
	}
	a, err := b.submit(ctx, map[string]any{"resource": json.RawMessage(body), "request": req})
	if err != nil {
		return false, err
	}
	return putAnswer(a.answer())
}

// Create creates typ unless criteria match, in a batch.
func (b *BatchTarget) Create(ctx context.Context, typ string, criteria url.Values, body []byte) (*CreateResult, error) {
	a, err := b.submit(ctx, map[string]any{"resource": json.RawMessage(body),
		"request": map[string]any{"method": "POST", "url": url.PathEscape(typ), "ifNoneExist": criteria.Encode()}})
	if err != nil {
		return nil, err
	}
	resp, answer := a.answer()
	return createAnswer(typ, resp, answer)
}
