package search

import (
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

func ptr(f float64) *float64 { return &f }

// TestExtractAnswers: every item at any depth, in groups and under answers, is paired with
// its answers of each parameter's kind.
func TestExtractAnswers(t *testing.T) {
	t.Parallel()
	tree := decodeBytes(t, []byte(`{"resourceType":"QuestionnaireResponse","status":"completed","item":[
	  {"linkId":"g","item":[
	    {"linkId":"likert","answer":[{"valueCoding":{"system":"urn:l","code":"4"}}]},
	    {"linkId":"free","answer":[{"valueCoding":{"code":"x"}}]},
	    {"linkId":"yes","answer":[{"valueBoolean":true}]},
	    {"linkId":"n","answer":[{"valueInteger":7},{"valueDecimal":2.50}]}]},
	  {"linkId":"w","answer":[{"valueQuantity":{"value":70,"system":"http://unitsofmeasure.org","code":"kg"},
	    "item":[{"linkId":"when","answer":[{"valueDate":"2024-05"}]}]}]},
	  {"linkId":"t","answer":[{"valueDateTime":"2024-05-03T10:00:00Z"},{"valueDate":"not a date"}]},
	  {"linkId":"s","answer":[{"valueString":"words"}]}]}`))
	ix, err := Extract("QuestionnaireResponse", tree, ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	AddDerived(ix, []fhir.Derived{{Param: ParamItemAnswerNumber, Key: "likert", Number: 4}, {Param: "other", Key: "x", Number: 1}})
	may := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	at := time.Date(2024, 5, 3, 10, 0, 0, 0, time.UTC)
	want := Index{
		ParamItemAnswer: {K: []string{"likert$urn:l|4", "likert$4", "free$|x", "free$x", "yes$true"}},
		ParamItemAnswerNumber: {K: []string{"n", "w", "likert"}, V: []Element{
			{QLo: ptr(6.5), QHi: ptr(7.5), XLo: ptr(7), XHi: ptr(7), K: []string{"n"}},
			{QLo: ptr(2.495), QHi: ptr(2.505), XLo: ptr(2.5), XHi: ptr(2.5), K: []string{"n"}},
			{QLo: ptr(69.5), QHi: ptr(70.5), XLo: ptr(70), XHi: ptr(70), QU: []string{"http://unitsofmeasure.org|kg"}, QC: []string{"kg"}, K: []string{"w"}},
			{QLo: ptr(3.5), QHi: ptr(4.5), XLo: ptr(4), XHi: ptr(4), K: []string{"likert"}},
		}},
		ParamItemAnswerDate: {K: []string{"when", "t"}, V: []Element{
			{Lo: may, Hi: may.AddDate(0, 1, 0), K: []string{"when"}},
			{Lo: at, Hi: at.Add(time.Second), K: []string{"t"}},
		}},
	}
	got := Index{}
	for _, name := range []string{ParamItemAnswer, ParamItemAnswerNumber, ParamItemAnswerDate} {
		got[name] = ix[name]
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("answer values (-want +got):\n%s", d)
	}
}

// TestParseAnswerValues: a value after a comma that gives only the answer shares the linkId
// of the one before it; the components are typed.
func TestParseAnswerValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		query string
		want  []Value
	}{
		{"item-answer=overall.1$1,2", []Value{
			Composite{[]Value{Token{Code: "overall.1"}, Token{Code: "1"}}},
			Composite{[]Value{Token{Code: "overall.1"}, Token{Code: "2"}}},
		}},
		{"item-answer=a$urn:l|1,b$true,2", []Value{
			Composite{[]Value{Token{Code: "a"}, Token{System: "urn:l", Code: "1", HasSystem: true}}},
			Composite{[]Value{Token{Code: "b"}, Token{Code: "true"}}},
			Composite{[]Value{Token{Code: "b"}, Token{Code: "2"}}},
		}},
		{"item-answer-number=phq9-total$ge15", []Value{
			Composite{[]Value{Token{Code: "phq9-total"}, Number{Prefix: PrefixGe, Number: Decimal{Text: "15", Value: 15, Low: 14.5, High: 15.5}}}},
		}},
	}
	for _, tc := range tests {
		q, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := Parse("QuestionnaireResponse", q, Options{Strict: true})
		if err != nil {
			t.Errorf("%s: %v", tc.query, err)
			continue
		}
		if d := cmp.Diff(tc.want, c.Params[0].Values); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.query, d)
		}
	}
	c, _, err := Parse("QuestionnaireResponse", url.Values{"item-answer-date": {"when$ge2024-05"}}, Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := c.Params[0].Values[0].(Composite).Components[1].(Date); !ok || d.Prefix != PrefixGe || d.Precision != PrecisionMonth {
		t.Errorf("item-answer-date=when$ge2024-05: %+v", c.Params[0].Values[0])
	}
	if _, _, err := Parse("QuestionnaireResponse", url.Values{"item-answer": {"2"}}, Options{Strict: true}); err == nil {
		t.Error("item-answer=2 (no linkId at all) was accepted")
	}
}
