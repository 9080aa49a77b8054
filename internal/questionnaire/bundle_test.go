package questionnaire_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/internal/questionnaire"
)

// TestTransactionEntriesAreChecked: the responses of a transaction are checked against
// their Questionnaire as single creates are. One that breaks a rule fails the transaction
// (422, naming the entry) and nothing is stored; valid ones are stored with their scores.
func TestTransactionEntriesAreChecked(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, questionnaire.ModeStrict)
	s.mustPut(readFile(t, allRules))
	good, err := decode(readFile(t, allRulesResponse))
	if err != nil {
		t.Fatal(err)
	}
	bad, _ := decode(readFile(t, allRulesResponse))
	bad = apply(t, bad, set("status", `"amended"`), del(g1+"item[0]"))
	entry := func(m map[string]any) string {
		return `{"resource":` + string(encode(t, m)) + `,"request":{"method":"POST","url":"QuestionnaireResponse"}}`
	}
	bundle := func(es ...string) []byte {
		return []byte(`{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(es, ",") + `]}`)
	}
	count := func() int {
		r := s.do(http.MethodGet, "/fhir/QuestionnaireResponse?_summary=count", nil)
		n, _ := strconv.Atoi(fmt.Sprint(r.json(t)["total"]))
		return n
	}
	r := s.do(http.MethodPost, "/fhir", bundle(entry(good), entry(bad)))
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "entry 1 (POST QuestionnaireResponse)") || !strings.Contains(string(r.body), "is required") {
		t.Fatalf("a transaction with a response that breaks a rule: %d %s", r.status, r.body)
	}
	if n := count(); n != 0 {
		t.Errorf("%d responses stored by a refused transaction", n)
	}
	r = s.do(http.MethodPost, "/fhir", bundle(entry(good), entry(good)))
	if r.status != http.StatusOK || strings.Count(string(r.body), `"201 Created"`) != 2 {
		t.Fatalf("a transaction of valid responses: %d %s", r.status, r.body)
	}
	if n := count(); n != 2 {
		t.Errorf("%d responses stored, want 2", n)
	}
}
