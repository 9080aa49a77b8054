package questionnaire_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/questionnaire"
)

// The response test-all-rules-response.json answers test-all-rules.json correctly. Its
// items, by index: item[0] is the group g1, whose items are bool 0, dec 1, int 2, date 3,
// dt 4, time 5, str 6, text 7, url 8, choice 9, multi 10, open 11, sopt 12, iopt 13, vs 14,
// vsext 15, qty 16, ref 17, att 18; item[1] and item[2] are the repeating group g2;
// item[3] is the group ew, whose items are ew.bool 0, ew.exists 1, ew.notexists 2, ew.dec 3,
// ew.int 4, ew.date 5, ew.dt 6, ew.time 7, ew.str 8, ew.coding 9, ew.codingne 10, ew.qty 11,
// ew.ref 12, ew.any 13, ew.all 14, ew.expr 15, ew.req 16, ew.sopt 17, ew.iopt 18; item[4] is
// calc and item[5] score.
const (
	allRules         = "testdata/test-all-rules.json"
	allRulesResponse = "testdata/test-all-rules-response.json"
	g1               = "item[0]."
	ew               = "item[3]."
	likert           = "https://fhir.patient-involvement.example/CodeSystem/likert-5"
	letters          = "https://fhir.patient-involvement.example/CodeSystem/test-letters"
)

func g1Answer(i int) string { return g1 + "item[" + strconv.Itoa(i) + "].answer[0]" }
func ewAnswer(i int) string { return ew + "item[" + strconv.Itoa(i) + "].answer[0]" }

// expr is the FHIRPath of a path of the response.
func expr(path string) string { return "QuestionnaireResponse." + path }

// defect is one way to break the response, with the issue it must produce.
type defect struct {
	name  string
	edits []edit
	// expression, code and message are those of the issue that must be among the refusal's.
	expression string
	code       fhir.IssueType
	message    string
}

