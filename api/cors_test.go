package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/api"
	"github.com/patient-involvement/fhir-server/internal/auth"
)

const appOrigin = "http://app.example"

func allowOrigins(origins ...string) serverOption {
	return func(o *api.Options) { o.CORS = api.CORSOptions{Origins: origins} }
}

// TestCORSPreflights sends the preflights a browser sends before a cross-origin call: with no
// token, each is answered 204, with the route's methods, every header an app may send and a
// max age when the origin, method and headers are allowed, and without any CORS header (a
// refusal, to the browser) when they are not. None is audited; a 401 is.
func TestCORSPreflights(t *testing.T) {
	s := newAuthServer(t, allowOrigins(appOrigin))
	const allHeaders = "Authorization, Content-Type, If-Match, If-None-Exist, If-None-Match, If-Modified-Since, Prefer, X-Request-Id"
	tests := []struct {
		name, path, origin, method, headers string
		wantMethods                         string // "" means refused: no CORS headers
	}{
		{"create", "/fhir/QuestionnaireResponse", appOrigin, "POST", "authorization,content-type,if-none-exist", "GET, HEAD, POST, PUT, PATCH, DELETE"},
		{"search", "/fhir/QuestionnaireResponse", appOrigin, "GET", "authorization", "GET, HEAD, POST, PUT, PATCH, DELETE"},
		{"read conditionally", "/fhir/QuestionnaireResponse/qr-1", appOrigin, "GET", "authorization,if-none-match,x-request-id", "GET, HEAD, PUT, PATCH, DELETE"},
		{"update", "/fhir/CarePlan/cp-1", appOrigin, "PUT", "authorization,content-type,if-match,prefer", "GET, HEAD, PUT, PATCH, DELETE"},
		{"patch", "/fhir/CarePlan/cp-1", appOrigin, "PATCH", "authorization,content-type,if-match,prefer", "GET, HEAD, PUT, PATCH, DELETE"},
		{"batch or transaction", "/fhir", appOrigin, "POST", "authorization,content-type,prefer", "POST"},
		{"search by POST", "/fhir/QuestionnaireResponse/_search", appOrigin, "POST", "authorization,content-type", "POST"},
		{"history", "/fhir/CarePlan/cp-1/_history", appOrigin, "GET", "authorization", "GET, HEAD"},
		{"vread", "/fhir/CarePlan/cp-1/_history/2", appOrigin, "GET", "authorization,if-modified-since", "GET, HEAD"},
		{"metadata", "/fhir/metadata", appOrigin, "GET", "", "GET, HEAD"},
		{"discovery", "/fhir/.well-known/smart-configuration", appOrigin, "GET", "x-request-id", "GET, HEAD"},
		{"a type that is not served still gets its answer from the route", "/fhir/Patient", appOrigin, "GET", "authorization", "GET, HEAD, POST, PUT, PATCH, DELETE"},

		{"origin not allowed", "/fhir/QuestionnaireResponse", "http://evil.example", "POST", "authorization,content-type", ""},
		{"method the route does not serve", "/fhir/QuestionnaireResponse/_search", appOrigin, "DELETE", "authorization", ""},
		{"header not allowed", "/fhir/QuestionnaireResponse", appOrigin, "GET", "authorization,x-secret", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := []string{"Origin", tc.origin, "Access-Control-Request-Method", tc.method}
			if tc.headers != "" {
				h = append(h, "Access-Control-Request-Headers", tc.headers)
			}
			r := s.do("OPTIONS", tc.path, nil, h...)
			if r.status != http.StatusNoContent || len(r.body) != 0 {
				t.Fatalf("status %d, body %q; want 204 and no body", r.status, r.body)
			}
			got := func(k string) string { return r.header.Get(k) }
			if tc.wantMethods == "" {
				for _, k := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers"} {
					if got(k) != "" {
						t.Errorf("%s: %q on a refused preflight", k, got(k))
					}
				}
				return
			}
			want := map[string]string{
				"Access-Control-Allow-Origin":  tc.origin,
				"Access-Control-Allow-Methods": tc.wantMethods,
				"Access-Control-Allow-Headers": allHeaders,
				"Access-Control-Max-Age":       "600",
			}
			for k, v := range want {
				if got(k) != v {
					t.Errorf("%s: %q, want %q", k, got(k), v)
				}
			}
			if !strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Origin") {
				t.Errorf("Vary %q does not name Origin", r.header.Values("Vary"))
			}
		})
	}

	t.Run("a plain OPTIONS is no preflight: 401 without a token, 405 with one", func(t *testing.T) {
		outcome(t, s.do("OPTIONS", "/fhir/QuestionnaireResponse", nil), http.StatusUnauthorized, "access token")
		admin := s.mint(auth.TokenOptions{Scope: "system/*.*"})
		r := s.do("OPTIONS", "/fhir/QuestionnaireResponse", nil, "Authorization", "Bearer "+admin)
		outcome(t, r, http.StatusMethodNotAllowed, "OPTIONS is not a FHIR interaction")
		if r.header.Get("Allow") != "GET, HEAD, POST, PUT, PATCH, DELETE" {
			t.Errorf("Allow %q", r.header.Get("Allow"))
		}
	})

	t.Run("preflights are not audited, every other request is", func(t *testing.T) {
		outcome(t, s.do("GET", "/fhir/CarePlan", nil, "Origin", appOrigin), http.StatusUnauthorized, "")
		if err := s.audit.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		admin := s.mint(auth.TokenOptions{Scope: "system/*.*"})
		r := s.do("GET", "/fhir/AuditEvent?_total=accurate", nil, "Authorization", "Bearer "+admin)
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
		// The plain OPTIONS above (401, 405) and the search in this subtest (401); no preflight.
		if total := r.json(t)["total"]; total.(interface{ String() string }).String() != "3" {
			t.Errorf("%v AuditEvents, want 3 (two plain OPTIONS and the search refused with 401): %s", total, r.body)
		}
	})
}

