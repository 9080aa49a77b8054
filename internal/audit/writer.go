package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofrs/flock"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// Event is an AuditEvent ready to store: its id and its JSON (which holds the same id).
type Event struct {
	ID   string
	JSON []byte
}

// Sink stores a batch of AuditEvents, each under its id. It returns an error when it may
// not have stored them all (the batch is then retried whole), so it must treat an id that
// is stored already as stored: the same event. It must not keep the slice after returning.
type Sink func(ctx context.Context, events []Event) error

// ErrClosed is returned by Writer.Record once the writer is closed: the record was not taken.
var ErrClosed = errors.New("audit: writer closed")

// Defaults of WriterOptions.
const (
	DefaultBatchSize    = 100
	DefaultWriters      = 4
	DefaultMaxBackoff   = 30 * time.Second
	DefaultSegmentBytes = 4 << 20
)

// WriterOptions configure a Writer.
type WriterOptions struct {
	// Sink stores the events. Required.
	Sink Sink
	// Dir is the journal's directory (created if absent), for instance <data-dir>/audit-journal.
	// Required. One writer at a time uses it (it holds a lock file there).
	Dir string
	// Source names this server in every event.
	Source Source
	// Logger receives sink failures; default slog.Default().
	Logger *slog.Logger
	// BatchSize is the most events handed to the sink at once; default DefaultBatchSize.
	BatchSize int
	// Writers is how many batches are handed to the sink at once; default DefaultWriters.
	Writers int
	// MaxBackoff is the longest pause between retries of a failed batch; default
	// DefaultMaxBackoff. Retries start at 100ms (or MaxBackoff if smaller) and double.
	MaxBackoff time.Duration
	// SegmentBytes is the size at which the journal starts a new file; a file is removed
	// once every event in it is stored. Default DefaultSegmentBytes.
	SegmentBytes int64
}

// Writer keeps the audit trail: a record it has taken is never lost, not at a crash of the
// process or the machine, not while the store is down, not at shutdown.
//
// Record appends the record's event to a journal in Dir and returns only once the journal is
// on disk (fsync). Records that arrive together share one write and one fsync (group
// commit), so the cost per record falls as the load rises. Behind the journal, Writers
// goroutines hand the events to the sink in batches, retrying a failed batch with
// exponential backoff until it is stored; a journal file is removed when all its events are.
// Events the sink has not taken yet stay in the journal, however many there are: a
// NewWriter on the same directory (the next start) stores them first. Every event has the
// id its record was given when it was taken, so storing one twice (a retried batch, a
// journal replayed after a crash between a store and the removal of its file) keeps one copy.
//
// Close stops taking records and returns once every record taken has been stored, or, when
// its context ends first, leaves the rest in the journal for the next start. A Writer is
// safe for concurrent use.
type Writer struct {
	o    WriterOptions
	log  *slog.Logger
	lock *flock.Flock

	mu      sync.RWMutex // held for reading while sending on appends, for writing to close it
	closed  bool
	appends chan *appendReq
	// syncing counts the records between Record's send and the fsync that makes them durable.
	syncing atomic.Int64

	jmu     sync.Mutex
	jcond   *sync.Cond
	segs    []*segment // oldest first; the last is written to until it is sealed
	nextSeq uint64
	// startSeq is the number of this writer's first journal file: those before it were
	// left by an earlier run.
	startSeq uint64
	// appenderDone is set once the appender has sealed its last file (after Close).
	appenderDone bool
	inflight     map[*batch]time.Time // batches dispatched or about to be, by their oldest record
	journaled    int64                // events found in the journal or appended to it
	stored       int64

	work        chan *batch
	abort       chan struct{} // closed when Close gives up: stop retrying, keep the journal
	abortOnce   sync.Once
	sinkCtx     context.Context
	cancel      context.CancelFunc
	drainerDone chan struct{}
	workersDone sync.WaitGroup
}

type appendReq struct {
	line []byte
	done chan error
}

// segment is one journal file.
type segment struct {
	seq  uint64
	path string
	// size is how many bytes of it are durable; read how many the drainer has dispatched.
	size, read int64
	// sealed: nothing more is appended. pending counts its batches dispatched and not
	// stored yet.
	sealed  bool
	pending int
	// kept: a batch of it was given up at Close, so it must stay for the next start.
	kept bool
}

type batch struct {
	seg    *segment
	events []Event
}

