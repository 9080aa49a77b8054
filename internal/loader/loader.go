// Package loader loads FHIR resources from files into the server: JSON resources, Bundles
// (every entry's resource, whatever the bundle type) and NDJSON, from files, folders and the
// embedded fixtures, over HTTP (HTTPTarget) or in-process through the domain service
// (ServiceTarget).
//
// Loading is idempotent. A resource with an id of its own (or, in a Bundle, a urn:uuid
// fullUrl) is written under that id with an update (PUT, update as create). One without is
// found by its business identity with a conditional create (If-None-Exist): its canonical
// url and version, else its first identifier; the HTTP target sends it to the server, the
// in-process target runs the server's own conditional create (internal/conditional). Either
// way the loader compares what it finds with the file and writes only when the content
// differs apart from meta.versionId and meta.lastUpdated, so loading the same files again
// writes no new versions.
package loader

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Outcome is what loading one resource did.
type Outcome int

// The outcomes of loading a resource.
const (
	Created   Outcome = iota // it did not exist (or was deleted) and was written as version 1 (or the next)
	Updated                  // it existed with other content and a new version was written
	Unchanged                // it existed with the same content; nothing was written
	Failed                   // it could not be read or the target refused it
)

// Options tune a Loader.
type Options struct {
	// Workers is how many resources are written at once; default 4. All writes of one
	// resource go through the same worker, in the order of the files.
	Workers int
	// Progress receives the progress display; nil shows none.
	Progress io.Writer
	// Terminal draws the progress as a bar redrawn in place; otherwise Progress gets a plain
	// line every few seconds.
	Terminal bool
}

// Loader loads files into a Target.
type Loader struct {
	target Target
	opts   Options
	now    func() time.Time
}

// New returns a Loader that writes to target.
func New(target Target, opts Options) (*Loader, error) {
	if target == nil {
		return nil, errors.New("loader: New needs a target")
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	return &Loader{target: target, opts: opts, now: time.Now}, nil
}

// result is what happened to one item.
type result struct {
	item
	outcome Outcome
}

// Load loads every input and returns what it did. The error is a *FailedError listing every
// resource that was not loaded, or, when the target could not be used at all (unreachable,
// credentials refused, the database failing) or ctx ended, the reason the load stopped; the
// Summary then covers what was done until then.
func (l *Loader) Load(ctx context.Context, inputs []Input) (*Summary, error) {
	start := l.now()
	sum := newSummary(len(inputs))
	if err := l.target.Check(ctx); err != nil {
		return sum, err
	}
	var total int64
	for _, in := range inputs {
		if in.Size <= 0 {
			total = -1
			break
		}
		total += in.Size
	}
	prog := newProgress(l.opts.Progress, l.opts.Terminal, total, l.now)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		fatalOnce sync.Once
		fatal     error
	)
	stop := func(err error) {
		fatalOnce.Do(func() { fatal = err; cancel() })
	}

	results := make(chan result, 64)
	work := make([]chan item, l.opts.Workers)
	var wg sync.WaitGroup
	for i := range work {
		work[i] = make(chan item, 16)
		wg.Go(func() {
			for it := range work[i] {
				if ctx.Err() != nil {
					continue // stopping: drain
				}
				if it.transaction != nil {
					rs, err := l.sendTransaction(ctx, it)
					if err != nil {
						if ctx.Err() == nil {
							stop(fmt.Errorf("%s: %w", it.source, err))
						}
						continue
					}
					for _, r := range rs {
						results <- r
					}
					continue
				}
				outcome, err := l.one(ctx, it)
				if err != nil && !isRejected(err) {
					if ctx.Err() == nil {
						stop(fmt.Errorf("%s (%s): %w", it.source, it.label(), err))
					}
					continue
				}
				it.err = err
				results <- result{item: it, outcome: outcome}
			}
		})
	}
	wg.Go(func() {
		defer func() {
			for _, ch := range work {
				close(ch)
			}
		}()
		_, bundles := l.target.(BundleTarget)
		sp := &splitter{transactions: bundles, emit: func(it item) bool {
			if it.err != nil {
				select {
				case results <- result{item: it, outcome: Failed}:
					return true
				case <-ctx.Done():
					return false
				}
			}
			select {
			case work[shard(it.typ, it.key(), len(work))] <- it:
				return true
			case <-ctx.Done():
				return false
			}
		}}
		for _, in := range inputs {
			if !sp.read(in) {
				return
			}
		}
	})
	go func() { wg.Wait(); close(results) }()

	var done int64
	for r := range results {
		sum.add(r)
		done += r.size
		prog.update(done, sum)
	}
	prog.finish()
	sum.Elapsed = l.now().Sub(start)
	sort.Slice(sum.Failures, func(i, j int) bool { return sum.Failures[i].seq < sum.Failures[j].seq })

	switch {
	case fatal != nil:
		return sum, fmt.Errorf("loading stopped: %w", fatal)
	case ctx.Err() != nil:
		return sum, fmt.Errorf("loading interrupted: %w", context.Cause(ctx))
	case len(sum.Failures) > 0:
		return sum, &FailedError{Failures: sum.Failures}
	}
	return sum, nil
}

