package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/internal/datadir"
)

// TestMetricsListener starts the server with FHIR_METRICS_ADDR and pprof: /metrics answers
// there, with the database commands the requests ran and the audit queue, never on the API's
// port; the API is not served on the metrics listener.
func TestMetricsListener(t *testing.T) {
	dataDir := t.TempDir()
	env := map[string]string{"FHIR_DATA_DIR": dataDir, "FHIR_ADDR": "127.0.0.1:0", "FHIR_METRICS_ADDR": "127.0.0.1:0", "FHIR_PPROF": "true"}
	srv := startServe(t, env, "serve")
	defer srv.stop()
	token := adminToken(t, dataDir)
	if got := status(t, srv.base+"/Questionnaire?status=active", token); got != http.StatusOK {
		t.Fatalf("search: %d", got)
	}
	m := regexp.MustCompile(`metrics listening" addr=(\S+)`).FindStringSubmatch(srv.log.String())
	if m == nil {
		t.Fatalf("the server did not log its metrics address:\n%s", srv.log)
	}
	metricsURL := "http://" + m[1]
	api := strings.TrimSuffix(srv.base, "/fhir")
	tests := []struct {
		name, url string
		status    int
		want      []string
	}{
		{"metrics", metricsURL + "/metrics", 200, []string{
			`fhir_http_requests_total{interaction="search-type",resource_type="Questionnaire",status="200"} 1`,
			`fhir_db_operation_duration_seconds_count{command="find"}`,
			`fhir_audit_queue_depth `, `fhir_audit_lag_seconds `, `process_start_time_seconds `,
		}},
		{"pprof on the metrics listener", metricsURL + "/debug/pprof/", 200, []string{"goroutine"}},
		{"no API on the metrics listener", metricsURL + "/fhir/metadata", 404, nil},
		{"no metrics on the API's port", api + "/metrics", 404, nil},
		{"no pprof on the API's port", api + "/debug/pprof/", 404, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, http.MethodGet, tc.url, "")
			if resp.StatusCode != tc.status {
				t.Fatalf("%d %.300s", resp.StatusCode, body)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", resp.Header.Get("X-Content-Type-Options"))
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("no %q in %.2000s", w, body)
				}
			}
		})
	}
}

// TestHealthcheckCommand runs `fhir-server healthcheck` against a running server and against
// an address where nothing listens: exit status 0 only when /readyz answers 200.
func TestHealthcheckCommand(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServe(t, map[string]string{"FHIR_DATA_DIR": dataDir, "FHIR_ADDR": "127.0.0.1:0"}, "serve")
	defer srv.stop()
	addr := strings.TrimSuffix(strings.TrimPrefix(srv.base, "http://"), "/fhir")
	_, port, _ := net.SplitHostPort(addr)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"the address from --addr", []string{"healthcheck", "--addr", addr}, nil, ""},
		{"the address from FHIR_ADDR", []string{"healthcheck"}, map[string]string{"FHIR_ADDR": addr}, ""},
		{"every interface is asked on loopback", []string{"healthcheck", "--addr", ":" + port}, nil, ""},
		{"nothing listens", []string{"healthcheck", "--addr", dead}, nil, "connection refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }, &stdout, &stderr)
			if tc.wantErr == "" {
				if err != nil || !strings.Contains(stdout.String(), "ready") {
					t.Fatalf("healthcheck: %v, stdout %q", err, stdout.String())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || exitCode(err) != 1 {
				t.Fatalf("healthcheck: %v (exit %d), want exit 1 mentioning %q", err, exitCode(err), tc.wantErr)
			}
		})
	}
}

func TestLoopbackAddr(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		":8080": "127.0.0.1:8080", "0.0.0.0:8080": "127.0.0.1:8080", "[::]:8080": "127.0.0.1:8080",
		"127.0.0.1:9": "127.0.0.1:9", "[::1]:8080": "[::1]:8080", "fhir.local:80": "fhir.local:80",
	} {
		if got := loopbackAddr(in); got != want {
			t.Errorf("loopbackAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOneProcessPerDataDir starts a server on a data directory, then a second server and a
// load straight into the database on the same directory: both stop at once, naming the
// process that holds it and what to do instead. Once the server has stopped, the directory
// is free again.
func TestOneProcessPerDataDir(t *testing.T) {
	dataDir := t.TempDir()
	env := map[string]string{"FHIR_DATA_DIR": dataDir, "FHIR_ADDR": "127.0.0.1:0"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	srv := startServe(t, env, "serve")
	tests := []struct {
		name string
		args []string
	}{
		{"a second server", []string{"serve"}},
		{"a load into the database", []string{"load", "../../fixtures/Questionnaire"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(t.Context(), tc.args, lookup, io.Discard, io.Discard)
			var inUse *datadir.InUseError
			if !errors.As(err, &inUse) {
				t.Fatalf("%v, want the data directory in use", err)
			}
			for _, want := range []string{dataDir, "process " + strconv.Itoa(os.Getpid()) + " (fhir-server serve)", "load --url"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q does not say %q", err, want)
				}
			}
		})
	}
	srv.stop()
	var out bytes.Buffer
	if err := run(t.Context(), []string{"load", "../../fixtures/Questionnaire"}, lookup, &out, io.Discard); err != nil {
		t.Fatalf("load after the server stopped: %v", err)
	}
}

// TestJWKSModeNeedsABaseURL: production links must not come from the Host header.
func TestJWKSModeNeedsABaseURL(t *testing.T) {
	t.Parallel()
	env := map[string]string{"FHIR_DATA_DIR": t.TempDir(), "FHIR_JWT_ISSUER": "https://idp.example", "FHIR_JWKS_URL": "https://idp.example/jwks",
		"FHIR_JWT_AUDIENCE": "fhir-api"}
	err := run(t.Context(), []string{"serve"}, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "FHIR_BASE_URL") {
		t.Fatalf("serve in jwks mode without a base URL: %v", err)
	}
}

// TestLoadRefusesSubscriptions: a Subscription written by a load would have no creator whose
// scopes its notifications are checked against, and would never be served; the load says so.
func TestLoadRefusesSubscriptions(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "subscription.json")
	body := `{"resourceType":"Subscription","id":"severe-phq9","status":"requested","reason":"Severe PHQ-9",` +
		`"criteria":"QuestionnaireResponse?item-answer-number=44260-8$gt0","channel":{"type":"rest-hook","endpoint":"https://care-team.example.org/hook"}}`
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"FHIR_DATA_DIR": filepath.Join(dir, "data")}
	var out bytes.Buffer
	err := run(t.Context(), []string{"load", file}, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &out, &out)
	if err == nil || !strings.Contains(out.String()+err.Error(), "Subscriptions are not loaded") {
		t.Fatalf("load of a Subscription: %v\n%s", err, out.String())
	}
}