// NewWriter opens the journal in o.Dir, starts storing what an earlier writer left there
// and takes records. Close it to flush and stop it.
func NewWriter(o WriterOptions) (*Writer, error) {
	if o.Sink == nil {
		return nil, errors.New("audit: a writer needs a sink")
	}
	if o.Dir == "" {
		return nil, errors.New("audit: a writer needs a journal directory")
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.Writers <= 0 {
		o.Writers = DefaultWriters
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: create the journal directory: %w", err)
	}
	w := &Writer{
		o: o, log: o.Logger, appends: make(chan *appendReq, 1024),
		inflight: map[*batch]time.Time{}, work: make(chan *batch), abort: make(chan struct{}),
		drainerDone: make(chan struct{}),
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	w.jcond = sync.NewCond(&w.jmu)
	w.lock = flock.New(filepath.Join(o.Dir, lockFile))
	if ok, err := w.lock.TryLock(); err != nil || !ok {
		if err == nil {
			err = errors.New("another process is using it")
		}
		return nil, fmt.Errorf("audit: lock the journal %s: %w", o.Dir, err)
	}
	old, err := listSegments(o.Dir)
	if err != nil {
		_ = w.lock.Unlock()
		return nil, err
	}
	w.segs = old
	if n := len(old); n > 0 {
		w.nextSeq = old[n-1].seq + 1
		w.log.Info("audit: storing the events an earlier run left in the journal", "files", n, "dir", o.Dir)
	}
	w.startSeq = w.nextSeq
	f, seg, err := w.newSegment()
	if err != nil {
		_ = w.lock.Unlock()
		return nil, err
	}
	w.sinkCtx, w.cancel = context.WithCancel(context.Background())
	go w.appendLoop(f, seg)
	go w.drainLoop()
	for range o.Writers {
		w.workersDone.Add(1)
		go w.storeLoop()
	}
	return w, nil
}

// Record journals r and returns once it is on disk; the sink stores it in the background.
// It gives r a new unique ID (unless it has one) and the time now (unless it has a time).
// It returns an error when r is invalid (see Record.Validate), the writer is closed
// (ErrClosed) or the journal cannot be written: then r was not taken.
func (w *Writer) Record(r Record) error {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	if r.ID == "" {
		r.ID = fhir.NewID()
	}
	ev, err := Build(r, w.o.Source) // validates r
	if err != nil {
		return err
	}
	req := &appendReq{line: encodeLine(r.Time, r.ID, ev), done: make(chan error, 1)}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return ErrClosed
	}
	w.syncing.Add(1)
	w.appends <- req
	w.mu.RUnlock()
	return <-req.done
}

// Flush waits until every record taken so far is stored (or ctx ends), without closing.
func (w *Writer) Flush(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if w.idle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("audit: %d events not stored yet: %w", w.QueueDepth(), context.Cause(ctx))
		case <-t.C:
		}
	}
}

// idle reports whether everything journaled is stored and nothing is being journaled.
func (w *Writer) idle() bool {
	if w.syncing.Load() > 0 {
		return false
	}
	w.jmu.Lock()
	defer w.jmu.Unlock()
	if len(w.inflight) > 0 {
		return false
	}
	for _, s := range w.segs {
		if s.read < s.size {
			return false
		}
	}
	return true
}

// Close stops taking records and waits until every record already taken is stored. If ctx
// ends first, it stops retrying and returns an error saying how many events wait in the
// journal, to be stored by the next writer on the same directory.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	first := !w.closed
	if first {
		w.closed = true
		close(w.appends)
	}
	w.mu.Unlock()
	if !first {
		<-w.drainerDone
		w.workersDone.Wait()
		return nil
	}
	stop := context.AfterFunc(ctx, func() {
		w.abortOnce.Do(func() { close(w.abort); w.cancel() })
		w.jmu.Lock()
		w.jcond.Broadcast()
		w.jmu.Unlock()
	})
	<-w.drainerDone
	close(w.work)
	w.workersDone.Wait()
	stop()
	w.cancel()
	_ = w.lock.Unlock()
	w.jmu.Lock()
	left := w.journaled - w.stored
	w.jmu.Unlock()
	if left > 0 {
		return fmt.Errorf("audit: %d events not stored before shutdown stay in the journal %s and are stored at the next start: %w",
			left, w.o.Dir, context.Cause(ctx))
	}
	return nil
}

