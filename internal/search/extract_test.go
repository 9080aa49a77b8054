package search

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/patient-involvement/fhir-server/fixtures"
	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// decode reads a resource the way the server does before Extract: numbers as json.Number.
func decode(t testing.TB, raw string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return m
}

func f64(f float64) *float64 { return &f }

const (
	ucum     = "http://unitsofmeasure.org"
	usageSys = "http://terminology.hl7.org/CodeSystem/usage-context-type"
	base     = "https://fhir.example.org/fhir"
)

func TestExtractValues(t *testing.T) {
	t.Parallel()
	cph, err := time.LoadLocation("Europe/Copenhagen")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		typ      string
		resource string
		param    string
		opts     ExtractOptions
		want     *Values // nil: the parameter is absent
	}{
		// token
		{"id gives the bare id only", "QuestionnaireResponse", `{"id":"qr-1"}`, "_id", ExtractOptions{},
			&Values{C: []string{"qr-1"}, O: "qr-1"}},
		{"code", "QuestionnaireResponse", `{"status":"completed"}`, "status", ExtractOptions{},
			&Values{C: []string{"completed"}, O: "completed"}},
		{"repeated code, smallest is the sort key", "Questionnaire", `{"subjectType":["Patient","Group","Patient"]}`,
			"subject-type", ExtractOptions{},
			&Values{C: []string{"Patient", "Group"}, O: "Group"}},
		{"string as token", "Questionnaire", `{"version":"2.0"}`, "version", ExtractOptions{},
			&Values{C: []string{"2.0"}, O: "2.0"}},
		{"coding with display", "CarePlan",
			`{"meta":{"tag":[{"system":"http://s","code":"t1","display":"Ærø  Test"},{"code":"t0"}]}}`, "_tag",
			ExtractOptions{},
			&Values{K: []string{"http://s|t1", "|t0"}, C: []string{"t1", "t0"}, T: []string{"ærø test"}, O: "t0"}},
		{"coding without code gives text only", "CarePlan", `{"meta":{"security":[{"display":"Restricted"}]}}`,
			"_security", ExtractOptions{}, &Values{T: []string{"restricted"}}},
		{"codeable concept", "CarePlan",
			`{"category":[{"coding":[{"system":"http://snomed.info/sct","code":"734163000","display":"Care plan"},
			  {"system":"http://loinc.org","code":"38717-5"}],"text":"Pleje Plan"},{"text":"Andet"}]}`,
			"category", ExtractOptions{},
			&Values{K: []string{"http://snomed.info/sct|734163000", "http://loinc.org|38717-5"},
				C: []string{"734163000", "38717-5"}, T: []string{"pleje plan", "care plan", "andet"}, O: "38717-5"}},
		{"identifier with type", "QuestionnaireResponse",
			`{"identifier":{"system":"urn:oid:1.2","value":"A-1","type":{"text":"Løbenummer",
			  "coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"FILL"}]}}}`,
			"identifier", ExtractOptions{},
			&Values{K: []string{"urn:oid:1.2|A-1"}, C: []string{"A-1"}, T: []string{"løbenummer"},
				Y: []string{"http://terminology.hl7.org/CodeSystem/v2-0203|FILL|A-1"}, O: "A-1"}},
		{"identifiers without system, duplicates dropped", "CarePlan",
			`{"identifier":[{"value":"x"},{"value":"x"},{"system":"s"}]}`, "identifier", ExtractOptions{},
			&Values{K: []string{"|x"}, C: []string{"x"}, O: "x"}},
		{"item codes of the first level only", "Questionnaire",
			`{"item":[{"code":[{"system":"http://loinc.org","code":"44249-1"}],"item":[{"code":[{"code":"nested"}]}]}]}`,
			"code", ExtractOptions{},
			&Values{K: []string{"http://loinc.org|44249-1"}, C: []string{"44249-1"}, O: "44249-1"}},

		// string and uri
		{"string", "Questionnaire", `{"title":"  Spørgeskema om  Åndenød "}`, "title", ExtractOptions{},
			&Values{N: []string{"spørgeskema om andenød"}, E: []string{"  Spørgeskema om  Åndenød "}, O: "spørgeskema om andenød"}},
		{"empty string is no value", "Questionnaire", `{"publisher":""}`, "publisher", ExtractOptions{}, nil},
		{"uri", "Questionnaire", `{"url":"http://x.org/Questionnaire/phq-9"}`, "url", ExtractOptions{},
			&Values{U: []string{"http://x.org/Questionnaire/phq-9"}, O: "http://x.org/Questionnaire/phq-9"}},
		{"profiles", "CarePlan", `{"meta":{"profile":["http://p/b","http://p/a"]}}`, "_profile", ExtractOptions{},
			&Values{U: []string{"http://p/b", "http://p/a"}, O: "http://p/a"}},
		{"source", "CarePlan", `{"meta":{"source":"urn:uuid:1"}}`, "_source", ExtractOptions{},
			&Values{U: []string{"urn:uuid:1"}, O: "urn:uuid:1"}},

		// reference
		{"relative reference", "QuestionnaireResponse", `{"author":{"reference":"Practitioner/p1"}}`, "author",
			ExtractOptions{}, &Values{R: []string{"Practitioner/p1"}, O: "Practitioner/p1"}},
		{"version dropped", "QuestionnaireResponse", `{"author":{"reference":"Practitioner/p1/_history/3"}}`, "author",
			ExtractOptions{}, &Values{R: []string{"Practitioner/p1"}, O: "Practitioner/p1"}},
		{"absolute reference to this server", "CarePlan", `{"subject":{"reference":"` + base + `/Patient/9"}}`,
			"subject", ExtractOptions{BaseURL: base},
			&Values{R: []string{"Patient/9"}, A: []string{base + "/Patient/9"}, O: "Patient/9"}},
		{"base with a trailing slash", "CarePlan", `{"subject":{"reference":"` + base + `/Patient/9/_history/1"}}`,
			"subject", ExtractOptions{BaseURL: base + "/"},
			&Values{R: []string{"Patient/9"}, A: []string{base + "/Patient/9"}, O: "Patient/9"}},
		{"reference to a type that is not a target", "QuestionnaireResponse", `{"author":{"reference":"Group/g1"}}`, "author",
			ExtractOptions{}, &Values{R: []string{"Group/g1"}, I: []string{"g1"}, O: "Group/g1"}},
		{"reference of any type", "QuestionnaireResponse", `{"subject":{"reference":"Patient/p1"}}`, "subject",
			ExtractOptions{}, &Values{R: []string{"Patient/p1"}, O: "Patient/p1"}},
		{"reference of any type to no resource type", "QuestionnaireResponse", `{"subject":{"reference":"Foo/p1"}}`, "subject",
			ExtractOptions{}, &Values{R: []string{"Foo/p1"}, I: []string{"p1"}, O: "Foo/p1"}},
		{"absolute reference elsewhere", "CarePlan", `{"subject":{"reference":"https://other.org/fhir/Patient/9"}}`,
			"subject", ExtractOptions{BaseURL: base},
			&Values{R: []string{"https://other.org/fhir/Patient/9"}, O: "https://other.org/fhir/Patient/9"}},
		{"urn reference", "CarePlan", `{"goal":[{"reference":"urn:uuid:0c3151bd"}]}`, "goal", ExtractOptions{},
			&Values{R: []string{"urn:uuid:0c3151bd"}, O: "urn:uuid:0c3151bd"}},
		{"contained reference skipped", "CarePlan", `{"addresses":[{"reference":"#p1"}]}`, "condition",
			ExtractOptions{}, nil},
		{"reference by identifier", "CarePlan", `{"careTeam":[{"identifier":{"system":"urn:s","value":"t-1"},"display":"Team"}]}`,
			"care-team", ExtractOptions{}, &Values{K: []string{"urn:s|t-1"}, C: []string{"t-1"}}},
		{"several references", "CarePlan",
			`{"activity":[{"detail":{"performer":[{"reference":"Practitioner/b"},{"reference":"Practitioner/a"}]}},
			  {"detail":{"performer":[{"reference":"Practitioner/b"}]}}]}`, "performer", ExtractOptions{},
			&Values{R: []string{"Practitioner/b", "Practitioner/a"}, O: "Practitioner/a"}},
		{"patient from a Patient subject", "QuestionnaireResponse", `{"subject":{"reference":"Patient/123"}}`, "patient",
			ExtractOptions{}, &Values{R: []string{"Patient/123"}, O: "Patient/123"}},
		{"patient from an absolute Patient subject", "CarePlan",
			`{"subject":{"reference":"https://other.org/fhir/Patient/5/_history/2"}}`, "patient", ExtractOptions{},
			&Values{R: []string{"https://other.org/fhir/Patient/5"}, O: "https://other.org/fhir/Patient/5"}},
		{"no patient from a Group subject", "CarePlan", `{"subject":{"reference":"Group/1"}}`, "patient",
			ExtractOptions{}, nil},
		{"canonical with version", "QuestionnaireResponse", `{"questionnaire":"http://x.org/Q/gad-7|1.0"}`,
			"questionnaire", ExtractOptions{},
			&Values{R: []string{"http://x.org/Q/gad-7|1.0"}, O: "http://x.org/Q/gad-7"}},
		{"canonicals with and without version", "CarePlan",
			`{"instantiatesCanonical":["http://x.org/PlanDefinition/p|2","http://x.org/PlanDefinition/p","http://x.org/PlanDefinition/o|1"]}`,
			"instantiates-canonical", ExtractOptions{},
			&Values{R: []string{"http://x.org/PlanDefinition/p|2", "http://x.org/PlanDefinition/p", "http://x.org/PlanDefinition/o|1"},
				O: "http://x.org/PlanDefinition/o"}},
		{"canonical without version", "CarePlan", `{"instantiatesCanonical":["http://x.org/PlanDefinition/p"]}`,
			"instantiates-canonical", ExtractOptions{},
			&Values{R: []string{"http://x.org/PlanDefinition/p"}, O: "http://x.org/PlanDefinition/p"}},

		// date
		{"dateTime with offset", "QuestionnaireResponse", `{"authored":"2024-05-03T10:15:30+02:00"}`, "authored",
			ExtractOptions{},
			&Values{Lo: []time.Time{utc("2024-05-03T08:15:30Z")}, Hi: []time.Time{utc("2024-05-03T08:15:31Z")},
				O: utc("2024-05-03T08:15:30Z")}},
		{"dateTime with fraction", "QuestionnaireResponse", `{"authored":"2024-05-03T10:15:30.25Z"}`, "authored",
			ExtractOptions{},
			&Values{Lo: []time.Time{utc("2024-05-03T10:15:30.25Z")}, Hi: []time.Time{utc("2024-05-03T10:15:30.26Z")},
				O: utc("2024-05-03T10:15:30.25Z")}},
		{"year", "QuestionnaireResponse", `{"authored":"2024"}`, "authored", ExtractOptions{},
			&Values{Lo: []time.Time{utc("2024-01-01T00:00:00Z")}, Hi: []time.Time{utc("2025-01-01T00:00:00Z")},
				O: utc("2024-01-01T00:00:00Z")}},
		{"month", "Questionnaire", `{"date":"2024-02"}`, "date", ExtractOptions{},
			&Values{Lo: []time.Time{utc("2024-02-01T00:00:00Z")}, Hi: []time.Time{utc("2024-03-01T00:00:00Z")},
				O: utc("2024-02-01T00:00:00Z")}},
		{"day in the server's zone", "Questionnaire", `{"date":"2024-05-03"}`, "date", ExtractOptions{Location: cph},
			&Values{Lo: []time.Time{utc("2024-05-02T22:00:00Z")}, Hi: []time.Time{utc("2024-05-03T22:00:00Z")},
				O: utc("2024-05-02T22:00:00Z")}},
		{"dateTime without zone in the server's zone", "QuestionnaireResponse",
			`{"authored":"2024-01-10T10:15:30"}`, "authored", ExtractOptions{Location: cph},
			&Values{Lo: []time.Time{utc("2024-01-10T09:15:30Z")}, Hi: []time.Time{utc("2024-01-10T09:15:31Z")},
				O: utc("2024-01-10T09:15:30Z")}},
		{"instant", "CarePlan", `{"meta":{"lastUpdated":"2025-12-31T23:59:59.999+00:00"}}`, "_lastUpdated",
			ExtractOptions{},
			&Values{Lo: []time.Time{utc("2025-12-31T23:59:59.999Z")}, Hi: []time.Time{utc("2026-01-01T00:00:00Z")},
				O: utc("2025-12-31T23:59:59.999Z")}},
		{"period", "CarePlan", `{"period":{"start":"2024-01-15","end":"2024-03"}}`, "date", ExtractOptions{},
			&Values{Lo: []time.Time{utc("2024-01-15T00:00:00Z")}, Hi: []time.Time{utc("2024-04-01T00:00:00Z")},
				O: utc("2024-01-15T00:00:00Z")}},
		{"period open at the end", "Questionnaire", `{"effectivePeriod":{"start":"2024-01-15"}}`, "effective",
			ExtractOptions{},
			&Values{Lo: []time.Time{utc("2024-01-15T00:00:00Z")}, Hi: []time.Time{MaxTime}, O: utc("2024-01-15T00:00:00Z")}},
		{"period open at the start", "CarePlan", `{"period":{"end":"2024-06-30T12:00:00Z"}}`, "date", ExtractOptions{},
			&Values{Lo: []time.Time{MinTime}, Hi: []time.Time{utc("2024-06-30T12:00:01Z")}, O: MinTime}},
		{"empty period", "CarePlan", `{"period":{"extension":[{"url":"x","valueString":"y"}]}}`, "date", ExtractOptions{}, nil},
		{"timing, period and text of activities", "CarePlan",
			`{"activity":[
			  {"detail":{"scheduledTiming":{"event":["2024-05-01T09:00:00Z","2024-05-08T09:00:00Z"],
			    "repeat":{"boundsPeriod":{"start":"2024-05-01","end":"2024-06-30"},"frequency":1}}}},
			  {"detail":{"scheduledPeriod":{"start":"2024-04-01"}}},
			  {"detail":{"scheduledString":"every morning"}},
			  {"detail":{"scheduledTiming":{"repeat":{"boundsDuration":{"value":3,"unit":"d"}}}}}]}`,
			"activity-date", ExtractOptions{},
			&Values{
				// The Timing is one range, its outer limits: the events fall within its bounds.
				Lo: []time.Time{utc("2024-05-01T00:00:00Z"), utc("2024-04-01T00:00:00Z")},
				Hi: []time.Time{utc("2024-07-01T00:00:00Z"), MaxTime},
				D:  []string{"Y2024"},
				V: []Element{
					{Lo: utc("2024-05-01T00:00:00Z"), Hi: utc("2024-07-01T00:00:00Z")},
					{Lo: utc("2024-04-01T00:00:00Z"), Hi: MaxTime},
				},
				O: utc("2024-04-01T00:00:00Z"),
			}},
		{"text schedule only", "CarePlan", `{"activity":[{"detail":{"scheduledString":"daily"}}]}`, "activity-date",
			ExtractOptions{}, nil},

		// quantity
		{"quantity", "Questionnaire",
			`{"useContext":[{"code":{"system":"` + usageSys + `","code":"age"},
			  "valueQuantity":{"value":5.4,"unit":"years","system":"` + ucum + `","code":"a"}}]}`,
			"context-quantity", ExtractOptions{},
			&Values{QLo: []float64{5.35}, QHi: []float64{5.45}, QU: []string{ucum + "|a"}, QC: []string{"a"},
				V: []Element{{QLo: f64(5.35), QHi: f64(5.45), XLo: f64(5.4), XHi: f64(5.4), QU: []string{ucum + "|a"}, QC: []string{"a"}}}, O: 5.35}},
		{"quantity with a unit only", "Questionnaire",
			`{"useContext":[{"code":{"code":"age"},"valueQuantity":{"value":100,"unit":"kg"}}]}`,
			"context-quantity", ExtractOptions{},
			&Values{QLo: []float64{99.5}, QHi: []float64{100.5}, QC: []string{"kg"},
				V: []Element{{QLo: f64(99.5), QHi: f64(100.5), XLo: f64(100), XHi: f64(100), QC: []string{"kg"}}}, O: 99.5}},
		{"range", "Questionnaire",
			`{"useContext":[{"code":{"code":"age"},"valueRange":{"low":{"value":18,"system":"` + ucum + `","code":"a"},
			  "high":{"value":65.0,"system":"` + ucum + `","code":"a"}}}]}`,
			"context-quantity", ExtractOptions{},
			&Values{QLo: []float64{17.5}, QHi: []float64{65.05}, QU: []string{ucum + "|a"}, QC: []string{"a"},
				V: []Element{{QLo: f64(17.5), QHi: f64(65.05), XLo: f64(18), XHi: f64(65), QU: []string{ucum + "|a"}, QC: []string{"a"}}}, O: 17.5}},
		{"range open at the top", "Questionnaire",
			`{"useContext":[{"code":{"code":"age"},"valueRange":{"low":{"value":65}}}]}`,
			"context-quantity", ExtractOptions{},
			&Values{QLo: []float64{64.5}, QHi: []float64{math.MaxFloat64},
				V: []Element{{QLo: f64(64.5), QHi: f64(math.MaxFloat64), XLo: f64(65), XHi: f64(math.MaxFloat64)}}, O: 64.5}},
		{"quantity without value", "Questionnaire",
			`{"useContext":[{"code":{"code":"age"},"valueQuantity":{"unit":"years"}}]}`, "context-quantity",
			ExtractOptions{}, nil},

		// composite
		{"token$token", "Questionnaire",
			`{"useContext":[{"code":{"system":"` + usageSys + `","code":"focus"},
			  "valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"197480006"},{"code":"anx"}]}},
			  {"code":{"code":"venue"},"valueQuantity":{"value":1}}]}`,
			"context-type-value", ExtractOptions{},
			&Values{K: []string{
				usageSys + "|focus$http://snomed.info/sct|197480006", usageSys + "|focus$197480006",
				usageSys + "|focus$|anx", usageSys + "|focus$anx",
				"focus$http://snomed.info/sct|197480006", "focus$197480006", "focus$|anx", "focus$anx"}}},
		{"token$quantity", "Questionnaire",
			`{"useContext":[{"code":{"system":"` + usageSys + `","code":"age"},
			  "valueRange":{"low":{"value":18,"unit":"years"},"high":{"value":65,"unit":"years"}}},
			  {"code":{"code":"focus"},"valueCodeableConcept":{"text":"x"}}]}`,
			"context-type-quantity", ExtractOptions{},
			&Values{K: []string{usageSys + "|age", "age"},
				V: []Element{{K: []string{usageSys + "|age", "age"}, QLo: f64(17.5), QHi: f64(65.5), XLo: f64(18), XHi: f64(65), QC: []string{"years"}}}}},
		{"composite without a matching value", "Questionnaire",
			`{"useContext":[{"code":{"code":"focus"},"valueCodeableConcept":{"text":"x"}}]}`,
			"context-type-quantity", ExtractOptions{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tree := decode(t, tt.resource)
			tree["resourceType"] = tt.typ
			idx, err := Extract(tt.typ, tree, tt.opts)
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			got := idx[tt.param]
			if tt.want == nil {
				if got != nil {
					t.Errorf("%s = %+v, want it absent", tt.param, got)
				}
				return
			}
			// O in the cases is the sort value. A parameter of which a resource has at
			// most one value sorts by that value's own field, and O is not stored.
			want := *tt.want
			if d := Lookup(tt.typ, tt.param); d.SortKey() != "o" {
				if got != nil && !cmp.Equal(got.SortValue(d), want.O) {
					t.Errorf("%s sorts by %v (%s), want %v", tt.param, got.SortValue(d), d.SortKey(), want.O)
				}
				want.O = nil
			}
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.param, diff)
			}
		})
	}
}

