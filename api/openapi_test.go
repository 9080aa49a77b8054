package api

import (
	"github.com/patient-involvement/fhir-server/internal/auth"

	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
	"github.com/patient-involvement/fhir-server/internal/store"
	"github.com/patient-involvement/fhir-server/internal/store/storetest"
	"github.com/patient-involvement/fhir-server/openapi"
)

// specDoc is what the tests read of the OpenAPI description.
type specDoc struct {
	OpenAPI string                              `json:"openapi"`
	Paths   map[string]map[string]specOperation `json:"paths"`
}

type specOperation struct {
	OperationID string          `json:"operationId"`
	Interaction string          `json:"x-fhir-interaction"`
	Tags        []string        `json:"tags"`
	Parameters  []specParameter `json:"parameters"`
	RequestBody struct {
		Content map[string]struct {
			Schema struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
}

type specParameter struct {
	Name string `json:"name"`
	In   string `json:"in"`
}

// controlParams are query parameters that shape a response rather than select resources:
// they are documented on an operation but are not search parameters of the CapabilityStatement.
var controlParams = map[string]bool{
	"_format": true, "_pretty": true, "_count": true, "_cursor": true, "_since": true, "_sort": true,
	"_include": true, "_revinclude": true, "_elements": true, "_summary": true, "_total": true,
}

func readSpec(t *testing.T) *specDoc {
	t.Helper()
	var doc specDoc
	if err := json.Unmarshal(openapi.JSON(), &doc); err != nil {
		t.Fatalf("openapi/openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x (Swagger UI 5 renders it)", doc.OpenAPI)
	}
	return &doc
}

// newDocsTestServer is the real handler on a fresh database, called in-process, in the
// server's default auth mode (dev), so that every documented path is served.
func newDocsTestServer(t *testing.T) *Server {
	t.Helper()
	registry := fhir.DefaultRegistry()
	st, err := store.New(storetest.NewDatabase(t), registry)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := fhir.NewService(st, registry)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(t.Context(), auth.Options{
		Mode: auth.ModeDev, Issuer: auth.DevIssuer, Audience: auth.DevAudience, DataDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	// httptest.NewRequest addresses example.com.
	s, err := New(Options{Service: svc, Searcher: st, Logger: slog.New(slog.DiscardHandler), Auth: verifier, AllowedHosts: []string{"example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func serve(s *Server, method, target string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

// pathParam matches a path parameter of the description: {id}.
var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// TestSpecMatchesCapabilitiesAndRoutes guards against drift between the three places that say
// what the server offers: the OpenAPI description, the CapabilityStatement and the router.
// Each yields the set of "Type interaction" pairs (and of "method /fhir/:type/... Type
// interaction" routes), and the sets must be equal. The search parameters the
// CapabilityStatement lists must be exactly those the search parser knows
// (search.Definitions), those documented as query parameters of GET /fhir/{Type} and of the
// conditional PUT and DELETE /fhir/{Type}, and those documented as form fields of
// POST /fhir/{Type}/_search.
func TestSpecMatchesCapabilitiesAndRoutes(t *testing.T) {
	t.Parallel()
	s := newDocsTestServer(t)
	spec := readSpec(t)

	// The description: per type, the interaction and gin route of every operation.
	var specPairs, specRoutes, specSystem []string
	types := map[string]bool{}
	for _, rt := range s.svc.Registry().Types() {
		types[rt.Name] = true
	}
	for path, item := range spec.Paths {
		for method, op := range item {
			if op.Interaction == "" {
				if strings.HasPrefix(path, "/fhir/") {
					t.Errorf("%s %s has no x-fhir-interaction", strings.ToUpper(method), path)
				}
				continue
			}
			segs := strings.Split(strings.TrimPrefix(path, "/fhir/"), "/")
			if !types[segs[0]] {
				specSystem = append(specSystem, op.Interaction)
				continue
			}
			typ := segs[0]
			segs[0] = "{type}"
			route := pathParam.ReplaceAllString("/fhir/"+strings.Join(segs, "/"), ":$1")
			specPairs = append(specPairs, typ+" "+op.Interaction)
			specRoutes = append(specRoutes, strings.ToUpper(method)+" "+route+" "+typ+" "+op.Interaction)
			if len(op.Tags) != 1 || op.Tags[0] != typ {
				t.Errorf("%s %s is tagged %v, want [%s]", strings.ToUpper(method), path, op.Tags, typ)
			}
		}
	}

	// The router: the route table, per served type that offers the route's interaction.
	var tablePairs, tableRoutes, tableSystem []string
	registered := map[string]bool{}
	for _, r := range s.engine.Routes() {
		registered[r.Method+" "+r.Path] = true
	}
	for _, r := range s.routes {
		if !registered[r.method+" /fhir"+r.path] {
			t.Errorf("route table entry %s /fhir%s is not registered with gin", r.method, r.path)
		}
		if r.system != "" {
			tableSystem = append(tableSystem, r.system)
		}
		if r.operation != "" {
			for _, rt := range s.svc.Registry().Types() {
				for _, op := range s.typeOperations(rt) {
					if op == r.operation {
						tablePairs = append(tablePairs, rt.Name+" "+op)
						tableRoutes = append(tableRoutes, r.method+" /fhir"+r.path+" "+rt.Name+" "+op)
					}
				}
			}
			continue
		}
		if r.interaction == "" {
			continue
		}
		for _, rt := range s.svc.Registry().Types() {
			for _, i := range s.typeInteractions(rt) {
				if i == r.interaction {
					tablePairs = append(tablePairs, rt.Name+" "+string(i))
					tableRoutes = append(tableRoutes, r.method+" /fhir"+r.path+" "+rt.Name+" "+string(i))
				}
			}
		}
	}

	// The CapabilityStatement, as served.
	rec := serve(s, http.MethodGet, "/fhir/metadata", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /fhir/metadata: %d %s", rec.Code, rec.Body)
	}
	var cs struct {
		Rest []struct {
			Resource []struct {
				Type        string `json:"type"`
				Interaction []struct {
					Code string `json:"code"`
				} `json:"interaction"`
				SearchParam []struct {
					Name string `json:"name"`
				} `json:"searchParam"`
				Operation []struct {
					Name string `json:"name"`
				} `json:"operation"`
			} `json:"resource"`
			Interaction []struct {
				Code string `json:"code"`
			} `json:"interaction"`
		} `json:"rest"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &cs); err != nil || len(cs.Rest) != 1 {
		t.Fatalf("CapabilityStatement: %v %s", err, rec.Body)
	}
	var csPairs []string
	csSystem := []string{"capabilities"} // GET /fhir/metadata itself; not listed in the statement
	for _, i := range cs.Rest[0].Interaction {
		if i.Code == "batch" {
			continue // served by the route of transaction, POST /fhir
		}
		csSystem = append(csSystem, i.Code)
	}
	for _, res := range cs.Rest[0].Resource {
		for _, i := range res.Interaction {
			csPairs = append(csPairs, res.Type+" "+i.Code)
		}
		for _, op := range res.Operation {
			csPairs = append(csPairs, res.Type+" "+op.Name)
		}
		// Search parameters: the statement's names against the parser's, and against the
		// query parameters documented on the operations that take criteria, less the ones
		// that only shape the response.
		var csSearch, parserSearch []string
		for _, p := range res.SearchParam {
			csSearch = append(csSearch, p.Name)
		}
		for _, d := range search.Definitions(res.Type) {
			parserSearch = append(parserSearch, d.Name)
		}
		sameSet(t, "search parameters of "+res.Type+" (parser vs CapabilityStatement)", parserSearch, csSearch)
		for _, method := range []string{"get", "put", "delete"} {
			op, ok := spec.Paths["/fhir/"+res.Type][method]
			if !ok {
				continue // the type offers no such interaction (AuditEvent: no update or delete); the route sets below say which exist
			}
			var specSearch []string
			for _, p := range op.Parameters {
				if p.In == "query" && !controlParams[p.Name] {
					specSearch = append(specSearch, p.Name)
				}
			}
			sameSet(t, "search parameters of "+res.Type+" (CapabilityStatement vs query of "+strings.ToUpper(method)+" /fhir/"+res.Type+")", csSearch, specSearch)
		}
		var formSearch []string
		for name := range spec.Paths["/fhir/"+res.Type+"/_search"]["post"].RequestBody.Content["application/x-www-form-urlencoded"].Schema.Properties {
			if !controlParams[name] {
				formSearch = append(formSearch, name)
			}
		}
		sameSet(t, "search parameters of "+res.Type+" (CapabilityStatement vs form of POST /fhir/"+res.Type+"/_search)", csSearch, formSearch)
	}

	sameSet(t, "type interactions (CapabilityStatement vs description)", csPairs, specPairs)
	sameSet(t, "type interactions (route table vs description)", tablePairs, specPairs)
	sameSet(t, "routes (route table vs description)", tableRoutes, specRoutes)
	sameSet(t, "system interactions (CapabilityStatement vs description)", csSystem, specSystem)
	sameSet(t, "system interactions (route table vs description)", tableSystem, specSystem)
}

// TestSpecPathsAreServed sends a request to every operation of the description and checks that
// the router serves it: the answer may be an error about the data, never "no such route".
func TestSpecPathsAreServed(t *testing.T) {
	t.Parallel()
	s := newDocsTestServer(t)
	token, err := s.opts.Auth.DevKey().Mint(auth.TokenOptions{Scope: auth.DevAdminScope})
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range readSpec(t).Paths {
		target := strings.NewReplacer("{id}", "docs-probe", "{vid}", "1").Replace(path)
		for method, op := range item {
			var body []byte
			if method == "post" || method == "put" {
				body = []byte(`{}`)
			}
			req := httptest.NewRequest(strings.ToUpper(method), target, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/fhir+json")
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code == http.StatusMethodNotAllowed || strings.Contains(rec.Body.String(), "Nothing is served") {
				t.Errorf("%s (%s %s) is documented but not routed: %d %s", op.OperationID, strings.ToUpper(method), target, rec.Code, rec.Body)
			}
		}
	}
}

func TestDocsAreServed(t *testing.T) {
	t.Parallel()
	s := newDocsTestServer(t)
	tests := []struct {
		name, target string
		status       int
		contentType  string
		body         string // in the body, or the Location of a redirect
	}{
		{"spec as JSON", "/openapi.json", 200, "application/json", `"openapi": "3.1.0"`},
		{"spec as YAML", "/openapi.yaml", 200, "application/yaml", "openapi: 3.1.0"},
		{"docs redirect", "/docs", 301, "", "/docs/index.html"},
		{"docs slash redirect", "/docs/", 301, "", "/docs/index.html"},
		{"swagger ui page", "/docs/index.html", 200, "text/html", `<div id="swagger-ui">`},
		{"swagger ui points at the spec", "/docs/swagger-initializer.js", 200, "application/javascript", `url: "/openapi.json"`},
		{"swagger ui bundle is embedded", "/docs/swagger-ui-bundle.js", 200, "application/javascript", "SwaggerUIBundle"},
		{"gin-swagger's spec path serves the spec", "/docs/doc.json", 200, "application/json", `"openapi": "3.1.0"`},
		{"an unknown docs file is a 404", "/docs/nothing-here.js", 404, "", ""},
		{"home links everything", "/", 200, "text/html", `href="/docs"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(s, http.MethodGet, tc.target, nil)
			if rec.Code != tc.status || !strings.HasPrefix(rec.Header().Get("Content-Type"), tc.contentType) {
				t.Fatalf("status %d Content-Type %q, want %d %q", rec.Code, rec.Header().Get("Content-Type"), tc.status, tc.contentType)
			}
			got := rec.Body.String()
			if rec.Code == http.StatusMovedPermanently {
				got = rec.Header().Get("Location")
			}
			if !strings.Contains(got, tc.body) {
				t.Errorf("%s does not contain %q", tc.target, tc.body)
			}
		})
	}
	home := serve(s, http.MethodGet, "/", nil).Body.String()
	for _, link := range []string{"/docs", "/openapi.json", "/openapi.yaml", "/fhir/metadata", "/healthz", "/readyz"} {
		if !strings.Contains(home, `href="`+link+`"`) {
			t.Errorf("the home page does not link to %s", link)
		}
	}
	if got := serve(s, http.MethodGet, "/openapi.json", nil).Body.Bytes(); !bytes.Equal(got, openapi.JSON()) {
		t.Error("/openapi.json is not the committed openapi/openapi.json")
	}
}

// sameSet reports the difference of two lists taken as sets, as (-want +got).
func sameSet(t *testing.T, what string, want, got []string) {
	t.Helper()
	in := func(l []string) map[string]bool {
		m := map[string]bool{}
		for _, s := range l {
			m[s] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var diff []string
	for s := range w {
		if !g[s] {
			diff = append(diff, "-"+s)
		}
	}
	for s := range g {
		if !w[s] {
			diff = append(diff, "+"+s)
		}
	}
	if len(diff) > 0 {
		sort.Strings(diff)
		t.Errorf("%s differ (-want +got):\n  %s", what, strings.Join(diff, "\n  "))
	}
}
