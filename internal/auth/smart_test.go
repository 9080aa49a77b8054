package auth

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

func TestSmartConfiguration(t *testing.T) {
	t.Parallel()
	full := Discovery{
		Issuer: "https://idp.example", JWKSURI: "https://idp.example/jwks",
		AuthorizeURL: "https://idp.example/authorize", TokenURL: "https://idp.example/token",
		RevocationURL: "https://idp.example/revoke", ResourceTypes: []string{"CarePlan"},
	}
	tests := []struct {
		name     string
		d        Discovery
		has      []string
		lacks    []string
		caps     []string
		noCaps   []string
		inScopes []string
		// grants and pkce are grant_types_supported and code_challenge_methods_supported.
		grants, pkce []string
	}{
		{name: "with an authorization server", d: full,
			has:      []string{"issuer", "jwks_uri", "authorization_endpoint", "token_endpoint", "revocation_endpoint", "grant_types_supported", "code_challenge_methods_supported", "scopes_supported", "response_types_supported", "capabilities"},
			lacks:    []string{"registration_endpoint", "introspection_endpoint"},
			caps:     []string{"launch-standalone", "client-public", "client-confidential-symmetric", "permission-v1", "permission-v2", "permission-patient", "permission-user", "context-standalone-patient"},
			inScopes: []string{"openid", "fhirUser", "launch/patient", "patient/*.rs", "system/*.*", "user/CarePlan.cruds"},
			grants:   []string{"authorization_code", "client_credentials"}, pkce: []string{"S256"}},
		{name: "dev mode: keys only", d: Discovery{Issuer: DevIssuer, JWKSURI: "http://localhost:8080/fhir/.well-known/jwks.json"},
			has:    []string{"issuer", "jwks_uri", "capabilities", "grant_types_supported", "code_challenge_methods_supported"},
			lacks:  []string{"authorization_endpoint", "token_endpoint", "response_types_supported", "token_endpoint_auth_methods_supported"},
			caps:   []string{"permission-v2", "permission-patient"},
			noCaps: []string{"launch-standalone"}, grants: []string{}, pkce: []string{}},
		{name: "a token endpoint only: backend services", d: Discovery{Issuer: "https://idp", TokenURL: "https://idp/token"},
			has:    []string{"token_endpoint", "grant_types_supported", "code_challenge_methods_supported", "token_endpoint_auth_methods_supported"},
			lacks:  []string{"authorization_endpoint", "response_types_supported"},
			noCaps: []string{"launch-standalone", "client-public"}, grants: []string{"client_credentials"}, pkce: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(SmartConfiguration(tc.d))
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			for _, k := range tc.has {
				if _, ok := doc[k]; !ok {
					t.Errorf("no %s in %s", k, b)
				}
			}
			for _, k := range tc.lacks {
				if _, ok := doc[k]; ok {
					t.Errorf("%s present in %s", k, b)
				}
			}
			caps := strs(doc["capabilities"])
			for _, c := range tc.caps {
				if !slices.Contains(caps, c) {
					t.Errorf("capability %s missing: %v", c, caps)
				}
			}
			for _, c := range tc.noCaps {
				if slices.Contains(caps, c) {
					t.Errorf("capability %s claimed: %v", c, caps)
				}
			}
			scopes := strs(doc["scopes_supported"])
			for _, s := range tc.inScopes {
				if !slices.Contains(scopes, s) {
					t.Errorf("scope %s missing: %v", s, scopes)
				}
			}
			if got := strs(doc["grant_types_supported"]); !slices.Equal(got, tc.grants) {
				t.Errorf("grant_types_supported %q, want %q", got, tc.grants)
			}
			if got := strs(doc["code_challenge_methods_supported"]); !slices.Equal(got, tc.pkce) {
				t.Errorf("code_challenge_methods_supported %q, want %q", got, tc.pkce)
			}
		})
	}
}

func strs(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestCapabilitySecurityIsValidFHIR puts rest.security into a CapabilityStatement and runs
// the server's own validator over it.
func TestCapabilitySecurityIsValidFHIR(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		d       Discovery
		cors    bool
		wantExt []string
	}{
		{"all endpoints", Discovery{TokenURL: "https://idp/token", AuthorizeURL: "https://idp/authorize", RegistrationURL: "https://idp/register",
			ManagementURL: "https://idp/manage", IntrospectionURL: "https://idp/introspect", RevocationURL: "https://idp/revoke"}, true,
			[]string{"token", "authorize", "register", "manage", "introspect", "revoke"}},
		{"token and authorize, no CORS", Discovery{TokenURL: "https://idp/token", AuthorizeURL: "https://idp/authorize"}, false, []string{"token", "authorize"}},
		{"no endpoints", Discovery{}, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sec := CapabilitySecurity(tc.d, tc.cors)
			cs := map[string]any{
				"resourceType": "CapabilityStatement", "status": "active", "date": "2026-01-01", "kind": "instance",
				"fhirVersion": "4.0.1", "format": []string{"json"},
				"implementation": map[string]any{"description": "test"},
				"rest":           []any{map[string]any{"mode": "server", "security": sec}},
			}
			b, err := json.Marshal(cs)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fhir.ParseBody(b, "CapabilityStatement"); err != nil {
				t.Fatalf("invalid: %v\n%s", err, b)
			}
			var got struct {
				Rest []struct {
					Security struct {
						CORS    bool `json:"cors"`
						Service []struct {
							Coding []struct{ System, Code string } `json:"coding"`
						} `json:"service"`
						Extension []struct {
							URL       string `json:"url"`
							Extension []struct {
								URL      string `json:"url"`
								ValueURI string `json:"valueUri"`
							} `json:"extension"`
						} `json:"extension"`
					} `json:"security"`
				} `json:"rest"`
			}
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			s := got.Rest[0].Security
			if s.CORS != tc.cors || s.Service[0].Coding[0].System != securityServiceSystem || s.Service[0].Coding[0].Code != "SMART-on-FHIR" {
				t.Errorf("security %s", b)
			}
			var names []string
			for _, e := range s.Extension {
				if e.URL != oauthURIsExtension {
					t.Errorf("extension %s", e.URL)
				}
				for _, sub := range e.Extension {
					if sub.ValueURI == "" {
						t.Errorf("%s has no URI", sub.URL)
					}
					names = append(names, sub.URL)
				}
			}
			if !slices.Equal(names, tc.wantExt) {
				t.Errorf("oauth-uris %v, want %v", names, tc.wantExt)
			}
		})
	}
}
