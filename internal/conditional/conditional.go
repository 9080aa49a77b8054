// Package conditional carries out the conditional interactions of FHIR R4 (http.html):
// create with If-None-Exist, update and delete by search criteria. The HTTP API and the
// in-process loader both use it, so a resource found or made by one is found by the other.
//
// The criteria are matched by a search.Searcher and the writes go through the domain's
// fhir.Service, with its validation and versioning.
//
// Concurrency: conditional creates and updates with the same resource type and the same
// criteria (in canonical form) are serialised within the process, so two identical
// conditional creates sent at once make one resource. Across several server processes on
// one MongoDB this is not guaranteed: two processes may each find no match and each create
// a resource. Servers that guarantee it keep a table of match URLs with a unique index
// (HAPI FHIR has the same caveat without it); this server does not.
package conditional

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// resultParams are the search result parameters: they shape a search's answer and have no
// meaning in conditional criteria, which select resources only.
var resultParams = []string{"_count", "_sort", "_total", "_summary", "_elements", "_include", "_revinclude", "_cursor"}

// Options tune a Service.
type Options struct {
	// MaxDelete is the most resources one conditional delete deletes; when more match it
	// fails with 412 and deletes nothing. Default 1000.
	MaxDelete int
	// Location is the time zone of date criteria without one; UTC when nil.
	Location *time.Location
}

// Service carries out conditional interactions.
type Service struct {
	svc      *fhir.Service
	searcher search.Searcher
	opts     Options
}

// New returns a Service that matches criteria with searcher and writes through svc.
func New(svc *fhir.Service, searcher search.Searcher, opts Options) (*Service, error) {
	if svc == nil || searcher == nil {
		return nil, errors.New("conditional: New needs a service and a searcher")
	}
	if opts.MaxDelete <= 0 {
		opts.MaxDelete = 1000
	}
	return &Service{svc: svc, searcher: searcher, opts: opts}, nil
}

// Criteria parses the criteria of a conditional interaction on typ. Unlike a search, it is
// always strict: an unknown or unsupported parameter is a fhir.KindInvalid error, because
// ignoring it could select the wrong resources. The criteria must hold at least one search
// parameter and no result parameter (_count, _sort, …). A type that is not served is
// fhir.KindNotFound.
func (s *Service) Criteria(typ string, query url.Values) (*search.Criteria, error) {
	if err := s.svc.Registry().CheckType(typ); err != nil {
		return nil, err
	}
	for _, p := range resultParams {
		for key := range query {
			if name, _, _ := strings.Cut(key, ":"); name == p {
				return nil, fhir.Errorf(fhir.KindInvalid,
					"%s is a search result parameter, which has no meaning in the criteria of a conditional interaction", key).At(key)
			}
		}
	}
	if err := search.CheckText(query); err != nil {
		return nil, err
	}
	c, warnings, err := search.Parse(typ, query, search.Options{Strict: true, Location: s.opts.Location})
	if err != nil {
		return nil, err
	}
	if len(warnings) > 0 {
		// A search would go on without what it ignored (an empty value); criteria that
		// select what to write must be exactly what the client meant.
		e := fhir.Errorf(fhir.KindInvalid, "The conditional criteria cannot be used as given: %s", warnings[0].Diagnostics)
		if len(warnings[0].Expression) > 0 {
			e = e.At(warnings[0].Expression[0])
		}
		return nil, e
	}
	if len(c.Params) == 0 {
		return nil, fhir.Errorf(fhir.KindInvalid,
			"The conditional criteria hold no search parameter: name at least one, e.g. identifier=system|value")
	}
	return c, nil
}

// ParseQuery reads criteria written as a query string, as in the If-None-Exist header:
// "identifier=x|1", also accepted with a leading "?" or "<typ>?". Another type before the "?"
// is a fhir.KindInvalid error.
func ParseQuery(typ, text string) (url.Values, error) {
	text = strings.TrimSpace(text)
	if before, after, ok := strings.Cut(text, "?"); ok && !strings.ContainsAny(before, "=&") {
		before = before[strings.LastIndexByte(before, '/')+1:]
		if before != "" && before != typ {
			return nil, fhir.Errorf(fhir.KindInvalid, "The conditional criteria %q are for %s, not %s", text, before, typ)
		}
		text = after
	}
	q, err := url.ParseQuery(text)
	if err != nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "The conditional criteria %q are not a query string: %v", text, err)
	}
	return q, nil
}

