package search

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

func mustQuery(t testing.TB, raw string) url.Values {
	t.Helper()
	q, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatalf("ParseQuery(%q): %v", raw, err)
	}
	return q
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// TestParseValues checks the typed values of one parameter per case, for every
// parameter type, modifier and prefix.
func TestParseValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, typ, query string
		wantMod          Modifier
		wantTarget       string
		want             []Value
	}{
		// string
		{"string", "Questionnaire", "title=Leg%20Pain", "", "", []Value{String{"Leg Pain"}}},
		{"string exact", "Questionnaire", "name:exact=LUP", ModifierExact, "", []Value{String{"LUP"}}},
		{"string contains", "Questionnaire", "publisher:contains=hosp", ModifierContains, "", []Value{String{"hosp"}}},
		{"string or", "Questionnaire", "title=a,b", "", "", []Value{String{"a"}, String{"b"}}},
		{"escaped comma", "Questionnaire", `title=a\,b,c`, "", "", []Value{String{"a,b"}, String{"c"}}},
		{"escaped backslash and dollar", "Questionnaire", `title=a\\b\$c\|d`, "", "", []Value{String{`a\b$c|d`}}},
		// token
		{"token code", "QuestionnaireResponse", "status=completed", "", "", []Value{Token{Code: "completed"}}},
		{"token system|code", "CarePlan", "category=http://snomed.info/sct|734163000", "", "",
			[]Value{Token{System: "http://snomed.info/sct", Code: "734163000", HasSystem: true}}},
		{"token |code has no system", "CarePlan", "category=|x", "", "", []Value{Token{Code: "x", HasSystem: true}}},
		{"token system|", "CarePlan", "category=http://s|", "", "", []Value{Token{System: "http://s", HasSystem: true}}},
		{"token escaped bar", "CarePlan", `category=a\|b`, "", "", []Value{Token{Code: "a|b"}}},
		{"token not", "CarePlan", "status:not=revoked", ModifierNot, "", []Value{Token{Code: "revoked"}}},
		{"token text", "CarePlan", "category:text=diet", ModifierText, "", []Value{String{"diet"}}},
		{"token of-type", "QuestionnaireResponse",
			"identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|446053", ModifierOfType, "",
			[]Value{Token{System: "http://terminology.hl7.org/CodeSystem/v2-0203", Code: "MR", HasSystem: true, Value: "446053"}}},
		{"_id", "CarePlan", "_id=a,b", "", "", []Value{Token{Code: "a"}, Token{Code: "b"}}},
		{"_tag", "CarePlan", "_tag=http://t|x", "", "", []Value{Token{System: "http://t", Code: "x", HasSystem: true}}},
		{"_security", "CarePlan", "_security=R", "", "", []Value{Token{Code: "R"}}},
		// missing
		{"missing true", "CarePlan", "encounter:missing=true", ModifierMissing, "", []Value{Missing{true}}},
		{"missing false", "Questionnaire", "date:missing=false", ModifierMissing, "", []Value{Missing{false}}},
		// uri
		{"uri", "Questionnaire", "url=http://x.org/Q/1", "", "", []Value{URI{"http://x.org/Q/1"}}},
		{"uri below", "Questionnaire", "url:below=http://x.org/Q", ModifierBelow, "", []Value{URI{"http://x.org/Q"}}},
		{"uri above", "Questionnaire", "definition:above=http://x.org/SD/a", ModifierAbove, "", []Value{URI{"http://x.org/SD/a"}}},
		{"_profile", "CarePlan", "_profile=http://p", "", "", []Value{URI{"http://p"}}},
		{"_source", "CarePlan", "_source=urn:s", "", "", []Value{URI{"urn:s"}}},
		// reference
		{"reference type/id", "QuestionnaireResponse", "subject=Patient/123", "", "", []Value{Reference{Type: "Patient", ID: "123"}}},
		{"reference id with one target", "QuestionnaireResponse", "patient=123", "", "", []Value{Reference{Type: "Patient", ID: "123"}}},
		{"reference id with many targets", "QuestionnaireResponse", "author=123", "", "", []Value{Reference{ID: "123"}}},
		{"reference type modifier", "CarePlan", "subject:Group=g1", ModifierType, "Group", []Value{Reference{Type: "Group", ID: "g1"}}},
		{"reference identifier", "CarePlan", "subject:identifier=http://mrn|42", ModifierIdentifier, "",
			[]Value{Token{System: "http://mrn", Code: "42", HasSystem: true}}},
		{"reference history", "CarePlan", "based-on=CarePlan/1/_history/3", "", "", []Value{Reference{Type: "CarePlan", ID: "1", Version: "3"}}},
		{"reference absolute", "CarePlan", "goal=https://other.org/fhir/Goal/9", "", "",
			[]Value{Reference{Type: "Goal", ID: "9", URL: "https://other.org/fhir/Goal/9"}}},
		{"reference missing", "CarePlan", "goal:missing=true", ModifierMissing, "", []Value{Missing{true}}},
		{"canonical url", "QuestionnaireResponse", "questionnaire=https://x.org/Q/lup", "", "",
			[]Value{Reference{URL: "https://x.org/Q/lup"}}},
		{"canonical url|version", "QuestionnaireResponse", "questionnaire=https://x.org/Q/lup|2.0", "", "",
			[]Value{Reference{URL: "https://x.org/Q/lup", Version: "2.0"}}},
		{"canonical relative", "CarePlan", "instantiates-canonical=Questionnaire/q1", "", "",
			[]Value{Reference{Type: "Questionnaire", ID: "q1"}}},
		// date prefixes
		{"date eq default", "QuestionnaireResponse", "authored=2024", "", "",
			[]Value{Date{Prefix: PrefixEq, Text: "2024", Low: utc("2024-01-01T00:00:00Z"), High: utc("2025-01-01T00:00:00Z"), Precision: PrecisionYear}}},
		{"date ne", "QuestionnaireResponse", "authored=ne2024", "", "",
			[]Value{Date{Prefix: PrefixNe, Text: "2024", Low: utc("2024-01-01T00:00:00Z"), High: utc("2025-01-01T00:00:00Z"), Precision: PrecisionYear}}},
		{"date sa and eb", "CarePlan", "date=sa2024-02,eb2024-03", "", "", []Value{
			Date{Prefix: PrefixSa, Text: "2024-02", Low: utc("2024-02-01T00:00:00Z"), High: utc("2024-03-01T00:00:00Z"), Precision: PrecisionMonth},
			Date{Prefix: PrefixEb, Text: "2024-03", Low: utc("2024-03-01T00:00:00Z"), High: utc("2024-04-01T00:00:00Z"), Precision: PrecisionMonth}}},
		{"_lastUpdated gt", "Questionnaire", "_lastUpdated=gt2024-02-28T10:00:00Z", "", "", []Value{
			Date{Prefix: PrefixGt, Text: "2024-02-28T10:00:00Z", Low: utc("2024-02-28T10:00:00Z"), High: utc("2024-02-28T10:00:01Z"), Precision: PrecisionSecond, HasZone: true}}},
		// quantity and composite
		{"quantity plain", "Questionnaire", "context-quantity=5.4", "", "", []Value{
			Quantity{Prefix: PrefixEq, Number: Decimal{Text: "5.4", Value: 5.4, Low: 5.35, High: 5.45}}}},
		{"quantity with unit", "Questionnaire", "context-quantity=le18|http://unitsofmeasure.org|a", "", "", []Value{
			Quantity{Prefix: PrefixLe, Number: Decimal{Text: "18", Value: 18, Low: 17.5, High: 18.5}, System: "http://unitsofmeasure.org", Code: "a"}}},
		{"quantity code only", "Questionnaire", "context-quantity=ap100||mg", "", "", []Value{
			Quantity{Prefix: PrefixAp, Number: Decimal{Text: "100", Value: 100, Low: 99.5, High: 100.5}, Code: "mg"}}},
		{"composite token$token", "Questionnaire", "context-type-value=focus$http://snomed.info/sct|363346000", "", "", []Value{
			Composite{[]Value{Token{Code: "focus"}, Token{System: "http://snomed.info/sct", Code: "363346000", HasSystem: true}}}}},
		{"composite token$quantity", "Questionnaire", "context-type-quantity=age$ge18,age$lt5", "", "", []Value{
			Composite{[]Value{Token{Code: "age"}, Quantity{Prefix: PrefixGe, Number: Decimal{Text: "18", Value: 18, Low: 17.5, High: 18.5}}}},
			Composite{[]Value{Token{Code: "age"}, Quantity{Prefix: PrefixLt, Number: Decimal{Text: "5", Value: 5, Low: 4.5, High: 5.5}}}}}},
		{"composite escaped dollar", "Questionnaire", `context-type-value=a\$b$c`, "", "", []Value{
			Composite{[]Value{Token{Code: "a$b"}, Token{Code: "c"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, issues, err := Parse(tt.typ, mustQuery(t, tt.query), Options{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(issues) != 0 || len(c.Params) != 1 {
				t.Fatalf("issues %v, params %d", issues, len(c.Params))
			}
			p := c.Params[0]
			if p.Modifier != tt.wantMod || p.TargetType != tt.wantTarget {
				t.Errorf("modifier %q %q, want %q %q", p.Modifier, p.TargetType, tt.wantMod, tt.wantTarget)
			}
			if !reflect.DeepEqual(p.Values, tt.want) {
				t.Errorf("values (-want +got):\n-%+v\n+%+v", tt.want, p.Values)
			}
		})
	}
}

// TestParseDateRanges checks the range each partial date covers.
func TestParseDateRanges(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.FixedZone("CET", 3600) // no tzdata: January is CET anyway
	}
	tests := []struct {
		name, value string
		loc         *time.Location
		low, high   string
		prec        DatePrecision
		zone        bool
	}{
		{"year", "2024", nil, "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z", PrecisionYear, false},
		{"year-month", "2024-02", nil, "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z", PrecisionMonth, false},
		{"december", "2024-12", nil, "2024-12-01T00:00:00Z", "2025-01-01T00:00:00Z", PrecisionMonth, false},
		{"day", "2024-02-29", nil, "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z", PrecisionDay, false},
		{"minute no zone", "2024-01-15T10:30", nil, "2024-01-15T10:30:00Z", "2024-01-15T10:31:00Z", PrecisionMinute, false},
		{"minute zone", "2024-01-15T10:30+02:00", nil, "2024-01-15T08:30:00Z", "2024-01-15T08:31:00Z", PrecisionMinute, true},
		{"second Z", "2024-01-15T10:30:05Z", nil, "2024-01-15T10:30:05Z", "2024-01-15T10:30:06Z", PrecisionSecond, true},
		{"second negative zone", "2024-01-15T10:30:05-05:00", nil, "2024-01-15T15:30:05Z", "2024-01-15T15:30:06Z", PrecisionSecond, true},
		{"unencoded plus arrives as space", "2024-01-15T10:30:05 01:00", nil, "2024-01-15T09:30:05Z", "2024-01-15T09:30:06Z", PrecisionSecond, true},
		{"fraction", "2024-01-15T10:30:05.25Z", nil, "2024-01-15T10:30:05.25Z", "2024-01-15T10:30:05.26Z", PrecisionFraction, true},
		{"second no zone uses server zone", "2024-01-15T10:30:05", berlin, "2024-01-15T09:30:05Z", "2024-01-15T09:30:06Z", PrecisionSecond, false},
		{"day uses server zone", "2024-01-15", berlin, "2024-01-14T23:00:00Z", "2024-01-15T23:00:00Z", PrecisionDay, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := url.Values{"authored": {tt.value}}
			c, _, err := Parse("QuestionnaireResponse", q, Options{Location: tt.loc})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			d := c.Params[0].Values[0].(Date)
			if !d.Low.Equal(utc(tt.low)) || !d.High.Equal(utc(tt.high)) || d.Precision != tt.prec || d.HasZone != tt.zone {
				t.Errorf("got [%s, %s) precision %d zone %v; want [%s, %s) precision %d zone %v",
					d.Low.Format(time.RFC3339Nano), d.High.Format(time.RFC3339Nano), d.Precision, d.HasZone,
					tt.low, tt.high, tt.prec, tt.zone)
			}
		})
	}
}

// TestParseDecimal checks the implicit precision ranges of numbers.
func TestParseDecimal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in            string
		value, lo, hi float64
	}{
		{"100", 100, 99.5, 100.5},
		{"100.0", 100, 99.95, 100.05},
		{"0.1", 0.1, 0.05, 0.15},
		{"-3", -3, -3.5, -2.5},
		{"1e2", 100, 50, 150},
		{"1.5E-3", 0.0015, 0.00145, 0.00155},
	}
	const eps = 1e-12
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			d, err := parseDecimal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if d.Text != tt.in || fabs(d.Value-tt.value) > eps || fabs(d.Low-tt.lo) > eps || fabs(d.High-tt.hi) > eps {
				t.Errorf("parseDecimal(%q) = %+v, want %v [%v, %v]", tt.in, d, tt.value, tt.lo, tt.hi)
			}
		})
	}
	for _, bad := range []string{"", "1.", ".5", "1e", "abc", "1,5", "1e999"} {
		if _, err := parseDecimal(bad); err == nil {
			t.Errorf("parseDecimal(%q) succeeded", bad)
		}
	}
}

