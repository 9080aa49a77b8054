package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Sink stores a batch of AuditEvent JSON documents. It returns an error when it stored none
// (the batch is then retried whole), so it should write a batch atomically or idempotently.
// It must not keep the slice after returning.
type Sink func(ctx context.Context, events [][]byte) error

// Errors of Writer.Record.
var (
	// ErrClosed: the writer is closed; the record was not taken.
	ErrClosed = errors.New("audit: writer closed")
	// ErrQueueFull: the queue stayed full for WriterOptions.EnqueueWait; the record was not
	// taken.
	ErrQueueFull = errors.New("audit: queue full")
)

// Defaults of WriterOptions.
const (
	DefaultQueueSize   = 10000
	DefaultBatchSize   = 100
	DefaultEnqueueWait = 2 * time.Second
	DefaultMaxBackoff  = 30 * time.Second
)

// WriterOptions configure a Writer.
type WriterOptions struct {
	// Sink stores the events. Required.
	Sink Sink
	// Source names this server in every event.
	Source Source
	// Logger receives sink failures and dropped records; default slog.Default().
	Logger *slog.Logger
	// QueueSize is how many records may wait to be written; default DefaultQueueSize.
	QueueSize int
	// BatchSize is the most events handed to the sink at once; default DefaultBatchSize.
	BatchSize int
	// EnqueueWait is how long Record blocks on a full queue before it gives up; default
	// DefaultEnqueueWait.
	EnqueueWait time.Duration
	// MaxBackoff is the longest pause between retries of a failed batch; default
	// DefaultMaxBackoff. Retries start at 100ms (or MaxBackoff if smaller) and double.
	MaxBackoff time.Duration
}

// Writer writes audit events off the request path. Record puts a record on a bounded queue;
// one goroutine builds the events and hands them to the sink in batches, retrying a failed
// batch with exponential backoff until it is stored, so a sink outage loses nothing while
// the queue has room.
//
// When the queue is full (the sink has been failing or slow for a while), Record blocks for
// up to EnqueueWait, slowing requests down rather than dropping their audit at once; only
// when the queue is still full after that is the record dropped, logged at error level and
// ErrQueueFull returned, so a dead audit store cannot hang the whole server.
//
// Close stops taking records and returns once every record taken has been written. A Writer
// is safe for concurrent use.
type Writer struct {
	o     WriterOptions
	log   *slog.Logger
	queue chan Record

	mu     sync.RWMutex // held for reading while sending on queue, for writing to close it
	closed bool

	done      chan struct{} // closed when the write loop has returned
	abort     chan struct{} // closed when Close gives up waiting: stop retrying
	abortOnce sync.Once
	sinkCtx   context.Context
	cancel    context.CancelFunc

	written, dropped, lost atomic.Int64
	// writing is the time (Unix nanoseconds) of the oldest record of the batch being written,
	// 0 while none is: every record still queued is younger.
	writing atomic.Int64
}

// NewWriter starts a writer. Close it to flush and stop it.
func NewWriter(o WriterOptions) (*Writer, error) {
	if o.Sink == nil {
		return nil, errors.New("audit: a writer needs a sink")
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.EnqueueWait <= 0 {
		o.EnqueueWait = DefaultEnqueueWait
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	w := &Writer{
		o: o, log: o.Logger, queue: make(chan Record, o.QueueSize),
		done: make(chan struct{}), abort: make(chan struct{}),
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	w.sinkCtx, w.cancel = context.WithCancel(context.Background())
	go w.run()
	return w, nil
}

// Record queues r to be written. It returns an error when r is invalid (see
// Record.Validate), the writer is closed (ErrClosed) or the queue stayed full (ErrQueueFull).
func (w *Writer) Record(r Record) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return ErrClosed
	}
	select {
	case w.queue <- r:
		return nil
	default:
	}
	t := time.NewTimer(w.o.EnqueueWait)
	defer t.Stop()
	select {
	case w.queue <- r:
		return nil
	case <-t.C:
		n := w.dropped.Add(1)
		w.log.Error("audit: queue full, event dropped", "interaction", r.Interaction, "type", r.ResourceType,
			"request_id", r.RequestID, "dropped_total", n)
		return ErrQueueFull
	}
}

// Close stops taking records and waits until every record already taken is written. If ctx
// ends first, it stops retrying, counts what could not be written and returns an error
// saying how many events were lost.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
	case <-ctx.Done():
		w.abortOnce.Do(func() { close(w.abort); w.cancel() })
		<-w.done
	}
	w.cancel()
	n := w.lost.Load()
	switch {
	case n == 0:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("audit: %d events could not be written before shutdown: %w", n, context.Cause(ctx))
	default:
		return fmt.Errorf("audit: %d events could not be written", n)
	}
}

// Stats are the counts of events written, dropped on a full queue, and lost at shutdown.
func (w *Writer) Stats() (written, dropped, lost int64) {
	return w.written.Load(), w.dropped.Load(), w.lost.Load()
}

// QueueDepth is how many records wait to be written, the batch being written not included.
func (w *Writer) QueueDepth() int { return len(w.queue) }

// Lag is how long the oldest record not yet written has waited: the first record of the
// batch the sink is being handed (retries included). It is 0 while nothing is being written.
func (w *Writer) Lag() time.Duration {
	since := w.writing.Load()
	if since == 0 {
		return 0
	}
	return max(0, time.Since(time.Unix(0, since)))
}

// run is the write loop: it takes whatever is queued, up to a batch, and writes it.
func (w *Writer) run() {
	defer close(w.done)
	for r := range w.queue {
		w.writing.Store(r.Time.UnixNano())
		batch := make([][]byte, 0, w.o.BatchSize)
		batch = w.add(batch, r)
	fill:
		for len(batch) < w.o.BatchSize {
			select {
			case r, ok := <-w.queue:
				if !ok {
					break fill
				}
				batch = w.add(batch, r)
			default:
				break fill
			}
		}
		if len(batch) > 0 {
			w.write(batch)
		}
		w.writing.Store(0)
	}
}

func (w *Writer) add(batch [][]byte, r Record) [][]byte {
	ev, err := Build(r, w.o.Source)
	if err != nil { // Record validated it: this does not happen
		w.lost.Add(1)
		w.log.Error("audit: event not built", "err", err)
		return batch
	}
	return append(batch, ev)
}

// write hands batch to the sink until it takes it, backing off between tries, or until
// Close gives up.
func (w *Writer) write(batch [][]byte) {
	backoff := min(100*time.Millisecond, w.o.MaxBackoff)
	for attempt := 1; ; attempt++ {
		err := w.o.Sink(w.sinkCtx, batch)
		if err == nil {
			w.written.Add(int64(len(batch)))
			if attempt > 1 {
				w.log.Info("audit: events written after retrying", "events", len(batch), "attempts", attempt)
			}
			return
		}
		select {
		case <-w.abort:
			w.lost.Add(int64(len(batch)))
			w.log.Error("audit: events lost at shutdown", "events", len(batch), "err", err)
			return
		default:
		}
		w.log.Error("audit: writing events failed, retrying", "events", len(batch), "attempt", attempt,
			"retry_in", backoff.String(), "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-w.abort:
			t.Stop()
			// One last try, now with a cancelled context, is pointless: count the batch lost.
			w.lost.Add(int64(len(batch)))
			w.log.Error("audit: events lost at shutdown", "events", len(batch), "err", err)
			return
		}
		backoff = min(backoff*2, w.o.MaxBackoff)
	}
}