// Stats are the counts of events stored by this writer, and of events journaled (found at
// start or taken since) and not stored yet.
func (w *Writer) Stats() (stored, pending int64) {
	w.jmu.Lock()
	defer w.jmu.Unlock()
	return w.stored, w.journaled - w.stored
}

// QueueDepth is how many events wait to be stored: journaled, not yet in the store. Events an
// earlier run left in the journal count once the journal has been read that far.
func (w *Writer) QueueDepth() int {
	_, pending := w.Stats()
	return int(pending + w.syncing.Load())
}

// Lag is how long the oldest event handed towards the sink and not yet stored has waited
// since its request was answered (retries included); 0 while nothing is waiting.
func (w *Writer) Lag() time.Duration {
	w.jmu.Lock()
	defer w.jmu.Unlock()
	var oldest time.Time
	for _, t := range w.inflight {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	if oldest.IsZero() {
		return 0
	}
	return max(0, time.Since(oldest))
}

// appendLoop writes what Record sends to the journal: everything that has arrived in one
// write and one fsync, then answers each record. It is a group commit like journal.Appender,
// kept apart on purpose: it caps a write at 1 MiB, counts each file's durable bytes before
// the records are answered (Flush relies on it), rotates files after answering them, lets
// Close give up on a write that hangs, and writes on its own goroutine, so that no request
// that audits writes the records of others (with journal.Appender the caller that starts a
// write writes every batch that arrives meanwhile).
func (w *Writer) appendLoop(f *os.File, seg *segment) {
	defer func() {
		_ = f.Close()
		w.jmu.Lock()
		seg.sealed = true
		w.appenderDone = true
		w.jcond.Broadcast()
		w.jmu.Unlock()
	}()
	var buf []byte
	for first := range w.appends {
		reqs := []*appendReq{first}
		buf = append(buf[:0], first.line...)
	collect:
		for len(buf) < 1<<20 {
			select {
			case r, ok := <-w.appends:
				if !ok {
					break collect
				}
				reqs = append(reqs, r)
				buf = append(buf, r.line...)
			default:
				break collect
			}
		}
		_, err := f.Write(buf)
		if err == nil {
			err = f.Sync()
		}
		if err != nil {
			err = fmt.Errorf("audit: write the journal: %w", err)
			w.log.Error("audit: the journal cannot be written", "err", err, "records", len(reqs))
			// What may have reached the file is not counted; start a new file after it, so
			// that nothing is appended behind a partial write.
			if nf, ns, nerr := w.rotate(f, seg); nerr == nil {
				f, seg = nf, ns
			}
		} else {
			w.jmu.Lock()
			seg.size += int64(len(buf))
			w.journaled += int64(len(reqs))
			w.jcond.Broadcast()
			w.jmu.Unlock()
		}
		for _, r := range reqs {
			r.done <- err
		}
		w.syncing.Add(-int64(len(reqs)))
		if err == nil && seg.size >= w.o.SegmentBytes {
			if nf, ns, err := w.rotate(f, seg); err == nil {
				f, seg = nf, ns
			} else {
				w.log.Error("audit: cannot start a new journal file; appending to the current one", "err", err)
			}
		}
	}
}

// rotate seals seg and starts the next journal file.
func (w *Writer) rotate(f *os.File, seg *segment) (*os.File, *segment, error) {
	nf, ns, err := w.newSegment()
	if err != nil {
		return nil, nil, err
	}
	_ = f.Close()
	w.jmu.Lock()
	seg.sealed = true
	w.jcond.Broadcast()
	w.jmu.Unlock()
	return nf, ns, nil
}

// newSegment creates the next journal file, durably (the directory is synced too).
func (w *Writer) newSegment() (*os.File, *segment, error) {
	w.jmu.Lock()
	seq := w.nextSeq
	w.nextSeq++
	w.jmu.Unlock()
	s := &segment{seq: seq, path: filepath.Join(w.o.Dir, segmentName(seq))}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("audit: create a journal file: %w", err)
	}
	if err := syncDir(w.o.Dir); err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	w.jmu.Lock()
	w.segs = append(w.segs, s)
	w.jmu.Unlock()
	return f, s, nil
}

