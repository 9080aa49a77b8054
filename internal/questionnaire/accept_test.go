package questionnaire_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/questionnaire"
)

// TestStatusAndWarnings: what a response's status lets through, and the problems that are
// only warnings. Each case edits the correct response and expects a status and, when given,
// an issue of that severity saying the message.
func TestStatusAndWarnings(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, questionnaire.ModeStrict)
	s.mustPut(readFile(t, allRules))
	inProgress := set("status", `"in-progress"`)
	tests := []struct {
		name     string
		edits    []edit
		status   int
		severity fhir.IssueSeverity
		message  string
	}{
		{"the correct response", nil, 201, fhir.SeverityWarning, "is not contained in the Questionnaire: this server cannot check"},
		{"a translated item text", nil, 201, "", ""},
		{"an item text of its own is a warning", []edit{set(g1+"item[0].text", `"Yes or no?"`)}, 201, fhir.SeverityWarning, `the response's text "Yes or no?" is not the Questionnaire's text`},
		{"free text in an open-choice item", nil, 201, "", ""},
		{"a disabled required item left out", []edit{set(g1Answer(0)+".valueBoolean", `false`), del(ew + "item[16]"), del(ew + "item[14]"), del(ew + "item[0]")}, 201, "", ""},
		{"!= holds when the question is not answered", []edit{del(g1 + "item[9]"), del(ew + "item[9]"), set("item[5].answer[0].valueInteger", `0`)}, 201, "", ""},
		{"in-progress: a required item missing", []edit{inProgress, del(g1 + "item[0]")}, 201, "", ""},
		{"in-progress: a total that does not add up", []edit{inProgress, set("item[5].answer[0].valueInteger", `5`)}, 201, "", ""},
		{"in-progress: a disabled item answered", []edit{inProgress, set(g1Answer(1)+".valueDecimal", `5`)}, 201, "", ""},
		{"in-progress: longer than maxLength", []edit{inProgress, set(g1Answer(7)+".valueString", `"`+strings.Repeat("x", 51)+`"`)}, 201, "", ""},
		{"in-progress: an unknown linkId", []edit{inProgress, add("item", `{"linkId":"nope"}`)}, 422, fhir.SeverityError, `Item "nope" is not in Questionnaire`},
		{"in-progress: a wrong answer type", []edit{inProgress, set(g1+"item[2].answer", `[{"valueString":"3"}]`)}, 422, fhir.SeverityError, "its answers are valueInteger, not valueString"},
		{"in-progress: an answer not among the options", []edit{inProgress, set(g1Answer(9)+".valueCoding.code", `"9"`)}, 422, fhir.SeverityError, "is not one of its options"},
		{"in-progress: wrong nesting", []edit{inProgress, add("item", `{"linkId":"int","answer":[{"valueInteger":3}]}`)}, 422, fhir.SeverityError, `is under item "g1", not at the top level`},
		{"stopped: a required item missing", []edit{set("status", `"stopped"`), del("item[0]")}, 201, "", ""},
		{"stopped: an unknown linkId", []edit{set("status", `"stopped"`), add("item", `{"linkId":"nope"}`)}, 422, fhir.SeverityError, `Item "nope" is not in Questionnaire`},
		{"entered-in-error is never refused", []edit{set("status", `"entered-in-error"`), add("item", `{"linkId":"nope"}`), del("item[0]")}, 201, fhir.SeverityWarning, `Item "nope" is not in Questionnaire`},
		{"amended: a required item missing", []edit{set("status", `"amended"`), del(g1 + "item[0]")}, 422, fhir.SeverityError, `Item "bool" ("A yes/no question") is required`},
		{"no questionnaire named", []edit{del("questionnaire"), add("item", `{"linkId":"nope"}`)}, 201, "", ""},
		{"a Questionnaire not stored here", []edit{set("questionnaire", `"https://example.org/Questionnaire/elsewhere|1"`)}, 201, fhir.SeverityWarning, "Questionnaire https://example.org/Questionnaire/elsewhere|1 is not stored on this server: the response is stored without being checked"},
		{"a version not stored here", []edit{set("questionnaire", `"https://fhir.patient-involvement.example/Questionnaire/test-all-rules|9.9"`)}, 201, fhir.SeverityWarning, "(it has version 1.0 of that url)"},
		{"a contained Questionnaire that is not there", []edit{set("questionnaire", `"#q1"`)}, 422, fhir.SeverityError, "the response contains none with id \"q1\""},
	}
	base := readFile(t, allRulesResponse)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := decode(base)
			if err != nil {
				t.Fatal(err)
			}
			r := s.do(http.MethodPost, "/fhir/QuestionnaireResponse", encode(t, apply(t, m, tc.edits...)), "Prefer", "return=OperationOutcome")
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			o := r.outcome(t)
			if tc.message == "" {
				for _, is := range o.Issue {
					if is.Severity == fhir.SeverityError {
						t.Errorf("unexpected error: %s", is.Diagnostics)
					}
				}
				return
			}
			for _, is := range o.Issue {
				if is.Severity == tc.severity && strings.Contains(is.Diagnostics, tc.message) {
					return
				}
			}
			t.Errorf("no %s saying %q: %s", tc.severity, tc.message, r.body)
		})
	}
}

