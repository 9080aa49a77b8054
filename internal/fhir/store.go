package fhir

import (
	"context"
	"time"
)

// Store keeps every version of every resource. Implementations must make each write of a
// version atomic, so that a resource and its history never disagree, even when the process
// dies between two writes.
type Store interface {
	// Current returns the newest version of a resource: a version with Deleted set when the
	// newest write was a delete. It returns a KindNotFound error when the id was never written.
	Current(ctx context.Context, typ, id string) (*Resource, error)

	// Version returns one version of a resource. It returns KindNotFound when that version
	// does not exist.
	Version(ctx context.Context, typ, id string, vid int64) (*Resource, error)

	// Put writes next as the newest version of its resource, provided prev is still the newest
	// (prev nil: provided the resource was never written). When another write came first it
	// returns ErrVersionConflict and writes nothing.
	Put(ctx context.Context, next, prev *Resource) error

	// History lists versions newest first, one page at a time.
	History(ctx context.Context, q HistoryQuery) (*HistoryPage, error)

	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
}

// BatchStore is a Store that can write the first versions of many resources in one
// database operation.
type BatchStore interface {
	Store
	// InsertNew writes rs, first versions of resources that do not exist yet, in as few
	// database operations as it can. Resources whose id exists already are left as they are
	// and listed in existing; the others are written even then.
	InsertNew(ctx context.Context, rs []*Resource) (existing []string, err error)
}

// ErrVersionConflict is returned by Store.Put when prev is no longer the newest version.
var ErrVersionConflict = Errorf(KindConflict, "The resource was changed by another request at the same time; retry with its newest version")

// HistoryQuery selects versions for a history interaction.
type HistoryQuery struct {
	Type string
	// ID limits the history to one resource; "" lists the whole type.
	ID string
	// Since keeps only versions written at or after it (zero: no limit).
	Since time.Time
	// Count is the page size.
	Count int
	// Cursor continues after the last entry of a previous page ("" for the first page).
	Cursor string
	// Compartment, when set ("Patient/123"), keeps only versions in that patient's
	// compartment.
	Compartment string
}

// HistoryPage is one page of a history.
type HistoryPage struct {
	Versions []*Resource
	// Next is the cursor of the following page, "" on the last page.
	Next string
}
