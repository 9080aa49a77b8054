package config

import (
	"strings"
	"testing"
)

func TestAuthSettings(t *testing.T) {
	t.Parallel()
	type auth struct{ mode, issuer, audience, jwksURL, jwksFile string }
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    auth
		wantErr []string
	}{
		{name: "dev by default with fixed issuer and audience",
			want: auth{mode: AuthDev, issuer: DevIssuer, audience: DevAudience}},
		{name: "dev audience is the base URL when there is one",
			env:  map[string]string{"FHIR_BASE_URL": "https://fhir.example.org/fhir/"},
			want: auth{mode: AuthDev, issuer: DevIssuer, audience: "https://fhir.example.org/fhir"}},
		{name: "an issuer selects jwks, audience from the base URL",
			env: map[string]string{"FHIR_JWT_ISSUER": "https://idp.example.org", "FHIR_JWKS_URL": "https://idp.example.org/jwks",
				"FHIR_BASE_URL": "https://fhir.example.org/fhir"},
			want: auth{mode: AuthJWKS, issuer: "https://idp.example.org", audience: "https://fhir.example.org/fhir", jwksURL: "https://idp.example.org/jwks"}},
		{name: "explicit audience wins over the base URL",
			args: []string{"--jwt-issuer", "https://idp", "--jwks-file", "/keys.pem", "--jwt-audience", "fhir-api", "--base-url", "https://x.example/fhir"},
			want: auth{mode: AuthJWKS, issuer: "https://idp", audience: "fhir-api", jwksFile: "/keys.pem"}},
		{name: "flag overrides environment mode",
			args: []string{"--auth", "off"}, env: map[string]string{"FHIR_AUTH": "dev"},
			want: auth{mode: AuthOff}},
		{name: "dev keeps a configured issuer",
			args: []string{"--auth", "dev", "--jwt-issuer", "https://me"},
			want: auth{mode: AuthDev, issuer: "https://me", audience: DevAudience}},
		{name: "http JWKS URL on loopback is allowed",
			env: map[string]string{"FHIR_JWT_ISSUER": "i", "FHIR_JWT_AUDIENCE": "a", "FHIR_JWKS_URL": "http://127.0.0.1:9000/jwks",
				"FHIR_BASE_URL": "https://fhir.example.org/fhir"},
			want: auth{mode: AuthJWKS, issuer: "i", audience: "a", jwksURL: "http://127.0.0.1:9000/jwks"}},

		{name: "unknown mode", env: map[string]string{"FHIR_AUTH": "basic"}, wantErr: []string{`"basic" must be jwks, dev or off`}},
		{name: "jwks without issuer, keys or audience", args: []string{"--auth", "jwks"},
			wantErr: []string{"FHIR_JWT_ISSUER", "FHIR_JWKS_URL or FHIR_JWKS_FILE", "FHIR_JWT_AUDIENCE or FHIR_BASE_URL", "jwks needs FHIR_BASE_URL"}},
		{name: "jwks with an audience but no base URL", env: map[string]string{"FHIR_JWT_ISSUER": "i", "FHIR_JWT_AUDIENCE": "a",
			"FHIR_JWKS_URL": "https://idp/jwks"}, wantErr: []string{"jwks needs FHIR_BASE_URL"}},
		{name: "jwks without keys", env: map[string]string{"FHIR_JWT_ISSUER": "i", "FHIR_JWT_AUDIENCE": "a"},
			wantErr: []string{"FHIR_JWKS_URL or FHIR_JWKS_FILE"}},
		{name: "jwks with both key sources", env: map[string]string{"FHIR_JWT_ISSUER": "i", "FHIR_JWT_AUDIENCE": "a",
			"FHIR_JWKS_URL": "https://idp/jwks", "FHIR_JWKS_FILE": "k.pem"}, wantErr: []string{"only one of"}},
		{name: "plain http JWKS URL elsewhere", env: map[string]string{"FHIR_JWT_ISSUER": "i", "FHIR_JWT_AUDIENCE": "a",
			"FHIR_JWKS_URL": "http://idp.example.org/jwks"}, wantErr: []string{"must use https"}},
		{name: "keys in dev mode", env: map[string]string{"FHIR_JWKS_FILE": "k.pem"}, wantErr: []string{"only used in auth mode jwks"}},
		{name: "relative SMART endpoint", env: map[string]string{"FHIR_SMART_TOKEN_URL": "/token"}, wantErr: []string{"FHIR_SMART_TOKEN_URL"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			c, err := Parse("test", tc.args, env)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("no error, want one mentioning %q", tc.wantErr)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := auth{c.Auth, c.JWTIssuer, c.JWTAudience, c.JWKSURL, c.JWKSFile}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSMARTEndpointsFromEnvironment(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"FHIR_SMART_AUTHORIZE_URL": "https://idp/authorize", "FHIR_SMART_TOKEN_URL": "https://idp/token",
		"FHIR_SMART_REVOCATION_URL": "https://idp/revoke",
	}
	c, err := Parse("test", []string{"--smart-token-url", "https://other/token"}, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	want := SMARTEndpoints{AuthorizeURL: "https://idp/authorize", TokenURL: "https://other/token", RevocationURL: "https://idp/revoke"}
	if c.SMART != want {
		t.Errorf("SMART %+v, want %+v", c.SMART, want)
	}
}
