package subscription

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// TestOutboxReplaysWhatIsLeft writes an outbox as a run would, with a line a crash cut
// short at its end, and compacts it while running: each reopening keeps exactly the
// notifications not delivered, with the numbers they were given.
func TestOutboxReplaysWhatIsLeft(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	o, st, err := openOutbox(dir, log)
	if err != nil || len(st.events) != 0 {
		t.Fatalf("new outbox: %v %+v", err, st)
	}
	ev := func(seq int64, id string) record {
		return record{Kind: kindEvent, Sub: "s", Seq: seq, Type: "QuestionnaireResponse", ID: id, VID: 1, Hash: "h" + id}
	}
	recs := []record{
		{Kind: kindOwner, Sub: "s", Owner: &Owner{Scope: "user/*.rs"}},
		ev(1, "a"), ev(2, "b"), ev(3, "c"), ev(4, "d"),
		{Kind: kindNumber, Sub: "s", Seq: 1, Number: 1}, {Kind: kindDone, Sub: "s", Number: 1}, // a delivered
		{Kind: kindDone, Sub: "s", Seq: 2},              // b dropped: its write did not happen
		{Kind: kindNumber, Sub: "s", Seq: 3, Number: 2}, // c numbered, not delivered
		ev(3, "c"), // c again, as a compaction that raced its first write leaves it
	}
	if err := o.append(recs...); err != nil {
		t.Fatal(err)
	}
	_ = o.close()
	f, _ := os.OpenFile(filepath.Join(dir, outboxFile), os.O_WRONLY|os.O_APPEND, 0)
	_, _ = f.WriteString(string(encode(ev(5, "e"))[:20])) // cut short by a crash
	_ = f.Close()

	check := func(st *replayed) {
		t.Helper()
		var got []string
		for _, e := range st.events["s"] {
			got = append(got, e.id+"#"+string(rune('0'+e.number)))
		}
		if len(got) != 2 || got[0] != "c#2" || got[1] != "d#0" || st.numbers["s"] != 2 || st.owners["s"] == nil || st.nextSeq != 5 {
			t.Errorf("replayed %v, last number %d, owner %v, next sequence %d; want [c#2 d#0], 2, kept, 5", got, st.numbers["s"], st.owners["s"], st.nextSeq)
		}
	}
	o, st, err = openOutbox(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	check(st)
	// Compacting while running: the state the manager holds replaces the file.
	o.compactAt = 1
	if err := o.compact(func() []record {
		return subRecords("s", st.owners["s"], 2, st.events["s"])
	}); err != nil {
		t.Fatal(err)
	}
	if err := o.append(record{Kind: kindDone, Sub: "s", Number: 2}); err != nil { // c delivered
		t.Fatal(err)
	}
	_ = o.close()
	_, st, err = openOutbox(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.events["s"]) != 1 || st.events["s"][0].id != "d" {
		t.Errorf("after compaction and a delivery: %+v, want d alone", st.events["s"])
	}
}