func defects() []defect {
	ans := func(v string) string { return `[` + v + `]` }
	return []defect{
		// linkIds and nesting
		{"unknown linkId at the top", []edit{add("item", `{"linkId":"nope","answer":[{"valueString":"x"}]}`)}, "QuestionnaireResponse.item[6]", fhir.IssueStructure, `Item "nope" is not in Questionnaire`},
		{"unknown linkId in a group", []edit{add(g1+"item", `{"linkId":"g1.nope","answer":[{"valueString":"x"}]}`)}, "QuestionnaireResponse.item[0].item[19]", fhir.IssueStructure, `Item "g1.nope" is not in Questionnaire`},
		{"item under the wrong parent", []edit{add("item", `{"linkId":"int","answer":[{"valueInteger":3}]}`)}, "QuestionnaireResponse.item[6]", fhir.IssueStructure, `is under item "g1", not at the top level`},
		// answer types, one per item type
		{"boolean answered with a string", []edit{set(g1+"item[0].answer", ans(`{"valueString":"yes"}`))}, expr(g1Answer(0)), fhir.IssueStructure, "its answers are valueBoolean, not valueString"},
		{"decimal answered with an integer", []edit{set(g1+"item[1].answer", ans(`{"valueInteger":7}`))}, expr(g1Answer(1)), fhir.IssueStructure, "its answers are valueDecimal, not valueInteger"},
		{"integer answered with a decimal", []edit{set(g1+"item[2].answer", ans(`{"valueDecimal":3.5}`))}, expr(g1Answer(2)), fhir.IssueStructure, "its answers are valueInteger, not valueDecimal"},
		{"date answered with a dateTime", []edit{set(g1+"item[3].answer", ans(`{"valueDateTime":"2024-05-03T10:00:00Z"}`))}, expr(g1Answer(3)), fhir.IssueStructure, "its answers are valueDate, not valueDateTime"},
		{"dateTime answered with a date", []edit{set(g1+"item[4].answer", ans(`{"valueDate":"2024-05-03"}`))}, expr(g1Answer(4)), fhir.IssueStructure, "its answers are valueDateTime, not valueDate"},
		{"time answered with a string", []edit{set(g1+"item[5].answer", ans(`{"valueString":"09:30"}`))}, expr(g1Answer(5)), fhir.IssueStructure, "its answers are valueTime, not valueString"},
		{"string answered with an integer", []edit{set(g1+"item[6].answer", ans(`{"valueInteger":1}`))}, expr(g1Answer(6)), fhir.IssueStructure, "its answers are valueString, not valueInteger"},
		{"text answered with a boolean", []edit{set(g1+"item[7].answer", ans(`{"valueBoolean":true}`))}, expr(g1Answer(7)), fhir.IssueStructure, "its answers are valueString, not valueBoolean"},
		{"url answered with a string", []edit{set(g1+"item[8].answer", ans(`{"valueString":"https://example.org"}`))}, expr(g1Answer(8)), fhir.IssueStructure, "its answers are valueUri, not valueString"},
		{"choice answered with free text", []edit{set(g1+"item[9].answer", ans(`{"valueString":"Very"}`))}, expr(g1Answer(9)), fhir.IssueStructure, "its answers are valueCoding, not valueString"},
		{"quantity answered with a decimal", []edit{set(g1+"item[16].answer", ans(`{"valueDecimal":70}`))}, expr(g1Answer(16)), fhir.IssueStructure, "its answers are valueQuantity, not valueDecimal"},
		{"reference answered with a string", []edit{set(g1+"item[17].answer", ans(`{"valueString":"Patient/p1"}`))}, expr(g1Answer(17)), fhir.IssueStructure, "its answers are valueReference, not valueString"},
		{"attachment answered with a string", []edit{set(g1+"item[18].answer", ans(`{"valueString":"aGVsbG8="}`))}, expr(g1Answer(18)), fhir.IssueStructure, "its answers are valueAttachment, not valueString"},
		{"a group with an answer", []edit{set("item[0].answer", ans(`{"valueString":"x"}`))}, "QuestionnaireResponse.item[0].answer[0]", fhir.IssueStructure, "is a group item: it takes no answers"},
		{"a display item with an answer", []edit{add(g1+"item", `{"linkId":"disp","answer":[{"valueString":"x"}]}`)}, "QuestionnaireResponse.item[0].item[19].answer[0]", fhir.IssueStructure, "is a display item: it takes no answers"},
		{"an answer without a value", []edit{set(g1+"item[7].answer", ans(`{"extension":[{"url":"https://example.org/note","valueString":"skipped"}]}`))}, expr(g1Answer(7)), fhir.IssueRequired, "the answer has no value"},
		// An unreadable date (2024-13-45) no longer reaches these rules: the structure check
		// refuses it first, with 400, as not a FHIR date (api/strict_test.go).
		// options and value sets
		{"a coding that is not an option", []edit{set(g1Answer(9)+".valueCoding.code", `"7"`)}, expr(g1Answer(9)), fhir.IssueCodeInvalid, "is not one of its options"},
		{"a coding of another system", []edit{set(g1Answer(9)+".valueCoding.system", `"http://example.org/other"`)}, expr(g1Answer(9)), fhir.IssueCodeInvalid, "is not one of its options"},
		{"a coding without its system", []edit{del(g1Answer(9) + ".valueCoding.system")}, expr(g1Answer(9)) + ".valueCoding", fhir.IssueCodeInvalid, "has no system"},
		{"a string that is not an option", []edit{set(g1Answer(12)+".valueString", `"blue"`)}, expr(g1Answer(12)), fhir.IssueValue, `the answer "blue" is not one of its options`},
		{"an integer that is not an option", []edit{set(g1Answer(13)+".valueInteger", `4`)}, expr(g1Answer(13)), fhir.IssueValue, "the answer 4 is not one of its options"},
		{"an open-choice coding that is not an option", []edit{set(g1+"item[11].answer", ans(`{"valueCoding":{"system":"`+letters+`","code":"z"}}`))}, expr(g1Answer(11)), fhir.IssueCodeInvalid, "is not one of its options"},
		{"a code outside the contained value set", []edit{set(g1Answer(14)+".valueCoding.code", `"r"`)}, expr(g1Answer(14)), fhir.IssueCodeInvalid, "is not in its value set #letters"},
		// required, repeats, minOccurs, maxOccurs, unique
		{"a required item missing", []edit{del(g1 + "item[0]")}, "QuestionnaireResponse.item[0]", fhir.IssueRequired, `Item "bool" ("A yes/no question") is required`},
		{"a required group missing", []edit{del("item[0]")}, "QuestionnaireResponse", fhir.IssueRequired, `Item "g1" ("Answers of every type") is required`},
		{"a question that does not repeat with two answers", []edit{add(g1+"item[9].answer", `{"valueCoding":{"system":"`+likert+`","code":"3"}}`)}, "QuestionnaireResponse.item[0].item[9].answer[1]", fhir.IssueStructure, "does not repeat: it takes one answer, not 2"},
		{"a question given twice", []edit{add(g1+"item", `{"linkId":"int","answer":[{"valueInteger":4}]}`)}, "QuestionnaireResponse.item[0].item[19]", fhir.IssueStructure, "a question appears once"},
		{"a group that does not repeat given twice", []edit{add("item", `{"linkId":"ew"}`)}, "QuestionnaireResponse.item[6]", fhir.IssueStructure, "does not repeat, but appears 2 times"},
		{"fewer answers than minOccurs", []edit{del(g1 + "item[10].answer[1]")}, "QuestionnaireResponse.item[0]", fhir.IssueRequired, "needs at least 2 answers (minOccurs), the response has 1"},
		{"more answers than maxOccurs", []edit{add(g1+"item[10].answer", `{"valueCoding":{"system":"`+letters+`","code":"c"}}`), add(g1+"item[10].answer", `{"valueCoding":{"system":"`+letters+`","code":"d"}}`)}, "QuestionnaireResponse.item[0]", fhir.IssueStructure, "allows at most 3 answers (maxOccurs), the response has 4"},
		{"a group more often than maxOccurs", []edit{add("item", `{"linkId":"g2","item":[{"linkId":"g2.a","answer":[{"valueString":"Cy"}]}]}`)}, "QuestionnaireResponse", fhir.IssueStructure, "allows at most 2 occurrences (maxOccurs), the response has 3"},
		{"a repeated answer", []edit{set(g1+"item[10].answer[1].valueCoding.code", `"a"`)}, "QuestionnaireResponse.item[0].item[10].answer[1]", fhir.IssueBusinessRule, "is given twice"},
		{"a required item missing in one occurrence of a repeating group", []edit{del("item[2].item[0]")}, "QuestionnaireResponse.item[2]", fhir.IssueRequired, `Item "g2.a" ("A name") is required`},
		// value constraints
		{"longer than maxLength", []edit{set(g1Answer(6)+".valueString", `"Extraordinarily"`)}, expr(g1Answer(6)), fhir.IssueValue, "more than its maxLength 10"},
		{"shorter than minLength", []edit{set(g1Answer(6)+".valueString", `"H"`), del(ew + "item[8]")}, expr(g1Answer(6)), fhir.IssueValue, "less than its minLength 2"},
		{"not matching the regex", []edit{set(g1Answer(6)+".valueString", `"hello"`), del(ew + "item[8]")}, expr(g1Answer(6)), fhir.IssueValue, "does not match the pattern [A-Z][a-z]+"},
		{"a text longer than maxLength", []edit{set(g1Answer(7)+".valueString", `"`+strings.Repeat("x", 51)+`"`)}, expr(g1Answer(7)), fhir.IssueValue, "more than its maxLength 50"},
		{"a decimal below minValue", []edit{set(g1Answer(1)+".valueDecimal", `0.25`), del(ew + "item[3]")}, expr(g1Answer(1)), fhir.IssueValue, "is below its minValue 0.5"},
		{"a decimal above maxValue", []edit{set(g1Answer(1)+".valueDecimal", `11`)}, expr(g1Answer(1)), fhir.IssueValue, "is above its maxValue 10.5"},
		{"a decimal with too many places", []edit{set(g1Answer(1)+".valueDecimal", `7.125`)}, expr(g1Answer(1)), fhir.IssueValue, "has 3 decimal places, more than its maxDecimalPlaces 2"},
		{"an integer below minValue", []edit{set(g1Answer(2)+".valueInteger", `-1`)}, expr(g1Answer(2)), fhir.IssueValue, "is below its minValue 0"},
		{"an integer above maxValue", []edit{set(g1Answer(2)+".valueInteger", `11`)}, expr(g1Answer(2)), fhir.IssueValue, "is above its maxValue 10"},
		{"a date below minValue", []edit{set(g1Answer(3)+".valueDate", `"1999-12-31"`)}, expr(g1Answer(3)), fhir.IssueValue, "is below its minValue 2000-01-01"},
		{"a date above maxValue", []edit{set(g1Answer(3)+".valueDate", `"2031-01"`)}, expr(g1Answer(3)), fhir.IssueValue, "is above its maxValue 2030-12-31"},
		{"a dateTime below minValue", []edit{set(g1Answer(4)+".valueDateTime", `"1999-12-31T23:00:00+02:00"`)}, expr(g1Answer(4)) + "", fhir.IssueValue, "is below its minValue 2000-01-01T00:00:00Z"},
		{"a time above maxValue", []edit{set(g1Answer(5)+".valueTime", `"17:30:00"`)}, expr(g1Answer(5)), fhir.IssueValue, "is above its maxValue 17:00:00"},
		// enableWhen: each operator on each answer type; a disabled item has no answers
		{"enableWhen boolean =", []edit{set(g1Answer(0)+".valueBoolean", `false`), del(ew + "item[16]"), del(ew + "item[14]")}, expr(ewAnswer(0)), fhir.IssueBusinessRule, `is not enabled (it is enabled when "bool" = true, which does not hold)`},
		{"enableWhen exists true", []edit{del(g1 + "item[6]"), del(ew + "item[8]")}, expr(ewAnswer(1)), fhir.IssueBusinessRule, `"str" is answered`},
		{"enableWhen exists false", []edit{add(g1+"item", `{"linkId":"opt","answer":[{"valueString":"a remark"}]}`)}, expr(ewAnswer(2)), fhir.IssueBusinessRule, `"opt" is not answered`},
		{"enableWhen decimal >", []edit{set(g1Answer(1)+".valueDecimal", `5`)}, expr(ewAnswer(3)), fhir.IssueBusinessRule, `"dec" > 5`},
		{"enableWhen integer <", []edit{set(g1Answer(2)+".valueInteger", `5`), del(ew + "item[14]"), del(ew + "item[13]"), set("item[4].answer[0].valueInteger", `10`)}, expr(ewAnswer(4)), fhir.IssueBusinessRule, `"int" < 5`},
		{"enableWhen date >=", []edit{set(g1Answer(3)+".valueDate", `"2019-12-31"`)}, expr(ewAnswer(5)), fhir.IssueBusinessRule, `"date" >= 2020-01-01`},
		{"enableWhen dateTime <=", []edit{set(g1Answer(4)+".valueDateTime", `"2025-01-01T00:00:01Z"`)}, expr(ewAnswer(6)), fhir.IssueBusinessRule, `"dt" <= 2025-01-01T00:00:00Z`},
		{"enableWhen time !=", []edit{set(g1Answer(5)+".valueTime", `"12:00:00"`)}, expr(ewAnswer(7)), fhir.IssueBusinessRule, `"time" != 12:00:00`},
		{"enableWhen string =", []edit{set(g1Answer(6)+".valueString", `"Hallo"`)}, expr(ewAnswer(8)), fhir.IssueBusinessRule, `"str" = "Hello"`},
		{"enableWhen coding =", []edit{set(g1Answer(9)+".valueCoding.code", `"3"`), set("item[5].answer[0].valueInteger", `3`)}, expr(ewAnswer(9)), fhir.IssueBusinessRule, `"choice" = ` + likert + `|4`},
		{"enableWhen coding !=", []edit{set(g1Answer(9)+".valueCoding.code", `"1"`), del(ew + "item[9]"), set("item[5].answer[0].valueInteger", `1`)}, expr(ewAnswer(9)), fhir.IssueBusinessRule, `"choice" != ` + likert + `|1`},
		{"enableWhen quantity >", []edit{set(g1Answer(16)+".valueQuantity.value", `5`)}, expr(ewAnswer(11)), fhir.IssueBusinessRule, `"qty" > 5 kg`},
		{"enableWhen reference =", []edit{set(g1Answer(17)+".valueReference.reference", `"Patient/p2"`)}, expr(ewAnswer(12)), fhir.IssueBusinessRule, `"ref" = Patient/p1`},
		{"enableWhen string option =", []edit{set(g1Answer(12)+".valueString", `"green"`)}, expr(ewAnswer(17)), fhir.IssueBusinessRule, `"sopt" = "red"`},
		{"enableWhen integer option >=", []edit{set(g1Answer(13)+".valueInteger", `1`)}, expr(ewAnswer(18)), fhir.IssueBusinessRule, `"iopt" >= 2`},
		{"enableBehavior any", []edit{set(g1Answer(2)+".valueInteger", `4`), set("item[4].answer[0].valueInteger", `8`), del(ew + "item[14]")}, expr(ewAnswer(13)), fhir.IssueBusinessRule, `"bool" = false or "int" = 3`},
		{"enableBehavior all", []edit{set(g1Answer(2)+".valueInteger", `4`), set("item[4].answer[0].valueInteger", `8`), del(ew + "item[13]")}, expr(ewAnswer(13)), fhir.IssueBusinessRule, `it is enabled when "int" = 3, which does not hold`},
		{"enableWhenExpression", []edit{set(g1Answer(2)+".valueInteger", `2`), set("item[4].answer[0].valueInteger", `4`), del(ew + "item[14]"), del(ew + "item[13]")}, expr(ewAnswer(13)), fhir.IssueBusinessRule, "enableWhenExpression"},
		{"required while enabled", []edit{del(ew + "item[16]")}, "QuestionnaireResponse.item[3]", fhir.IssueRequired, `Item "ew.req" ("Shown when req") is required`},
		// scores
		{"a calculated item that does not add up", []edit{set("item[4].answer[0].valueInteger", `7`)}, "QuestionnaireResponse.item[4].answer[0]", fhir.IssueBusinessRule, "its calculatedExpression gives 6, the response says 7"},
		{"a total score that does not add up", []edit{set("item[5].answer[0].valueInteger", `5`)}, "QuestionnaireResponse.item[5].answer[0]", fhir.IssueBusinessRule, "the answers sum to 4, the response says 5"},
	}
}

