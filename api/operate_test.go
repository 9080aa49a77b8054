package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/api"
	"github.com/patient-involvement/fhir-server/internal/metrics"
	"github.com/patient-involvement/fhir-server/internal/store"
	"github.com/patient-involvement/fhir-server/internal/store/embedded"
)

// TestRequestMetrics makes requests of several kinds and reads them back from /metrics:
// counted by interaction, resource type and status (unknown types unlabelled), timed, none
// left in flight, and the refused invalid resource counted as a validation refusal (400;
// TestBusinessRuleRefusalsAreCounted has the 422s).
func TestRequestMetrics(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	s := newTestServer(t, func(o *api.Options) { o.Metrics = m })
	scrape := httptest.NewServer(m.Handler())
	t.Cleanup(scrape.Close)
	id, _ := s.mustCreate("QuestionnaireResponse", qrMinimal)
	s.do("GET", "/fhir/QuestionnaireResponse/"+id, nil)
	s.do("HEAD", "/fhir/QuestionnaireResponse/"+id, nil)
	s.do("GET", "/fhir/QuestionnaireResponse?status=completed", nil)
	s.do("GET", "/fhir/Patient/p1", nil)
	s.do("POST", "/fhir/QuestionnaireResponse", []byte(`{"resourceType":"QuestionnaireResponse","status":"nonsense"}`))
	s.do("GET", "/fhir/metadata", nil)
	s.do("GET", "/no/such/page", nil)
	s.do("OPTIONS", "/fhir/CarePlan", nil, "Origin", appOrigin, "Access-Control-Request-Method", "GET")

	resp, err := http.Get(scrape.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	tests := []struct{ name, line string }{
		{"create", `fhir_http_requests_total{interaction="create",resource_type="QuestionnaireResponse",status="201"} 1`},
		{"read and HEAD", `fhir_http_requests_total{interaction="read",resource_type="QuestionnaireResponse",status="200"} 2`},
		{"search", `fhir_http_requests_total{interaction="search-type",resource_type="QuestionnaireResponse",status="200"} 1`},
		{"an unknown type is not a label", `fhir_http_requests_total{interaction="read",resource_type="",status="404"} 1`},
		{"refused create", `fhir_http_requests_total{interaction="create",resource_type="QuestionnaireResponse",status="400"} 1`},
		{"metadata", `fhir_http_requests_total{interaction="capabilities",resource_type="",status="200"} 1`},
		{"no route", `fhir_http_requests_total{interaction="unmatched",resource_type="",status="404"} 1`},
		{"preflight", `fhir_http_requests_total{interaction="preflight",resource_type="CarePlan",status="204"} 1`},
		{"latency", `fhir_http_request_duration_seconds_count{interaction="read",resource_type="QuestionnaireResponse"} 2`},
		{"nothing in flight", `fhir_http_requests_in_flight 0`},
		{"validation refusal", `fhir_validation_refusals_total{resource_type="QuestionnaireResponse",status="400"} 1`},
		{"the runtime", `go_goroutines `},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(body), tc.line) {
				t.Errorf("/metrics has no line %q; it has:\n%s", tc.line, grepLines(string(body), "fhir_"))
			}
		})
	}
}

// grepLines returns the lines of text that start with prefix.
func grepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestReadinessFollowsTheDatabase runs the server on an embedded database of its own: ready
// while it answers; once it is gone, /readyz says so with 503 and Retry-After, promptly (the
// ping is bounded), while /healthz, which does not look at the database, stays 200.
func TestReadinessFollowsTheDatabase(t *testing.T) {
	t.Parallel()
	emb, err := embedded.Start(t.Context(), t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = emb.Close()
		}
	})
	client, err := store.Connect(t.Context(), emb.URI(), store.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	srv := newTestServerWith(t, client.Database("readiness"), store.Options{})
	// Generous against a loaded machine; the server's own bound is 1.5 s.
	client10 := &http.Client{Timeout: 10 * time.Second}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := client10.Get(srv.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	states := []struct {
		name                   string
		before                 func()
		readyz                 int
		retryAfter, wantInBody string
	}{
		{"database up", func() {}, 200, "", `"status":"ok"`},
		{"database gone", func() {
			if err := emb.Close(); err != nil {
				t.Fatal(err)
			}
			stopped = true
		}, 503, "5", `"status":"unavailable"`},
	}
	for _, st := range states {
		st.before()
		t.Run(st.name, func(t *testing.T) {
			resp, body := get("/readyz")
			if resp.StatusCode != st.readyz || resp.Header.Get("Retry-After") != st.retryAfter || !strings.Contains(body, st.wantInBody) {
				t.Errorf("/readyz: %d, Retry-After %q, %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
			}
			if resp, body := get("/healthz"); resp.StatusCode != 200 || !regexp.MustCompile(`"status":"ok"`).MatchString(body) {
				t.Errorf("/healthz: %d %s", resp.StatusCode, body)
			}
		})
	}
}
