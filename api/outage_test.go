package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/internal/audit"
	"github.com/patient-involvement/fhir-server/internal/store"
	"github.com/patient-involvement/fhir-server/internal/store/embedded"
)

// ownDatabase is an embedded database of a test's own, which the test can stop and start
// again on the same address and directory.
type ownDatabase struct {
	t         *testing.T
	dir, addr string
	mu        sync.Mutex
	emb       *embedded.Server
}

// startOwnDatabase starts an embedded database on dir; it is closed when the test ends.
func startOwnDatabase(t *testing.T, dir string) *ownDatabase {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	db := &ownDatabase{t: t, dir: dir, addr: l.Addr().String()}
	l.Close()
	db.start()
	t.Cleanup(db.stop)
	return db
}

// start starts the database again, once its address is free.
func (db *ownDatabase) start() {
	db.t.Helper()
	var err error
	for range 50 { // the address may take a moment to be free again
		var emb *embedded.Server
		if emb, err = embedded.Start(db.t.Context(), db.dir, slog.New(slog.DiscardHandler), embedded.Options{Addr: db.addr}); err == nil {
			db.mu.Lock()
			db.emb = emb
			db.mu.Unlock()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	db.t.Fatalf("start the database on %s: %v", db.addr, err)
}

// stop closes the database, if it runs.
func (db *ownDatabase) stop() {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.emb != nil {
		if err := db.emb.Close(); err != nil {
			db.t.Error(err)
		}
		db.emb = nil
	}
}

// TestDatabaseOutage runs the server on an embedded database of its own, stops the database
// while clients keep sending requests, and starts it again on the same address: while it is
// down every request answers 503 with Retry-After and an OperationOutcome (transient), within
// the client's bound, never a 500 and never a hang; /readyz says 503; once it is back the
// server serves again by itself, and the audit trail holds the requests of the outage.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := startOwnDatabase(t, dir)
	emb := db.emb
	client, err := store.Connect(t.Context(), emb.URI(), store.ConnectOptions{Timeout: 2 * time.Second, SelectionTimeout: time.Second}, emb.Monitor())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	var trail *audit.Writer
	s := newTestServerWith(t, client.Database("outage"), store.Options{IDFiltersOnly: true},
		withAudit(t, &trail, audit.WriterOptions{Dir: filepath.Join(dir, "audit"), MaxBackoff: 200 * time.Millisecond}))
	id, _ := s.mustCreate("QuestionnaireResponse", qrMinimal)

	// Clients that keep reading through the outage: every answer is 200 or a 503 that says
	// when to retry.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	var bad []string
	bounded := &http.Client{Timeout: 10 * time.Second}
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := bounded.Get(s.base + "/QuestionnaireResponse/" + id)
				mu.Lock()
				if err != nil {
					bad = append(bad, err.Error())
				} else {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					statuses[resp.StatusCode]++
					if resp.StatusCode != 200 && (resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), `"transient"`)) {
						bad = append(bad, resp.Status+" "+string(b))
					}
				}
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	time.Sleep(200 * time.Millisecond)

	db.stop()
	time.Sleep(300 * time.Millisecond)

	down := []struct {
		name, method, path, body string
	}{
		{"read", "GET", "/fhir/QuestionnaireResponse/" + id, ""},
		{"search", "GET", "/fhir/QuestionnaireResponse?status=completed", ""},
		{"create", "POST", "/fhir/QuestionnaireResponse", qrMinimal},
		{"update", "PUT", "/fhir/QuestionnaireResponse/" + id, strings.Replace(qrMinimal, `{"resourceType":"QuestionnaireResponse",`, `{"resourceType":"QuestionnaireResponse","id":"`+id+`",`, 1)},
		{"history", "GET", "/fhir/QuestionnaireResponse/" + id + "/_history", ""},
	}
	for _, tc := range down {
		t.Run("database down: "+tc.name, func(t *testing.T) {
			start := time.Now()
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			retryable(t, s.do(tc.method, tc.path, body), 503, "transient", "database")
			t.Logf("answered in %s", time.Since(start).Round(time.Millisecond))
		})
	}
	t.Run("database down: readyz", func(t *testing.T) {
		resp, err := bounded.Get(s.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
			t.Errorf("/readyz: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	})

	db.start()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := s.do("GET", "/fhir/QuestionnaireResponse/"+id, nil)
		if r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not recover within 30s of the database's return: %d %s", r.status, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("answers during the test: %v", statuses)
	if len(bad) > 0 {
		t.Errorf("%d answers that were neither 200 nor a retryable 503, e.g. %s", len(bad), bad[0])
	}
	if statuses[503] == 0 {
		t.Error("no request saw the outage")
	}
	if r := s.do("POST", "/fhir/QuestionnaireResponse", []byte(qrMinimal)); r.status != 201 {
		t.Errorf("create after the outage: %d %s", r.status, r.body)
	}

	// The requests answered during the outage are in the trail once it is back.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := trail.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r := s.do("GET", "/fhir/AuditEvent?outcome=8&_summary=count", nil)
	var total struct{ Total int }
	_ = json.Unmarshal(r.body, &total)
	if r.status != 200 || total.Total < len(down) {
		t.Errorf("%d AuditEvents of failed requests (status %d), want at least %d", total.Total, r.status, len(down))
	}
}

// TestTransactionCutShortByTheDatabase stops the database in the middle of a transaction on
// the embedded database, so that the transaction fails and so does the rollback of what it
// had written: it answers 503 with Retry-After, and once the database is back the first
// write undoes it before anything else is written. Nothing of the transaction remains, and
// the writes that follow are kept (a rollback left for the next start would undo them).
func TestTransactionCutShortByTheDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := startOwnDatabase(t, dir)
	client, err := store.Connect(t.Context(), db.emb.URI(), store.ConnectOptions{Timeout: 2 * time.Second, SelectionTimeout: 500 * time.Millisecond}, db.emb.Monitor())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	var cut sync.Once
	journal := filepath.Join(dir, "transaction-journal")
	s := newTestServerWith(t, client.Database("cut"), store.Options{IDFiltersOnly: true, JournalDir: journal,
		// Once the transaction's creates are written, the database goes away.
		TransactionStep: func(n int) {
			if n == 1 {
				cut.Do(db.stop)
			}
		}})

	planID, _ := s.mustCreate("CarePlan", `{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/p1"}}`)
	plan := func(status string) string {
		return `{"resourceType":"CarePlan","id":"` + planID + `","status":"` + status + `","intent":"plan","subject":{"reference":"Patient/p1"}}`
	}
	tx := bundleOf("transaction",
		entry{resource: `{"resourceType":"QuestionnaireResponse","status":"completed","subject":{"reference":"Patient/p1"},"identifier":{"system":"urn:test","value":"cut"}}`,
			method: "POST", url: "QuestionnaireResponse"},
		entry{resource: plan("on-hold"), method: "PUT", url: "CarePlan/" + planID})
	retryable(t, s.do("POST", "/fhir", tx), 503, "transient", "middle of the transaction")
	if files, _ := os.ReadDir(journal); len(files) != 1 {
		t.Fatalf("%d journal files once the rollback failed, want 1", len(files))
	}

	db.start()
	// The first write undoes the transaction first, then is stored.
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := s.do("PUT", "/fhir/CarePlan/"+planID, []byte(plan("completed")))
		if r.status == http.StatusOK {
			break
		}
		if r.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("a write once the database is back: %d %s", r.status, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if files, _ := os.ReadDir(journal); len(files) != 0 {
		t.Errorf("%d journal files once the transaction is undone, want 0", len(files))
	}
	cases := []struct {
		name, path string
		want       []string
	}{
		{"the response it created", "/fhir/QuestionnaireResponse?identifier=urn:test|cut", []string{`"total":0`}},
		{"the plan as written after it", "/fhir/CarePlan/" + planID, []string{`"completed"`, `"versionId":"2"`}},
		{"the plan's history", "/fhir/CarePlan/" + planID + "/_history", []string{`"versionId":"2"`, `"versionId":"1"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("GET", tc.path, nil)
			if r.status != http.StatusOK {
				t.Fatalf("%d %s", r.status, r.body)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(r.body), w) {
					t.Errorf("does not say %s: %s", w, r.body)
				}
			}
		})
	}
}
