package loader

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/patient-involvement/fhir-server/internal/conditional"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// ServiceTarget writes through the domain service in-process, straight into the database
// the service was built on, with the same validation and versioning as the HTTP API, and
// the same conditional create.
type ServiceTarget struct {
	svc  *fhir.Service
	cond *conditional.Service
}

var _ Target = (*ServiceTarget)(nil)

// NewServiceTarget returns a target that writes through svc and matches the criteria of
// conditional creates with searcher (both on the same database).
func NewServiceTarget(svc *fhir.Service, searcher search.Searcher) (*ServiceTarget, error) {
	if svc == nil || searcher == nil {
		return nil, errors.New("loader: NewServiceTarget needs a service and a searcher")
	}
	cond, err := conditional.New(svc, searcher, conditional.Options{})
	if err != nil {
		return nil, err
	}
	return &ServiceTarget{svc: svc, cond: cond}, nil
}

// Check pings the database.
func (t *ServiceTarget) Check(ctx context.Context) error { return t.svc.Store().Ping(ctx) }

// Current reads typ/id; a resource that never existed or was deleted gives nil.
func (t *ServiceTarget) Current(ctx context.Context, typ, id string) (*Stored, error) {
	r, err := t.svc.Read(ctx, typ, id)
	switch {
	case fhir.IsKind(err, fhir.KindNotFound), fhir.IsKind(err, fhir.KindGone):
		return nil, nil
	case err != nil:
		return nil, rejected(err)
	}
	return &Stored{Raw: r.Raw, Version: r.VersionID}, nil
}

// Put updates typ/id, creating it when it does not exist.
func (t *ServiceTarget) Put(ctx context.Context, typ, id string, body []byte, ifMatch int64) (bool, error) {
	var match *int64
	if ifMatch > 0 {
		match = &ifMatch
	}
	res, err := t.svc.Update(ctx, typ, id, body, match)
	if err != nil {
		return false, rejected(err)
	}
	return res.Created, nil
}

// Create runs the server's conditional create.
func (t *ServiceTarget) Create(ctx context.Context, typ string, criteria url.Values, body []byte) (*CreateResult, error) {
	c, err := t.cond.Criteria(typ, criteria)
	if err != nil {
		return nil, rejected(err)
	}
	res, err := t.cond.Create(ctx, c, conditional.Scope{}, body)
	if err != nil {
		return nil, rejected(err)
	}
	out := &CreateResult{ID: res.Resource.ID}
	if res.Existing {
		out.Existing = &Stored{Raw: res.Resource.Raw, Version: res.Resource.VersionID}
	}
	return out, nil
}

// rejected turns a domain error about the resource into a RejectedError; internal errors
// (the database failing) are returned as they are and stop the load.
func rejected(err error) error {
	var e *fhir.Error
	if errors.As(err, &e) && e.Kind != fhir.KindInternal {
		return &RejectedError{Status: e.Kind.Status(), Issues: fhir.OutcomeFor(err).Issue}
	}
	return err
}

// WithBundles returns a target that writes as t does and takes batch and transaction
// Bundles through h, the server's HTTP handler on the same service, in-process (no network,
// no token): a transaction file loaded straight into the database is stored all or
// nothing, with the same rules as over --url.
func (t *ServiceTarget) WithBundles(h http.Handler) (Target, error) {
	ht, err := NewHTTPTarget(inProcessBase, "", &http.Client{Transport: handlerTransport{h}})
	if err != nil {
		return nil, err
	}
	return &serviceBundles{ServiceTarget: t, http: ht}, nil
}

// inProcessBase is the base URL of the handler a ServiceTarget sends Bundles to.
const inProcessBase = "http://localhost/fhir"

// serviceBundles is a ServiceTarget that sends Bundles to a handler in-process.
type serviceBundles struct {
	*ServiceTarget
	http *HTTPTarget
}

var _ BundleTarget = (*serviceBundles)(nil)

// Bundle serves the Bundle through the handler.
func (s *serviceBundles) Bundle(ctx context.Context, bundle []byte) ([]EntryAnswer, error) {
	return s.http.Bundle(ctx, bundle)
}

// handlerTransport answers requests with an http.Handler in-process.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder() // the first status written wins; none written is 200
	t.h.ServeHTTP(rec, req)
	return &http.Response{StatusCode: rec.Code, Status: http.StatusText(rec.Code), Header: rec.Header(),
		Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())), Request: req}, nil
}