// TestEveryRuleRefuses breaks a correct response in one way per rule, for each answer type
// and each enableWhen operator, and expects 422 with an issue naming the element.
func TestEveryRuleRefuses(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, questionnaire.ModeStrict)
	s.mustPut(readFile(t, allRules))
	base := readFile(t, allRulesResponse)
	r := s.do(http.MethodPost, "/fhir/QuestionnaireResponse", base, "Prefer", "return=OperationOutcome")
	if r.status != http.StatusCreated {
		t.Fatalf("the correct response: %d %s", r.status, r.body)
	}
	// Its one warning is the external value set's: the enableWhenExpression (with
	// %resource and %questionnaire) and the calculatedExpression evaluate.
	if is := r.outcome(t).Issue; len(is) != 2 || !strings.Contains(is[1].Diagnostics, "is not contained in the Questionnaire") {
		t.Errorf("the correct response: %s", r.body)
	}
	cases := defects()
	if len(cases) < 40 {
		t.Fatalf("only %d defects", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := decode(base)
			if err != nil {
				t.Fatal(err)
			}
			body := encode(t, apply(t, m, tc.edits...))
			r := s.do(http.MethodPost, "/fhir/QuestionnaireResponse", body)
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422: %s", r.status, r.body)
			}
			o := r.outcome(t)
			for _, is := range o.Issue {
				if len(is.Expression) == 1 && is.Expression[0] == tc.expression && is.Code == tc.code && strings.Contains(is.Diagnostics, tc.message) {
					if is.Severity != fhir.SeverityError {
						t.Errorf("severity %s, want error", is.Severity)
					}
					return
				}
			}
			t.Errorf("no %s issue at %s saying %q; got:\n%s", tc.code, tc.expression, tc.message, r.body)
		})
	}
}
