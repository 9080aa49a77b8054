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

// TestTransactionChecksResponsesAgainstItsQuestionnaires: a response is checked against a
// Questionnaire written by the same transaction, wherever the two stand in the Bundle, as it
// will be stored; two Questionnaires of one transaction cannot share a url and version, and
// one cannot change the items of an active Questionnaire while it stores a response to it;
// a response is checked again against the Questionnaire as the transaction leaves it.
func TestTransactionChecksResponsesAgainstItsQuestionnaires(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, questionnaire.ModeStrict)
	const q = `{"resourceType":"Questionnaire","url":"https://example.org/Questionnaire/tx-new","version":"1","status":"active",` +
		`"item":[{"linkId":"age","text":"Age","type":"integer","required":true}]}`
	response := func(answer string) string {
		return `{"resourceType":"QuestionnaireResponse","questionnaire":"https://example.org/Questionnaire/tx-new|1","status":"completed",` +
			`"item":[{"linkId":"age","answer":[{` + answer + `}]}]}`
	}
	post := func(typ, res string) string {
		return `{"resource":` + res + `,"request":{"method":"POST","url":"` + typ + `"}}`
	}
	bundle := func(es ...string) []byte {
		return []byte(`{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(es, ",") + `]}`)
	}
	count := func(typ string) int {
		r := s.do(http.MethodGet, "/fhir/"+typ+"?_summary=count", nil)
		n, _ := strconv.Atoi(fmt.Sprint(r.json(t)["total"]))
		return n
	}
	// An active Questionnaire not answered yet: a transaction that changes its items and
	// stores its first response breaks the rule that an answered one keeps them.
	const kept = `{"resourceType":"Questionnaire","id":"tx-kept","url":"https://example.org/Questionnaire/tx-kept","version":"1","status":"active",` +
		`"item":[{"linkId":"age","text":"Age","type":"integer"}]}`
	s.mustPut([]byte(kept))
	put := func(res, url string) string {
		return `{"resource":` + res + `,"request":{"method":"PUT","url":"` + url + `"}}`
	}
	keptResponse := strings.ReplaceAll(response(`"valueInteger":40`), "tx-new", "tx-kept")
	// A draft whose only item becomes required in the transaction that stores a response
	// leaving it unanswered: the response is served first (POST before PUT).
	const draft = `{"resourceType":"Questionnaire","id":"tx-draft","url":"https://example.org/Questionnaire/tx-draft","version":"1","status":"draft",` +
		`"item":[{"linkId":"age","text":"Age","type":"integer"}]}`
	s.mustPut([]byte(draft))
	unanswered := `{"resourceType":"QuestionnaireResponse","questionnaire":"https://example.org/Questionnaire/tx-draft|1","status":"completed"}`
	cases := []struct {
		name   string
		bundle []byte
		status int
		want   []string // in the body
		absent string   // not in the body
		stored int      // Questionnaires stored after it
	}{
		{"a response that breaks the new Questionnaire's rules", bundle(post("QuestionnaireResponse", response(`"valueString":"forty"`)), post("Questionnaire", q)),
			http.StatusUnprocessableEntity, []string{"entry 0 (POST QuestionnaireResponse)", "nothing was written"}, "not stored on this server", 0},
		{"two Questionnaires with one url and version", bundle(post("Questionnaire", q), post("Questionnaire", q)),
			http.StatusConflict, []string{"in this transaction too", "https://example.org/Questionnaire/tx-new and version 1"}, "", 0},
		{"the items of an active Questionnaire changed beside its first response", bundle(post("QuestionnaireResponse", keptResponse),
			put(strings.Replace(kept, `"text":"Age"`, `"text":"Age in years"`, 1), "Questionnaire/tx-kept")),
			http.StatusConflict, []string{"its items cannot change"}, "", 0},
		{"a response that the Questionnaire's update in the same transaction makes wrong", bundle(post("QuestionnaireResponse", unanswered),
			put(strings.Replace(draft, `"type":"integer"`, `"type":"integer","required":true`, 1), "Questionnaire/tx-draft")),
			http.StatusUnprocessableEntity, []string{"as this transaction leaves it", "is required"}, "", 0},
		{"a response that keeps them, before its Questionnaire", bundle(post("QuestionnaireResponse", response(`"valueInteger":40`)), post("Questionnaire", q)),
			http.StatusOK, []string{`"201 Created"`}, "not stored on this server", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(http.MethodPost, "/fhir", tc.bundle)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(r.body), w) {
					t.Errorf("the answer does not say %q: %s", w, r.body)
				}
			}
			if tc.absent != "" && strings.Contains(string(r.body), tc.absent) {
				t.Errorf("the answer says %q: %s", tc.absent, r.body)
			}
			if n := count("Questionnaire") - 2; n != tc.stored { // tx-kept and tx-draft
				t.Errorf("%d Questionnaires stored, want %d", n, tc.stored)
			}
			if n := count("QuestionnaireResponse"); n != tc.stored {
				t.Errorf("%d responses stored, want %d", n, tc.stored)
			}
		})
	}
}

// TestTransactionScoresResponsesByTheQuestionnaireItLeaves: a response stored beside an
// update of its Questionnaire is stored with the values derived from the updated version
// (here an answer's ordinal value), as search finds them.
func TestTransactionScoresResponsesByTheQuestionnaireItLeaves(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, questionnaire.ModeStrict)
	q := func(ordinal int) string {
		return `{"resourceType":"Questionnaire","id":"tx-scored","url":"https://example.org/Questionnaire/tx-scored","version":"1","status":"draft",` +
			`"item":[{"linkId":"feel","text":"How do you feel?","type":"choice","answerOption":[{"valueCoding":{"system":"urn:test:feel","code":"ok",` +
			`"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/ordinalValue","valueDecimal":` + strconv.Itoa(ordinal) + `}]}}]}]}`
	}
	s.mustPut([]byte(q(1)))
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[` +
		`{"resource":{"resourceType":"QuestionnaireResponse","questionnaire":"https://example.org/Questionnaire/tx-scored|1","status":"completed",` +
		`"item":[{"linkId":"feel","answer":[{"valueCoding":{"system":"urn:test:feel","code":"ok"}}]}]},"request":{"method":"POST","url":"QuestionnaireResponse"}},` +
		`{"resource":` + q(5) + `,"request":{"method":"PUT","url":"Questionnaire/tx-scored"}}]}`
	if r := s.do(http.MethodPost, "/fhir", []byte(tx)); r.status != http.StatusOK {
		t.Fatalf("transaction: %d %s", r.status, r.body)
	}
	cases := []struct {
		name, query string
		want        string
	}{
		{"the updated Questionnaire's value", "item-answer-number=feel$5", "1"},
		{"not the one before", "item-answer-number=feel$1", "0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(http.MethodGet, "/fhir/QuestionnaireResponse?_summary=count&"+tc.query, nil)
			if r.status != http.StatusOK || fmt.Sprint(r.json(t)["total"]) != tc.want {
				t.Errorf("%s: %d %s, want total %s", tc.query, r.status, r.body, tc.want)
			}
		})
	}
}
