package search

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/fixtures"
	"github.com/patient-involvement/fhir-server/internal/fhir"
)

func TestSummaryAndMandatoryElements(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ                string
		summary, mandatory []string
	}{
		{"Questionnaire",
			[]string{"id", "meta", "implicitRules", "url", "identifier", "version", "name", "title", "status",
				"experimental", "subjectType", "date", "publisher", "contact", "useContext", "jurisdiction",
				"effectivePeriod", "code"},
			[]string{"status"}},
		{"QuestionnaireResponse",
			[]string{"id", "meta", "implicitRules", "identifier", "basedOn", "partOf", "questionnaire", "status",
				"subject", "encounter", "authored", "author", "source"},
			[]string{"status"}},
		{"CarePlan",
			[]string{"id", "meta", "implicitRules", "identifier", "instantiatesCanonical", "instantiatesUri",
				"basedOn", "replaces", "partOf", "status", "intent", "category", "title", "description", "subject",
				"encounter", "period", "created", "author", "addresses"},
			[]string{"status", "intent", "subject"}},
		{"Patient", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			t.Parallel()
			if got := SummaryElements(tt.typ); !slices.Equal(got, tt.summary) {
				t.Errorf("SummaryElements = %v, want %v", got, tt.summary)
			}
			if got := MandatoryElements(tt.typ); !slices.Equal(got, tt.mandatory) {
				t.Errorf("MandatoryElements = %v, want %v", got, tt.mandatory)
			}
			model := resourceModels[tt.typ]
			if model == nil {
				return
			}
			// Every name must be an element of the R4 model, and every mandatory element
			// a summary one (true of the three served types).
			fields := map[string]bool{}
			for i := 0; i < model.NumField(); i++ {
				fields[jsonName(model.Field(i))] = true
			}
			for _, e := range append(SummaryElements(tt.typ), MandatoryElements(tt.typ)...) {
				if !fields[e] {
					t.Errorf("%s is not an element of %s", e, tt.typ)
				}
			}
			for _, e := range MandatoryElements(tt.typ) {
				if !slices.Contains(SummaryElements(tt.typ), e) {
					t.Errorf("mandatory %s is not a summary element", e)
				}
			}
		})
	}
	SummaryElements("CarePlan")[0] = "changed"
	if SummaryElements("CarePlan")[0] != "id" {
		t.Error("SummaryElements returns the package's own slice")
	}
}

const subsetted = `{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED","display":"Resource encoded in summary mode"}`