// Scope is what the criteria of one request are matched against.
type Scope struct {
	// BaseURL is the server's base as the client sees it, for matching absolute references
	// that point at this server ("" matches relative references only).
	BaseURL string
	// Compartment, when set ("Patient/123"), limits the matches to that patient's
	// compartment (see search.Request), so that a conditional interaction never finds, and
	// never acts on, what the client may not see.
	Compartment string
}

// CreateResult is the outcome of a conditional create.
type CreateResult struct {
	fhir.WriteResult
	// Existing is set when one resource matched: Resource is that resource and nothing was
	// written (HTTP 200).
	Existing bool
}

// Create creates body as a new typ unless criteria match: no match creates it (as
// fhir.Service.Create does), one match returns that resource and writes nothing, more
// matches are a fhir.KindTooManyMatches error.
func (s *Service) Create(ctx context.Context, criteria *search.Criteria, scope Scope, body []byte) (*CreateResult, error) {
	unlock := lock(criteria)
	defer unlock()
	matches, err := s.match(ctx, criteria, scope, 2)
	if err != nil {
		return nil, err
	}
	switch len(matches) {
	case 0:
		res, err := s.svc.Create(ctx, criteria.Type, body)
		if err != nil {
			return nil, err
		}
		return &CreateResult{WriteResult: *res}, nil
	case 1:
		return &CreateResult{WriteResult: fhir.WriteResult{Resource: matches[0]}, Existing: true}, nil
	}
	return nil, tooMany("create", criteria)
}

// Update writes body by criteria: no match creates it (under the body's id, as an update as
// create, or under a new id when the body has none), one match updates that resource (the
// body's id, when it has one, must be the resource's), more matches are a
// fhir.KindTooManyMatches error. ifMatch, when not nil, is the version the write must replace.
func (s *Service) Update(ctx context.Context, criteria *search.Criteria, scope Scope, body []byte, ifMatch *int64) (*fhir.WriteResult, error) {
	unlock := lock(criteria)
	defer unlock()
	matches, err := s.match(ctx, criteria, scope, 2)
	if err != nil {
		return nil, err
	}
	typ := criteria.Type
	id, hasID := bodyID(body)
	switch len(matches) {
	case 0:
		if hasID {
			// Update as create, but never of a live resource the criteria did not select:
			// that would overwrite something unrelated (FHIR R5 makes this a 409). The
			// request's own guard runs first, so an id the caller may not know stays unknown.
			ctx = fhir.AlsoGuard(ctx, func(prev, next *fhir.Resource) error {
				if prev != nil && !prev.Deleted {
					return fhir.Errorf(fhir.KindConflict, "Nothing matches %s, but %s/%s exists: a conditional update does not overwrite a resource its criteria do not select", criteria.Encode(), typ, id)
				}
				return nil
			})
			return s.svc.Update(ctx, typ, id, body, ifMatch)
		}
		if ifMatch != nil {
			return nil, fhir.Errorf(fhir.KindPreconditionFailed, "If-Match names version %d but no %s matches %s", *ifMatch, typ, criteria.Encode())
		}
		return s.svc.Create(ctx, typ, body)
	case 1:
		found := matches[0].ID
		if hasID && id != found {
			return nil, fhir.Errorf(fhir.KindInvalid,
				"The resource's id %q is not that of the %s the criteria match (%s)", id, typ, found).At(typ + ".id")
		}
		if !hasID {
			if b, err := withID(body, found); err == nil {
				body = b
			} // else the service reports what is wrong with the body
		}
		return s.svc.Update(ctx, typ, found, body, ifMatch)
	}
	return nil, tooMany("update", criteria)
}

// Delete deletes every typ that criteria match, as many as Options.MaxDelete; when more
// match it deletes nothing and returns a fhir.KindTooManyMatches error. No match deletes
// nothing and succeeds. ifMatch, when not nil, applies when exactly one resource matches;
// with several it is a fhir.KindPreconditionFailed error. It returns the deleting versions.
func (s *Service) Delete(ctx context.Context, criteria *search.Criteria, scope Scope, ifMatch *int64) ([]*fhir.Resource, error) {
	matches, err := s.match(ctx, criteria, scope, s.opts.MaxDelete+1)
	if err != nil {
		return nil, err
	}
	if len(matches) > s.opts.MaxDelete {
		return nil, fhir.Errorf(fhir.KindTooManyMatches,
			"More than %d %s resources match %s: this server deletes at most %d at once; narrow the criteria",
			s.opts.MaxDelete, criteria.Type, criteria.Encode(), s.opts.MaxDelete)
	}
	if ifMatch != nil && len(matches) > 1 {
		return nil, fhir.Errorf(fhir.KindPreconditionFailed,
			"If-Match names one version but %d %s resources match %s", len(matches), criteria.Type, criteria.Encode())
	}
	var deleted []*fhir.Resource
	for _, m := range matches {
		r, err := s.svc.Delete(ctx, criteria.Type, m.ID, ifMatch)
		if err != nil {
			return deleted, err
		}
		deleted = append(deleted, r)
	}
	return deleted, nil
}

