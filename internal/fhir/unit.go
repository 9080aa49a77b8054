package fhir

import (
	"context"
	"sync"
)

// Write is one version to store: Next replaces Prev, the newest version when the write was
// staged (nil: the resource did not exist).
type Write struct {
	Next, Prev *Resource
}

// AtomicStore is a Store that can store several versions of several resources as one unit:
// all of them or, when any fails, none. A transaction Bundle needs one.
type AtomicStore interface {
	Store
	// PutAll stores every write as Put would, after checking that each Prev is still the
	// newest version of its resource; when one is not it returns ErrVersionConflict and
	// stores nothing. Whatever fails, and even when the process dies meanwhile, either every
	// write is stored or none is (on the embedded database: once it has started again).
	// Each resource is written at most once in ws, as UnitOfWork ensures.
	PutAll(ctx context.Context, ws []Write) error
}

// UnitOfWork collects the writes of one transaction instead of storing them: the Service
// runs every interaction of the transaction exactly as it runs a single one (checks,
// authorization, versions), but its writes are staged here, and Service.Commit stores them
// all at once through the store's PutAll. Reads through the unit see what it staged. A
// unit changes each resource at most once: a second write to one is refused, naming both
// writers (see WithWriter).
type UnitOfWork struct {
	mu      sync.Mutex
	staged  map[string]staged
	writes  []Write
	pending []*Resource
	memo    map[any]any // see Memo
}

type staged struct {
	r  *Resource
	by string
}

// NewUnitOfWork returns an empty unit of work.
func NewUnitOfWork() *UnitOfWork { return &UnitOfWork{staged: map[string]staged{}} }

// Writes returns the staged writes, in the order they were staged.
func (u *UnitOfWork) Writes() []Write {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Write(nil), u.writes...)
}

// Staged returns the versions of type typ that the unit of work of ctx has staged (the
// version written by a delete has Deleted set), in the order they were staged; nil outside
// a unit of work. A content checker uses it to see what the transaction it checks for has
// written so far, as the store will hold it once the transaction is stored.
func Staged(ctx context.Context, typ string) []*Resource {
	u := unitOf(ctx)
	if u == nil {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []*Resource
	for _, w := range u.writes {
		if w.Next.Type == typ {
			out = append(out, w.Next)
		}
	}
	return out
}

// Memo returns the value the unit of work of ctx keeps under key: on first use the one build
// returns, kept until the unit is dropped; outside a unit of work it returns build(), keeping
// nothing. A content checker keeps there what it derives from a version the unit staged
// (keyed by the *Resource, which the unit stages once and never changes), so that the checks
// of one transaction derive it once and nothing of it outlives the transaction, whether it is
// stored or not. key must be comparable and of a type of the caller's own; build runs without
// the unit's lock held, and when two calls race the value kept first is the one returned.
func Memo[T any](ctx context.Context, key any, build func() T) T {
	u := unitOf(ctx)
	if u == nil {
		return build()
	}
	u.mu.Lock()
	v, ok := u.memo[key]
	u.mu.Unlock()
	if ok {
		return v.(T)
	}
	made := build()
	u.mu.Lock()
	defer u.mu.Unlock()
	if v, ok := u.memo[key]; ok {
		return v.(T)
	}
	if u.memo == nil {
		u.memo = map[any]any{}
	}
	u.memo[key] = made
	return made
}

type unitKey struct{}
type writerKey struct{}

// WithUnitOfWork returns a context whose writes through Service are staged in u.
func WithUnitOfWork(ctx context.Context, u *UnitOfWork) context.Context {
	return context.WithValue(ctx, unitKey{}, u)
}

// WithWriter names who writes through ctx ("entry 3 (PUT CarePlan/1)"), for the refusal of
// a second write to one resource in a unit of work.
func WithWriter(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, writerKey{}, name)
}

func unitOf(ctx context.Context) *UnitOfWork {
	u, _ := ctx.Value(unitKey{}).(*UnitOfWork)
	return u
}

// storeFor is the store the interactions of ctx read and write: the unit of work's staging
// over the service's store, or the store itself.
func (s *Service) storeFor(ctx context.Context) Store {
	if u := unitOf(ctx); u != nil {
		return &unitStore{Store: s.store, u: u}
	}
	return s.store
}

// unitStore reads through a unit of work's staged versions and stages its writes.
type unitStore struct {
	Store
	u *UnitOfWork
}

func unitKeyOf(typ, id string) string { return typ + "/" + id }

func (s *unitStore) Current(ctx context.Context, typ, id string) (*Resource, error) {
	s.u.mu.Lock()
	st, ok := s.u.staged[unitKeyOf(typ, id)]
	s.u.mu.Unlock()
	if ok {
		return st.r, nil
	}
	return s.Store.Current(ctx, typ, id)
}

func (s *unitStore) Version(ctx context.Context, typ, id string, vid int64) (*Resource, error) {
	s.u.mu.Lock()
	st, ok := s.u.staged[unitKeyOf(typ, id)]
	s.u.mu.Unlock()
	if ok && st.r.VersionID == vid {
		return st.r, nil
	}
	return s.Store.Version(ctx, typ, id, vid)
}

func (s *unitStore) Put(ctx context.Context, next, prev *Resource) error {
	by, _ := ctx.Value(writerKey{}).(string)
	if by == "" {
		by = "a write"
	}
	key := unitKeyOf(next.Type, next.ID)
	s.u.mu.Lock()
	defer s.u.mu.Unlock()
	if st, ok := s.u.staged[key]; ok {
		return Errorf(KindInvalid, "%s and %s both change %s: a transaction may change each resource only once", st.by, by, key)
	}
	s.u.staged[key] = staged{r: next, by: by}
	s.u.writes = append(s.u.writes, Write{Next: next, Prev: prev})
	return nil
}

// Commit stores every write staged in u as one unit (AtomicStore.PutAll) and then tells the
// content checker of them. When the content checker is a CommitChecker it judges the writes
// once more first, with u in its context (what it kept in u's Memo while they were staged
// serves it again), and holds what it needs held until they are stored. A store that cannot
// store a unit is KindNotSupported.
func (s *Service) Commit(ctx context.Context, u *UnitOfWork) error {
	ws := u.Writes()
	if len(ws) > 0 {
		as, ok := s.store.(AtomicStore)
		if !ok {
			return Errorf(KindNotSupported, "This server's database cannot store several writes as one transaction")
		}
		if cc, ok := s.checker.(CommitChecker); ok {
			done, err := cc.CheckCommit(WithUnitOfWork(ctx, u), ws)
			if err != nil {
				return err
			}
			if done != nil {
				defer done()
			}
		}
		if err := as.PutAll(ctx, ws); err != nil {
			return err
		}
	}
	u.mu.Lock()
	pending := u.pending
	u.pending = nil
	u.mu.Unlock()
	for _, r := range pending {
		s.written(context.WithoutCancel(ctx), r)
	}
	return nil
}

type assignedIDKey struct{}

// WithAssignedID returns a context whose next create through Service, in a unit of work,
// takes id instead of drawing one: a transaction assigns the ids of its creates first, so
// that its entries can refer to each other.
func WithAssignedID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, assignedIDKey{}, id)
}
