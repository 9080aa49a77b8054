package api_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// loadCorpus stores every corpus resource of the three served types (PUT with its own id,
// or POST when it has none) and returns a name for each stored id: its id when the file
// gave one, else "file:" and the file name.
func loadCorpus(t *testing.T, s *testServer) map[string]string {
	t.Helper()
	names := map[string]string{}
	for _, typ := range []string{"Questionnaire", "QuestionnaireResponse", "CarePlan"} {
		for _, f := range corpus(t, typ) {
			if _, refused := breaksAnInvariant[filepath.Base(f)]; refused {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			m := decode(t, data)
			if id, ok := m["id"].(string); ok {
				r := s.do("PUT", "/fhir/"+typ+"/"+id, data)
				if r.status != http.StatusCreated && r.status != http.StatusOK {
					t.Fatalf("PUT %s: %d %s", f, r.status, r.body)
				}
				names[typ+"/"+id] = id
				continue
			}
			r := s.do("POST", "/fhir/"+typ, data)
			if r.status != http.StatusCreated {
				t.Fatalf("POST %s: %d %s", f, r.status, r.body)
			}
			names[typ+"/"+r.json(t)["id"].(string)] = "file:" + filepath.Base(f)
		}
	}
	return names
}

// searchAll runs a search, follows every next link, and returns the names of the matches
// and of the included resources.
func searchAll(t *testing.T, s *testServer, names map[string]string, path string) (matches, included []string) {
	t.Helper()
	next := path
	for pages := 0; next != ""; pages++ {
		if pages > 50 {
			t.Fatalf("%s: more than 50 pages", path)
		}
		r := s.do("GET", next, nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", next, r.status, r.body)
		}
		b := r.json(t)
		if b["resourceType"] != "Bundle" || b["type"] != "searchset" {
			t.Fatalf("GET %s: not a searchset Bundle: %s", next, r.body)
		}
		next = ""
		links, _ := b["link"].([]any)
		for _, l := range links {
			l := l.(map[string]any)
			if l["relation"] == "next" {
				next = l["url"].(string)
			}
		}
		entries, _ := b["entry"].([]any)
		for _, e := range entries {
			e := e.(map[string]any)
			mode := e["search"].(map[string]any)["mode"]
			res, _ := e["resource"].(map[string]any)
			if mode == "outcome" {
				continue
			}
			key := res["resourceType"].(string) + "/" + res["id"].(string)
			name, ok := names[key]
			if !ok {
				t.Fatalf("GET %s returned %s, which was not loaded", path, key)
			}
			if mode == "match" {
				matches = append(matches, name)
			} else {
				included = append(included, res["resourceType"].(string)+":"+name)
			}
		}
	}
	sort.Strings(matches)
	sort.Strings(included)
	return matches, included
}

// TestSearchCorpus runs searches of every parameter type over the shared corpus of real
// resources. Each expectation was worked out by hand from the files (see the comments).
func TestSearchCorpus(t *testing.T) {
	s := newTestServer(t)
	names := loadCorpus(t, s)
	ussg := []string{"questionnaireresponse-sdc-example-ussg-fht-answers", "ussg-fht-answers"}
	uscoreQR := []string{"AUDIT-C", "TAPS", "exercise-vital-sign", "glascow-coma-score", "hunger-vital-sign-example", "phq-9-example", "prapare-example"}
	cases := []struct {
		name     string
		query    string
		want     []string
		included []string
	}{
		// token
		{"status in-progress", "QuestionnaireResponse?status=in-progress",
			append([]string{"file:smartforms__qr.json", "file:smartforms__questionnaire-response-sample.json"}, ussg...), nil},
		{"status not completed", "QuestionnaireResponse?status:not=completed",
			append([]string{"file:smartforms__qr.json", "file:smartforms__questionnaire-response-sample.json"}, ussg...), nil},
		{"identifier system|value", "QuestionnaireResponse?identifier=http://example.org/fhir/NamingSystem/questionnaire-ids|Q12349876", []string{"3141"}, nil},
		{"identifier value only", "QuestionnaireResponse?identifier=Q12349876", []string{"3141"}, nil},
		{"identifier wrong system", "QuestionnaireResponse?identifier=urn:other|Q12349876", nil, nil},
		{"identifier without system", "QuestionnaireResponse?identifier=|adaptive-questionnaireresponse-example-phq9", []string{"adaptive-questionnaireresponse-sdc-example-phq9"}, nil},
		{"careplan intent order", "CarePlan?intent=order", []string{"colonoscopy"}, nil},
		{"careplan category system|code", "CarePlan?category=http://snomed.info/sct|734163000", []string{"careplan-ulcer-example"}, nil},
		{"careplan status OR", "CarePlan?status=draft,completed", []string{"f001", "f002", "f003", "f201", "f203"}, nil},
		{"AND of two tokens", "CarePlan?status=active&intent=plan", []string{"example", "f202", "gpvisit", "integrate", "obesity-narrative", "preg", "careplan-ulcer-example"}, nil},
		{"_id", "CarePlan?_id=f001,f202", []string{"f001", "f202"}, nil},
		{"version token", "Questionnaire?version=2.8.0", []string{"questionnaire-sdc-profile-example-PHQ9", "questionnaire-sdc-profile-example-cap", "questionnaire-sdc-profile-example-loinc", "questionnaire-sdc-profile-example-render"}, nil},
		{"subject-type Person", "Questionnaire?subject-type=Person", []string{"178918", "54127-6-x", "questionnaire-sdc-profile-example-hunger-vital-signs"}, nil},

		// reference
		{"subject typed", "QuestionnaireResponse?subject=Patient/example", append([]string{"gcs"}, uscoreQR...), nil},
		{"patient bare id", "QuestionnaireResponse?patient=example", append([]string{"gcs"}, uscoreQR...), nil},
		{"subject type modifier", "QuestionnaireResponse?subject:Patient=f201", []string{"f201"}, nil},
		{"subject absolute elsewhere", "QuestionnaireResponse?subject=http://hl7.org/fhir/Patient/proband",
			append([]string{"adaptive-questionnaireresponse-sdc-example-phq9", "questionnaireresponse-sdc-profile-example-PHQ9"}, ussg...), nil},
		{"author", "QuestionnaireResponse?author=Practitioner/practitioner-1", []string{"AUDIT-C", "TAPS", "exercise-vital-sign", "glascow-coma-score", "hunger-vital-sign-example", "phq-9-example"}, nil},
		{"encounter", "QuestionnaireResponse?encounter=example", []string{"3141"}, nil},
		{"careplan condition", "CarePlan?condition=Condition/f201", []string{"f001", "f002", "f003"}, nil},
		{"careplan patient", "CarePlan?patient=f201", []string{"f201", "f202", "f203"}, nil},
		{"careplan goal", "CarePlan?goal=Goal/example", []string{"example"}, nil},
		{"reference missing", "QuestionnaireResponse?subject:missing=true&status=completed",
			[]string{"calculatedExpressionResponse", "file:lforms__qr-items-under-repeating-choice-item.json", "file:lforms__qr-with-answerValueSet-autocomplete-searchfield.json",
				"file:lforms__qr-with-readonly-repeating-items.json", "file:lforms__qr-with-repeating-group-exceed-maxOccurs.json",
				"file:lforms__questionnaire-response-allinone-cwe-userdata.json", "file:lforms__rxterms.R4.QR.json", "questionnaireresponse-sdc-profile-example", "3141"}, nil},

		// canonical
		{"questionnaire url", "QuestionnaireResponse?questionnaire=http://hl7.org/fhir/us/core/Questionnaire/AUDIT-C", []string{"AUDIT-C"}, nil},
		{"questionnaire url matches versioned reference", "QuestionnaireResponse?questionnaire=https://smartforms.csiro.au/docs/sdc/population/calculated-expression-1", []string{"file:smartforms__qr.json"}, nil},
		{"questionnaire url|version", "QuestionnaireResponse?questionnaire=https://smartforms.csiro.au/docs/sdc/population/calculated-expression-1|0.1.0", []string{"file:smartforms__qr.json"}, nil},
		{"questionnaire other version", "QuestionnaireResponse?questionnaire=https://smartforms.csiro.au/docs/sdc/population/calculated-expression-1|0.2.0", nil, nil},

		// uri
		{"url", "Questionnaire?url=http://hl7.org/fhir/us/core/Questionnaire/TAPS", []string{"TAPS"}, nil},
		{"url below", "Questionnaire?url:below=http://hl7.org/fhir/us/core",
			[]string{"AUDIT-C", "TAPS", "exercise-vital-sign", "hunger-vital-sign-example", "phq-9-example", "prapare-example"}, nil},
		{"url above", "Questionnaire?url:above=http://hl7.org/fhir/Questionnaire/gcs/extra/part", []string{"gcs"}, nil},

		// string
		{"title starts with, any case", "Questionnaire?title=patient+HEALTH", []string{"phq-9-questionnaire", "questionnaire-sdc-profile-example-PHQ9"}, nil},
		{"title contains", "Questionnaire?title:contains=vital+sign",
			[]string{"178918", "exercise-vital-sign", "hunger-vital-sign-example", "questionnaire-sdc-profile-example-hunger-vital-signs"}, nil},
		{"name exact", "Questionnaire?name:exact=TAPS", []string{"TAPS"}, nil},
		{"name exact is case-sensitive", "Questionnaire?name:exact=taps", nil, nil},
		{"publisher", "Questionnaire?publisher=hl7",
			[]string{"CardiologyForm", "questionnaire-sdc-profile-example-PHQ9", "questionnaire-sdc-profile-example-cap", "questionnaire-sdc-profile-example-loinc", "questionnaire-sdc-profile-example-render"}, nil},

		// date
		{"authored year, zones normalised", "QuestionnaireResponse?authored=2013", []string{"3141", "bb", "f201"}, nil},
		{"authored day", "QuestionnaireResponse?authored=2008-01-17", ussg, nil},
		{"authored second", "QuestionnaireResponse?authored=2014-12-11T04:44:16Z", []string{"gcs", "glascow-coma-score"}, nil},
		{"authored lt", "QuestionnaireResponse?authored=lt2010", ussg, nil},
		{"authored range", "QuestionnaireResponse?authored=ge2023-08-14&authored=lt2023-08-15", []string{"AUDIT-C", "TAPS"}, nil},
		{"authored with offset", "QuestionnaireResponse?authored=2013-02-19T14:15:00%2B10:00", []string{"bb"}, nil},
		{"period contained in year", "CarePlan?date=2013", []string{"f003", "f201", "f203", "preg"}, nil},
		{"period ge, open ends", "CarePlan?date=ge2013-06", []string{"careplan-ulcer-example", "example", "f002", "gpvisit", "preg"}, nil},
		{"period lt, open start", "CarePlan?date=lt2012", []string{"example", "f001", "f002"}, nil},
		{"period sa", "CarePlan?date=sa2013-04-01", []string{"careplan-ulcer-example", "f203"}, nil},
		{"period eb", "CarePlan?date=eb2012", []string{"f001"}, nil},
		{"period missing", "CarePlan?date:missing=true", []string{"colonoscopy", "f202", "integrate", "obesity-narrative"}, nil},
		{"activity timing bounds in month", "CarePlan?activity-date=2013-02", []string{"preg"}, nil},
		{"activity period in day", "CarePlan?activity-date=2013-01-01", []string{"gpvisit"}, nil},
		{"questionnaire date year", "Questionnaire?date=2023",
			[]string{"AUDIT-C", "CVDRiskCalculator", "TAPS", "exercise-vital-sign", "hunger-vital-sign-example", "phq-9-example", "prapare-example"}, nil},

		// includes
		{"include canonical questionnaire", "QuestionnaireResponse?_id=AUDIT-C&_include=QuestionnaireResponse:questionnaire",
			[]string{"AUDIT-C"}, []string{"Questionnaire:AUDIT-C"}},
		{"revinclude responses", "Questionnaire?url=http://hl7.org/fhir/us/core/Questionnaire/TAPS&_revinclude=QuestionnaireResponse:questionnaire",
			[]string{"TAPS"}, []string{"QuestionnaireResponse:TAPS"}},
		{"include to a type not stored", "CarePlan?_id=f001&_include=CarePlan:condition", []string{"f001"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			typ, q, _ := strings.Cut(tc.query, "?")
			v, err := url.ParseQuery(q)
			if err != nil {
				t.Fatal(err)
			}
			v.Set("_count", "4") // several pages for most cases
			got, inc := searchAll(t, s, names, "/fhir/"+typ+"?"+v.Encode())
			want := append([]string(nil), tc.want...)
			sort.Strings(want)
			wantInc := append([]string(nil), tc.included...)
			sort.Strings(wantInc)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s\n got %v\nwant %v", tc.query, got, want)
			}
			if strings.Join(inc, ",") != strings.Join(wantInc, ",") {
				t.Errorf("%s included\n got %v\nwant %v", tc.query, inc, wantInc)
			}
		})
	}
}