// one loads one resource: it writes only when the target's current version differs.
func (l *Loader) one(ctx context.Context, it item) (Outcome, error) {
	if it.criteria != nil {
		return l.conditional(ctx, it)
	}
	cur, err := l.target.Current(ctx, it.typ, it.id)
	if err != nil {
		return Failed, err
	}
	if cur != nil && sameContent(cur.Raw, it.body) {
		return Unchanged, nil
	}
	var ifMatch int64
	if cur != nil {
		ifMatch = cur.Version
	}
	created, err := l.target.Put(ctx, it.typ, it.id, it.body, ifMatch)
	switch {
	case err != nil:
		return Failed, err
	case created:
		return Created, nil
	}
	return Updated, nil
}

// conditional loads a resource that has no id of its own: a conditional create finds it by
// its criteria or creates it, and a found resource whose content differs from the file gets
// a new version (with If-Match on the version found).
func (l *Loader) conditional(ctx context.Context, it item) (Outcome, error) {
	res, err := l.target.Create(ctx, it.typ, it.criteria, it.body)
	switch {
	case err != nil:
		return Failed, err
	case res.Existing == nil:
		return Created, nil
	}
	body, err := withID(it.body, res.ID)
	if err != nil {
		return Failed, err
	}
	if sameContent(res.Existing.Raw, body) {
		return Unchanged, nil
	}
	if _, err := l.target.Put(ctx, it.typ, res.ID, body, res.Existing.Version); err != nil {
		return Failed, err
	}
	return Updated, nil
}

// sendTransaction sends a transaction Bundle as it is and returns one result per entry:
// all stored, or all failed with the reason the server gave.
func (l *Loader) sendTransaction(ctx context.Context, it item) ([]result, error) {
	answers, err := l.target.(BundleTarget).Bundle(ctx, it.body)
	if err != nil && !isRejected(err) {
		return nil, err
	}
	out := make([]result, len(it.transaction))
	for i, e := range it.transaction {
		r := result{item: item{seq: it.seq, source: fmt.Sprintf("%s#entry[%d]", it.source, i), typ: e.typ}}
		if i == 0 {
			r.size = it.size
		}
		switch {
		case err != nil:
			r.err, r.outcome = err, Failed
		case i >= len(answers):
			r.err, r.outcome = fmt.Errorf("the server answered no entry %d", i), Failed
		default:
			a := answers[i]
			if parts := strings.Split(a.Location, "/"); len(parts) >= 2 {
				r.id = parts[1]
			}
			switch {
			case a.Status == http.StatusCreated:
				r.outcome = Created
			case a.Status < 300 && (e.method == http.MethodPost || e.method == http.MethodGet || e.method == http.MethodHead):
				r.outcome = Unchanged // a conditional create that matched, or a read: nothing written
			case a.Status < 300:
				r.outcome = Updated
			default:
				r.err, r.outcome = fmt.Errorf("the server answered %d", a.Status), Failed
			}
		}
		out[i] = r
	}
	return out, nil
}

func isRejected(err error) bool {
	var r *RejectedError
	return errors.As(err, &r)
}

// shard sends every write of one resource to the same worker, so they stay in file order.
func shard(typ, id string, n int) int {
	h := fnv.New32a()
	_, _ = io.WriteString(h, typ+"/"+id)
	return int(h.Sum32() % uint32(n))
}

// Failure is a resource, or a part of a file, that was not loaded.
type Failure struct {
	// Source is the file, with "#entry[i]" for a Bundle entry (counted from 0) and ":n" for
	// line n of an NDJSON file.
	Source string
	// Type and ID name the resource, when it was read that far.
	Type, ID string
	// Err says why: a *RejectedError carries the target's OperationOutcome issues.
	Err error
	seq int
}

// String is the failure on one line: where, what, why.
func (f Failure) String() string {
	if f.Type != "" && f.ID != "" {
		return fmt.Sprintf("%s (%s/%s): %v", f.Source, f.Type, f.ID, f.Err)
	}
	if f.Type != "" {
		return fmt.Sprintf("%s (%s): %v", f.Source, f.Type, f.Err)
	}
	return fmt.Sprintf("%s: %v", f.Source, f.Err)
}

// FailedError is the error of a load in which some resources were not loaded.
type FailedError struct {
	Failures []Failure
}

// Error lists every failure, one a line.
func (e *FailedError) Error() string {
	var b strings.Builder
	noun := "resources were"
	if len(e.Failures) == 1 {
		noun = "resource was"
	}
	fmt.Fprintf(&b, "%d %s not loaded:", len(e.Failures), noun)
	for _, f := range e.Failures {
		b.WriteString("\n  ")
		b.WriteString(f.String())
	}
	return b.String()
}
