package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/patient-involvement/fhir-server/api"
	"github.com/patient-involvement/fhir-server/internal/audit"
	"github.com/patient-involvement/fhir-server/internal/auth"
)

// lockedBuffer is a log destination safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logTo sends the server's log to buf.
func logTo(buf *lockedBuffer) serverOption {
	return func(o *api.Options) { o.Logger = slog.New(slog.NewTextHandler(buf, nil)) }
}

// auditEvent is the part of a stored AuditEvent the tests look at.
type auditEvent struct {
	ID      string `json:"id"`
	Subtype []struct {
		Code string `json:"code"`
	} `json:"subtype"`
	Action      string `json:"action"`
	Outcome     string `json:"outcome"`
	OutcomeDesc string `json:"outcomeDesc"`
	Agent       []struct {
		Network *struct {
			Address   string `json:"address"`
			Extension []struct {
				URL         string `json:"url"`
				ValueString string `json:"valueString"`
			} `json:"extension"`
		} `json:"network"`
	} `json:"agent"`
	Entity []struct {
		What *struct {
			Reference  string `json:"reference"`
			Identifier *struct {
				Value string `json:"value"`
			} `json:"identifier"`
		} `json:"what"`
	} `json:"entity"`
}

func (e auditEvent) requestID() string {
	for _, en := range e.Entity {
		if en.What != nil && en.What.Identifier != nil {
			return en.What.Identifier.Value
		}
	}
	return ""
}

func (e auditEvent) subtype() string {
	if len(e.Subtype) == 0 {
		return ""
	}
	return e.Subtype[0].Code
}

// auditTrail flushes the server's audit writer and returns every stored AuditEvent.
func (s *authServer) auditTrail(t *testing.T) []auditEvent {
	t.Helper()
	if err := s.audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	admin := s.mint(auth.TokenOptions{Scope: "system/*.*"})
	var out []auditEvent
	next := "/fhir/AuditEvent?_count=1000"
	for next != "" {
		r := s.do("GET", next, nil, "Authorization", "Bearer "+admin)
		if r.status != http.StatusOK {
			t.Fatalf("search the audit trail: %d %s", r.status, r.body)
		}
		var b struct {
			Link  []struct{ Relation, URL string }
			Entry []struct {
				Resource auditEvent
			}
		}
		if err := json.Unmarshal(r.body, &b); err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Entry {
			out = append(out, e.Resource)
		}
		next = ""
		for _, l := range b.Link {
			if l.Relation == "next" {
				next = l.URL
			}
		}
	}
	return out
}

