package api_test

import (
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/api"
	"github.com/patient-involvement/fhir-server/internal/audit"
)

// getAs sends a GET with the given Host and headers and returns the response, body read.
func (s *testServer) getAs(path, host string, headers ...string) *response {
	s.t.Helper()
	return s.send("GET", path, host, nil, headers...)
}

// TestLinksComeFromTrustedPlaces: with a base URL every link, Location and fullUrl comes
// from it, whatever the request says; without one, from the request's Host only when that
// host is allowed (else 400), and from X-Forwarded-Proto and -Host only when the request
// comes from a trusted proxy.
func TestLinksComeFromTrustedPlaces(t *testing.T) {
	t.Parallel()
	withBase := newTestServer(t, func(o *api.Options) { o.BaseURL = "https://fhir.example.org/fhir" })
	loopback := newTestServer(t)
	allowed := newTestServer(t, func(o *api.Options) { o.AllowedHosts = []string{"fhir.internal", "edge.example:8443"} })
	proxied := newTestServer(t, func(o *api.Options) {
		o.AllowedHosts = []string{"fhir.example.net"}
		o.TrustedProxies = []string{"127.0.0.0/8"}
	})
	untrusted := newTestServer(t, func(o *api.Options) {
		o.AllowedHosts = []string{"127.0.0.1", "fhir.example.net"}
		o.TrustedProxies = []string{"10.0.0.0/8"}
	})
	for s, host := range map[*testServer]string{withBase: "x", loopback: "localhost", allowed: "fhir.internal", proxied: "fhir.example.net", untrusted: "127.0.0.1"} {
		if r := s.send("POST", "/fhir/CarePlan", host, []byte(`{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/p1"}}`)); r.status != 201 {
			t.Fatalf("seed: %d %s", r.status, r.body)
		}
	}
	forwarded := []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "fhir.example.net"}
	tests := []struct {
		name    string
		srv     *testServer
		host    string
		headers []string
		status  int
		base    string // every link is it or under it
	}{
		{"base URL: a made-up Host changes nothing", withBase, "evil.example", nil, 200, "https://fhir.example.org/fhir"},
		{"base URL: forwarded headers change nothing", withBase, "localhost", forwarded, 200, "https://fhir.example.org/fhir"},
		{"no base URL: localhost", loopback, "localhost:8080", nil, 200, "http://localhost:8080/fhir"},
		{"no base URL: 127.0.0.1", loopback, "127.0.0.1:9999", nil, 200, "http://127.0.0.1:9999/fhir"},
		{"no base URL: ::1", loopback, "[::1]:8080", nil, 200, "http://[::1]:8080/fhir"},
		{"no base URL: another host", loopback, "evil.example", nil, 400, ""},
		{"allowed host", allowed, "fhir.internal", nil, 200, "http://fhir.internal/fhir"},
		{"allowed host and port", allowed, "edge.example:8443", nil, 200, "http://edge.example:8443/fhir"},
		{"allowed host, other port", allowed, "edge.example:9000", nil, 400, ""},
		{"loopback is not allowed once hosts are named", allowed, "localhost", nil, 400, ""},
		{"a trusted proxy names scheme and host", proxied, "127.0.0.1:1234", forwarded, 200, "https://fhir.example.net/fhir"},
		{"a trusted proxy naming a host not allowed", proxied, "127.0.0.1", []string{"X-Forwarded-Host", "evil.example"}, 400, ""},
		{"forwarded headers from elsewhere are ignored", untrusted, "127.0.0.1", forwarded, 200, "http://127.0.0.1/fhir"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/fhir/CarePlan", "/fhir/CarePlan/_history", "/fhir/metadata", "/fhir/.well-known/smart-configuration"} {
				r := tc.srv.getAs(path, tc.host, tc.headers...)
				if tc.status == 400 {
					outcome(t, r, 400, "FHIR_ALLOWED_HOSTS")
					continue
				}
				if r.status != 200 {
					t.Fatalf("%s: %d %s", path, r.status, r.body)
				}
				for _, u := range urlsIn(t, r.body) {
					if u != tc.base && !strings.HasPrefix(u, tc.base+"/") && !strings.HasPrefix(u, "http://hl7.org/") && !strings.HasPrefix(u, "http://terminology.hl7.org") &&
						!strings.Contains(u, "/.well-known/jwks.json") && !strings.HasPrefix(u, "https://fhir.patient-involvement.example") &&
						!strings.HasPrefix(u, "http://fhir-registry.smarthealthit.org") && !strings.HasPrefix(u, "urn:") {
						t.Errorf("%s: link %s does not start with %s", path, u, tc.base)
					}
				}
			}
			if tc.status != 200 {
				return
			}
			created := tc.srv.send("POST", "/fhir/CarePlan", tc.host, []byte(`{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/p1"}}`), tc.headers...)
			if loc := created.header.Get("Location"); created.status != 201 || !strings.HasPrefix(loc, tc.base+"/CarePlan/") {
				t.Errorf("create: %d, Location %q, want under %s", created.status, loc, tc.base)
			}
		})
	}
}

// urlsIn lists the string values of a JSON document that look like absolute URLs.
func urlsIn(t *testing.T, body []byte) []string {
	t.Helper()
	var out []string
	for _, part := range strings.Split(string(body), `"`) {
		if strings.HasPrefix(part, "http://") || strings.HasPrefix(part, "https://") {
			out = append(out, part)
		}
	}
	return out
}

// TestClientAddressFromTrustedProxiesOnly: the audit trail records the address of the
// connection a request came on, which no client can make up; the X-Forwarded-For chain a
// trusted proxy passes on is recorded beside it, and from anyone else it is ignored.
func TestClientAddressFromTrustedProxiesOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		proxies   []string
		forwarded string // recorded chain, "" for none
	}{
		{"from a trusted proxy", []string{"127.0.0.1/32"}, "203.0.113.9, 198.51.100.4"},
		{"no proxy trusted (the default)", nil, ""},
		{"another proxy trusted", []string{"10.0.0.0/8"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newAuthServer(t, func(o *api.Options) { o.TrustedProxies = tc.proxies })
			outcome(t, s.do("GET", "/fhir/CarePlan", nil, "X-Forwarded-For", "203.0.113.9, 198.51.100.4", "X-Request-Id", "forwarded"), 401, "")
			var found bool
			for _, e := range s.auditTrail(t) {
				if e.requestID() != "forwarded" {
					continue
				}
				found = true
				for _, a := range e.Agent {
					if a.Network == nil {
						continue
					}
					if a.Network.Address != "127.0.0.1" {
						t.Errorf("network address %q, want the connection's, 127.0.0.1", a.Network.Address)
					}
					got := ""
					for _, x := range a.Network.Extension {
						if x.URL == audit.ExtensionForwardedFor {
							got = x.ValueString
						}
					}
					if got != tc.forwarded {
						t.Errorf("forwarded chain %q, want %q", got, tc.forwarded)
					}
				}
			}
			if !found {
				t.Fatal("the request is not in the audit trail")
			}
		})
	}
}