// match returns up to limit resources that criteria match, in no particular order.
func (s *Service) match(ctx context.Context, criteria *search.Criteria, scope Scope, limit int) ([]*fhir.Resource, error) {
	c := *criteria
	c.Count = &limit
	c.Sort, c.Total, c.Summary, c.Elements, c.Include, c.RevInclude = nil, "", "", nil, nil, nil
	res, err := s.searcher.Search(ctx, &search.Request{Criteria: &c, BaseURL: scope.BaseURL, Compartment: scope.Compartment})
	if err != nil {
		return nil, err
	}
	return res.Matches, nil
}

func tooMany(what string, c *search.Criteria) error {
	return fhir.Errorf(fhir.KindTooManyMatches,
		"Conditional %s: more than one %s matches %s; make the criteria select one resource", what, c.Type, c.Encode())
}

// stripes serialise conditional writes with the same criteria within the process. They are
// process-wide, not per Service, because the promise is per process: the HTTP API and an
// in-process load in one process must not both create.
var stripes [256]sync.Mutex

// lock takes the stripe of the criteria's type and canonical query and returns its unlock.
func lock(c *search.Criteria) func() {
	h := fnv.New32a()
	_, _ = io.WriteString(h, c.Type+"?"+c.Encode())
	m := &stripes[h.Sum32()%uint32(len(stripes))]
	m.Lock()
	return m.Unlock
}

// bodyID returns the top-level "id" of a JSON object, when it is a string. A body that is
// not a JSON object gives none: the service reports what is wrong with it.
func bodyID(body []byte) (string, bool) {
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) != nil {
		return "", false
	}
	raw, ok := members["id"]
	if !ok {
		return "", false
	}
	var id string
	if json.Unmarshal(raw, &id) != nil {
		// Not a string: pass it on as an id the service rejects.
		return string(raw), true
	}
	return id, true
}

// withID returns the JSON object body with "id" added as its first member.
func withID(body []byte, id string) ([]byte, error) {
	body = bytes.TrimSpace(body)
	if len(body) < 2 || body[0] != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	rest := bytes.TrimSpace(body[1:])
	var out bytes.Buffer
	out.Grow(len(body) + len(id) + 10)
	out.WriteString(`{"id":`)
	out.WriteString(strconv.Quote(id)) // ids are letters, digits, '-' and '.'
	if len(rest) > 0 && rest[0] != '}' {
		out.WriteByte(',')
	}
	out.Write(rest)
	return out.Bytes(), nil
}

// Patch patches the one typ that criteria match (see fhir.Service.Patch): no match is a
// fhir.KindNotFound error, more matches a fhir.KindTooManyMatches error. ifMatch, when not
// nil, is the version the patch must apply to.
func (s *Service) Patch(ctx context.Context, criteria *search.Criteria, scope Scope, patch fhir.Patcher, ifMatch *int64) (*fhir.WriteResult, error) {
	m, err := s.one(ctx, criteria, scope, "patch")
	if err != nil {
		return nil, err
	}
	return s.svc.Patch(ctx, criteria.Type, m.ID, patch, ifMatch)
}

// one returns the one typ that criteria match; what names the conditional interaction in
// errors.
func (s *Service) one(ctx context.Context, criteria *search.Criteria, scope Scope, what string) (*fhir.Resource, error) {
	matches, err := s.match(ctx, criteria, scope, 2)
	if err != nil {
		return nil, err
	}
	switch len(matches) {
	case 0:
		return nil, fhir.Errorf(fhir.KindNotFound, "Conditional %s: no %s matches %s", what, criteria.Type, criteria.Encode())
	case 1:
		return matches[0], nil
	}
	return nil, tooMany(what, criteria)
}

// Resolve returns the one typ that criteria match, for a conditional reference in a
// transaction (Bundle "QuestionnaireResponse?identifier=…"): no match is a
// fhir.KindNotFound error, more a fhir.KindTooManyMatches error.
func (s *Service) Resolve(ctx context.Context, criteria *search.Criteria, scope Scope) (*fhir.Resource, error) {
	return s.one(ctx, criteria, scope, "reference")
}
