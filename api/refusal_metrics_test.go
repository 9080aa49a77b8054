package api_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/internal/auth"
)

// TestBusinessRuleRefusalsAreCounted checks that a write refused for a broken rule of its
// content (422) is counted as a validation refusal beside the invalid structures (400), by
// resource type and status, and that a refused patch is not.
func TestBusinessRuleRefusalsAreCounted(t *testing.T) {
	s, m := newSubscriptionServer(t, time.Minute)
	token := s.mint(auth.TokenOptions{Scope: "user/*.cruds", Subject: "metrics-test"})
	h := []string{"Authorization", "Bearer " + token, "Content-Type", "application/fhir+json"}
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"a Questionnaire with one linkId twice", "POST", "/fhir/Questionnaire",
			`{"resourceType":"Questionnaire","status":"draft","item":[{"linkId":"a","type":"display","text":"A"},{"linkId":"a","type":"display","text":"B"}]}`, http.StatusUnprocessableEntity},
		{"a response with a status R4 does not have", "POST", "/fhir/QuestionnaireResponse",
			`{"resourceType":"QuestionnaireResponse","status":"nonsense"}`, http.StatusBadRequest},
		{"the same twice by PUT", "PUT", "/fhir/Questionnaire/dup",
			`{"resourceType":"Questionnaire","id":"dup","status":"draft","item":[{"linkId":"a","type":"display","text":"A"},{"linkId":"a","type":"display","text":"B"}]}`, http.StatusUnprocessableEntity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := s.do(tc.method, tc.path, []byte(tc.body), h...); r.status != tc.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.status)
			}
		})
	}
	id, _ := s.mustCreateWith("Questionnaire", `{"resourceType":"Questionnaire","status":"draft","item":[{"linkId":"a","type":"display","text":"A"}]}`, token)
	if r := s.do("PATCH", "/fhir/Questionnaire/"+id, []byte(`[{"op":"test","path":"/status","value":"active"}]`),
		"Authorization", "Bearer "+token, "Content-Type", "application/json-patch+json"); r.status < 400 {
		t.Fatalf("a failing JSON Patch test: %d %s", r.status, r.body)
	}

	scrape := httptest.NewServer(m.Handler())
	t.Cleanup(scrape.Close)
	resp, err := http.Get(scrape.URL)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(raw)
	for _, tc := range []struct{ name, line string }{
		{"422 by create and update", `fhir_validation_refusals_total{resource_type="Questionnaire",status="422"} 2`},
		{"400", `fhir_validation_refusals_total{resource_type="QuestionnaireResponse",status="400"} 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(body, tc.line) {
				t.Errorf("/metrics has no line %q; it has:\n%s", tc.line, grepLines(body, "fhir_validation"))
			}
		})
	}
	if strings.Contains(body, `fhir_validation_refusals_total{resource_type="Questionnaire",status="400"}`) {
		t.Errorf("the refused patch was counted as a validation refusal:\n%s", grepLines(body, "fhir_validation"))
	}
}
