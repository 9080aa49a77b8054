package config

import (
	"slices"
	"strings"
	"testing"
)

// TestEdgeSettings covers CORS, hosts, proxies and the metrics listener: their defaults per
// auth mode, how lists are read, and the combinations refused at startup.
func TestEdgeSettings(t *testing.T) {
	t.Parallel()
	jwks := map[string]string{"FHIR_JWT_ISSUER": "https://idp", "FHIR_JWKS_URL": "https://idp/jwks", "FHIR_BASE_URL": "https://fhir.example.org/fhir"}
	merge := func(a, b map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range a {
			out[k] = v
		}
		for k, v := range b {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name        string
		args        []string
		env         map[string]string
		wantOrigins []string
		wantHosts   []string
		wantProxies []string
		wantMetrics string
		wantErr     []string
	}{
		{name: "dev mode allows every origin and loopback hosts",
			wantOrigins: []string{"*"}, wantHosts: LoopbackHosts},
		{name: "jwks mode allows no origin by default", env: jwks, wantHosts: LoopbackHosts},
		{name: "off mode allows no origin by default", args: []string{"--auth", "off"}, wantHosts: LoopbackHosts},
		{name: "origins listed, normalised",
			env:         merge(jwks, map[string]string{"FHIR_CORS_ORIGINS": " https://App.Example.org , http://localhost:3000/"}),
			wantOrigins: []string{"https://app.example.org", "http://localhost:3000"}, wantHosts: LoopbackHosts},
		{name: "none turns the dev default off", env: map[string]string{"FHIR_CORS_ORIGINS": "none"}, wantHosts: LoopbackHosts},
		{name: "named origins may send credentials",
			args:        []string{"--cors-origins", "https://app.example.org", "--cors-credentials"},
			wantOrigins: []string{"https://app.example.org"}, wantHosts: LoopbackHosts},
		{name: "hosts, proxies and metrics",
			env: map[string]string{"FHIR_ALLOWED_HOSTS": "fhir.internal,fhir.internal:8443", "FHIR_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7",
				"FHIR_METRICS_ADDR": "127.0.0.1:9090", "FHIR_PPROF": "true"},
			wantOrigins: []string{"*"}, wantHosts: []string{"fhir.internal", "fhir.internal:8443"},
			wantProxies: []string{"10.0.0.0/8", "192.168.1.7"}, wantMetrics: "127.0.0.1:9090"},

		{name: "star with credentials", args: []string{"--cors-origins", "*", "--cors-credentials"}, wantErr: []string{"FHIR_CORS_CREDENTIALS"}},
		{name: "star with others", env: map[string]string{"FHIR_CORS_ORIGINS": "*,https://a.example"}, wantErr: []string{"cannot be listed with others"}},
		{name: "an origin with a path", env: map[string]string{"FHIR_CORS_ORIGINS": "https://a.example/app"}, wantErr: []string{`"https://a.example/app" is not an origin`}},
		{name: "an origin without scheme", env: map[string]string{"FHIR_CORS_ORIGINS": "a.example"}, wantErr: []string{"is not an origin"}},
		{name: "a host with a path", env: map[string]string{"FHIR_ALLOWED_HOSTS": "a.example/fhir"}, wantErr: []string{"FHIR_ALLOWED_HOSTS"}},
		{name: "a proxy that is no address", env: map[string]string{"FHIR_TRUSTED_PROXIES": "proxy.local"}, wantErr: []string{"FHIR_TRUSTED_PROXIES"}},
		{name: "metrics on the API port", env: map[string]string{"FHIR_METRICS_ADDR": "127.0.0.1:8080"}, wantErr: []string{"uses the API's port"}},
		{name: "metrics address without port", env: map[string]string{"FHIR_METRICS_ADDR": "localhost"}, wantErr: []string{"not a listen address"}},
		{name: "pprof without metrics", args: []string{"--pprof"}, wantErr: []string{"FHIR_METRICS_ADDR"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse("test", tc.args, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
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
			for _, f := range []struct {
				what      string
				got, want []string
			}{{"CORS origins", c.CORSOrigins, tc.wantOrigins}, {"allowed hosts", c.AllowedHosts, tc.wantHosts}, {"trusted proxies", c.TrustedProxies, tc.wantProxies}} {
				if !slices.Equal(f.got, f.want) {
					t.Errorf("%s %q, want %q", f.what, f.got, f.want)
				}
			}
			if c.MetricsAddr != tc.wantMetrics {
				t.Errorf("metrics address %q, want %q", c.MetricsAddr, tc.wantMetrics)
			}
		})
	}
}
