package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// memSink collects events by request id and fails the first failures calls.
type memSink struct {
	mu       sync.Mutex
	ids      map[string]int
	batches  int
	failures int
	calls    int
}

func (s *memSink) write(_ context.Context, events [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls <= s.failures {
		return errors.New("store unavailable")
	}
	s.batches++
	for _, e := range events {
		var ev struct {
			Entity []struct {
				What struct{ Identifier struct{ Value string } }
			}
		}
		if err := json.Unmarshal(e, &ev); err != nil {
			panic(err)
		}
		id := ev.Entity[len(ev.Entity)-1].What.Identifier.Value
		s.ids[id]++
	}
	return nil
}

func rec(id string) Record {
	return Record{Interaction: "read", ResourceType: "CarePlan", Resources: []string{"CarePlan/x"}, Outcome: 200, RequestID: id}
}

// TestNothingLostUnderConcurrentRecordAndClose records from many goroutines while Close runs,
// with a sink that fails at first: every record Record accepted is written exactly once.
func TestNothingLostUnderConcurrentRecordAndClose(t *testing.T) {
	t.Parallel()
	for _, failures := range []int{0, 3} {
		t.Run(fmt.Sprintf("sink fails %d times", failures), func(t *testing.T) {
			t.Parallel()
			sink := &memSink{ids: map[string]int{}, failures: failures}
			w, err := NewWriter(WriterOptions{Sink: sink.write, Logger: quiet, QueueSize: 64, BatchSize: 16, MaxBackoff: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			accepted := map[string]bool{}
			var wg sync.WaitGroup
			for g := range 16 {
				wg.Go(func() {
					for i := range 400 {
						id := fmt.Sprintf("g%d-%d", g, i)
						err := w.Record(rec(id))
						switch {
						case err == nil:
							mu.Lock()
							accepted[id] = true
							mu.Unlock()
						case errors.Is(err, ErrClosed):
							return
						default:
							t.Errorf("Record: %v", err)
							return
						}
					}
				})
			}
			time.Sleep(5 * time.Millisecond)
			if err := w.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			if err := w.Record(rec("late")); !errors.Is(err, ErrClosed) {
				t.Errorf("Record after Close: %v", err)
			}
			sink.mu.Lock()
			defer sink.mu.Unlock()
			if len(accepted) == 0 {
				t.Fatal("nothing was recorded before Close")
			}
			for id := range accepted {
				if sink.ids[id] != 1 {
					t.Errorf("%s written %d times", id, sink.ids[id])
				}
			}
			if len(sink.ids) != len(accepted) {
				t.Errorf("%d events written, %d accepted", len(sink.ids), len(accepted))
			}
			written, dropped, lost := w.Stats()
			if written != int64(len(accepted)) || dropped != 0 || lost != 0 {
				t.Errorf("stats %d %d %d", written, dropped, lost)
			}
			if sink.batches >= len(accepted) {
				t.Errorf("%d batches for %d events: not batching", sink.batches, len(accepted))
			}
		})
	}
}

// TestFullQueueBlocksThenDrops fills the queue behind a stalled sink: Record waits for
// EnqueueWait, then gives up with ErrQueueFull; once the sink recovers everything accepted
// is written.
func TestFullQueueBlocksThenDrops(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	sink := &memSink{ids: map[string]int{}}
	w, err := NewWriter(WriterOptions{Logger: quiet, QueueSize: 2, BatchSize: 1, EnqueueWait: 30 * time.Millisecond,
		Sink: func(ctx context.Context, ev [][]byte) error { <-release; return sink.write(ctx, ev) }})
	if err != nil {
		t.Fatal(err)
	}
	// One record is taken by the stalled sink, two fill the queue.
	var accepted []string
	for i := range 3 {
		id := fmt.Sprint("r", i)
		if err := w.Record(rec(id)); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		accepted = append(accepted, id)
		time.Sleep(5 * time.Millisecond) // let the loop take the first
	}
	// The stalled batch is the lag; the two behind it are the queue.
	if got := w.QueueDepth(); got != 2 {
		t.Errorf("QueueDepth %d with the sink stalled, want 2", got)
	}
	if lag := w.Lag(); lag <= 0 {
		t.Errorf("Lag %s with a batch waiting on the sink, want more than 0", lag)
	}
	start := time.Now()
	err = w.Record(rec("overflow"))
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Record on a full queue: %v", err)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("gave up after %s, before EnqueueWait", d)
	}
	// A record that arrives while the queue drains waits for room instead of being dropped.
	done := make(chan error, 1)
	go func() { done <- w.Record(rec("waited")) }()
	time.Sleep(5 * time.Millisecond)
	close(release)
	if err := <-done; err != nil {
		t.Errorf("Record while draining: %v", err)
	} else {
		accepted = append(accepted, "waited")
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, id := range accepted {
		if sink.ids[id] != 1 {
			t.Errorf("%s written %d times", id, sink.ids[id])
		}
	}
	if sink.ids["overflow"] != 0 {
		t.Error("the dropped record was written")
	}
	if depth, lag := w.QueueDepth(), w.Lag(); depth != 0 || lag != 0 {
		t.Errorf("after Close: QueueDepth %d, Lag %s; want 0 and 0", depth, lag)
	}
	if _, dropped, _ := w.Stats(); dropped != 1 {
		t.Errorf("dropped %d, want 1", dropped)
	}
}

// TestCloseGivesUpWhenItsContextEnds: a sink that never recovers cannot hold shutdown
// forever, and Close says how many events were lost.
func TestCloseGivesUpWhenItsContextEnds(t *testing.T) {
	t.Parallel()
	w, err := NewWriter(WriterOptions{Logger: quiet, MaxBackoff: 5 * time.Millisecond,
		Sink: func(ctx context.Context, _ [][]byte) error { return errors.New("down") }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := w.Record(rec(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = w.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "5 events") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %s", d)
	}
}

func TestWriterRejects(t *testing.T) {
	t.Parallel()
	if _, err := NewWriter(WriterOptions{}); err == nil {
		t.Error("a writer without a sink was made")
	}
	w, err := NewWriter(WriterOptions{Logger: quiet, Sink: func(context.Context, [][]byte) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	if err := w.Record(Record{Interaction: "peek", Outcome: 200}); err == nil {
		t.Error("an invalid record was queued")
	}
}
