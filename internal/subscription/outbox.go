package subscription

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/patient-involvement/fhir-server/internal/journal"
)

// The outbox is one append-only file, outbox.log, in the subscriptions' directory: one
// checksummed line (journal.Frame) per record, each a JSON object of one of the kinds
// below. A notification is recorded (kindEvent) and on disk before the write that causes it
// is; the dispatcher gives it its event number (kindNumber) before it first sends it, and
// records its delivery (kindDone). At start the file is read, and rewritten with only what
// is still needed (the owners of live subscriptions, notifications not delivered yet, the
// last event number of each subscription).

const (
	outboxFile = "outbox.log"

	kindOwner  = "owner"  // a subscription's creator: the scopes deliveries are held to
	kindEvent  = "event"  // a notification to deliver, of one version of one resource
	kindNumber = "number" // the event number a notification was given
	kindDone   = "done"   // a notification delivered, or dropped (its write never happened)
	kindGone   = "gone"   // a subscription deleted
)

// record is one outbox line.
type record struct {
	Kind string `json:"k"`
	// Sub is the subscription's id.
	Sub string `json:"s"`
	// Seq numbers the notification across the outbox, in the order recorded.
	Seq int64 `json:"q,omitempty"`
	// Type, ID, VID and Hash name the version that triggered the notification; Hash is
	// its body's digest, so that a version written by another writer under the same
	// number is never mistaken for it.
	Type string `json:"t,omitempty"`
	ID   string `json:"i,omitempty"`
	VID  int64  `json:"v,omitempty"`
	Hash string `json:"h,omitempty"`
	// Number is the subscription's event number.
	Number int64 `json:"n,omitempty"`
	// Owner is the creator (kindOwner).
	Owner *Owner `json:"o,omitempty"`
}

// Owner is who created a subscription: the scopes and patient of their token, kept with the
// subscription and checked at each delivery.
type Owner struct {
	Scope   string `json:"scope"`
	Patient string `json:"patient,omitempty"`
	Subject string `json:"sub,omitempty"`
	Client  string `json:"client,omitempty"`
}

// outbox is the durable file.
type outbox struct {
	dir string
	// mu is held for reading by appends and for writing by a compaction, which replaces
	// the file.
	mu   sync.RWMutex
	app  *journal.Appender
	size atomic.Int64
	// compactAt is the size past which it is compacted (compactBytes).
	compactAt int64
}

// compactBytes is the size past which the outbox is compacted while the server runs. In a
// compacted outbox a subscription's done record carries the last event number given, and
// comes before the notifications still to deliver, which it therefore leaves in place.
const compactBytes = 4 << 20

// replayed is what the outbox held at start.
type replayed struct {
	owners  map[string]*Owner
	events  map[string][]*entry // per subscription, in order
	numbers map[string]int64    // the last event number given, per subscription
	nextSeq int64
}

func encode(r record) []byte {
	b, _ := json.Marshal(r)
	return journal.Frame(b)
}

// openOutbox reads the outbox in dir, compacts it and opens it for appending.
func openOutbox(dir string, log *slog.Logger) (*outbox, *replayed, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("subscriptions: create %s: %w", dir, err)
	}
	path := filepath.Join(dir, outboxFile)
	st := &replayed{owners: map[string]*Owner{}, events: map[string][]*entry{}, numbers: map[string]int64{}, nextSeq: 1}
	if f, err := os.Open(path); err == nil {
		err = st.read(f, log)
		_ = f.Close()
		if err != nil {
			return nil, nil, err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("subscriptions: open the outbox: %w", err)
	}
	subs := slices.Concat(slices.Collect(maps.Keys(st.owners)), slices.Collect(maps.Keys(st.numbers)), slices.Collect(maps.Keys(st.events)))
	slices.Sort(subs)
	var recs []record
	for _, sub := range slices.Compact(subs) {
		recs = append(recs, subRecords(sub, st.owners[sub], st.numbers[sub], st.events[sub])...)
	}
	o := &outbox{dir: dir, compactAt: compactBytes}
	if err := o.rewrite(recs); err != nil {
		return nil, nil, err
	}
	return o, st, nil
}