func fabs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// TestParseErrors checks that every bad input is an invalid error naming the parameter.
func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, typ, query, param string }{
		{"bad date", "QuestionnaireResponse", "authored=2024-13", "authored"},
		{"bad day", "QuestionnaireResponse", "authored=2024-02-30", "authored"},
		{"hour only", "QuestionnaireResponse", "authored=2024-01-01T10", "authored"},
		{"time on partial date", "QuestionnaireResponse", "authored=2024-01T10:00", "authored"},
		{"bad zone", "QuestionnaireResponse", "authored=2024-01-01T10:00+25:00", "authored"},
		{"unknown prefix", "QuestionnaireResponse", "authored=xx2024", "authored"},
		{"bad quantity", "Questionnaire", "context-quantity=gtabc", "context-quantity"},
		{"quantity two bars", "Questionnaire", "context-quantity=5|mg", "context-quantity"},
		{"modifier not allowed on date", "QuestionnaireResponse", "authored:exact=2024", "authored:exact"},
		{"modifier not allowed on token", "QuestionnaireResponse", "status:contains=x", "status:contains"},
		{"token :in needs terminology", "CarePlan", "category:in=http://vs/1", "category:in"},
		{"token :not-in needs terminology", "CarePlan", "category:not-in=http://vs/1", "category:not-in"},
		{"token :above needs terminology", "Questionnaire", "code:above=http://loinc.org|1", "code:above"},
		{"token :below needs terminology", "Questionnaire", "code:below=1", "code:below"},
		{"of-type only on identifier", "QuestionnaireResponse", "status:of-type=a|b|c", "status:of-type"},
		{"unknown modifier", "CarePlan", "category:fuzzy=x", "category:fuzzy"},
		{"literal type modifier", "CarePlan", "subject:type=1", "subject:type"},
		{"type modifier not a target", "QuestionnaireResponse", "patient:Group=1", "patient:Group"},
		{"reference type not a target", "CarePlan", "goal=Condition/1", "goal"},
		{"reference not a type", "CarePlan", "goal=Goals/1", "goal"},
		{"reference bad id", "CarePlan", "goal=Goal/a_b", "goal"},
		{"missing not boolean", "CarePlan", "goal:missing=yes", "goal:missing"},
		{"empty alternative", "CarePlan", "status=active,", "status"},
		{"composite parts", "Questionnaire", "context-type-value=a", "context-type-value"},
		{"token too many bars", "CarePlan", "category=a|b|c", "category"},
		{"canonical two versions", "QuestionnaireResponse", "questionnaire=http://q|1|2", "questionnaire"},
		{"bad _count", "CarePlan", "_count=ten", "_count"},
		{"negative _count", "CarePlan", "_count=-1", "_count"},
		{"repeated _count", "CarePlan", "_count=1&_count=2", "_count"},
		{"_sort unknown", "CarePlan", "_sort=-nope", "_sort"},
		{"_sort composite", "Questionnaire", "_sort=context-type-value", "_sort"},
		{"_sort empty key", "CarePlan", "_sort=date,", "_sort"},
		{"_sort same key twice", "CarePlan", "_sort=-_lastUpdated,_lastUpdated", "_sort"},
		{"_sort same key in two _sort", "CarePlan", "_sort=date&_sort=-date", "_sort"},
		{"bad _total", "CarePlan", "_total=all", "_total"},
		{"bad _summary", "CarePlan", "_summary=yes", "_summary"},
		{"bad _elements", "CarePlan", "_elements=status,a.b", "_elements"},
		{"_include malformed", "QuestionnaireResponse", "_include=QuestionnaireResponse", "_include"},
		{"_include other source", "QuestionnaireResponse", "_include=CarePlan:subject", "_include"},
		{"_include not reference", "QuestionnaireResponse", "_include=QuestionnaireResponse:status", "_include"},
		{"_include bad target", "QuestionnaireResponse", "_include=QuestionnaireResponse:patient:Group", "_include"},
		{"_include unknown type", "QuestionnaireResponse", "_include=QuestionnaireResponse:subject:Nope", "_include"},
		{"_include bad modifier", "QuestionnaireResponse", "_include:deep=QuestionnaireResponse:subject", "_include:deep"},
		{"_revinclude unserved source", "Questionnaire", "_revinclude=Provenance:target", "_revinclude"},
		{"_revinclude cannot point here", "QuestionnaireResponse", "_revinclude=CarePlan:patient", "_revinclude"},
		{"_count modifier", "CarePlan", "_count:x=1", "_count:x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := Parse(tt.typ, mustQuery(t, tt.query), Options{})
			assertInvalid(t, err, tt.param)
		})
	}
}

