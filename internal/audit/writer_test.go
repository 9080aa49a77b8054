package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// memSink collects events by request id and fails the first failures calls, or every call
// while down is set.
type memSink struct {
	mu       sync.Mutex
	ids      map[string]int // by request id
	eventIDs map[string]int // by event id
	batches  int
	failures int
	calls    int
	down     bool
}

func newMemSink() *memSink { return &memSink{ids: map[string]int{}, eventIDs: map[string]int{}} }

func (s *memSink) write(_ context.Context, events []Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.down || s.calls <= s.failures {
		return errors.New("store unavailable")
	}
	s.batches++
	for _, e := range events {
		var ev struct {
			ID     string
			Entity []struct {
				What struct{ Identifier struct{ Value string } }
			}
		}
		if err := json.Unmarshal(e.JSON, &ev); err != nil {
			panic(err)
		}
		if ev.ID != e.ID {
			panic("event id " + e.ID + " differs from the id in its JSON " + ev.ID)
		}
		// A store keeps one copy per id.
		if s.eventIDs[e.ID]++; s.eventIDs[e.ID] == 1 {
			s.ids[ev.Entity[len(ev.Entity)-1].What.Identifier.Value]++
		}
	}
	return nil
}

func (s *memSink) count(requestID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids[requestID]
}

func rec(id string) Record {
	return Record{Interaction: "read", ResourceType: "CarePlan", Resources: []string{"CarePlan/x"}, Outcome: 200, RequestID: id}
}

func newWriter(t *testing.T, o WriterOptions) *Writer {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quiet
	}
	w, err := NewWriter(o)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// journalFiles lists the journal files left in dir.
func journalFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, segmentPrefix+"*"+segmentSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestNothingLostUnderConcurrentRecordAndClose records from many goroutines while Close runs,
// with a sink that fails at first: every record Record accepted is stored exactly once, in
// batches, and the journal is empty afterwards.
func TestNothingLostUnderConcurrentRecordAndClose(t *testing.T) {
	t.Parallel()
	for _, failures := range []int{0, 3} {
		t.Run(fmt.Sprintf("sink fails %d times", failures), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			sink := newMemSink()
			sink.failures = failures
			w := newWriter(t, WriterOptions{Sink: sink.write, Dir: dir, BatchSize: 16, MaxBackoff: time.Millisecond, SegmentBytes: 4096})
			var mu sync.Mutex
			accepted := map[string]bool{}
			var wg sync.WaitGroup
			for g := range 16 {
				wg.Go(func() {
					for i := range 200 {
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
			time.Sleep(20 * time.Millisecond)
			if err := w.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			if err := w.Record(rec("late")); !errors.Is(err, ErrClosed) {
				t.Errorf("Record after Close: %v", err)
			}
			if len(accepted) == 0 {
				t.Fatal("nothing was recorded before Close")
			}
			for id := range accepted {
				if n := sink.count(id); n != 1 {
					t.Errorf("%s stored %d times", id, n)
				}
			}
			if len(sink.ids) != len(accepted) {
				t.Errorf("%d events stored, %d accepted", len(sink.ids), len(accepted))
			}
			if stored, pending := w.Stats(); stored < int64(len(accepted)) || pending != 0 {
				t.Errorf("stats: %d stored, %d pending; %d accepted", stored, pending, len(accepted))
			}
			if sink.batches >= len(accepted) {
				t.Errorf("%d batches for %d events: not batching", sink.batches, len(accepted))
			}
			if left := journalFiles(t, dir); len(left) != 0 {
				t.Errorf("journal files left after everything was stored: %v", left)
			}
		})
	}
}

// TestJournalKeepsWhatTheSinkDidNotTake: a store that stays down cannot hold shutdown, and
// loses nothing: Close says how many events wait in the journal, and the next writer on the
// directory stores each of them once.
func TestJournalKeepsWhatTheSinkDidNotTake(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	down := newMemSink()
	down.down = true
	w := newWriter(t, WriterOptions{Sink: down.write, Dir: dir, MaxBackoff: 5 * time.Millisecond, SegmentBytes: 2048})
	for i := range 50 {
		if err := w.Record(rec(fmt.Sprint("kept-", i))); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := w.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "50 events") || !strings.Contains(err.Error(), "next start") {
		t.Errorf("Close: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %s", d)
	}
	if len(journalFiles(t, dir)) == 0 {
		t.Fatal("no journal file kept")
	}

	up := newMemSink()
	w2 := newWriter(t, WriterOptions{Sink: up.write, Dir: dir})
	if err := w2.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := w2.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if n := up.count(fmt.Sprint("kept-", i)); n != 1 {
			t.Errorf("kept-%d stored %d times after the restart", i, n)
		}
	}
	if left := journalFiles(t, dir); len(left) != 0 {
		t.Errorf("journal files left: %v", left)
	}
}

// TestJournalSkipsDamagedLines: a line cut short at the end of a file (a crash while it was
// written, before its request was answered) and a line whose checksum fails are skipped;
// every whole line is stored.
func TestJournalSkipsDamagedLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var data []byte
	for i := range 3 {
		r := rec(fmt.Sprint("whole-", i))
		r.ID = fmt.Sprint("ev-", i)
		ev, err := Build(r, Source{})
		if err != nil {
			t.Fatal(err)
		}
		line := encodeLine(time.Now(), r.ID, ev)
		if i == 1 {
			line[len(line)-3] ^= 1 // a flipped bit in the middle line
		}
		data = append(data, line...)
	}
	data = append(data, []byte("0badc0de 1 cut-short {\"resourceType\":\"Audi")...)
	if err := os.WriteFile(filepath.Join(dir, segmentName(7)), data, 0o600); err != nil {
		t.Fatal(err)
	}
	sink := newMemSink()
	w := newWriter(t, WriterOptions{Sink: sink.write, Dir: dir})
	if err := w.Record(rec("after")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]int{"whole-0": 1, "whole-1": 0, "whole-2": 1, "after": 1} {
		if got := sink.count(id); got != want {
			t.Errorf("%s stored %d times, want %d", id, got, want)
		}
	}
	if len(sink.eventIDs) != 3 {
		t.Errorf("%d events stored, want 3: %v", len(sink.eventIDs), sink.eventIDs)
	}
}

// TestEachRecordGetsItsOwnID: identical records are distinct events.
func TestEachRecordGetsItsOwnID(t *testing.T) {
	t.Parallel()
	sink := newMemSink()
	w := newWriter(t, WriterOptions{Sink: sink.write, Dir: t.TempDir()})
	for range 5 {
		if err := w.Record(rec("same")); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(sink.eventIDs) != 5 || sink.count("same") != 5 {
		t.Errorf("%d event ids, %d events, want 5 and 5", len(sink.eventIDs), sink.count("same"))
	}
}

// TestQueueDepthAndLag: with the sink stalled, the events wait and the lag grows; once it
// takes them, both are zero.
func TestQueueDepthAndLag(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	sink := newMemSink()
	w := newWriter(t, WriterOptions{Dir: t.TempDir(), BatchSize: 1, Writers: 1,
		Sink: func(ctx context.Context, ev []Event) error { <-release; return sink.write(ctx, ev) }})
	for i := range 3 {
		if err := w.Record(rec(fmt.Sprint("r", i))); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	if got := w.QueueDepth(); got != 3 {
		t.Errorf("QueueDepth %d with the sink stalled, want 3", got)
	}
	if lag := w.Lag(); lag < 10*time.Millisecond {
		t.Errorf("Lag %s with the sink stalled for 20ms", lag)
	}
	close(release)
	if err := w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if depth, lag := w.QueueDepth(), w.Lag(); depth != 0 || lag != 0 {
		t.Errorf("after Flush: QueueDepth %d, Lag %s; want 0 and 0", depth, lag)
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestWriterRejects(t *testing.T) {
	t.Parallel()
	ok := func(context.Context, []Event) error { return nil }
	if _, err := NewWriter(WriterOptions{Dir: t.TempDir()}); err == nil {
		t.Error("a writer without a sink was made")
	}
	if _, err := NewWriter(WriterOptions{Sink: ok}); err == nil {
		t.Error("a writer without a journal was made")
	}
	dir := t.TempDir()
	w := newWriter(t, WriterOptions{Sink: ok, Dir: dir})
	defer w.Close(context.Background())
	if _, err := NewWriter(WriterOptions{Sink: ok, Dir: dir, Logger: quiet}); err == nil {
		t.Error("two writers share one journal")
	}
	if err := w.Record(Record{Interaction: "peek", Outcome: 200}); err == nil {
		t.Error("an invalid record was taken")
	}
}
