package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/api"
	"github.com/patient-involvement/fhir-server/internal/audit"
	"github.com/patient-involvement/fhir-server/internal/auth"
)

// BenchmarkAuditKeepsPace measures, in one run on one database, how fast the server takes
// creates over HTTP (eight clients, every create audited through the journal) and how fast
// the audit sink stores events from the journal into the same database (its writers
// inserting batches): the trail keeps pace with the writes when the second rate is at least
// the first.
//
//	go test -run XXX -bench AuditKeepsPace -benchtime 2000x ./api/
func BenchmarkAuditKeepsPace(b *testing.B) {
	var creates float64
	b.Run("creates over HTTP", func(b *testing.B) {
		s, token := newAuditedServer(b)
		b.SetParallelism(4) // 8 clients on 2 cores
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest("POST", s.base+"/QuestionnaireResponse", strings.NewReader(qrMinimal))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/fhir+json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					b.Errorf("create: %d", resp.StatusCode)
				}
			}
		})
		creates = float64(b.N) / time.Since(start).Seconds()
		b.ReportMetric(creates, "creates/s")
	})
	b.Run("audit sink from the journal", func(b *testing.B) {
		var svcSink audit.Sink
		newTestServer(b, func(o *api.Options) { svcSink = audit.ServiceSink(o.Service, nil) })
		dir := b.TempDir()
		// Journal b.N events while the store is "down", then time a writer that stores them.
		down, err := audit.NewWriter(audit.WriterOptions{Dir: dir, MaxBackoff: time.Millisecond, Logger: slog.New(slog.DiscardHandler),
			Sink: func(context.Context, []audit.Event) error { return fmt.Errorf("down") }})
		if err != nil {
			b.Fatal(err)
		}
		for i := range b.N {
			if err := down.Record(audit.Record{Interaction: "create", ResourceType: "QuestionnaireResponse", Method: "POST",
				Resources: []string{fmt.Sprintf("QuestionnaireResponse/r%d/_history/1", i)}, Outcome: 201,
				Subject: "u1", ClientID: "bench", RemoteAddr: "127.0.0.1:4000", RequestID: fmt.Sprint("bench-", i)}); err != nil {
				b.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		_ = down.Close(ctx)
		cancel()
		b.ResetTimer()
		start := time.Now()
		w, err := audit.NewWriter(audit.WriterOptions{Dir: dir, Sink: svcSink, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		rate := float64(b.N) / time.Since(start).Seconds()
		b.StopTimer()
		if stored, _ := w.Stats(); stored != int64(b.N) {
			b.Errorf("%d events stored, want %d", stored, b.N)
		}
		_ = w.Close(context.Background())
		b.ReportMetric(rate, "events/s")
		if creates > 0 {
			b.ReportMetric(rate/creates, "x-creates")
		}
	})
}

// newAuditedServer is a test server in dev mode with the audit trail on, as a server runs,
// and a token for all its data; the audit writer is closed when b ends.
func newAuditedServer(b *testing.B) (*testServer, string) {
	dir := b.TempDir()
	verifier, err := auth.NewVerifier(context.Background(), auth.Options{Mode: auth.ModeDev, Issuer: auth.DevIssuer, Audience: auth.DevAudience, DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	var w *audit.Writer
	s := newTestServer(b, func(o *api.Options) { o.Auth = verifier }, withAudit(b, &w, audit.WriterOptions{Dir: b.TempDir()}))
	token, err := auth.MintDevToken(dir, auth.TokenOptions{Scope: "system/*.*", Issuer: auth.DevIssuer, Audience: auth.DevAudience})
	if err != nil {
		b.Fatal(err)
	}
	return s, token
}
