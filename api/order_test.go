package api_test

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/api"
	"github.com/patient-involvement/fhir-server/internal/auth"
)

// TestTokenIsCheckedFirst sends requests that are wrong in some other way too: without a
// token each is a 401, whatever else is wrong with it, so that nothing about the server (its
// routes, types, limits, media types) is learnt without a token; with one, the other
// problem is reported. Only metadata, SMART discovery and preflights are public.
func TestTokenIsCheckedFirst(t *testing.T) {
	s := newAuthServer(t, func(o *api.Options) { o.MaxBodyBytes = 4096 })
	admin := s.mint(auth.TokenOptions{Scope: "system/*.*"})
	big := bytes.Repeat([]byte("x"), 5000)
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	_, _ = zw.Write(bytes.Repeat([]byte(" "), 100_000))
	_ = zw.Close()
	tests := []struct {
		name, method, path string
		body               []byte
		headers            []string
		withToken          int // the status once a valid token is sent
	}{
		{"no such path", "GET", "/fhir/QuestionnaireResponse/x/y/z", nil, nil, 404},
		{"no such type", "GET", "/fhir/Patient/123", nil, nil, 404},
		{"no such method", "POST", "/fhir/CarePlan/cp-1", []byte(`{}`), nil, 405},
		{"the base itself, which takes only Bundles", "GET", "/fhir", nil, nil, 405},
		{"not acceptable", "GET", "/fhir/CarePlan", nil, []string{"Accept", "application/fhir+xml"}, 406},
		{"another FHIR version", "GET", "/fhir/CarePlan", nil, []string{"Accept", "application/fhir+json; fhirVersion=5.0"}, 406},
		{"body too large", "POST", "/fhir/CarePlan", big, nil, 413},
		{"decoded body too large", "POST", "/fhir/CarePlan", bomb.Bytes(), []string{"Content-Encoding", "gzip"}, 413},
		{"body not JSON", "POST", "/fhir/CarePlan", []byte("<CarePlan/>"), []string{"Content-Type", "application/fhir+xml"}, 415},
		{"body coding not read", "POST", "/fhir/CarePlan", []byte("x"), []string{"Content-Encoding", "br"}, 415},
		{"audit trail not writable", "POST", "/fhir/AuditEvent", []byte(`{"resourceType":"AuditEvent"}`), nil, 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(tc.method, tc.path, tc.body, tc.headers...)
			outcome(t, r, http.StatusUnauthorized, "needs an access token")
			if r.header.Get("WWW-Authenticate") == "" || r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("WWW-Authenticate %q, Cache-Control %q", r.header.Get("WWW-Authenticate"), r.header.Get("Cache-Control"))
			}
			r = s.do(tc.method, tc.path, tc.body, append([]string{"Authorization", "Bearer " + admin}, tc.headers...)...)
			outcome(t, r, tc.withToken, "")
		})
	}

	public := []struct{ name, method, path string }{
		{"CapabilityStatement", "GET", "/fhir/metadata"},
		{"CapabilityStatement, headers only", "HEAD", "/fhir/metadata"},
		{"SMART discovery under the base", "GET", "/fhir/.well-known/smart-configuration"},
		{"SMART discovery at the root", "GET", "/.well-known/smart-configuration"},
		{"dev key set", "GET", "/.well-known/jwks.json"},
		{"liveness", "GET", "/healthz"},
		{"readiness", "GET", "/readyz"},
	}
	for _, tc := range public {
		t.Run("public: "+tc.name, func(t *testing.T) {
			r := s.do(tc.method, tc.path, nil)
			if r.status != http.StatusOK {
				t.Fatalf("%s %s without a token: %d %s", tc.method, tc.path, r.status, r.body)
			}
			if strings.Contains(r.header.Get("Cache-Control"), "no-store") {
				t.Errorf("a public answer is marked no-store")
			}
		})
	}
	t.Run("public: preflight", func(t *testing.T) {
		r := s.do("OPTIONS", "/fhir/CarePlan", nil, "Origin", appOrigin, "Access-Control-Request-Method", "GET")
		if r.status != http.StatusNoContent {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
}

// TestDiscoveryInDevMode reads the SMART discovery document of a dev mode server, which has
// no OAuth endpoints: it carries the two lists SMART 2 requires, empty, and no flow.
func TestDiscoveryInDevMode(t *testing.T) {
	s := newAuthServer(t)
	for _, path := range []string{"/fhir/.well-known/smart-configuration", "/.well-known/smart-configuration"} {
		t.Run(path, func(t *testing.T) {
			r := s.do("GET", path, nil)
			if r.status != http.StatusOK {
				t.Fatalf("%d %s", r.status, r.body)
			}
			doc := r.json(t)
			for _, k := range []string{"grant_types_supported", "code_challenge_methods_supported"} {
				if l, ok := doc[k].([]any); !ok || len(l) != 0 {
					t.Errorf("%s = %v, want present and empty", k, doc[k])
				}
			}
			for _, k := range []string{"authorization_endpoint", "token_endpoint", "response_types_supported", "token_endpoint_auth_methods_supported"} {
				if _, ok := doc[k]; ok {
					t.Errorf("%s advertised in dev mode: %v", k, doc[k])
				}
			}
			if !strings.HasSuffix(doc["jwks_uri"].(string), "/.well-known/jwks.json") {
				t.Errorf("jwks_uri %v", doc["jwks_uri"])
			}
		})
	}
}