func TestShape(t *testing.T) {
	t.Parallel()
	qr := `{"resourceType":"QuestionnaireResponse","id":"qr1","meta":{"versionId":"2","lastUpdated":"2025-01-02T03:04:05.678Z"},` +
		`"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Svar</div>"},` +
		`"extension":[{"url":"http://x","valueDecimal":1.50}],"questionnaire":"http://x.org/Q/q|1.0","status":"completed",` +
		`"_status":{"extension":[{"url":"http://y","valueString":"\u00e6"}]},"subject":{"reference":"Patient/p1"},` +
		`"authored":"2025-01-02","item":[{"linkId":"1","answer":[{"valueDecimal":1e2},{"valueDecimal":0.10}]}]}`
	tests := []struct {
		name     string
		typ      string
		raw      string
		summary  Summary
		elements []string
		want     string
	}{
		{"no summary", "QuestionnaireResponse", qr, "", nil, qr},
		{"summary false", "QuestionnaireResponse", qr, SummaryFalse, nil, qr},
		{"summary count", "QuestionnaireResponse", qr, SummaryCount, nil, qr},
		{"summary true", "QuestionnaireResponse", qr, SummaryTrue, nil,
			`{"resourceType":"QuestionnaireResponse","id":"qr1","meta":{"versionId":"2","lastUpdated":"2025-01-02T03:04:05.678Z","tag":[` + subsetted + `]},` +
				`"questionnaire":"http://x.org/Q/q|1.0","status":"completed",` +
				`"_status":{"extension":[{"url":"http://y","valueString":"\u00e6"}]},"subject":{"reference":"Patient/p1"},` +
				`"authored":"2025-01-02"}`},
		{"summary true with nothing to remove", "QuestionnaireResponse",
			`{"resourceType":"QuestionnaireResponse","id":"a","status":"completed"}`, SummaryTrue, nil,
			`{"resourceType":"QuestionnaireResponse","id":"a","status":"completed"}`},
		{"summary text", "QuestionnaireResponse", qr, SummaryText, nil,
			`{"resourceType":"QuestionnaireResponse","id":"qr1","meta":{"versionId":"2","lastUpdated":"2025-01-02T03:04:05.678Z","tag":[` + subsetted + `]},` +
				`"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Svar</div>"},"status":"completed",` +
				`"_status":{"extension":[{"url":"http://y","valueString":"\u00e6"}]}}`},
		{"summary text keeps a care plan's mandatory elements", "CarePlan",
			`{"resourceType":"CarePlan","id":"c","status":"active","intent":"plan","title":"T","subject":{"reference":"Patient/p"},"activity":[]}`,
			SummaryText, nil,
			`{"resourceType":"CarePlan","id":"c","meta":{"tag":[` + subsetted + `]},"status":"active","intent":"plan","subject":{"reference":"Patient/p"}}`},
		{"summary data", "QuestionnaireResponse", qr, SummaryData, nil,
			`{"resourceType":"QuestionnaireResponse","id":"qr1","meta":{"versionId":"2","lastUpdated":"2025-01-02T03:04:05.678Z","tag":[` + subsetted + `]},` +
				`"extension":[{"url":"http://x","valueDecimal":1.50}],"questionnaire":"http://x.org/Q/q|1.0","status":"completed",` +
				`"_status":{"extension":[{"url":"http://y","valueString":"\u00e6"}]},"subject":{"reference":"Patient/p1"},` +
				`"authored":"2025-01-02","item":[{"linkId":"1","answer":[{"valueDecimal":1e2},{"valueDecimal":0.10}]}]}`},
		{"summary data without text", "QuestionnaireResponse",
			`{"resourceType":"QuestionnaireResponse","status":"completed"}`, SummaryData, nil,
			`{"resourceType":"QuestionnaireResponse","status":"completed"}`},
		{"elements keep numbers as written", "QuestionnaireResponse", qr, "", []string{"item"},
			`{"resourceType":"QuestionnaireResponse","id":"qr1","meta":{"versionId":"2","lastUpdated":"2025-01-02T03:04:05.678Z","tag":[` + subsetted + `]},` +
				`"status":"completed","_status":{"extension":[{"url":"http://y","valueString":"\u00e6"}]},` +
				`"item":[{"linkId":"1","answer":[{"valueDecimal":1e2},{"valueDecimal":0.10}]}]}`},
		{"elements with summary false", "QuestionnaireResponse", qr, SummaryFalse, []string{"authored", "nosuch"},
			`{"resourceType":"QuestionnaireResponse","id":"qr1","meta":{"versionId":"2","lastUpdated":"2025-01-02T03:04:05.678Z","tag":[` + subsetted + `]},` +
				`"status":"completed","_status":{"extension":[{"url":"http://y","valueString":"\u00e6"}]},"authored":"2025-01-02"}`},
		{"summary wins over elements", "QuestionnaireResponse",
			`{"resourceType":"QuestionnaireResponse","id":"a","status":"completed","item":[]}`, SummaryTrue, []string{"item"},
			`{"resourceType":"QuestionnaireResponse","id":"a","meta":{"tag":[` + subsetted + `]},"status":"completed"}`},
		{"meta added after resourceType without id", "Questionnaire",
			`{"resourceType":"Questionnaire","status":"draft","item":[{"linkId":"1","type":"display"}]}`, SummaryTrue, nil,
			`{"resourceType":"Questionnaire","meta":{"tag":[` + subsetted + `]},"status":"draft"}`},
		{"tag appended to existing tags", "Questionnaire",
			`{"resourceType":"Questionnaire","id":"q","meta":{"tag":[{"code":"x"}],"source":"s"},"status":"draft","item":[]}`,
			SummaryTrue, nil,
			`{"resourceType":"Questionnaire","id":"q","meta":{"tag":[{"code":"x"},` + subsetted + `],"source":"s"},"status":"draft"}`},
		{"empty tag list", "Questionnaire",
			`{"resourceType":"Questionnaire","id":"q","meta":{"tag":[]},"status":"draft","item":[]}`, SummaryTrue, nil,
			`{"resourceType":"Questionnaire","id":"q","meta":{"tag":[` + subsetted + `]},"status":"draft"}`},
		{"tag not repeated", "Questionnaire",
			`{"resourceType":"Questionnaire","id":"q","meta":{"tag":[` + subsetted + `]},"status":"draft","item":[]}`,
			SummaryTrue, nil,
			`{"resourceType":"Questionnaire","id":"q","meta":{"tag":[` + subsetted + `]},"status":"draft"}`},
		{"white space between tokens", "Questionnaire",
			"{ \"resourceType\" : \"Questionnaire\",\n \"id\":\"q\" , \"status\": \"draft\", \"item\" : [ 1 ] }\n", SummaryTrue, nil,
			`{"resourceType":"Questionnaire","id":"q","meta":{"tag":[` + subsetted + `]},"status":"draft"}`},
		{"escaped member name", "Questionnaire",
			`{"resourceType":"Questionnaire","\u0069d":"q","status":"draft","item":[]}`, SummaryTrue, nil,
			`{"resourceType":"Questionnaire","\u0069d":"q","meta":{"tag":[` + subsetted + `]},"status":"draft"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Shape([]byte(tt.raw), tt.typ, tt.summary, tt.elements)
			if err != nil {
				t.Fatalf("Shape: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Shape =\n%s\nwant\n%s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("Shape gave invalid JSON: %s", got)
			}
		})
	}
}

func TestShapeRejectsWhatIsNotAnObject(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{``, `[]`, `{"a":1`, `{"a" 1}`, `{"a":1,}`, `{"a":"x}`, `{"a":1} x`, `{a:1}`, `{"a":}`,
		`{"resourceType":"Questionnaire","meta":[],"item":[]}`,
		`{"resourceType":"Questionnaire","meta":{"tag":{}},"item":[]}`} {
		if got, err := Shape([]byte(raw), "Questionnaire", SummaryTrue, nil); err == nil {
			t.Errorf("Shape(%q) = %s, want an error", raw, got)
		}
	}
}

// TestShapeFixtures checks every mode on every fixture: the result is valid JSON, holds only
// the allowed elements in their original order and bytes, and is tagged exactly when
// something was removed.
func TestShapeFixtures(t *testing.T) {
	t.Parallel()
	err := fs.WalkDir(fixtures.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		pretty, err := fs.ReadFile(fixtures.FS(), p)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, pretty); err != nil {
			return err
		}
		raw := buf.Bytes()
		typ, _, _ := strings.Cut(p, "/")
		orig, err := fhir.SplitObject(raw)
		if err != nil {
			return err
		}
		values := map[string]string{}
		var order []string
		for _, m := range orig {
			values[m.Key] = string(m.Value)
			order = append(order, m.Key)
		}
		for _, mode := range []struct {
			summary  Summary
			elements []string
		}{{SummaryTrue, nil}, {SummaryText, nil}, {SummaryData, nil}, {"", []string{"item"}}, {"", []string{"identifier"}}} {
			got, err := Shape(raw, typ, mode.summary, mode.elements)
			if err != nil {
				t.Errorf("%s %v: %v", p, mode, err)
				continue
			}
			members, err := fhir.SplitObject(got)
			if err != nil {
				t.Errorf("%s %v: result: %v", p, mode, err)
				continue
			}
			var keys []string
			for _, m := range members {
				keys = append(keys, m.Key)
				if m.Key != "meta" && values[m.Key] != string(m.Value) {
					t.Errorf("%s %v: %s changed", p, mode, m.Key)
				}
			}
			var wantKeys []string
			for _, k := range order {
				if slices.Contains(keys, k) {
					wantKeys = append(wantKeys, k)
				}
			}
			if !slices.Contains(order, "meta") && len(keys) < len(order) {
				wantKeys = slices.Insert(wantKeys, slices.Index(wantKeys, "id")+1, "meta")
			}
			if !slices.Equal(keys, wantKeys) {
				t.Errorf("%s %v: members %v, want them in the original order %v", p, mode, keys, wantKeys)
			}
			kept := 0
			for _, k := range keys {
				if _, ok := values[k]; ok {
					kept++
				}
			}
			removed := kept < len(order)
			if tagged := bytes.Contains(got, []byte(`"SUBSETTED"`)); tagged != removed {
				t.Errorf("%s %v: tagged %v, removed %v", p, mode, tagged, removed)
			}
			if !removed && !bytes.Equal(got, raw) {
				t.Errorf("%s %v: nothing removed but the bytes changed", p, mode)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func BenchmarkShape(b *testing.B) {
	pretty, err := fs.ReadFile(fixtures.FS(), "QuestionnaireResponse/qr-lup-001.json")
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, pretty); err != nil {
		b.Fatal(err)
	}
	raw := buf.Bytes()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Shape(raw, "QuestionnaireResponse", SummaryTrue, nil); err != nil {
			b.Fatal(err)
		}
	}
}
