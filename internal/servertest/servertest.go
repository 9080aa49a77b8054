// Package servertest starts the real FHIR server for tests of the packages around it (the
// loader, the generator, the fixtures): the api handler over a fresh database from storetest,
// served by httptest. Test binaries that use it must call storetest.Main from TestMain.
package servertest

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/patient-involvement/fhir-server/api"
	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/questionnaire"
	"github.com/patient-involvement/fhir-server/internal/search"
	"github.com/patient-involvement/fhir-server/internal/store"
	"github.com/patient-involvement/fhir-server/internal/store/storetest"
)

// Server is a running FHIR server on a database of its own.
type Server struct {
	// Base is the FHIR base URL, e.g. http://127.0.0.1:41234/fhir.
	Base string
	// Service is the service behind the HTTP API, for writing in-process to the same database.
	Service *fhir.Service
	// Searcher searches the same database in-process.
	Searcher search.Searcher
	// Handler is the HTTP API, for serving it in-process.
	Handler http.Handler
}

// New starts a server on a fresh, empty database and stops it when the test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	b := NewBackend(tb)
	// Authorization is off: these servers test loading and generating, not access control
	// (api's own tests cover that).
	verifier, err := auth.NewVerifier(tb.Context(), auth.Options{Mode: auth.ModeOff})
	if err != nil {
		tb.Fatal(err)
	}
	h, err := api.New(api.Options{Service: b.Service, Searcher: b.Searcher, Logger: slog.New(slog.DiscardHandler), Auth: verifier})
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return &Server{Base: srv.URL + "/fhir", Service: b.Service, Searcher: b.Searcher, Handler: h}
}

// Backend is what the HTTP API stands on: the domain service and the searcher, both on one
// database.
type Backend struct {
	Service  *fhir.Service
	Searcher search.Searcher
}

// NewBackend returns the service and the searcher on a fresh, empty database, without HTTP.
func NewBackend(tb testing.TB) *Backend {
	tb.Helper()
	registry := fhir.DefaultRegistry()
	st, err := store.New(storetest.NewDatabase(tb), registry, store.Options{IDFiltersOnly: storetest.IsEmbedded(tb), JournalDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.EnsureIndexes(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	// The Questionnaire rules are on, strict, as the server runs by default.
	rules, err := questionnaire.New(st, questionnaire.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	st.DeriveWith(rules)
	svc, err := fhir.NewService(st, registry, fhir.WithContentChecker(rules))
	if err != nil {
		tb.Fatal(err)
	}
	return &Backend{Service: svc, Searcher: st}
}

// NewService returns the domain service on a fresh, empty database, without HTTP.
func NewService(tb testing.TB) *fhir.Service {
	tb.Helper()
	return NewBackend(tb).Service
}
