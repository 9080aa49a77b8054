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

// startServe runs `fhir-server args…` until the test calls the returned stop, and returns the
// FHIR base URL it prints and its log.
func startServe(t *testing.T, env map[string]string, args ...string) (base string, log *syncBuffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdoutR, stdoutW := io.Pipe()
	log = &syncBuffer{}
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
			if m := re.FindStringSubmatch(lines.Text()); m != nil {
				got <- m[1]
			}
		}
		close(got)
	}()
	stop = func() {
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
	select {
	case base = <-got:
	case err := <-done:
		cancel()
		t.Fatalf("fhir-server %s stopped before it was ready: %v\n%s", strings.Join(args, " "), err, log)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("server did not print its base URL within 60s")
	}
	return base, log, stop
}

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestDemoLoadsOnFirstStartOnly starts `fhir-server --demo` twice on one data dir: the
// first start loads the built-in data, the second finds it and leaves a change made in
// between alone; and a database that already holds questionnaires gets no demo data.
func TestDemoLoadsOnFirstStartOnly(t *testing.T) {
	dataDir := t.TempDir()
	env := map[string]string{"FHIR_DATA_DIR": dataDir, "FHIR_ADDR": "127.0.0.1:0"}
	const carePlan = "/CarePlan/careplan-copd-erik-andersson"

	base, log, stop := startServe(t, env, "--demo")
	if !strings.Contains(log.String(), "demo data loaded") {
		t.Errorf("first start did not report loading the demo data:\n%s", log)
	}
	if got := status(t, base+"/Questionnaire/phq-9"); got != http.StatusOK {
		t.Errorf("demo Questionnaire: status %d, want 200", got)
	}
	req, _ := http.NewRequest(http.MethodDelete, base+carePlan, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete a demo CarePlan: %v %v", resp, err)
	}
	resp.Body.Close()
	stop()

	env["FHIR_DEMO"] = "true" // the environment works as the flag does
	base, log, stop = startServe(t, env, "serve")
	defer stop()
	if !strings.Contains(log.String(), "demo data not loaded") {
		t.Errorf("second start did not say it left the data alone:\n%s", log)
	}
	if got := status(t, base+carePlan); got != http.StatusGone {
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

	base, log, stop := startServe(t, env, "serve", "--demo")
	defer stop()
	if !strings.Contains(log.String(), "demo data not loaded") {
		t.Errorf("--demo on a database with questionnaires did not leave it alone:\n%s", log)
	}
	if got := status(t, base+"/Questionnaire/gad-7"); got != http.StatusOK {
		t.Errorf("loaded Questionnaire: status %d, want 200", got)
	}
	if got := status(t, base+"/CarePlan/careplan-copd-erik-andersson"); got != http.StatusNotFound {
		t.Errorf("demo CarePlan: status %d, want 404 (no demo data)", got)
	}
}
