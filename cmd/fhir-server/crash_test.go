package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// childEnv marks a test binary started by a test to run as `fhir-server serve`: TestMain
// runs the program instead of the tests, so that a test can kill it as the operating system
// would kill a server (SIGKILL: no shutdown, no deferred function, no flush).
const childEnv = "FHIR_SERVER_TEST_AS_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := run(ctx, []string{"serve"}, os.LookupEnv, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "fhir-server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is `fhir-server serve` in a process of its own.
type child struct {
	cmd  *exec.Cmd
	base string
	log  *syncBuffer
}

// startChild starts the server as a child process on dataDir, with env (KEY=value) added to
// its environment, and returns once it serves.
func startChild(t *testing.T, dataDir string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"=1", "FHIR_DATA_DIR="+dataDir, "FHIR_ADDR=127.0.0.1:0", "FHIR_LOG_LEVEL=warn"), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, log: &syncBuffer{}}
	cmd.Stderr = c.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	got := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`ready at (http://\S+/fhir)`)
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if m := re.FindStringSubmatch(lines.Text()); m != nil {
				got <- m[1]
			}
		}
		close(got)
	}()
	select {
	case c.base = <-got:
	case <-time.After(60 * time.Second):
	}
	if c.base == "" {
		t.Fatalf("the server did not start:\n%s", c.log)
	}
	return c
}

// TestAcknowledgedRequestsAreAuditedAcrossKill runs the server as a process of its own,
// writes to it and reads from it from several clients at once, and kills it with SIGKILL in
// the middle of that: after a restart on the same data directory, every request the server
// answered has its AuditEvent, and every create it acknowledged is stored.
func TestAcknowledgedRequestsAreAuditedAcrossKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the server twice")
	}
	dataDir := t.TempDir()
	srv := startChild(t, dataDir)
	token := adminToken(t, dataDir)

	var (
		mu      sync.Mutex
		acked   []string            // request ids of answered requests
		created = map[string]bool{} // ids of acknowledged creates
		n       atomic.Int64
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				reqID := fmt.Sprintf("kill-%d-%d", g, i)
				method, url, body := http.MethodPost, srv.base+"/QuestionnaireResponse",
					`{"resourceType":"QuestionnaireResponse","status":"completed","subject":{"reference":"Patient/p`+fmt.Sprint(g)+`"}}`
				if i%4 == 3 {
					method, url, body = http.MethodGet, srv.base+"/QuestionnaireResponse/unknown-"+fmt.Sprint(i), ""
				}
				req, _ := http.NewRequest(method, url, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/fhir+json")
				req.Header.Set("X-Request-Id", reqID)
				resp, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				data, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					return // cut off mid-answer: not acknowledged
				}
				mu.Lock()
				acked = append(acked, reqID)
				if resp.StatusCode == http.StatusCreated {
					var r struct{ ID string }
					_ = json.Unmarshal(data, &r)
					created[r.ID] = true
				}
				mu.Unlock()
				n.Add(1)
			}
		})
	}
	// Kill it once it has answered a good number of requests, in the middle of more.
	deadline := time.Now().Add(20 * time.Second)
	for n.Load() < 300 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = srv.cmd.Wait()
	close(stop)
	wg.Wait()
	if len(acked) < 100 {
		t.Fatalf("only %d requests were answered before the kill", len(acked))
	}

	again := startChild(t, dataDir)
	// The restarted server stores what the journal holds; wait until it has.
	journal := filepath.Join(dataDir, auditJournalDir)
	deadline = time.Now().Add(60 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(journal, "audit-*.log"))
		if len(files) == 1 { // the restarted server's own: the killed one's are stored and removed
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the journal was not stored within 60s: %v\n%s", files, again.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	audited := map[string]int{}
	for _, e := range searchAll(t, again.base+"/AuditEvent?_count=1000&_elements=entity", token) {
		var ev struct {
			Entity []struct {
				What struct{ Identifier struct{ Value string } }
			}
		}
		if err := json.Unmarshal(e, &ev); err != nil {
			t.Fatal(err)
		}
		for _, en := range ev.Entity {
			if v := en.What.Identifier.Value; strings.HasPrefix(v, "kill-") {
				audited[v]++
			}
		}
	}
	missing := 0
	for _, id := range acked {
		if audited[id] != 1 {
			missing++
			if missing <= 10 {
				t.Errorf("answered request %s has %d AuditEvents, want 1", id, audited[id])
			}
		}
	}
	stored := 0
	for _, e := range searchAll(t, again.base+"/QuestionnaireResponse?_count=1000&_elements=id", token) {
		var r struct{ ID string }
		_ = json.Unmarshal(e, &r)
		if created[r.ID] {
			stored++
		}
	}
	t.Logf("%d requests answered before the kill (%d creates): %d without their AuditEvent; %d AuditEvents of the test's requests; %d creates stored",
		len(acked), len(created), missing, len(audited), stored)
	if stored != len(created) {
		t.Errorf("%d of %d acknowledged creates are stored", stored, len(created))
	}
}

// searchAll follows a search's next links and returns every entry's resource.
func searchAll(t *testing.T, url, token string) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	for url != "" {
		resp, body := do(t, http.MethodGet, url, token)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
		}
		var b struct {
			Link  []struct{ Relation, URL string }
			Entry []struct{ Resource json.RawMessage }
		}
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Entry {
			out = append(out, e.Resource)
		}
		url = ""
		for _, l := range b.Link {
			if l.Relation == "next" {
				url = l.URL
			}
		}
	}
	return out
}
