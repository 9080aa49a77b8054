package store

import (
	"context"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// WriteObserver is told of every version Put writes, with the search values extracted for
// it, before anything of it is written: what it records durably then is on disk before
// the version can be (the outbox of subscription notifications). Batch inserts
// (InsertNew: the audit trail, bulk loads) are not observed.
type WriteObserver interface {
	// BeforeWrite is called under the resource's lock. ix is nil for a deleted version. An
	// error stops the write (nothing is written) and is returned by Put. Otherwise written
	// is called once the write is over with its outcome: nil when the version was written,
	// else the error Put returns (it may have been written all the same, after a timeout).
	BeforeWrite(ctx context.Context, next *fhir.Resource, ix search.Index) (written func(error), err error)
}

// ObserveWrites has o told of every version Put writes. Call it before serving.
func (s *Store) ObserveWrites(o WriteObserver) { s.observer = o }
