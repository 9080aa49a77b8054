// Package servertest starts the real FHIR server for tests of the packages around it (the
// loader, the generator, the fixtures): the api handler over a fresh database from storetest,
// served by httptest. Test binaries that use it must call storetest.Main from TestMain.
package servertest

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/patient-involvement/fhir-server/api"
	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/questionnaire"
	"github.com/patient-involvement/fhir-server/internal/search"
	"github.com/patient-involvement/fhir-server/internal/store"
	"github.com/patient-involvement/fhir-server/internal/store/storetest"
)

// Options change what New and NewBackend build; the zero value builds the server as it runs
// by default.
type Options struct {
	// Questionnaire configures the Questionnaire rules (strict by default).
	Questionnaire questionnaire.Options
}

// Server is a running FHIR server on a database of its own.
type Server struct {
	*Backend
	// URL is the server's root URL, e.g. http://127.0.0.1:41234.
	URL string
	// Base is the FHIR base URL, e.g. http://127.0.0.1:41234/fhir.
	Base string
	// Handler is the HTTP API, for serving it in-process.
	Handler http.Handler
}

// New starts a server on a fresh, empty database and stops it when the test ends.
func New(tb testing.TB, opts ...Options) *Server {
	tb.Helper()
	b := NewBackend(tb, opts...)
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
	return &Server{Backend: b, URL: srv.URL, Base: srv.URL + "/fhir", Handler: h}
}

// Backend is what the HTTP API stands on: the domain service and the searcher, both on one
// database.
type Backend struct {
	// Service is the service behind the HTTP API, for writing in-process to the same database.
	Service *fhir.Service
	// Searcher searches the same database in-process.
	Searcher search.Searcher
	// Store and DB are the store and the database beneath, for tests that look under the API.
	Store *store.Store
	DB    *mongo.Database
}

// NewBackend returns the service and the searcher on a fresh, empty database, without HTTP.
func NewBackend(tb testing.TB, opts ...Options) *Backend {
	tb.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	registry := fhir.DefaultRegistry()
	db := storetest.NewDatabase(tb)
	st, err := store.New(db, registry, store.Options{IDFiltersOnly: storetest.IsEmbedded(tb), JournalDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.EnsureIndexes(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	// The Questionnaire rules are on, strict unless o says otherwise, as the server runs by
	// default.
	rules, err := questionnaire.New(st, o.Questionnaire)
	if err != nil {
		tb.Fatal(err)
	}
	st.DeriveWith(rules)
	svc, err := fhir.NewService(st, registry, fhir.WithContentChecker(rules))
	if err != nil {
		tb.Fatal(err)
	}
	return &Backend{Service: svc, Searcher: st, Store: st, DB: db}
}

// NewService returns the domain service on a fresh, empty database, without HTTP.
func NewService(tb testing.TB) *fhir.Service {
	tb.Helper()
	return NewBackend(tb).Service
}
