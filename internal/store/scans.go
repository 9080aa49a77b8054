package store

import (
	"context"
	"time"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// defaultScanWait is how long a query waits for a scan slot when Options.ScanWait is zero.
const defaultScanWait = 2 * time.Second

// beginScan takes one of the slots for queries that read a whole collection, waiting up to
// the configured time, and returns the function that gives it back. With no bound
// configured it takes nothing. A query that finds no slot in time fails with
// KindUnavailable: the server is busy, and the client may retry after a moment.
func (s *Store) beginScan(ctx context.Context) (func(), error) {
	if s.scans == nil {
		return func() {}, nil
	}
	select {
	case s.scans <- struct{}{}:
		return func() { <-s.scans }, nil
	default:
	}
	t := time.NewTimer(s.scanWait)
	defer t.Stop()
	select {
	case s.scans <- struct{}{}:
		return func() { <-s.scans }, nil
	case <-t.C:
		return nil, fhir.Unavailable(nil, retryAfter,
			"The server is busy: %d searches are reading the embedded database, which reads every stored resource for each. Try again shortly; MongoDB serves searches from indexes (set MONGODB_URI).", cap(s.scans))
	case <-ctx.Done():
		return nil, s.wrap(ctx.Err(), "wait for a search slot")
	}
}