// TestContainedQuestionnaire: a response may carry its Questionnaire (questionnaire "#id").
func TestContainedQuestionnaire(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, questionnaire.ModeStrict)
	q, err := decode(readFile(t, allRules))
	if err != nil {
		t.Fatal(err)
	}
	m, err := decode(readFile(t, allRulesResponse))
	if err != nil {
		t.Fatal(err)
	}
	// A contained resource contains nothing: the value set the Questionnaire names as
	// #letters sits beside it in the response.
	vs := string(encode(t, q["contained"].([]any)[0].(map[string]any)))
	apply(t, q, set("id", `"q1"`), del("contained"))
	apply(t, m, set("questionnaire", `"#q1"`), set("contained", `[`+string(encode(t, q))+`,`+vs+`]`))
	if r := s.do(http.MethodPost, "/fhir/QuestionnaireResponse", encode(t, m)); r.status != http.StatusCreated {
		t.Fatalf("a correct response with its Questionnaire contained: %d %s", r.status, r.body)
	}
	apply(t, m, set("item[5].answer[0].valueInteger", `9`))
	r := s.do(http.MethodPost, "/fhir/QuestionnaireResponse", encode(t, m))
	if r.status != http.StatusUnprocessableEntity || !r.says("the answers sum to 4, the response says 9") {
		t.Fatalf("a wrong total against the contained Questionnaire: %d %s", r.status, r.body)
	}
}

// TestModes: warn stores what strict refuses and reports it as warnings; off checks nothing.
func TestModes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode     questionnaire.Mode
		warnings bool
	}{{questionnaire.ModeWarn, true}, {questionnaire.ModeOff, false}} {
		t.Run(string(tc.mode), func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t, tc.mode)
			s.mustPut(readFile(t, allRules))
			m, err := decode(readFile(t, allRulesResponse))
			if err != nil {
				t.Fatal(err)
			}
			apply(t, m, set("item[5].answer[0].valueInteger", `5`), del(g1+"item[0]"))
			r := s.do(http.MethodPost, "/fhir/QuestionnaireResponse", encode(t, m), "Prefer", "return=OperationOutcome")
			if r.status != http.StatusCreated {
				t.Fatalf("status %d, want 201: %s", r.status, r.body)
			}
			var found []string
			for _, is := range r.outcome(t).Issue {
				if is.Severity == fhir.SeverityError {
					t.Errorf("an error in %s mode: %s", tc.mode, is.Diagnostics)
				}
				if is.Severity == fhir.SeverityWarning {
					found = append(found, is.Diagnostics)
				}
			}
			all := strings.Join(found, "\n")
			for _, want := range []string{"the answers sum to 4, the response says 5", `Item "bool" ("A yes/no question") is required`} {
				if got := strings.Contains(all, want); got != tc.warnings {
					t.Errorf("warning %q reported: %v, want %v\n%s", want, got, tc.warnings, all)
				}
			}
			// A broken Questionnaire is stored too.
			broken := strings.Replace(string(readFile(t, allRules)), `"linkId": "dec"`, `"linkId": "bool"`, 1)
			broken = strings.Replace(broken, `"id": "test-all-rules"`, `"id": "broken"`, 1)
			broken = strings.Replace(broken, `"version": "1.0"`, `"version": "broken"`, 1)
			if r := s.do(http.MethodPut, "/fhir/Questionnaire/broken", []byte(broken)); r.status != http.StatusCreated {
				t.Errorf("a Questionnaire with a duplicate linkId in %s mode: %d %s", tc.mode, r.status, r.body)
			}
		})
	}
}
