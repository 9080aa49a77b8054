package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeStartsWithZeroSetupAndShutsDown runs the whole program as `fhir-server serve` on
// the embedded database in an empty data dir, talks to it, and stops it as a signal would;
// then starts it again on the same, now populated, data dir.
func TestServeStartsWithZeroSetupAndShutsDown(t *testing.T) {
	dataDir := t.TempDir()
	for _, start := range []string{"first start", "restart on existing data"} {
		t.Run(start, func(t *testing.T) { serveOnce(t, dataDir) })
	}
}

func serveOnce(t *testing.T, dataDir string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdoutR, stdoutW := io.Pipe()
	env := map[string]string{"FHIR_DATA_DIR": dataDir, "FHIR_ADDR": "127.0.0.1:0"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, lookup, stdoutW, io.Discard)
		stdoutW.Close()
	}()

	lines := bufio.NewScanner(stdoutR)
	base := ""
	re := regexp.MustCompile(`ready at (http://\S+/fhir)`)
	deadline := time.After(60 * time.Second)
	got := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if m := re.FindStringSubmatch(lines.Text()); m != nil {
				got <- m[1]
			}
		}
		close(got)
	}()
	select {
	case base = <-got:
	case err := <-done:
		t.Fatalf("server stopped before it was ready: %v", err)
	case <-deadline:
		t.Fatal("server did not print its base URL within 60s")
	}
	if base == "" {
		t.Fatal("no base URL printed")
	}

	tests := []struct {
		name, url string
		status    int
		body      string
	}{
		{"metadata", base + "/metadata", 200, `"fhirVersion":"4.0.1"`},
		{"readyz", strings.TrimSuffix(base, "/fhir") + "/readyz", 200, `"ok"`},
	}
	for _, tc := range tests {
		resp, err := http.Get(tc.url)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.body) {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, b)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not shut down within 30s")
	}
}

// TestDevModePrintsAWorkingToken starts the server as a developer would, in its default auth
// mode (dev) on a fresh data dir: the token of its startup banner, and one from
// `fhir-server token` on the same data dir, are accepted; a request without a token or with a
// made-up one is refused with 401 and a challenge; metadata needs no token.
func TestDevModePrintsAWorkingToken(t *testing.T) {
	dataDir := t.TempDir()
	srv := startServe(t, map[string]string{"FHIR_DATA_DIR": dataDir, "FHIR_ADDR": "127.0.0.1:0"}, "serve")
	defer srv.stop()
	banner := srv.printed(t, regexp.MustCompile(`export TOKEN=(\S+)`))
	if key := filepath.Join(dataDir, "auth", "dev-signing-key.pem"); !strings.Contains(srv.stdout.String(), key) {
		t.Errorf("the banner does not say where the dev key is (%s):\n%s", key, srv.stdout)
	}
	if !regexp.MustCompile(`Authorize at http://\S+/docs`).MatchString(srv.stdout.String()) {
		t.Errorf("the banner does not say where to use the token in the API docs:\n%s", srv.stdout)
	}
	var minted bytes.Buffer
	lookup := func(k string) (string, bool) { return "", false }
	if err := run(t.Context(), []string{"token", "--data-dir", dataDir, "--scope", "system/*.*"}, lookup, &minted, io.Discard); err != nil {
		t.Fatalf("fhir-server token: %v", err)
	}

	tests := []struct {
		name, path, token string
		status            int
		challenge         string // WWW-Authenticate
	}{
		{"banner token", "/Questionnaire", banner, http.StatusOK, ""},
		{"token command", "/Questionnaire", strings.TrimSpace(minted.String()), http.StatusOK, ""},
		{"no token", "/Questionnaire", "", http.StatusUnauthorized, "Bearer"},
		{"made-up token", "/Questionnaire", "not-a-token", http.StatusUnauthorized, `Bearer error="invalid_token"`},
		{"metadata needs none", "/metadata", "", http.StatusOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, http.MethodGet, srv.base+tc.path, tc.token)
			if resp.StatusCode != tc.status || resp.Header.Get("WWW-Authenticate") != tc.challenge {
				t.Errorf("status %d, WWW-Authenticate %q, want %d %q: %s",
					resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tc.status, tc.challenge, body)
			}
			if tc.status == http.StatusUnauthorized && !strings.Contains(body, `"code":"login"`) {
				t.Errorf("the 401 body is not an OperationOutcome with code login: %s", body)
			}
		})
	}
}

func TestRunRejectsBadConfiguration(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown command", []string{"frobnicate"}, nil, "unknown command"},
		{"relative base URL", []string{"serve", "--base-url", "fhir"}, nil, "absolute"},
		{"bad body limit env", []string{"serve"}, map[string]string{"FHIR_MAX_BODY_BYTES": "lots"}, "FHIR_MAX_BODY_BYTES"},
		{"bad log level", []string{"serve", "--log-level", "loud"}, nil, "log level"},
		{"bad rate limit", []string{"serve"}, map[string]string{"FHIR_RATE_LIMIT": "fast"}, "FHIR_RATE_LIMIT"},
		{"negative rate limit", []string{"serve", "--rate-limit", "-1"}, nil, "rate limit"},
		{"too few JSON values", []string{"serve", "--max-json-values", "10"}, nil, "max JSON values"},
		{"no request in flight", []string{"serve", "--max-in-flight", "0"}, nil, "max in flight"},
		{"a search timeout too short", []string{"serve", "--search-timeout", "1ms"}, nil, "search timeout"},
		{"a bad selection timeout", []string{"serve"}, map[string]string{"FHIR_DB_SELECTION_TIMEOUT": "soon"}, "FHIR_DB_SELECTION_TIMEOUT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			err := run(context.Background(), tc.args, lookup, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
