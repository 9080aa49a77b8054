package questionnaire_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/questionnaire"
)

// TestQuestionnaireIntegrity breaks a correct Questionnaire in one way per rule and expects
// 422 with an issue at the element.
func TestQuestionnaireIntegrity(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, questionnaire.ModeStrict)
	base := readFile(t, allRules)
	// Items by index: item[0] g1 (bool 0, dec 1, int 2, …, choice 9, …, vs 14, …), item[2]
	// ew (ew.bool 0, …, ew.expr 15), item[3] calc, item[4] score.
	tests := []struct {
		name       string
		edits      []edit
		expression string
		message    string
	}{
		{"a linkId used twice", []edit{set("item[0].item[1].linkId", `"bool"`)}, "Questionnaire.item[0].item[1].linkId", `Item linkId "bool" is used twice (also at Questionnaire.item[0].item[0])`},
		{"an enableWhen question that does not exist", []edit{set("item[2].item[0].enableWhen[0].question", `"nobody"`)}, "Questionnaire.item[2].item[0].enableWhen[0].question", `enabled by question "nobody", which the Questionnaire does not have`},
		{"an enableWhen on its own answer", []edit{set("item[2].item[0].enableWhen[0].question", `"ew.bool"`)}, "Questionnaire.item[2].item[0].enableWhen[0].question", "is enabled by its own answer"},
		{"an enableWhen on a group", []edit{set("item[2].item[0].enableWhen[0].question", `"g2"`)}, "Questionnaire.item[2].item[0].enableWhen[0].question", "a group item, which has no answers"},
		{"an enableWhen answer of another type", []edit{set("item[2].item[0].enableWhen[0]", `{"question":"bool","operator":"=","answerString":"yes"}`)}, "Questionnaire.item[2].item[0].enableWhen[0]", `compares question "bool" (type boolean) with an answerString`},
		{"exists with a non-boolean answer", []edit{set("item[2].item[1].enableWhen[0]", `{"question":"str","operator":"exists","answerString":"yes"}`)}, "Questionnaire.item[2].item[1].enableWhen[0]", "whose answer must be answerBoolean (que-7)"},
		{"an order on codings", []edit{set("item[2].item[9].enableWhen[0].operator", `">"`)}, "Questionnaire.item[2].item[9].enableWhen[0].operator", "which has no order"},
		{"an option of another type", []edit{set("item[0].item[2].answerOption", `[{"valueCoding":{"code":"1"}}]`)}, "Questionnaire.item[0].item[2].answerOption[0]", "options must be answers of the item's type"},
		{"options on a boolean", []edit{set("item[0].item[0].answerOption", `[{"valueString":"yes"}]`)}, "Questionnaire.item[0].item[0].answerOption[0]", "which cannot have answerOptions (que-5)"},
		{"both answerOption and answerValueSet", []edit{set("item[0].item[9].answerValueSet", `"#letters"`)}, "Questionnaire.item[0].item[9]", "has both answerOption and answerValueSet"},
		// A contained value set that is not there: pointing the one item that refers to the
		// contained value set elsewhere leaves that value set referred to by nothing, which the
		// structure check refuses first, with 400 (R4 dom-3).
		{"a bound of another type", []edit{set("item[0].item[2].extension[0].valueString", `"1"`), del("item[0].item[2].extension[0].valueInteger")}, "Questionnaire.item[0].item[2].extension", "but its minValue is a valueString"},
		{"minOccurs above maxOccurs", []edit{set("item[0].item[10].extension[0].valueInteger", `5`)}, "Questionnaire.item[0].item[10].extension", "has minOccurs 5 above its maxOccurs 3"},
		{"a display item with items", []edit{set("item[0].item[19].item", `[{"linkId":"under-display","type":"string"}]`)}, "Questionnaire.item[0].item[19].item", "cannot have nested items (que-1)"},
		{"a calculatedExpression that does not parse", []edit{set("item[3].extension[0].valueExpression.expression", `"%resource.item.where(linkId='g1'"`)}, "Questionnaire.item[3].extension", "does not parse as FHIRPath"},
		{"an enableWhenExpression that does not parse", []edit{set("item[2].item[15].extension[0].valueExpression.expression", `"answer.value >"`)}, "Questionnaire.item[2].item[15].extension", "does not parse as FHIRPath"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := decode(base)
			if err != nil {
				t.Fatal(err)
			}
			apply(t, m, tc.edits...)
			r := s.do(http.MethodPut, "/fhir/Questionnaire/test-all-rules", encode(t, m))
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422: %s", r.status, r.body)
			}
			for _, is := range r.outcome(t).Issue {
				if len(is.Expression) == 1 && is.Expression[0] == tc.expression && is.Code == fhir.IssueInvariant && strings.Contains(is.Diagnostics, tc.message) {
					return
				}
			}
			t.Errorf("no invariant issue at %s saying %q: %s", tc.expression, tc.message, r.body)
		})
	}
	if r := s.do(http.MethodGet, "/fhir/Questionnaire/test-all-rules", nil); r.status != http.StatusNotFound {
		t.Errorf("a refused Questionnaire was stored: %d", r.status)
	}
}