func assertInvalid(t *testing.T, err error, param string) {
	t.Helper()
	if !fhir.IsKind(err, fhir.KindInvalid) {
		t.Fatalf("error %v (kind %v), want KindInvalid", err, fhir.ErrorKind(err))
	}
	issue := fhir.OutcomeFor(err).Issue[0]
	if !strings.Contains(issue.Diagnostics, fmt.Sprintf("%q", param)) {
		t.Errorf("diagnostics %q do not name %q", issue.Diagnostics, param)
	}
	if !reflect.DeepEqual(issue.Expression, []string{param}) {
		t.Errorf("expression %v, want [%s]", issue.Expression, param)
	}
}

// TestUnknownParameters checks lenient and strict handling.
func TestUnknownParameters(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, query, param string }{
		{"unknown name", "status=completed&colour=red", "colour"},
		{"other type's parameter", "status=completed&intent=plan", "intent"},
		{"chained", "status=completed&subject.name=Ann", "subject.name"},
		{"unsupported common", "status=completed&_text=pain", "_text"},
		{"_has", "status=completed&_has:Observation:patient:code=1", "_has:Observation:patient:code"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" lenient", func(t *testing.T) {
			t.Parallel()
			c, issues, err := Parse("QuestionnaireResponse", mustQuery(t, tt.query), Options{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(issues) != 1 || issues[0].Severity != fhir.SeverityWarning ||
				!strings.Contains(issues[0].Diagnostics, fmt.Sprintf("%q", tt.param)) {
				t.Fatalf("issues = %+v, want one warning naming %q", issues, tt.param)
			}
			if got := c.Encode(); got != "status=completed" {
				t.Errorf("canonical = %q, want the ignored parameter left out", got)
			}
		})
		t.Run(tt.name+" strict", func(t *testing.T) {
			t.Parallel()
			_, _, err := Parse("QuestionnaireResponse", mustQuery(t, tt.query), Options{Strict: true})
			assertInvalid(t, err, tt.param)
		})
	}
	t.Run("format and pretty are not criteria", func(t *testing.T) {
		t.Parallel()
		c, issues, err := Parse("CarePlan", mustQuery(t, "_format=json&_pretty=true"), Options{Strict: true})
		if err != nil || len(issues) != 0 || c.Encode() != "" {
			t.Errorf("got %q %v %v", c.Encode(), issues, err)
		}
	})
	t.Run("empty value ignored with a warning", func(t *testing.T) {
		t.Parallel()
		c, issues, err := Parse("CarePlan", mustQuery(t, "status="), Options{})
		if err != nil || len(issues) != 1 || len(c.Params) != 0 {
			t.Errorf("got %+v %v %v", c.Params, issues, err)
		}
	})
	t.Run("unserved type", func(t *testing.T) {
		t.Parallel()
		_, _, err := Parse("Patient", nil, Options{})
		if !fhir.IsKind(err, fhir.KindNotFound) {
			t.Errorf("err = %v, want KindNotFound", err)
		}
	})
}

func TestRepeatedParametersAreAnded(t *testing.T) {
	t.Parallel()
	c, _, err := Parse("CarePlan", mustQuery(t, "date=ge2024&date=lt2025&status=active,on-hold"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Params) != 3 {
		t.Fatalf("params = %d, want 3 (two ANDed date params and one status)", len(c.Params))
	}
	if c.Params[0].Def.Name != "date" || c.Params[1].Def.Name != "date" || len(c.Params[2].Values) != 2 {
		t.Errorf("params = %+v", c.Params)
	}
}

func TestResultParameters(t *testing.T) {
	t.Parallel()
	n := func(i int) *int { return &i }
	tests := []struct {
		name, query string
		opts        Options
		want        Criteria
		warnings    int
	}{
		{"nothing", "", Options{}, Criteria{}, 0},
		{"default count", "", Options{DefaultCount: 20, MaxCount: 100}, Criteria{Count: n(20)}, 0},
		{"count", "_count=50", Options{DefaultCount: 20, MaxCount: 100}, Criteria{Count: n(50)}, 0},
		{"count zero", "_count=0", Options{DefaultCount: 20}, Criteria{Count: n(0)}, 0},
		{"count capped", "_count=500", Options{MaxCount: 100}, Criteria{Count: n(100)}, 1},
		{"sort several keys", "_sort=status,-date,_id,-_lastUpdated", Options{}, Criteria{Sort: []SortKey{
			{Lookup("CarePlan", "status"), false}, {Lookup("CarePlan", "date"), true},
			{Lookup("CarePlan", "_id"), false}, {Lookup("CarePlan", "_lastUpdated"), true}}}, 0},
		{"total", "_total=accurate", Options{}, Criteria{Total: TotalAccurate}, 0},
		{"summary", "_summary=count", Options{}, Criteria{Summary: SummaryCount}, 0},
		{"elements", "_elements=status,subject", Options{}, Criteria{Elements: []string{"status", "subject"}}, 0},
		{"include", "_include=CarePlan:subject:Patient&_include=CarePlan:care-team", Options{}, Criteria{Include: []Include{
			{SourceType: "CarePlan", Param: "subject", TargetType: "Patient"}, {SourceType: "CarePlan", Param: "care-team"}}}, 0},
		{"include wildcard", "_include=*", Options{}, Criteria{Include: []Include{{Wildcard: true}}}, 0},
		{"include param wildcard", "_include=CarePlan:*", Options{}, Criteria{Include: []Include{{SourceType: "CarePlan", Param: "*", Wildcard: true}}}, 0},
		{"include iterate", "_include:iterate=QuestionnaireResponse:questionnaire", Options{}, Criteria{Include: []Include{
			{SourceType: "QuestionnaireResponse", Param: "questionnaire", Iterate: true}}}, 0},
		{"include recurse is iterate", "_include:recurse=CarePlan:part-of", Options{}, Criteria{Include: []Include{
			{SourceType: "CarePlan", Param: "part-of", Iterate: true}}}, 0},
		{"revinclude", "_revinclude=CarePlan:part-of&_revinclude=QuestionnaireResponse:based-on", Options{}, Criteria{RevInclude: []Include{
			{SourceType: "CarePlan", Param: "part-of"}, {SourceType: "QuestionnaireResponse", Param: "based-on"}}}, 0},
		{"revinclude iterate", "_revinclude:iterate=QuestionnaireResponse:subject", Options{}, Criteria{RevInclude: []Include{
			{SourceType: "QuestionnaireResponse", Param: "subject", Iterate: true}}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, issues, err := Parse("CarePlan", mustQuery(t, tt.query), tt.opts)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(issues) != tt.warnings {
				t.Errorf("issues = %+v, want %d", issues, tt.warnings)
			}
			tt.want.Type = "CarePlan"
			if !reflect.DeepEqual(*c, tt.want) {
				t.Errorf("criteria (-want +got):\n-%+v\n+%+v", tt.want, *c)
			}
		})
	}
}

func TestCanonical(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, typ, query, want string }{
		{"typical", "QuestionnaireResponse",
			"status=completed&_count=50&patient=123&authored=eq2026-01-01&questionnaire=https://x.org/Q/lup|2.0&_sort=-authored&junk=1",
			"_count=50&_sort=-authored&authored=2026-01-01&patient=Patient%2F123&questionnaire=https%3A%2F%2Fx.org%2FQ%2Flup%7C2.0&status=completed"},
		{"repeated values sorted", "CarePlan", "date=lt2025&date=ge2024", "date=ge2024&date=lt2025"},
		{"escapes kept", "Questionnaire", `title=a\,b,c`, "title=a%5C%2Cb%2Cc"},
		{"modifiers", "CarePlan", "subject:Patient=1&status:not=revoked&category:text=diet",
			"category%3Atext=diet&status%3Anot=revoked&subject%3APatient=1"},
		{"tokens", "CarePlan", "category=|x,http://s|,http://s|y", "category=%7Cx%2Chttp%3A%2F%2Fs%7C%2Chttp%3A%2F%2Fs%7Cy"},
		{"zone plus restored", "QuestionnaireResponse", "authored=2024-01-15T10:30:05+01:00", "authored=2024-01-15T10%3A30%3A05%2B01%3A00"},
		{"includes", "QuestionnaireResponse", "_revinclude:iterate=CarePlan:based-on&_include=*&_total=none&_summary=data&_elements=status",
			"_elements=status&_include=%2A&_revinclude%3Aiterate=CarePlan%3Abased-on&_summary=data&_total=none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _, err := Parse(tt.typ, mustQuery(t, tt.query), Options{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := c.Encode()
			if got != tt.want {
				t.Errorf("Encode()\n got %s\nwant %s", got, tt.want)
			}
			// The canonical query parses back to the same query.
			again, _, err := Parse(tt.typ, c.Canonical(), Options{})
			if err != nil {
				t.Fatalf("re-Parse: %v", err)
			}
			if again.Encode() != got {
				t.Errorf("round trip changed %s to %s", got, again.Encode())
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	q := mustQuery(b, "patient=Patient/123&questionnaire=https://x.org/Q/lup|2.0&authored=ge2026-01-01&status=completed&_sort=-authored&_count=50")
	opts := Options{DefaultCount: 20, MaxCount: 100}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Parse("QuestionnaireResponse", q, opts); err != nil {
			b.Fatal(err)
		}
	}
}
