package questionnaire_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/internal/questionnaire"
)

// corpusDir is the shared corpus of real FHIR R4 resources beside the repository.
const corpusDir = "../../../shared/fhir-corpus"

func corpusFiles(t *testing.T, typ string) []string {
	t.Helper()
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("shared corpus %s is not present: %v", corpusDir, err)
	}
	files, err := filepath.Glob(filepath.Join(corpusDir, typ, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no %s in the corpus: %v", typ, err)
	}
	sort.Strings(files)
	return files
}

// corpusQuestionnaireRefusals are the corpus Questionnaires the integrity rules refuse, with
// the inconsistency of the file that each refusal names.
var corpusQuestionnaireRefusals = map[string]string{
	// Two items share linkId 1.6 (Birth Date and Gender): que-2.
	"sdc280__Questionnaire-questionnaire-sdc-profile-example-render.json": `Item linkId "1.6" is used twice`,
	// enableWhen compares choice questions (Coding options) with answerString,
	// answerDecimal and answerInteger values.
	"sdc__questionnaire-sdc-test-enablewhen.json": `compares question "s1-radio" (type choice) with an answerString`,
}

// corpusStructureRefusals are the corpus Questionnaires the structure check refuses (400)
// before the integrity rules see them, with what it says: a contained resource without an id
// that nothing refers to breaks R4's dom-3 (see api/corpus_test.go).
var corpusStructureRefusals = map[string]string{
	"lforms__expression-on-data-from-prepopulation.json": "Questionnaire.contained[0] has no id",
}

// corpusPairs are the corpus responses whose Questionnaire is in the corpus too, with what
// checking them gives: nothing when they pass, else the inconsistencies of the file that the
// refusal names.
var corpusPairs = map[string][]string{
	"uscore__QuestionnaireResponse-AUDIT-C.json":                   nil,
	"uscore__QuestionnaireResponse-PRAPARE-example.json":           nil,
	"uscore__QuestionnaireResponse-TAPS.json":                      nil,
	"uscore__QuestionnaireResponse-phq-9-example.json":             nil,
	"uscore__QuestionnaireResponse-hunger-vital-sign-example.json": nil,
	"uscore__QuestionnaireResponse-exercise-vital-sign.json":       nil,
	// The answers' codings leave out the system of the contained value set VSPHQ9, and its
	// total (13) is not the sum of the ordinal values of the answers chosen (10).
	"sdc280__QuestionnaireResponse-questionnaireresponse-sdc-profile-example-PHQ9.json": {"the answer's coding has no system", "its calculatedExpression gives 10, the response says 13"},
	// Written for another version of the 715 health check than the one in the corpus
	// (0.4.0-assembled): linkIds it does not have, items nested elsewhere, dateTime
	// answers to date items, a clinical status outside its contained value set.
	"smartforms__questionnaire-response-sample.json": {`Item "736f2a51-e04d-4e7f-aef1-c47f3a1f4e3c" is not in Questionnaire`,
		`is under item "medicalhistorysummary", not under item "28d5dbe4-1e65-487c-847a-847f544a6a91"`,
		`is of type date: its answers are valueDate, not valueDateTime`, `is not in its value set #ConditionClinicalStatusMinimal`},
	// Carries its Questionnaire (#contained-adaptive-questionnaire-example-phq9); its
	// answers' codings leave out the system of the value set VSPHQ9, as in the SDC PHQ-9.
	"sdc__adaptive-questionnaireresponse-sdc-profile-example-PHQ9.json": {"the answer's coding has no system"},
}

// TestCorpusPairs stores the corpus Questionnaires, then posts every corpus response whose
// Questionnaire is among them (or contained in it): each passes, or its refusal names a real
// inconsistency of the file.
func TestCorpusPairs(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, questionnaire.ModeStrict)
	for _, f := range corpusFiles(t, "Questionnaire") {
		name := filepath.Base(f)
		r := s.do(http.MethodPost, "/fhir/Questionnaire", readFile(t, f))
		if want, ok := corpusStructureRefusals[name]; ok {
			if r.status != http.StatusBadRequest || !r.says(want) {
				t.Errorf("Questionnaire %s: %d, want 400 saying %q: %.600s", name, r.status, want, r.body)
			}
			continue
		}
		want, refused := corpusQuestionnaireRefusals[name]
		switch {
		case refused && (r.status != http.StatusUnprocessableEntity || !r.says(want)):
			t.Errorf("Questionnaire %s: %d, want 422 saying %q: %.600s", name, r.status, want, r.body)
		case !refused && r.status != http.StatusCreated:
			t.Errorf("Questionnaire %s: %d %.600s", name, r.status, r.body)
		}
	}
	checked := map[string]bool{}
	for _, f := range corpusFiles(t, "QuestionnaireResponse") {
		name := filepath.Base(f)
		r := s.do(http.MethodPost, "/fhir/QuestionnaireResponse", readFile(t, f), "Prefer", "return=OperationOutcome")
		unresolved := r.status == http.StatusCreated && r.says("the response is stored without being checked")
		want, pair := corpusPairs[name]
		switch {
		case !pair && !unresolved && r.status == http.StatusCreated:
			m, _ := decode(readFile(t, f))
			if m["questionnaire"] != nil {
				t.Errorf("%s was checked against a Questionnaire (%v) but is not listed as a pair: %.600s", name, m["questionnaire"], r.body)
			}
		case !pair && !unresolved:
			t.Errorf("%s: %d, not a pair: %.600s", name, r.status, r.body)
		case pair && unresolved:
			t.Errorf("%s: its Questionnaire was not found: %s", name, r.body)
		case pair && len(want) == 0 && r.status != http.StatusCreated:
			t.Errorf("%s: %d, want 201: %s", name, r.status, r.body)
		case pair && len(want) > 0 && r.status != http.StatusUnprocessableEntity:
			t.Errorf("%s: %d, want 422: %.2000s", name, r.status, r.body)
		}
		for _, w := range want {
			if !r.says(w) {
				t.Errorf("%s: the refusal does not say %q", name, w)
			}
		}
		if pair {
			checked[name] = true
			t.Logf("%s: %d %s", name, r.status, summary(r))
		}
	}
	if len(checked) != len(corpusPairs) || len(checked) != 9 {
		t.Errorf("%d pairs checked, want the 9 listed", len(checked))
	}
}

// summary lists the errors of an outcome, one per line, for the log.
func summary(r *response) string {
	var o outcome
	_ = json.Unmarshal(r.body, &o)
	var lines []string
	for _, is := range o.Issue {
		if is.Severity == "error" {
			lines = append(lines, "\n  "+strings.Join(is.Expression, ",")+": "+is.Diagnostics)
		}
	}
	return strings.Join(lines, "")
}