// TestQuestionnaireVersions: one url and version per Questionnaire (409), and an active
// version with responses keeps its items (409, bump version).
func TestQuestionnaireVersions(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, questionnaire.ModeStrict)
	base := readFile(t, allRules)
	q := func(edits ...edit) []byte {
		m, err := decode(base)
		if err != nil {
			t.Fatal(err)
		}
		return encode(t, apply(t, m, edits...))
	}
	steps := []struct {
		name, method, path string
		body               []byte
		status             int
		message            string
	}{
		{"the draft", "PUT", "/fhir/Questionnaire/test-all-rules", q(), 201, ""},
		{"another Questionnaire with its url and version", "POST", "/fhir/Questionnaire", q(del("id")), 409, "Questionnaire/test-all-rules already has url https://fhir.patient-involvement.example/Questionnaire/test-all-rules and version 1.0"},
		{"another with a version of its own", "PUT", "/fhir/Questionnaire/test-all-rules-11", q(set("id", `"test-all-rules-11"`), set("version", `"1.1"`)), 201, ""},
		{"that one taking 1.0 too", "PUT", "/fhir/Questionnaire/test-all-rules-11", q(set("id", `"test-all-rules-11"`)), 409, "already has url"},
		{"the draft changes its items", "PUT", "/fhir/Questionnaire/test-all-rules", q(del("item[4]")), 200, ""},
		{"the draft back and active", "PUT", "/fhir/Questionnaire/test-all-rules", q(set("status", `"active"`)), 200, ""},
		{"a response to it", "POST", "/fhir/QuestionnaireResponse", readFile(t, allRulesResponse), 201, ""},
		{"its items change", "PUT", "/fhir/Questionnaire/test-all-rules", q(set("status", `"active"`), set("item[0].item[0].text", `"Yes or no?"`)), 409, "is active and has responses (such as QuestionnaireResponse/"},
		{"the refusal says bump version", "PUT", "/fhir/Questionnaire/test-all-rules", q(set("status", `"active"`), del("item[4]")), 409, "so bump version: write the changed items as a new version (a new Questionnaire with the same url and, say, version 1.1)"},
		{"its description changes", "PUT", "/fhir/Questionnaire/test-all-rules", q(set("status", `"active"`), set("description", `"Reworded description"`)), 200, ""},
		{"it is retired", "PUT", "/fhir/Questionnaire/test-all-rules", q(set("status", `"retired"`)), 200, ""},
		{"a retired version's items may change", "PUT", "/fhir/Questionnaire/test-all-rules", q(set("status", `"retired"`), set("item[0].item[0].text", `"Yes or no?"`)), 200, ""},
	}
	for _, st := range steps {
		r := s.do(st.method, st.path, st.body)
		if r.status != st.status || !r.says(st.message) {
			t.Fatalf("%s: %d, want %d saying %q: %s", st.name, r.status, st.status, st.message, r.body)
		}
	}
}

// TestValidateOperation: $validate reports the Questionnaire rules as a write would, in a 200,
// and stores nothing.
func TestValidateOperation(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, questionnaire.ModeStrict)
	s.mustPut(readFile(t, allRules))
	wrong, err := decode(readFile(t, allRulesResponse))
	if err != nil {
		t.Fatal(err)
	}
	apply(t, wrong, set("item[5].answer[0].valueInteger", `5`), del("item[0].item[0]"))
	broken, err := decode(readFile(t, allRules))
	if err != nil {
		t.Fatal(err)
	}
	apply(t, broken, set("item[0].item[1].linkId", `"bool"`))
	tests := []struct {
		name, path string
		body       []byte
		severity   fhir.IssueSeverity
		messages   []string
	}{
		{"a correct response", "/fhir/QuestionnaireResponse/$validate", readFile(t, allRulesResponse), fhir.SeverityWarning, []string{"is not contained in the Questionnaire"}},
		{"a broken response", "/fhir/QuestionnaireResponse/$validate", encode(t, wrong), fhir.SeverityError, []string{"the answers sum to 4, the response says 5", `Item "bool" ("A yes/no question") is required`}},
		{"in Parameters", "/fhir/QuestionnaireResponse/$validate", []byte(`{"resourceType":"Parameters","parameter":[{"name":"resource","resource":` + string(encode(t, wrong)) + `}]}`), fhir.SeverityError, []string{"the answers sum to 4, the response says 5"}},
		{"a broken Questionnaire", "/fhir/Questionnaire/$validate", encode(t, apply(t, broken, del("id"))), fhir.SeverityError, []string{`Item linkId "bool" is used twice`}},
		{"a Questionnaire taking a stored url and version", "/fhir/Questionnaire/$validate", readFile(t, allRules), fhir.SeverityError, []string{"Questionnaire/test-all-rules already has url"}},
		{"an update of the stored one", "/fhir/Questionnaire/test-all-rules/$validate", readFile(t, allRules), fhir.SeverityInformation, []string{"No issues found"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(http.MethodPost, tc.path, tc.body)
			if r.status != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", r.status, r.body)
			}
			for _, msg := range tc.messages {
				found := false
				for _, is := range r.outcome(t).Issue {
					found = found || is.Severity == tc.severity && strings.Contains(is.Diagnostics, msg)
				}
				if !found {
					t.Errorf("no %s saying %q: %s", tc.severity, msg, r.body)
				}
			}
		})
	}
	if r := s.do(http.MethodGet, "/fhir/QuestionnaireResponse?_total=accurate", nil); !strings.Contains(string(r.body), `"total":0`) {
		t.Errorf("$validate stored a response: %s", r.body)
	}
}