// TestCORSActualRequests checks the headers of the calls themselves: an allowed origin may
// read the answer and the headers it needs (a 401 included, so that the app can tell the user
// to log in again), another origin gets no permission, and without configured origins no
// CORS header is sent at all. The CapabilityStatement says which is configured.
func TestCORSActualRequests(t *testing.T) {
	t.Parallel()
	const exposed = "ETag, Location, Content-Location, Last-Modified, X-Request-Id"
	withCORS := newTestServer(t, allowOrigins(appOrigin))
	anyOrigin := newTestServer(t, allowOrigins("*"))
	noCORS := newTestServer(t)
	id, _ := withCORS.mustCreate("QuestionnaireResponse", qrMinimal)
	tests := []struct {
		name       string
		srv        *testServer
		method     string
		path       string
		origin     string
		wantOrigin string
		wantCORS   bool // the statement's rest.security.cors
	}{
		{"read from an allowed origin", withCORS, "GET", "/fhir/QuestionnaireResponse/" + id, appOrigin, appOrigin, true},
		{"search from an allowed origin", withCORS, "GET", "/fhir/QuestionnaireResponse", appOrigin, appOrigin, true},
		{"an error from an allowed origin", withCORS, "GET", "/fhir/QuestionnaireResponse/nope", appOrigin, appOrigin, true},
		{"a patch from an allowed origin", withCORS, "PATCH", "/fhir/QuestionnaireResponse/" + id, appOrigin, appOrigin, true},
		{"a Bundle from an allowed origin", withCORS, "POST", "/fhir", appOrigin, appOrigin, true},
		{"another origin", withCORS, "GET", "/fhir/QuestionnaireResponse/" + id, "http://evil.example", "", true},
		{"any origin", anyOrigin, "GET", "/fhir/metadata", "http://anywhere.example", "*", true},
		{"CORS not configured", noCORS, "GET", "/fhir/metadata", appOrigin, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.srv.do(tc.method, tc.path, nil, "Origin", tc.origin)
			if got := r.header.Get("Access-Control-Allow-Origin"); got != tc.wantOrigin {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, tc.wantOrigin)
			}
			wantExposed := exposed
			if tc.wantOrigin == "" {
				wantExposed = ""
			}
			if got := r.header.Get("Access-Control-Expose-Headers"); got != wantExposed {
				t.Errorf("Access-Control-Expose-Headers %q, want %q", got, wantExposed)
			}
			if r.header.Get("Access-Control-Allow-Credentials") != "" {
				t.Error("credentials allowed, though not configured")
			}
			cs := tc.srv.do("GET", "/fhir/metadata", nil).json(t)
			sec, _ := cs["rest"].([]any)[0].(map[string]any)["security"].(map[string]any)
			if cors, _ := sec["cors"].(bool); cors != tc.wantCORS {
				t.Errorf("CapabilityStatement rest.security.cors %v, want %v (security %v)", sec["cors"], tc.wantCORS, sec)
			}
		})
	}
}
