package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/api"
	"github.com/patient-involvement/fhir-server/internal/audit"
	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/store"
	"github.com/patient-involvement/fhir-server/internal/store/embedded"
)

// TestDatabaseOutage runs the server on an embedded database of its own, stops the database
// while clients keep sending requests, and starts it again on the same address: while it is
// down every request answers 503 with Retry-After and an OperationOutcome (transient), within
// the client's bound, never a 500 and never a hang; /readyz says 503; once it is back the
// server serves again by itself, and the audit trail holds the requests of the outage.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	startDB := func() *embedded.Server {
		t.Helper()
		var emb *embedded.Server
		var err error
		for range 50 { // the address may take a moment to be free again
			if emb, err = embedded.Start(t.Context(), dir, slog.New(slog.DiscardHandler), embedded.Options{Addr: addr}); err == nil {
				return emb
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("start the database on %s: %v", addr, err)
		return nil
	}
	emb := startDB()
	var embMu sync.Mutex
	t.Cleanup(func() {
		embMu.Lock()
		defer embMu.Unlock()
		if emb != nil {
			_ = emb.Close()
		}
	})
	client, err := store.Connect(t.Context(), emb.URI(), store.ConnectOptions{Timeout: 2 * time.Second, SelectionTimeout: time.Second}, emb.Monitor())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	registry := fhir.DefaultRegistry()
	st, err := store.New(client.Database("outage"), registry, store.Options{IDFiltersOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureIndexes(t.Context()); err != nil {
		t.Fatal(err)
	}
	svc, err := fhir.NewService(st, registry)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(t.Context(), auth.Options{Mode: auth.ModeOff})
	if err != nil {
		t.Fatal(err)
	}
	trail, err := audit.NewWriter(audit.WriterOptions{Sink: audit.ServiceSink(svc, nil), Dir: filepath.Join(dir, "audit"),
		Logger: slog.New(slog.DiscardHandler), MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = trail.Close(context.Background()) })
	h, err := api.New(api.Options{Service: svc, Searcher: st, Logger: slog.New(slog.DiscardHandler), Auth: verifier, Audit: trail})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s := &testServer{Server: srv, t: t, base: srv.URL + "/fhir"}
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

	embMu.Lock()
	if err := emb.Close(); err != nil {
		t.Fatal(err)
	}
	emb = nil
	embMu.Unlock()
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
		resp, err := bounded.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
			t.Errorf("/readyz: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	})

	embMu.Lock()
	emb = startDB()
	embMu.Unlock()
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
