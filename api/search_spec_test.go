package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestSearchSpecCorners checks rules of FHIR R4 search that are easy to get wrong: totals of
// searches decided partly in Go, number prefixes without implied precision, Timing by its
// outer limits, ne and missing values, empty result parameters.
func TestSearchSpecCorners(t *testing.T) {
	s := newTestServer(t)
	put := func(typ, id, body string) {
		t.Helper()
		if r := s.do("PUT", "/fhir/"+typ+"/"+id, []byte(body)); r.status != 201 && r.status != 200 {
			t.Fatalf("PUT %s/%s: %d %s", typ, id, r.status, r.body)
		}
	}
	put("CarePlan", "timing", `{"resourceType":"CarePlan","id":"timing","status":"active","intent":"plan","subject":{"reference":"Patient/p"},
		"activity":[{"detail":{"status":"scheduled","scheduledTiming":{"event":["2013-01-31","2013-02-15"]}}}]}`)
	put("CarePlan", "events", `{"resourceType":"CarePlan","id":"events","status":"active","intent":"plan","subject":{"reference":"Patient/p"},
		"activity":[{"detail":{"status":"scheduled","scheduledTiming":{"event":["2024-05-03T10:00:00.123Z","2024-06-01T00:00:00Z"]}}}]}`)
	put("CarePlan", "noperiod", `{"resourceType":"CarePlan","id":"noperiod","status":"active","intent":"plan","subject":{"reference":"Patient/p"}}`)
	put("CarePlan", "period", `{"resourceType":"CarePlan","id":"period","status":"active","intent":"plan","subject":{"reference":"Patient/p"},"period":{"start":"2024-05-03T10:00:00Z","end":"2024-05-03T11:00:00Z"}}`)
	put("Questionnaire", "q5", `{"resourceType":"Questionnaire","id":"q5","status":"active","useContext":[{"code":{"system":"http://terminology.hl7.org/CodeSystem/usage-context-type","code":"age"},"valueQuantity":{"value":5,"unit":"a"}}]}`)
	put("Questionnaire", "q100", `{"resourceType":"Questionnaire","id":"q100","status":"active","useContext":[{"code":{"system":"http://terminology.hl7.org/CodeSystem/usage-context-type","code":"age"},"valueQuantity":{"value":100.3,"unit":"a"}}]}`)

	cases := []struct {
		name, query string
		want        []string // ids, in any order; nil: no match
		total       string   // the Bundle total, when it must be given
	}{
		{"total of a search checked in Go", "CarePlan?activity-date=ge2024-05-03T10:00:00.123Z&_total=accurate", []string{"events"}, "1"},
		{"count only of a search checked in Go", "CarePlan?activity-date=ap2024-05-03&_summary=count", nil, "1"},
		{"gt ignores the value's precision", "Questionnaire?context-quantity=gt5.2", []string{"q100"}, ""},
		{"gt exact", "Questionnaire?context-quantity=gt100", []string{"q100"}, ""},
		{"sa exact", "Questionnaire?context-quantity=sa100", []string{"q100"}, ""},
		{"eq keeps the precision", "Questionnaire?context-quantity=5", []string{"q5"}, ""},
		{"a Timing is not inside one month", "CarePlan?activity-date=2013-02", nil, ""},
		{"a Timing is inside its year", "CarePlan?activity-date=2013", []string{"timing"}, ""},
		{"a Timing does not start after a day within it", "CarePlan?activity-date=sa2013-02-01&_id=timing", nil, ""},
		{"ne at day precision includes resources without the element", "CarePlan?date=ne2024-05-03&_id=noperiod,period", []string{"noperiod"}, ""},
		{"ne at second fractions too", "CarePlan?date=ne2024-05-03T10:15:30.123Z&_id=noperiod,period", []string{"noperiod", "period"}, ""},
		{"empty _count is ignored", "CarePlan?_count=&_id=period", []string{"period"}, ""},
		{"repeated _sort keys", "CarePlan?_sort=status&_sort=-_id&_id=period,noperiod", []string{"period", "noperiod"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("GET", "/fhir/"+tc.query, nil)
			if r.status != http.StatusOK {
				t.Fatalf("%d %s", r.status, r.body)
			}
			b := r.json(t)
			var got []string
			entries, _ := b["entry"].([]any)
			for _, e := range entries {
				e := e.(map[string]any)
				if e["search"].(map[string]any)["mode"] == "match" {
					got = append(got, e["resource"].(map[string]any)["id"].(string))
				}
			}
			if strings.Join(sorted(got), ",") != strings.Join(sorted(tc.want), ",") {
				t.Errorf("%s: matches %v, want %v", tc.query, got, tc.want)
			}
			if tc.total != "" {
				if tot, ok := b["total"]; !ok || tot.(interface{ String() string }).String() != tc.total {
					t.Errorf("%s: total %v, want %s", tc.query, b["total"], tc.total)
				}
			}
		})
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestConditionalUpdateNeverOverwritesWhatItDidNotSelect: no match, and the body names an
// id that exists, is a conflict rather than an overwrite of an unrelated resource.
func TestConditionalUpdateNeverOverwritesWhatItDidNotSelect(t *testing.T) {
	s := newTestServer(t)
	if r := s.do("PUT", "/fhir/QuestionnaireResponse/x1", []byte(`{"resourceType":"QuestionnaireResponse","id":"x1","status":"completed","identifier":{"system":"http://s","value":"A"}}`)); r.status != 201 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	r := s.do("PUT", "/fhir/QuestionnaireResponse?identifier=http://s|H", []byte(`{"resourceType":"QuestionnaireResponse","id":"x1","status":"completed","identifier":{"system":"http://s","value":"H"}}`))
	outcome(t, r, http.StatusConflict, "does not overwrite")
	if cur := s.do("GET", "/fhir/QuestionnaireResponse/x1", nil); !strings.Contains(string(cur.body), `"versionId":"1"`) {
		t.Errorf("x1 was written: %s", cur.body)
	}
	r = s.do("PUT", "/fhir/QuestionnaireResponse?identifier=http://s|H", []byte(`{"resourceType":"QuestionnaireResponse","id":"x2","status":"completed","identifier":{"system":"http://s","value":"H"}}`))
	if r.status != http.StatusCreated {
		t.Errorf("a free id: %d %s", r.status, r.body)
	}
	r = s.do("DELETE", "/fhir/QuestionnaireResponse?identifier=http://s|A&status=", nil)
	outcome(t, r, http.StatusBadRequest, "empty value")
}