// TestAuditRecordsEveryAnswer sends requests that are answered at every stage of the chain,
// before any route, by the guard, by the media and body checks and by the handlers, unknown
// ids included: each is recorded exactly once with its status, and none makes the server
// panic.
func TestAuditRecordsEveryAnswer(t *testing.T) {
	t.Parallel()
	log := &lockedBuffer{}
	s := newAuthServer(t, func(o *api.Options) { o.MaxBodyBytes = 4096 }, logTo(log))
	token := s.mint(auth.TokenOptions{Scope: "system/*.*"})
	admin := "Bearer " + token
	id, _ := s.mustCreateWith("CarePlan", `{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/p1"}}`, token)
	big := `{"resourceType":"CarePlan","status":"active","intent":"plan","note":[{"text":"` + strings.Repeat("x", 5000) + `"}]}`
	tests := []struct {
		name, method, path, body string
		header                   []string
		status                   int
		subtype, action          string
	}{
		{"read of an unknown id", "GET", "/fhir/CarePlan/no-such-plan", "", nil, 404, "read", "R"},
		{"vread of an unknown id", "GET", "/fhir/CarePlan/no-such-plan/_history/1", "", nil, 404, "vread", "R"},
		{"vread of an unknown version", "GET", "/fhir/CarePlan/" + id + "/_history/9", "", nil, 404, "vread", "R"},
		{"read of an unknown type", "GET", "/fhir/Frobnicator/1", "", nil, 404, "read", "R"},
		{"read", "GET", "/fhir/CarePlan/" + id, "", nil, 200, "read", "R"},
		{"no token", "GET", "/fhir/CarePlan/" + id, "", []string{"Authorization", ""}, 401, "read", "R"},
		{"not acceptable", "GET", "/fhir/CarePlan/" + id, "", []string{"Accept", "application/fhir+xml"}, 406, "read", "R"},
		{"body too large", "POST", "/fhir/CarePlan", big, nil, 413, "create", "C"},
		{"media type not served", "POST", "/fhir/CarePlan", "{}", []string{"Content-Type", "text/plain"}, 415, "create", "C"},
		{"no route", "GET", "/fhir/CarePlan/" + id + "/_history/1/more", "", nil, 404, "", "R"},
		{"no route for the method", "POST", "/fhir/CarePlan/" + id, "{}", nil, 405, "", "C"},
		{"no route without a token", "DELETE", "/fhir/a/b/c/d", "", []string{"Authorization", ""}, 401, "", "D"},
		{"capabilities", "GET", "/fhir/metadata", "", []string{"Authorization", ""}, 200, "capabilities", "R"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := append([]string{"Authorization", admin, "X-Request-Id", fmt.Sprintf("every-answer-%d", i)}, tc.header...)
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			if r := s.do(tc.method, tc.path, body, hdr...); r.status != tc.status {
				t.Fatalf("%s %s: %d, want %d: %s", tc.method, tc.path, r.status, tc.status, r.body)
			}
		})
	}
	byRequest := map[string][]auditEvent{}
	for _, e := range s.auditTrail(t) {
		byRequest[e.requestID()] = append(byRequest[e.requestID()], e)
	}
	for i, tc := range tests {
		t.Run(tc.name+" is recorded", func(t *testing.T) {
			evs := byRequest[fmt.Sprintf("every-answer-%d", i)]
			if len(evs) != 1 {
				t.Fatalf("%d AuditEvents, want 1", len(evs))
			}
			e := evs[0]
			if e.subtype() != tc.subtype || e.Action != tc.action || !strings.HasPrefix(e.OutcomeDesc, fmt.Sprint(tc.status)) {
				t.Errorf("subtype %q action %q outcome %q, want %q %q %d", e.subtype(), e.Action, e.OutcomeDesc, tc.subtype, tc.action, tc.status)
			}
			if want := audit.Outcome(tc.status); e.Outcome != want {
				t.Errorf("outcome %q, want %q", e.Outcome, want)
			}
		})
	}
	if strings.Contains(log.String(), "panic") {
		t.Errorf("the server panicked:\n%s", log)
	}
}

// TestIdenticalRequestsAreEachAudited sends the same request with the same X-Request-Id many
// times at once: every one is an AuditEvent of its own.
func TestIdenticalRequestsAreEachAudited(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t)
	admin := "Bearer " + s.mint(auth.TokenOptions{Scope: "system/*.*"})
	const n = 100
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			s.do("GET", "/fhir/CarePlan/same-plan", nil, "Authorization", admin, "X-Request-Id", "same-request")
		})
	}
	wg.Wait()
	got := 0
	ids := map[string]bool{}
	for _, e := range s.auditTrail(t) {
		if e.requestID() == "same-request" {
			got++
			ids[e.ID] = true
		}
	}
	if got != n || len(ids) != n {
		t.Errorf("%d AuditEvents with %d ids for %d identical requests, want %d", got, len(ids), n, n)
	}
}

// TestNoAnswerWithoutAnAuditRecord: when the audit trail cannot take a request's record (here
// its writer is closed, as when the journal cannot be written), the request is not answered:
// the connection is closed, and the client sees a failure, never an answer the trail lacks.
func TestNoAnswerWithoutAnAuditRecord(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t)
	admin := "Bearer " + s.mint(auth.TokenOptions{Scope: "system/*.*"})
	if r := s.do("GET", "/fhir/CarePlan/x", nil, "Authorization", admin); r.status != http.StatusNotFound {
		t.Fatalf("before: %d", r.status)
	}
	if err := s.audit.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", s.base+"/CarePlan/x", nil)
	req.Header.Set("Authorization", admin)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("answered %d without an audit record", resp.StatusCode)
	}
	if r := s.do("GET", "/healthz", nil); r.status != http.StatusOK {
		t.Errorf("/healthz, which is not audited: %d", r.status)
	}
}
