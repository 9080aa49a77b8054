package fhir

import "context"

// Patcher computes the patched form of a resource from its stored JSON. It must leave every
// byte it does not patch as it is.
type Patcher func(current []byte) ([]byte, error)

// Patch applies patch to the newest version of typ/id and stores the result exactly as
// Update does: the same parsing, checks, guard and versioning, with an implicit If-Match on
// the version patched, so that a write that came between the read and the write is a
// KindPreconditionFailed error rather than a lost update. ifMatch, when not nil, is the
// version the client expects to patch. A resource that never existed is KindNotFound, a
// deleted one KindGone.
func (s *Service) Patch(ctx context.Context, typ, id string, patch Patcher, ifMatch *int64) (*WriteResult, error) {
	if err := s.checkType(typ); err != nil {
		return nil, err
	}
	if !ValidID(id) {
		return nil, Errorf(KindNotFound, "%s/%s is not known: %q is not a valid id", typ, id, id)
	}
	prev, err := s.storeFor(ctx).Current(ctx, typ, id)
	if err != nil {
		return nil, err
	}
	// May the caller know of prev at all? Asked before anything else is said about it.
	if err := guard(ctx, prev, nil); err != nil {
		return nil, err
	}
	if prev.Deleted {
		return nil, goneError(prev)
	}
	if ifMatch != nil && *ifMatch != prev.VersionID {
		return nil, Errorf(KindPreconditionFailed, "If-Match names version %d but the current version of %s/%s is %d", *ifMatch, typ, id, prev.VersionID)
	}
	data, err := patch(prev.Raw)
	if err != nil {
		return nil, err
	}
	vid := prev.VersionID
	return s.Update(ctx, typ, id, data, &vid)
}