func TestExtractLeavesOutWhatIsMissing(t *testing.T) {
	t.Parallel()
	tree := decode(t, `{"resourceType":"QuestionnaireResponse","id":"a","status":"completed",
		"subject":{"display":"no reference"},"item":[{"linkId":"1"}]}`)
	idx, err := Extract("QuestionnaireResponse", tree, ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range idx {
		names = append(names, n)
	}
	sort.Strings(names)
	if want := []string{"_id", "status"}; !slices.Equal(names, want) {
		t.Errorf("parameters = %v, want %v", names, want)
	}
	if idx, err := Extract("Patient", tree, ExtractOptions{}); err != nil || len(idx) != 0 {
		t.Errorf("Extract(Patient) = %v, %v; want an empty index", idx, err)
	}
}

func TestExtractErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, typ, resource, expression string
	}{
		{"month 13", "QuestionnaireResponse", `{"authored":"2024-13-01"}`, "QuestionnaireResponse.authored"},
		{"day 30 in February", "QuestionnaireResponse", `{"authored":"2024-02-30"}`, "QuestionnaireResponse.authored"},
		{"time without seconds' digits", "QuestionnaireResponse", `{"authored":"2024-02-03T10:1"}`, "QuestionnaireResponse.authored"},
		{"bad zone", "QuestionnaireResponse", `{"authored":"2024-02-03T10:15:00+2:00"}`, "QuestionnaireResponse.authored"},
		{"date as a number", "QuestionnaireResponse", `{"authored":20240203}`, "QuestionnaireResponse.authored"},
		{"bad period start", "CarePlan", `{"period":{"start":"soon"}}`, "CarePlan.period"},
		{"bad timing event", "CarePlan", `{"activity":[{"detail":{"scheduledTiming":{"event":["x"]}}}]}`,
			"CarePlan.activity.detail.scheduledTiming.event"},
		{"bad last updated", "CarePlan", `{"meta":{"lastUpdated":"yesterday"}}`, "CarePlan.meta.lastUpdated"},
		{"quantity value as text", "Questionnaire", `{"useContext":[{"code":{"code":"age"},"valueQuantity":{"value":"5"}}]}`,
			"Questionnaire.useContext.valueQuantity"},
		{"reference as a string", "CarePlan", `{"subject":"Patient/1"}`, "CarePlan.subject"},
		{"coding system as a number", "CarePlan", `{"meta":{"tag":[{"system":1,"code":"x"}]}}`, "CarePlan.meta.tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Extract(tt.typ, decode(t, tt.resource), ExtractOptions{})
			var fe *fhir.Error
			if !errors.As(err, &fe) || fe.Kind != fhir.KindInvalid {
				t.Fatalf("Extract error = %v, want a fhir.KindInvalid error", err)
			}
			if got := fe.Issues[0].Expression; !slices.Equal(got, []string{tt.expression}) {
				t.Errorf("issue expression = %v, want [%s] (%s)", got, tt.expression, err)
			}
		})
	}
}