// drainLoop reads the journal behind the appender and hands its events to the store loops
// in batches. It removes a journal file once it is sealed and all its events are stored,
// and returns when the writer is closed and everything is stored, or Close gave up.
func (w *Writer) drainLoop() {
	defer close(w.drainerDone)
	files := map[*segment]*os.File{}
	defer func() {
		for _, f := range files {
			_ = f.Close()
		}
	}()
	for {
		w.jmu.Lock()
		var seg *segment
		for {
			w.removeStored(files)
			if w.aborted() {
				w.jmu.Unlock()
				return
			}
			seg = nil
			for _, s := range w.segs {
				if s.read < s.size {
					seg = s
					break
				}
			}
			if seg != nil {
				break
			}
			if w.appenderDone && len(w.inflight) == 0 {
				w.jmu.Unlock()
				return // what is left is kept for the next start
			}
			w.jcond.Wait()
		}
		from, to, sealed := seg.read, seg.size, seg.sealed
		w.jmu.Unlock()

		f := files[seg]
		if f == nil {
			var err error
			if f, err = os.Open(seg.path); err != nil {
				w.keepUnread(seg, err)
				continue
			}
			files[seg] = f
		}
		events, next, err := readLines(f, from, to, 1<<20, sealed, w.log, seg.path)
		if err != nil {
			w.keepUnread(seg, err)
			continue
		}
		w.jmu.Lock()
		if seg.seq < w.startSeq {
			w.journaled += int64(len(events)) // left by an earlier run; appended ones are counted
		}
		w.jmu.Unlock()
		for start := 0; start < len(events); start += w.o.BatchSize {
			part := events[start:min(len(events), start+w.o.BatchSize)]
			b := &batch{seg: seg, events: make([]Event, len(part))}
			oldest := part[0].at
			for i, e := range part {
				b.events[i] = e.Event
				if e.at.Before(oldest) {
					oldest = e.at
				}
			}
			w.jmu.Lock()
			seg.pending++
			w.inflight[b] = oldest
			w.jmu.Unlock()
			select {
			case w.work <- b:
			case <-w.abort:
				w.jmu.Lock()
				seg.kept = true
				delete(w.inflight, b)
				w.jmu.Unlock()
				return
			}
		}
		w.jmu.Lock()
		seg.read = next
		w.jcond.Broadcast()
		w.jmu.Unlock()
	}
}

// keepUnread gives up reading seg, which err kept from being read: the file stays for the
// next start.
func (w *Writer) keepUnread(seg *segment, err error) {
	w.log.Error("audit: cannot read a journal file; it is kept for the next start", "file", seg.path, "err", err)
	w.jmu.Lock()
	seg.kept, seg.read = true, seg.size
	w.jmu.Unlock()
}

// aborted reports whether Close gave up.
func (w *Writer) aborted() bool {
	select {
	case <-w.abort:
		return true
	default:
		return false
	}
}

// removeStored removes the journal files that are sealed and fully stored. Called with jmu held.
func (w *Writer) removeStored(files map[*segment]*os.File) {
	kept := w.segs[:0]
	for _, s := range w.segs {
		if s.sealed && !s.kept && s.read >= s.size && s.pending == 0 {
			if f := files[s]; f != nil {
				_ = f.Close()
				delete(files, s)
			}
			if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				w.log.Error("audit: cannot remove a stored journal file", "file", s.path, "err", err)
			}
			continue
		}
		kept = append(kept, s)
	}
	w.segs = kept
}

// storeLoop hands batches to the sink until each is stored, backing off between tries, or
// until Close gives up (the batch stays in the journal).
func (w *Writer) storeLoop() {
	defer w.workersDone.Done()
	for b := range w.work {
		stored := w.store(b.events)
		w.jmu.Lock()
		delete(w.inflight, b)
		if stored {
			b.seg.pending--
			w.stored += int64(len(b.events))
		} else {
			b.seg.kept = true
		}
		w.jcond.Broadcast()
		w.jmu.Unlock()
	}
}

func (w *Writer) store(events []Event) bool {
	backoff := min(100*time.Millisecond, w.o.MaxBackoff)
	for attempt := 1; ; attempt++ {
		err := w.o.Sink(w.sinkCtx, events)
		if err == nil {
			if attempt > 1 {
				w.log.Info("audit: events stored after retrying", "events", len(events), "attempts", attempt)
			}
			return true
		}
		if w.aborted() {
			return false
		}
		w.log.Error("audit: storing events failed, retrying", "events", len(events), "attempt", attempt,
			"retry_in", backoff.String(), "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-w.abort:
			t.Stop()
			return false
		}
		backoff = min(backoff*2, w.o.MaxBackoff)
	}
}
