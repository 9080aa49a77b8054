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
	"sync"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/config"
)

// syncBuffer collects what the server logs from its goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer is a `fhir-server` a test runs.
type testServer struct {
	// base is the FHIR base URL the server printed.
	base string
	// stdout is what it printed, log what it logged.
	stdout, log *syncBuffer
	// stop ends it as a signal would and waits until it has shut down.
	stop func()
}

// startServe runs `fhir-server args…` until the test calls stop, and returns once the server
// has printed its base URL.
func startServe(t *testing.T, env map[string]string, args ...string) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdoutR, stdoutW := io.Pipe()
	log, stdout := &syncBuffer{}, &syncBuffer{}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, lookup, stdoutW, log)
		stdoutW.Close()
	}()
	got := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`ready at (http://\S+/fhir)`)
		lines := bufio.NewScanner(stdoutR)
		for lines.Scan() {
			stdout.Write([]byte(lines.Text() + "\n"))
			if m := re.FindStringSubmatch(lines.Text()); m != nil {
				got <- m[1]
			}
		}
		close(got)
	}()
	stop := func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("fhir-server %s stopped with %v", strings.Join(args, " "), err)
			}
		case <-time.After(30 * time.Second):
			t.Error("server did not shut down within 30s")
		}
	}
	var base string
	select {
	case base = <-got:
	case err := <-done:
		cancel()
		t.Fatalf("fhir-server %s stopped before it was ready: %v\n%s", strings.Join(args, " "), err, log)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("server did not print its base URL within 60s")
	}
	return &testServer{base: base, stdout: stdout, log: log, stop: stop}
}

// printed waits until the server has printed a line that re matches, and returns the first
// submatch.
func (s *testServer) printed(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(s.stdout.String()); m != nil {
			return m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the server did not print %s within 30s:\n%s", re, s.stdout)
	return ""
}

// adminToken is a dev mode token for a server on dataDir with the default settings (no base
// URL, issuer or audience): scope system/*.*, as the startup banner's.
func adminToken(t *testing.T, dataDir string) string {
	t.Helper()
	tok, err := auth.MintDevToken(dataDir, auth.TokenOptions{
		Scope: auth.DevAdminScope, Issuer: config.DevIssuer, Audience: config.DevAudience,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// do sends a request with the bearer token (none when token is "") and returns the response,
// its body read.
func do(t *testing.T, method, url, token string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// status is the status of a GET with the bearer token.
func status(t *testing.T, url, token string) int {
	t.Helper()
	resp, _ := do(t, http.MethodGet, url, token)
	return resp.StatusCode
}

// TestDemoLoadsOnFirstStartOnly starts `fhir-server --demo` twice on one data dir: the
// first start loads the built-in data, the second finds it and leaves a change made in
// between alone; and a database that already holds questionnaires gets no demo data.
func TestDemoLoadsOnFirstStartOnly(t *testing.T) {
	dataDir := t.TempDir()
	env := map[string]string{"FHIR_DATA_DIR": dataDir, "FHIR_ADDR": "127.0.0.1:0"}
	const carePlan = "/CarePlan/careplan-copd-erik-andersson"

	srv := startServe(t, env, "--demo")
	token := adminToken(t, dataDir)
	if !strings.Contains(srv.log.String(), "demo data loaded") {
		t.Errorf("first start did not report loading the demo data:\n%s", srv.log)
	}
	if got := status(t, srv.base+"/Questionnaire/phq-9", token); got != http.StatusOK {
		t.Errorf("demo Questionnaire: status %d, want 200", got)
	}
	if resp, body := do(t, http.MethodDelete, srv.base+carePlan, token); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete a demo CarePlan: %d %s", resp.StatusCode, body)
	}
	srv.stop()

	env["FHIR_DEMO"] = "true" // the environment works as the flag does
	srv = startServe(t, env, "serve")
	defer srv.stop()
	if !strings.Contains(srv.log.String(), "demo data not loaded") {
		t.Errorf("second start did not say it left the data alone:\n%s", srv.log)
	}
	// The dev key stays in the data dir: a token minted before the restart still works.
	if got := status(t, srv.base+carePlan, token); got != http.StatusGone {
		t.Errorf("deleted demo CarePlan after a restart: status %d, want 410 (not loaded again)", got)
	}
}

// TestLoadIntoTheDatabaseThenDemoLeavesItAlone loads questionnaires straight into the
// embedded database with `fhir-server load` (no server running), then starts the server
// with --demo on it: the database is not empty, so no demo data is added.
func TestLoadIntoTheDatabaseThenDemoLeavesItAlone(t *testing.T) {
	dataDir := t.TempDir()
	env := map[string]string{"FHIR_DATA_DIR": dataDir, "FHIR_ADDR": "127.0.0.1:0"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var out bytes.Buffer
	errOut := &syncBuffer{}
	folder := filepath.Join("..", "..", "fixtures", "Questionnaire")
	if err := run(t.Context(), []string{"load", folder}, lookup, &out, errOut); err != nil {
		t.Fatalf("load: %v\n%s", err, errOut)
	}
	if !regexp.MustCompile(`Questionnaire\s+6\s+0\s+0\s+0`).MatchString(out.String()) {
		t.Errorf("load summary does not show 6 questionnaires created:\n%s", out.String())
	}

	srv := startServe(t, env, "serve", "--demo")
	defer srv.stop()
	token := adminToken(t, dataDir)
	if !strings.Contains(srv.log.String(), "demo data not loaded") {
		t.Errorf("--demo on a database with questionnaires did not leave it alone:\n%s", srv.log)
	}
	if got := status(t, srv.base+"/Questionnaire/gad-7", token); got != http.StatusOK {
		t.Errorf("loaded Questionnaire: status %d, want 200", got)
	}
	if got := status(t, srv.base+"/CarePlan/careplan-copd-erik-andersson", token); got != http.StatusNotFound {
		t.Errorf("demo CarePlan: status %d, want 404 (no demo data)", got)
	}
}