// TestSearchSortCorpus checks _sort over real data: authored ascending puts resources
// without authored first, descending last, and ties break by id.
func TestSearchSortCorpus(t *testing.T) {
	s := newTestServer(t)
	names := loadCorpus(t, s)
	cases := []struct {
		name, query string
		first, last string
	}{
		{"authored ascending", "QuestionnaireResponse?_sort=authored&_count=100", "", "Cardiology-MariaSantos"},
		{"authored descending", "QuestionnaireResponse?_sort=-authored&_count=100", "Cardiology-MariaSantos", ""},
		{"date ascending", "Questionnaire?_sort=date&status=active&subject-type=Patient&_count=100", "", "CardiologyForm"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("GET", "/fhir/"+tc.query, nil)
			if r.status != http.StatusOK {
				t.Fatalf("%d %s", r.status, r.body)
			}
			var order []string
			for _, e := range r.json(t)["entry"].([]any) {
				res := e.(map[string]any)["resource"].(map[string]any)
				order = append(order, names[res["resourceType"].(string)+"/"+res["id"].(string)])
			}
			if tc.first != "" && order[0] != tc.first {
				t.Errorf("first %s, want %s (order %v)", order[0], tc.first, order)
			}
			if tc.last != "" && order[len(order)-1] != tc.last {
				t.Errorf("last %s, want %s (order %v)", order[len(order)-1], tc.last, order)
			}
		})
	}
}