// TestExtractOddShapes feeds shapes validation would reject and checks that nothing panics.
func TestExtractOddShapes(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		`{"meta":"x","identifier":[null,{"value":null}],"subject":{"reference":null}}`,
		`{"useContext":[{"code":"x","valueRange":{"low":"x"}}],"item":{"code":5}}`,
		`{"useContext":[{"code":{"code":"a"},"valueCodeableConcept":{"coding":"x"}}]}`,
		`{"period":[],"activity":[[{"detail":{}}]],"category":[{"coding":[null]}]}`,
		`{"authored":"","questionnaire":"","status":""}`,
	} {
		for _, typ := range ResourceTypes() {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("Extract(%s, %s) panicked: %v", typ, raw, r)
					}
				}()
				_, _ = Extract(typ, decode(t, raw), ExtractOptions{})
			}()
		}
	}
}

func TestCalendarKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		lo, hi string
		want   string
	}{
		{"year", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "Y2024"},
		{"month", "2024-12-01T00:00:00Z", "2025-01-01T00:00:00Z", "M2024-12"},
		{"day", "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z", "D2024-02-29"},
		{"minute", "2024-05-03T10:15:00Z", "2024-05-03T10:16:00Z", "D2024-05-03"},
		{"millisecond", "2024-05-03T10:15:30.5Z", "2024-05-03T10:15:30.501Z", "D2024-05-03"},
		{"across a day boundary", "2024-05-02T22:00:00Z", "2024-05-03T22:00:00Z", "M2024-05"},
		{"across a month boundary", "2024-05-31T22:00:00Z", "2024-06-01T22:00:00Z", "Y2024"},
		{"across a year boundary", "2024-12-31T23:00:00Z", "2025-01-01T01:00:00Z", ""},
		{"other zone is read in UTC", "2024-05-03T02:00:00+02:00", "2024-05-04T02:00:00+02:00", "D2024-05-03"},
		{"early year padded", "0950-01-01T00:00:00Z", "0951-01-01T00:00:00Z", "Y0950"},
		{"empty", "2024-05-03T10:15:30Z", "2024-05-03T10:15:30Z", ""},
		{"inverted", "2024-05-03T10:15:31Z", "2024-05-03T10:15:30Z", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lo, _ := time.Parse(time.RFC3339Nano, tt.lo)
			hi, _ := time.Parse(time.RFC3339Nano, tt.hi)
			if got := CalendarKey(lo, hi); got != tt.want {
				t.Errorf("CalendarKey = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDateRangeAgreesWithTheQueryParser(t *testing.T) {
	t.Parallel()
	cph, _ := time.LoadLocation("Europe/Copenhagen")
	for _, s := range []string{
		"2024", "2024-02", "2024-02-29", "2024-03-31", "2024-10-27", "2024-05-03T10:15", "2024-05-03T10:15:30",
		"2024-05-03T10:15:30Z", "2024-05-03T10:15:30+02:00", "2024-05-03T10:15:30-05:30", "2024-05-03T10:15:30.1Z",
		"2024-05-03T10:15:30.123456789+01:00", "2024-12-31T23:59:59.999Z",
	} {
		for _, loc := range []*time.Location{time.UTC, cph} {
			want, err := parseDate(s, loc)
			if err != nil {
				t.Fatalf("parseDate(%q): %v", s, err)
			}
			lo, hi, ok := dateRange(s, loc)
			if !ok || !lo.Equal(want.Low) || !hi.Equal(want.High) {
				t.Errorf("dateRange(%q, %s) = [%v, %v) %v, want [%v, %v)", s, loc, lo, hi, ok, want.Low, want.High)
			}
		}
	}
	for _, s := range []string{"", "24", "2024-", "2024-1", "2024-00", "2024-02-30", "2024-05-03T", "2024-05-03T25:00:00Z",
		"2024-05-03T10:60:00Z", "2024-05-03T10:15:30.Z", "2024-05-03T10:15:30+15:00", "2024-05-03T10:15:30Zz",
		"2024-05-03 10:15:30", "0000", "abcd"} {
		if lo, hi, ok := dateRange(s, time.UTC); ok {
			t.Errorf("dateRange(%q) = [%v, %v), want an error", s, lo, hi)
		}
	}
}

func TestCompileRejectsWhatItDoesNotKnow(t *testing.T) {
	t.Parallel()
	rt := resourceModels["CarePlan"]
	for _, expr := range []string{
		"CarePlan.subject.where(display = 'x')",
		"CarePlan.activity.first()",
		"CarePlan.extension('http://x')",
		"CarePlan.nosuchelement",
		"Observation.code",
		"CarePlan.period.as(Quantity)",
		"CarePlan.status.where(resolve() is Patient)",
		"(CarePlan.period",
		"CarePlan.identifier[0]",
		"CarePlan.subject.resolve()",
		"",
	} {
		if brs, err := compileExpression(expr, "CarePlan", rt, true); err == nil {
			t.Errorf("compileExpression(%q) = %+v, want an error", expr, brs)
		}
	}
	d := &Definition{Name: "x", Type: TypeDate, Expression: "CarePlan.subject"}
	if _, err := compileDefinition("CarePlan", rt, d); err == nil {
		t.Error("a date parameter over a Reference compiled")
	}
}

// TestExtractEveryParameterIsCompiled checks that every registry parameter has a program,
// so a parameter cannot silently be missing from stored documents.
func TestExtractEveryParameterIsCompiled(t *testing.T) {
	t.Parallel()
	for _, typ := range ResourceTypes() {
		var got, want []string
		for _, p := range programs[typ] {
			got = append(got, p.def.Name)
		}
		for _, d := range Definitions(typ) {
			want = append(want, d.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s programs = %v, want %v", typ, got, want)
		}
	}
}

// resourceFile is one resource of the served types read from the corpus or the fixtures.
type resourceFile struct {
	name string
	typ  string
	raw  []byte
}

// corpusDir is the shared corpus of real-world R4 examples, outside the repository.
var corpusDir = filepath.Join("..", "..", "..", "shared", "fhir-corpus")

// servedResources returns the fixtures and, when present, the corpus resources (Bundle
// entries included) of the served types; corpus reports whether the corpus was found.
func servedResources(t testing.TB) (out []resourceFile, corpus bool) {
	t.Helper()
	add := func(name string, raw []byte) {
		var head struct {
			ResourceType string `json:"resourceType"`
			Entry        []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if head.ResourceType == "Bundle" {
			for i, e := range head.Entry {
				var h struct {
					ResourceType string `json:"resourceType"`
				}
				if json.Unmarshal(e.Resource, &h) == nil && resourceModels[h.ResourceType] != nil {
					out = append(out, resourceFile{fmt.Sprintf("%s#entry%d", name, i), h.ResourceType, e.Resource})
				}
			}
			return
		}
		if resourceModels[head.ResourceType] != nil {
			out = append(out, resourceFile{name, head.ResourceType, raw})
		}
	}
	err := fs.WalkDir(fixtures.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		raw, err := fs.ReadFile(fixtures.FS(), p)
		if err == nil {
			add("fixtures/"+p, raw)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(corpusDir); err != nil {
		return out, false
	}
	for _, dir := range []string{"Questionnaire", "QuestionnaireResponse", "CarePlan", "Bundle"} {
		files, err := filepath.Glob(filepath.Join(corpusDir, dir, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			add("corpus/"+dir+"/"+filepath.Base(f), raw)
		}
	}
	return out, true
}

func decodeBytes(t testing.TB, raw []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestExtractCorpusAndFixtures(t *testing.T) {
	t.Parallel()
	files, corpus := servedResources(t)
	if !corpus {
		t.Logf("corpus %s not found: only the fixtures are extracted", corpusDir)
	}
	cph, _ := time.LoadLocation("Europe/Copenhagen")
	for _, f := range files {
		tree := decodeBytes(t, f.raw)
		idx, err := Extract(f.typ, tree, ExtractOptions{BaseURL: base, Location: cph})
		if err != nil {
			t.Errorf("%s: %v", f.name, err)
			continue
		}
		if id, _ := tree["id"].(string); id != "" && (idx["_id"] == nil || idx["_id"].C[0] != id) {
			t.Errorf("%s: _id = %+v, want %s", f.name, idx["_id"], id)
		}
		for _, d := range Definitions(f.typ) {
			if v := idx[d.Name]; v != nil && d.SortKey() != "o" && d.SortKey() != "" && sortFieldLen(v, d.SortKey()) > 1 {
				t.Errorf("%s: %s has several values in %s, its sort key", f.name, d.Name, d.SortKey())
			}
		}
		if st, _ := tree["status"].(string); st != "" && (idx["status"] == nil || idx["status"].SortValue(Lookup(f.typ, "status")) != st) {
			t.Errorf("%s: status = %+v, want %s", f.name, idx["status"], st)
		}
	}
	if len(files) < 20 {
		t.Errorf("only %d resources read", len(files))
	}
}

// sortFieldLen is how many values the field named key of v holds.
func sortFieldLen(v *Values, key string) int {
	return map[string]int{"n": len(v.N), "c": len(v.C), "r": len(v.R), "u": len(v.U), "lo": len(v.Lo), "ql": len(v.QLo)}[key]
}

func TestSortKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ typ, param, want string }{
		{"QuestionnaireResponse", "status", "c"},
		{"QuestionnaireResponse", "authored", "lo"},
		{"QuestionnaireResponse", "identifier", "c"},
		{"QuestionnaireResponse", "subject", "r"},
		{"QuestionnaireResponse", "author", "r"},
		{"CarePlan", "performer", "o"},
		{"AuditEvent", "agent", "o"},
		{"AuditEvent", "source", "r"},
		{"QuestionnaireResponse", "questionnaire", "o"},
		{"QuestionnaireResponse", "_tag", "o"},
		{"QuestionnaireResponse", "_source", "u"},
		{"CarePlan", "date", "lo"},
		{"CarePlan", "activity-date", "o"},
		{"CarePlan", "category", "o"},
		{"CarePlan", "identifier", "o"},
		{"Questionnaire", "title", "n"},
		{"Questionnaire", "url", "u"},
		{"Questionnaire", "effective", "lo"},
		{"Questionnaire", "context-quantity", "o"},
		{"Questionnaire", "context-type-value", ""},
		{"AuditEvent", "type", "c"},
		{"AuditEvent", "subtype", "o"},
		{"AuditEvent", "patient", "o"},
	} {
		if got := Lookup(tc.typ, tc.param).SortKey(); got != tc.want {
			t.Errorf("%s.%s: SortKey() = %q, want %q", tc.typ, tc.param, got, tc.want)
		}
	}
}
