package fhir

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"time"
)

// maxWriteAttempts bounds how often an unconditional write retries after losing a race.
const maxWriteAttempts = 200

// Service carries out the FHIR interactions on a Store: it owns ids, version numbers,
// timestamps and the create/update/delete rules, and knows nothing of HTTP.
type Service struct {
	store    Store
	registry *Registry
	now      func() time.Time
	// checker judges the content of writes, when set (WithContentChecker).
	checker ContentChecker
	// maxValues bounds the JSON values of one resource a client sends (WithMaxJSONValues).
	maxValues int
}

// NewService returns a Service over store for the types in registry.
func NewService(store Store, registry *Registry, opts ...ServiceOption) (*Service, error) {
	if store == nil || registry == nil {
		return nil, errors.New("fhir: NewService needs a store and a registry")
	}
	s := &Service{store: store, registry: registry, now: time.Now, maxValues: DefaultMaxJSONValues}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// WithMaxJSONValues returns a ServiceOption bounding the JSON values one resource sent by a
// client may hold, checked before it is decoded (n <= 0: DefaultMaxJSONValues); more is
// KindTooLarge (413).
func WithMaxJSONValues(n int) ServiceOption {
	return func(s *Service) {
		if n > 0 {
			s.maxValues = n
		}
	}
}

// parse is ParseBody with the service's bound on JSON values.
func (s *Service) parse(data []byte, typ string) (*Body, error) {
	return parseBody(data, typ, s.maxValues)
}

// Registry returns the resource types this service serves.
func (s *Service) Registry() *Registry { return s.registry }

// Store returns the underlying store.
func (s *Service) Store() Store { return s.store }

// WriteResult is the outcome of a write.
type WriteResult struct {
	Resource *Resource
	// Created is set when the write created the resource (HTTP 201).
	Created bool
	// Issues are warnings and information about the resource written, from the content
	// checker: for the OperationOutcome of Prefer: return=OperationOutcome.
	Issues []Issue
}

// Status is the HTTP status of a successful write.
func (w *WriteResult) Status() int {
	if w.Created {
		return http.StatusCreated
	}
	return http.StatusOK
}

func (s *Service) checkType(typ string) error {
	if !s.registry.Supports(typ) {
		return s.registry.unsupported(typ)
	}
	return nil
}

// Read returns the newest version of a resource: KindNotFound when it never existed,
// KindGone when it was deleted.
func (s *Service) Read(ctx context.Context, typ, id string) (*Resource, error) {
	if err := s.checkType(typ); err != nil {
		return nil, err
	}
	if !ValidID(id) {
		return nil, Errorf(KindNotFound, "%s/%s is not known: %q is not a valid id", typ, id, id)
	}
	r, err := s.storeFor(ctx).Current(ctx, typ, id)
	if err != nil {
		return nil, err
	}
	if r.Deleted {
		return r, goneError(r)
	}
	return r, nil
}

func goneError(r *Resource) error {
	return Errorf(KindGone, "%s/%s was deleted (version %d, %s)", r.Type, r.ID, r.VersionID, FormatInstant(r.LastUpdated))
}

// VRead returns one version of a resource; KindGone for the version written by a delete.
func (s *Service) VRead(ctx context.Context, typ, id string, vid int64) (*Resource, error) {
	if err := s.checkType(typ); err != nil {
		return nil, err
	}
	if !ValidID(id) || vid < 1 {
		return nil, Errorf(KindNotFound, "%s/%s/_history/%d is not known", typ, id, vid)
	}
	r, err := s.storeFor(ctx).Version(ctx, typ, id, vid)
	if err != nil {
		return nil, err
	}
	if r.Deleted {
		return r, goneError(r)
	}
	return r, nil
}

// Create stores body as a new resource with a server-assigned id; an id in the body is ignored.
func (s *Service) Create(ctx context.Context, typ string, data []byte) (*WriteResult, error) {
	if err := s.checkType(typ); err != nil {
		return nil, err
	}
	body, err := s.parse(data, typ)
	if err != nil {
		return nil, err
	}
	rep, err := s.check(ctx, &ContentWrite{Type: typ, Tree: body.Tree})
	if err != nil {
		return nil, err
	}
	defer rep.done()
	st := s.storeFor(ctx)
	assigned, _ := ctx.Value(assignedIDKey{}).(string)
	for attempt := 0; attempt < 5; attempt++ {
		id := NewID()
		if assigned != "" {
			id = assigned
		}
		next, err := body.Version(id, 1, s.now(), http.MethodPost)
		if err != nil {
			return nil, err
		}
		next.Derived = rep.Derived
		if err := guard(ctx, nil, next); err != nil {
			return nil, err
		}
		err = st.Put(ctx, next, nil)
		if errors.Is(err, ErrVersionConflict) && assigned == "" {
			continue // an id collision: draw another
		}
		if err != nil {
			return nil, err
		}
		s.written(ctx, next)
		return &WriteResult{Resource: next, Created: true, Issues: rep.Issues}, nil
	}
	return nil, Wrap(ErrVersionConflict, "create %s: no free id", typ)
}

// Insert stores body as version 1 of typ/id, without reading first: for resources the server
// writes itself under ids derived from their content (the audit trail), where a write that
// is repeated must leave one copy. When the id is taken it writes nothing and returns
// ErrVersionConflict. The id in the body, if any, is replaced.
func (s *Service) Insert(ctx context.Context, typ, id string, data []byte) (*Resource, error) {
	if err := s.checkType(typ); err != nil {
		return nil, err
	}
	if err := CheckID(id); err != nil {
		return nil, err
	}
	body, err := s.parse(data, typ)
	if err != nil {
		return nil, err
	}
	next, err := body.Version(id, 1, s.now(), http.MethodPost)
	if err != nil {
		return nil, err
	}
	if err := s.store.Put(ctx, next, nil); err != nil {
		return nil, err
	}
	return next, nil
}

// InsertAll stores each data[i] as version 1 of typ/ids[i], like Insert for each, but with the
// store's batch write when it has one. Ids that exist already keep what they hold and are
// returned in existing: for content-addressed ids, such as the audit trail's, that means
// the same resource is stored already.
func (s *Service) InsertAll(ctx context.Context, typ string, ids []string, data [][]byte) (existing []string, err error) {
	if err := s.checkType(typ); err != nil {
		return nil, err
	}
	if len(ids) != len(data) {
		return nil, Errorf(KindInternal, "InsertAll: %d ids for %d resources", len(ids), len(data))
	}
	now := s.now()
	rs := make([]*Resource, len(ids))
	for i, id := range ids {
		if err := CheckID(id); err != nil {
			return nil, err
		}
		body, err := s.parse(data[i], typ)
		if err != nil {
			return nil, err
		}
		if rs[i], err = body.Version(id, 1, now, http.MethodPost); err != nil {
			return nil, err
		}
	}
	if bs, ok := s.store.(BatchStore); ok {
		return bs.InsertNew(ctx, rs)
	}
	for _, r := range rs {
		if err := s.store.Put(ctx, r, nil); errors.Is(err, ErrVersionConflict) {
			existing = append(existing, r.ID)
		} else if err != nil {
			return existing, err
		}
	}
	return existing, nil
}

// Update stores body as the newest version of typ/id, creating the resource when it does not
// exist (update as create). ifMatch, when not nil, is the version the client expects to replace.
func (s *Service) Update(ctx context.Context, typ, id string, data []byte, ifMatch *int64) (*WriteResult, error) {
	if err := s.checkType(typ); err != nil {
		return nil, err
	}
	if err := CheckID(id); err != nil {
		return nil, err
	}
	body, err := s.parse(data, typ)
	if err != nil {
		return nil, err
	}
	if body.ID == "" {
		return nil, Errorf(KindInvalid, "The resource has no id: an update must carry the id of the URL (%q)", id).At(typ + ".id")
	}
	if body.ID != id {
		return nil, Errorf(KindInvalid, "The resource's id %q does not match the id in the URL %q", body.ID, id).At(typ + ".id")
	}
	var rep *ContentReport
	defer func() { rep.done() }()
	res, err := s.write(ctx, typ, id, ifMatch, func(prev *Resource) (*Resource, error) {
		vid, method := int64(1), http.MethodPut
		if prev != nil {
			vid = prev.VersionID + 1
		}
		rep.done() // of an earlier attempt that lost a race
		r, cerr := s.check(ctx, &ContentWrite{Type: typ, ID: id, Tree: body.Tree, Prev: prev})
		if cerr != nil {
			return nil, cerr
		}
		rep = r
		next, err := body.Version(id, vid, s.after(prev), method)
		if next != nil {
			next.Derived = rep.Derived
		}
		return next, err
	})
	if err != nil {
		return nil, err
	}
	res.Issues = rep.Issues
	return res, nil
}

// Delete deletes typ/id by writing a deleted version. Deleting a deleted resource writes
// nothing and succeeds; deleting one that never existed is KindNotFound.
func (s *Service) Delete(ctx context.Context, typ, id string, ifMatch *int64) (*Resource, error) {
	if err := s.checkType(typ); err != nil {
		return nil, err
	}
	if !ValidID(id) {
		return nil, Errorf(KindNotFound, "%s/%s is not known: %q is not a valid id", typ, id, id)
	}
	var gone *Resource
	res, err := s.write(ctx, typ, id, ifMatch, func(prev *Resource) (*Resource, error) {
		if prev == nil {
			return nil, Errorf(KindNotFound, "%s/%s is not known", typ, id)
		}
		if prev.Deleted {
			// Nothing to write, but whether the caller may know that is still the guard's call.
			if err := guard(ctx, prev, nil); err != nil {
				return nil, err
			}
			gone = prev
			return nil, nil
		}
		return &Resource{Type: typ, ID: id, VersionID: prev.VersionID + 1, LastUpdated: s.after(prev),
			Deleted: true, Method: http.MethodDelete, Compartments: prev.Compartments}, nil
	})
	if gone != nil {
		return gone, nil
	}
	if err != nil {
		return nil, err
	}
	return res.Resource, nil
}

// write runs the optimistic read-modify-write loop of update and delete. build returns the
// next version from the current one (nil when there is none), or nil to write nothing.
func (s *Service) write(ctx context.Context, typ, id string, ifMatch *int64, build func(prev *Resource) (*Resource, error)) (*WriteResult, error) {
	st := s.storeFor(ctx)
	for attempt := 0; attempt < maxWriteAttempts; attempt++ {
		prev, err := st.Current(ctx, typ, id)
		if IsKind(err, KindNotFound) {
			prev, err = nil, nil
		}
		if err != nil {
			return nil, err
		}
		if prev != nil {
			// May the caller know of prev at all? Asked before If-Match is judged, whose
			// answers would tell.
			if err := guard(ctx, prev, nil); err != nil {
				return nil, err
			}
		}
		if ifMatch != nil {
			if prev == nil {
				// Whether the caller may write here is judged first: to a caller that may not
				// create this resource, an id never written must answer as one it may not see.
				next, err := build(nil)
				if err != nil {
					return nil, err
				}
				if next != nil {
					if err := guard(ctx, nil, next); err != nil {
						return nil, err
					}
				}
				return nil, Errorf(KindPreconditionFailed, "If-Match names version %d but %s/%s does not exist", *ifMatch, typ, id)
			}
			if prev.VersionID != *ifMatch {
				return nil, Errorf(KindPreconditionFailed, "If-Match names version %d but the current version of %s/%s is %d", *ifMatch, typ, id, prev.VersionID)
			}
		}
		next, err := build(prev)
		if err != nil || next == nil {
			return nil, err
		}
		if err := guard(ctx, prev, next); err != nil {
			return nil, err
		}
		if err := s.checkPatientWrite(ctx, prev, next); err != nil {
			return nil, err
		}
		err = st.Put(ctx, next, prev)
		if errors.Is(err, ErrVersionConflict) {
			if ifMatch != nil {
				return nil, Errorf(KindPreconditionFailed, "If-Match names version %d but %s/%s was changed by another request", *ifMatch, typ, id)
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		s.written(ctx, next)
		return &WriteResult{Resource: next, Created: prev == nil || prev.Deleted}, nil
	}
	return nil, Errorf(KindConflict, "%s/%s is being changed by many requests at once; retry later", typ, id)
}

// after returns the timestamp for a version following prev: now, but never earlier than
// prev's, so that versions of one resource are ordered in time as in number.
func (s *Service) after(prev *Resource) time.Time {
	now := s.now().UTC().Truncate(time.Millisecond)
	if prev != nil && !now.After(prev.LastUpdated) {
		now = prev.LastUpdated.Add(time.Millisecond)
	}
	return now
}

// History returns a page of a resource's or a type's history, newest first.
func (s *Service) History(ctx context.Context, q HistoryQuery) (*HistoryPage, error) {
	if err := s.checkType(q.Type); err != nil {
		return nil, err
	}
	if q.ID != "" {
		if !ValidID(q.ID) {
			return nil, Errorf(KindNotFound, "%s/%s is not known", q.Type, q.ID)
		}
		if _, err := s.storeFor(ctx).Current(ctx, q.Type, q.ID); err != nil {
			return nil, err
		}
	}
	return s.store.History(ctx, q)
}

// WriteGuard decides whether a write may happen, given the newest version it replaces (nil
// when the resource does not exist) and the version it would write (Deleted set for a
// delete). It returns the error to answer with instead. Before judging a precondition
// about prev (If-Match), the service asks with next nil: may the caller know of prev at all?
// Authorization installs one per request with WithWriteGuard, so that every write path,
// conditional ones included, obeys it.
type WriteGuard func(prev, next *Resource) error

type guardKey struct{}

// WithWriteGuard returns a context whose writes through Service are checked by g.
func WithWriteGuard(ctx context.Context, g WriteGuard) context.Context {
	return context.WithValue(ctx, guardKey{}, g)
}

// AlsoGuard returns a context whose writes must pass the guard ctx already has, if any, and
// then g.
func AlsoGuard(ctx context.Context, g WriteGuard) context.Context {
	first, _ := ctx.Value(guardKey{}).(WriteGuard)
	if first == nil {
		return WithWriteGuard(ctx, g)
	}
	return WithWriteGuard(ctx, func(prev, next *Resource) error {
		if err := first(prev, next); err != nil {
			return err
		}
		return g(prev, next)
	})
}

// guard applies the context's WriteGuard, if any.
func guard(ctx context.Context, prev, next *Resource) error {
	if g, ok := ctx.Value(guardKey{}).(WriteGuard); ok && g != nil {
		return g(prev, next)
	}
	return nil
}

// NewID returns a new server-assigned resource id: 128 random bits as 32 hex digits.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