// subRecords are the records a compacted outbox holds for one subscription: its creator
// (when known), its last event number (when one was given) and the notifications not yet
// delivered, in that order, so that the number leaves the notifications after it in place.
func subRecords(sub string, owner *Owner, number int64, es []*entry) []record {
	var recs []record
	if owner != nil {
		recs = append(recs, record{Kind: kindOwner, Sub: sub, Owner: owner})
	}
	if number > 0 {
		recs = append(recs, record{Kind: kindDone, Sub: sub, Number: number})
	}
	return append(recs, eventRecords(sub, es)...)
}

// eventRecords are the records of a subscription's notifications not yet delivered.
func eventRecords(sub string, es []*entry) []record {
	var recs []record
	for _, e := range es {
		recs = append(recs, record{Kind: kindEvent, Sub: sub, Seq: e.seq, Type: e.typ, ID: e.id, VID: e.vid, Hash: e.hash})
		if e.number > 0 {
			recs = append(recs, record{Kind: kindNumber, Sub: sub, Seq: e.seq, Number: e.number})
		}
	}
	return recs
}

// rewrite replaces the outbox with recs, atomically (a new file renamed over the old one),
// and appends to it from then on. The caller holds o.mu, or is alone with o.
func (o *outbox) rewrite(recs []record) error {
	path := filepath.Join(o.dir, outboxFile)
	var buf bytes.Buffer
	for _, r := range recs {
		buf.Write(encode(r))
	}
	err := journal.WriteFile(path, buf.Bytes())
	if err != nil {
		return fmt.Errorf("subscriptions: compact the outbox: %w", err)
	}
	af, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("subscriptions: open the outbox: %w", err)
	}
	if o.app != nil {
		_ = o.app.Close()
	}
	o.app = journal.NewAppender(af)
	o.size.Store(int64(buf.Len()))
	return nil
}

// read applies the outbox's records in order. A line a crash cut short (the last one) or
// damaged is skipped: it was never acknowledged.
func (st *replayed) read(f io.Reader, log *slog.Logger) error {
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	bySeq := map[int64]*entry{}
	for sc.Scan() {
		payload, err := journal.Unframe(sc.Bytes())
		var r record
		if err == nil {
			err = json.Unmarshal(payload, &r)
		}
		if err != nil {
			log.Warn("subscriptions: skipping a damaged or unfinished outbox line", "bytes", len(sc.Bytes()))
			continue
		}
		switch r.Kind {
		case kindOwner:
			st.owners[r.Sub] = r.Owner
		case kindEvent:
			if bySeq[r.Seq] != nil {
				continue // written again by a compaction that raced its first write
			}
			e := &entry{seq: r.Seq, typ: r.Type, id: r.ID, vid: r.VID, hash: r.Hash, settled: true}
			bySeq[r.Seq] = e
			st.events[r.Sub] = append(st.events[r.Sub], e)
			st.nextSeq = max(st.nextSeq, r.Seq+1)
		case kindNumber:
			if e := bySeq[r.Seq]; e != nil {
				e.number = r.Number
			}
			st.numbers[r.Sub] = max(st.numbers[r.Sub], r.Number)
		case kindDone:
			if r.Seq != 0 {
				// A notification dropped before it had a number.
				st.events[r.Sub] = slices.DeleteFunc(st.events[r.Sub], func(e *entry) bool { return e.seq == r.Seq })
				continue
			}
			st.numbers[r.Sub] = max(st.numbers[r.Sub], r.Number)
			var left []*entry
			for _, e := range st.events[r.Sub] {
				if e.number == 0 || e.number > r.Number {
					left = append(left, e)
				}
			}
			st.events[r.Sub] = left
		case kindGone:
			delete(st.owners, r.Sub)
			delete(st.events, r.Sub)
			delete(st.numbers, r.Sub)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("subscriptions: read the outbox: %w", err)
	}
	return nil
}

// append writes records durably, in one write and fsync.
func (o *outbox) append(rs ...record) error {
	lines := make([][]byte, len(rs))
	for i, r := range rs {
		lines[i] = encode(r)
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	if err := o.app.Append(lines...); err != nil {
		return fmt.Errorf("subscriptions: write the outbox: %w", err)
	}
	for _, l := range lines {
		o.size.Add(int64(len(l)))
	}
	return nil
}

// compact rewrites the outbox with what state returns (called with o.mu held), once it has
// grown past compactBytes. The caller holds the manager's lock, which every append made
// while it is held comes after (see Manager.compact).
func (o *outbox) compact(state func() []record) error {
	if o.size.Load() < o.compactAt {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.rewrite(state())
}

func (o *outbox) close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.app.Close()
}
