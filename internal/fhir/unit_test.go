package fhir_test

import (
	"context"
	"testing"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// TestMemo: a unit of work keeps what Memo made under a key for the unit's life, apart from
// every other unit; outside a unit nothing is kept.
func TestMemo(t *testing.T) {
	type key struct{ name string }
	builds := 0
	build := func() int { builds++; return builds }
	ctx := fhir.WithUnitOfWork(context.Background(), fhir.NewUnitOfWork())
	if a, b := fhir.Memo(ctx, key{"a"}, build), fhir.Memo(ctx, key{"a"}, build); a != 1 || b != 1 {
		t.Errorf("one unit, one key: %d then %d, want 1 then 1", a, b)
	}
	if c := fhir.Memo(ctx, key{"c"}, build); c != 2 {
		t.Errorf("another key: %d, want 2", c)
	}
	other := fhir.WithUnitOfWork(context.Background(), fhir.NewUnitOfWork())
	if a := fhir.Memo(other, key{"a"}, build); a != 3 {
		t.Errorf("another unit: %d, want 3", a)
	}
	if a, b := fhir.Memo(context.Background(), key{"a"}, build), fhir.Memo(context.Background(), key{"a"}, build); a != 4 || b != 5 {
		t.Errorf("outside a unit: %d then %d, want 4 then 5", a, b)
	}
}
