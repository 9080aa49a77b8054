package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/api"
	"github.com/patient-involvement/fhir-server/internal/audit"
	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/report"
	"github.com/patient-involvement/fhir-server/internal/store"
	"github.com/patient-involvement/fhir-server/internal/store/storetest"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// testServer is the real server on a fresh database, reached over HTTP.
type testServer struct {
	*httptest.Server
	t    testing.TB
	base string
}

type serverOption func(*api.Options)

func newTestServer(t testing.TB, opts ...serverOption) *testServer {
	t.Helper()
	return newTestServerOn(t, store.Options{IDFiltersOnly: storetest.IsEmbedded(t)}, opts...)
}

// newTestServerOn is newTestServer with a store made with so.
func newTestServerOn(t testing.TB, so store.Options, opts ...serverOption) *testServer {
	t.Helper()
	return newTestServerWith(t, storetest.NewDatabase(t), so, opts...)
}

// newTestServerWith is newTestServerOn on db: for tests that run, and stop, a database of
// their own.
func newTestServerWith(t testing.TB, db *mongo.Database, so store.Options, opts ...serverOption) *testServer {
	t.Helper()
	registry := fhir.DefaultRegistry()
	if so.IDFiltersOnly && so.JournalDir == "" {
		so.JournalDir = t.TempDir() // transactions on the embedded database are journaled
	}
	st, err := store.New(db, registry, so)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureIndexes(t.Context()); err != nil {
		t.Fatal(err)
	}
	svc, err := fhir.NewService(st, registry)
	if err != nil {
		t.Fatal(err)
	}
	// Authorization is off unless a test asks for it: these tests are about FHIR
	// semantics; auth_test.go runs the server in dev mode with tokens.
	verifier, err := auth.NewVerifier(t.Context(), auth.Options{Mode: auth.ModeOff})
	if err != nil {
		t.Fatal(err)
	}
	reports, err := report.New(st, st, st, report.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := api.Options{Service: svc, Searcher: st, Logger: slog.New(slog.DiscardHandler), Auth: verifier, Reports: reports}
	for _, opt := range opts {
		opt(&o)
	}
	h, err := api.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testServer{Server: srv, t: t, base: srv.URL + "/fhir"}
}

// withAudit turns the audit trail on, as a server runs: a writer made with wo, storing
// through the server's own service unless wo names a sink and logging to the server's logger
// unless wo names one. *w receives it; it is closed when t ends, after the server.
func withAudit(t testing.TB, w **audit.Writer, wo audit.WriterOptions) serverOption {
	return func(o *api.Options) {
		if wo.Sink == nil {
			wo.Sink = audit.ServiceSink(o.Service, nil)
		}
		if wo.Logger == nil {
			wo.Logger = o.Logger
		}
		var err error
		if *w, err = audit.NewWriter(wo); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = (*w).Close(context.Background()) })
		o.Audit = *w
	}
}

// response is what a test inspects of an HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("response body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// do sends a request; headers come in pairs of name, value.
func (s *testServer) do(method, path string, body []byte, headers ...string) *response {
	s.t.Helper()
	return s.send(method, path, "", body, headers...)
}

// send is do with the request's Host header set to host ("" leaves the server's own). path
// is a path on the server or a whole URL.
func (s *testServer) send(method, path, host string, body []byte, headers ...string) *response {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = s.URL + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data}
}

// mustCreate posts a resource and returns its id.
func (s *testServer) mustCreate(typ string, body string) (id string, created map[string]any) {
	s.t.Helper()
	r := s.do("POST", "/fhir/"+typ, []byte(body))
	if r.status != http.StatusCreated {
		s.t.Fatalf("create %s: status %d, want 201: %s", typ, r.status, r.body)
	}
	m := r.json(s.t)
	return m["id"].(string), m
}

// outcome asserts that r is an OperationOutcome with the given status and a diagnostic containing want.
func outcome(t *testing.T, r *response, status int, want string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
		t.Errorf("Content-Type %q, want application/fhir+json", ct)
	}
	m := r.json(t)
	if m["resourceType"] != "OperationOutcome" {
		t.Fatalf("body is not an OperationOutcome: %s", r.body)
	}
	if want != "" && !strings.Contains(string(r.body), want) {
		t.Errorf("OperationOutcome does not mention %q: %s", want, r.body)
	}
}

const qrMinimal = `{"resourceType":"QuestionnaireResponse","status":"completed","subject":{"reference":"Patient/p1"},
"questionnaire":"https://example.org/Questionnaire/lup|1.0","item":[{"linkId":"1","answer":[{"valueDecimal":1.10}]}]}`
