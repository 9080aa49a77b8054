package store

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

func newTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := New(storetest.NewDatabase(t), fhir.DefaultRegistry(), Options{IDFiltersOnly: storetest.IsEmbedded(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureIndexes(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

func version(t *testing.T, id string, vid int64, ts time.Time) *fhir.Resource {
	t.Helper()
	b, err := fhir.ParseBody([]byte(`{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/p"}}`), "CarePlan")
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.Version(id, vid, ts, http.MethodPut)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func entries(p *fhir.HistoryPage) string {
	var out []string
	for _, r := range p.Versions {
		out = append(out, fmt.Sprintf("%s@%d", r.ID, r.VersionID))
	}
	return fmt.Sprint(out)
}

// A process that dies after the first of the two writes of an update leaves a history copy of
// the version that is still current. Reads, history and the next write must all be unaffected.
func TestInterruptedWriteLeavesConsistentHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v1 := version(t, "x", 1, t0)
	if err := s.Put(ctx, v1, nil); err != nil {
		t.Fatal(err)
	}
	v2 := version(t, "x", 2, t0.Add(time.Second))
	if err := s.Put(ctx, v2, v1); err != nil {
		t.Fatal(err)
	}
	// The interrupted update: version 2 copied to history, current never replaced.
	if _, err := s.history("CarePlan").InsertOne(ctx, historyDoc(v2)); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		q    fhir.HistoryQuery
		want string
	}{
		{"instance", fhir.HistoryQuery{Type: "CarePlan", ID: "x", Count: 10}, "[x@2 x@1]"},
		{"type", fhir.HistoryQuery{Type: "CarePlan", Count: 10}, "[x@2 x@1]"},
		{"type, pages of one", fhir.HistoryQuery{Type: "CarePlan", Count: 1}, "[x@2]"},
	}
	for _, tc := range tests {
		p, err := s.History(ctx, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if got := entries(p); got != tc.want {
			t.Errorf("%s history %s, want %s", tc.name, got, tc.want)
		}
	}
	cur, err := s.Current(ctx, "CarePlan", "x")
	if err != nil || cur.VersionID != 2 {
		t.Fatalf("current: %v %v", cur, err)
	}
	// The next write goes through and the history stays exact.
	v3 := version(t, "x", 3, t0.Add(2*time.Second))
	if err := s.Put(ctx, v3, cur); err != nil {
		t.Fatalf("write after interruption: %v", err)
	}
	p, err := s.History(ctx, fhir.HistoryQuery{Type: "CarePlan", ID: "x", Count: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := entries(p); got != "[x@3 x@2 x@1]" {
		t.Errorf("history after next write %s", got)
	}
	// A stale writer loses.
	if err := s.Put(ctx, version(t, "x", 3, t0.Add(3*time.Second)), cur); err != fhir.ErrVersionConflict {
		t.Errorf("stale write: %v, want ErrVersionConflict", err)
	}
}

// Reindex reads a collection only when what its search values depend on has changed since it
// last ran: a second run finds the recorded state and leaves even a stale document alone; a
// new extraction version reads the collection again and fixes it.
func TestReindexRunsOnlyWhenItsInputsChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	if err := s.Put(ctx, version(t, "a", 1, time.Now()), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Reindex(ctx, nil); err != nil {
		t.Fatal(err)
	}
	stale := func() {
		t.Helper()
		if _, err := s.current("CarePlan").UpdateOne(ctx, bson.D{{Key: "_id", Value: "a"}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "spv", Value: 0}, {Key: "sp", Value: bson.D{}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	spv := func() int {
		t.Helper()
		var d struct {
			SPV int `bson:"spv"`
		}
		if err := s.current("CarePlan").FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&d); err != nil {
			t.Fatal(err)
		}
		return d.SPV
	}
	stale()
	if err := s.Reindex(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := spv(); got != 0 {
		t.Fatalf("a second run with nothing changed read the collection (spv %d)", got)
	}
	// What an upgrade of the extraction does: the recorded version is older.
	if _, err := s.db.Collection(settingsCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: reindexStateID("CarePlan")}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "v", Value: indexVersion - 1}}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Reindex(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := spv(); got != indexVersion {
		t.Fatalf("after an extraction upgrade the stale document has spv %d, want %d", got, indexVersion)
	}
}
