package audit_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/internal/audit"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/store"
	"github.com/patient-involvement/fhir-server/internal/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// TestServiceSinkStoresEachEventOnce writes a batch twice, as the Writer does after a
// partial failure: each event is stored once, under the id its record was given.
func TestServiceSinkStoresEachEventOnce(t *testing.T) {
	ctx := context.Background()
	reg := fhir.DefaultRegistry()
	st, err := store.New(storetest.NewDatabase(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	svc, err := fhir.NewService(st, reg)
	if err != nil {
		t.Fatal(err)
	}
	var events []audit.Event
	for i, outcome := range []int{200, 403, 404, 404} {
		id := fmt.Sprintf("ev-%d", i)
		e, err := audit.Build(audit.Record{ID: id, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Interaction: "read",
			ResourceType: "CarePlan", Resources: []string{"CarePlan/c1/_history/1"}, Outcome: outcome, Subject: "u1"},
			audit.Source{Observer: "fhir-server"})
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, audit.Event{ID: id, JSON: e})
	}
	sink := audit.ServiceSink(svc, nil)
	for round := 0; round < 2; round++ {
		if err := sink(ctx, events); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	page, err := svc.History(ctx, fhir.HistoryQuery{Type: "AuditEvent", Count: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Versions) != len(events) {
		t.Fatalf("%d AuditEvent versions stored, want %d", len(page.Versions), len(events))
	}
	for _, e := range events {
		r, err := svc.Read(ctx, "AuditEvent", e.ID)
		if err != nil {
			t.Fatalf("event not stored under its id: %v", err)
		}
		if r.VersionID != 1 {
			t.Errorf("%s has version %d, want 1", r.ID, r.VersionID)
		}
	}
}
