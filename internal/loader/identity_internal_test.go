package loader

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func TestStableID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		resource string
		fullURL  string
		id       string
		added    bool
		criteria string // encoded
		err      string
	}{
		{name: "own id", resource: `{"resourceType":"CarePlan","id":"cp-1","identifier":[{"system":"s","value":"v"}]}`, id: "cp-1"},
		{name: "own id wins over url", resource: `{"resourceType":"Questionnaire","id":"q","url":"https://example.org/Questionnaire/q","version":"2"}`, id: "q"},
		{name: "url and version", resource: `{"resourceType":"Questionnaire","url":"https://example.org/Questionnaire/q","version":"2"}`,
			criteria: "url=https%3A%2F%2Fexample.org%2FQuestionnaire%2Fq&version=2"},
		{name: "url without version matches only versionless", resource: `{"resourceType":"Questionnaire","url":"https://example.org/Questionnaire/q"}`,
			criteria: "url=https%3A%2F%2Fexample.org%2FQuestionnaire%2Fq&version%3Amissing=true"},
		{name: "url wins over identifier", resource: `{"resourceType":"Questionnaire","url":"https://example.org/q","version":"1","identifier":[{"system":"s","value":"v"}]}`,
			criteria: "url=https%3A%2F%2Fexample.org%2Fq&version=1"},
		{name: "identifier list, first with a value", resource: `{"resourceType":"CarePlan","identifier":[{"system":"x"},{"system":"https://example.org/sid","value":"r-1"}]}`,
			criteria: "identifier=https%3A%2F%2Fexample.org%2Fsid%7Cr-1"},
		{name: "single identifier object", resource: `{"resourceType":"QuestionnaireResponse","identifier":{"system":"https://example.org/sid","value":"r-1"}}`,
			criteria: "identifier=https%3A%2F%2Fexample.org%2Fsid%7Cr-1"},
		{name: "identifier without system", resource: `{"resourceType":"CarePlan","identifier":[{"value":"r-1"}]}`,
			criteria: "identifier=%7Cr-1"},
		{name: "separators in values are escaped", resource: `{"resourceType":"CarePlan","identifier":[{"system":"s","value":"a,b|c$d\\e"}]}`,
			criteria: "identifier=" + url.QueryEscape(`s|a\,b\|c\$d\\e`)},
		{name: "urn:uuid fullUrl", resource: `{"resourceType":"CarePlan"}`, fullURL: "urn:uuid:8D2F5A56-1c4b-4f0e-9a57-0f3a3c1b2e11",
			id: "8d2f5a56-1c4b-4f0e-9a57-0f3a3c1b2e11", added: true},
		{name: "nothing to go by", resource: `{"resourceType":"CarePlan"}`, fullURL: "http://elsewhere.example/CarePlan/1", err: "no id, no url and no identifier"},
		{name: "id that is not a string", resource: `{"resourceType":"CarePlan","id":7}`, err: "id 7 is not a valid FHIR id"},
		{name: "id too long", resource: `{"resourceType":"CarePlan","id":"` + strings.Repeat("a", 65) + `"}`, err: "is not a valid FHIR id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var h head
			if err := json.Unmarshal([]byte(tc.resource), &h); err != nil {
				t.Fatal(err)
			}
			got, err := stableID(&h, tc.fullURL)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			criteria := ""
			if got.criteria != nil {
				criteria = got.criteria.Encode()
			}
			if err != nil || got.id != tc.id || got.added != tc.added || criteria != tc.criteria {
				t.Fatalf("stableID = id %q added %v criteria %q, %v; want id %q added %v criteria %q",
					got.id, got.added, criteria, err, tc.id, tc.added, tc.criteria)
			}
		})
	}
}

func TestWithID(t *testing.T) {
	t.Parallel()
	tests := []struct{ body, want string }{
		{`{"resourceType":"CarePlan"}`, `{"id":"x","resourceType":"CarePlan"}`},
		{" {\n  \"resourceType\": \"CarePlan\"\n}\n", `{"id":"x","resourceType": "CarePlan"` + "\n}"},
		{`{}`, `{"id":"x"}`},
	}
	for _, tc := range tests {
		got, err := withID([]byte(tc.body), "x")
		if err != nil || string(got) != tc.want {
			t.Errorf("withID(%q) = %q, %v; want %q", tc.body, got, err, tc.want)
		}
	}
}

func TestSameContent(t *testing.T) {
	t.Parallel()
	stored := `{"resourceType":"CarePlan","id":"a","meta":{"versionId":"3","lastUpdated":"2026-01-01T00:00:00.000Z"},"status":"active","x":1.10}`
	tests := []struct {
		name string
		body string
		same bool
	}{
		{"identical apart from server meta", `{"resourceType":"CarePlan","id":"a","status":"active","x":1.10}`, true},
		{"other order and whitespace", "{\"x\": 1.10, \"status\": \"active\",\n \"id\": \"a\", \"resourceType\": \"CarePlan\"}", true},
		{"client's own versionId", `{"resourceType":"CarePlan","id":"a","meta":{"versionId":"9"},"status":"active","x":1.10}`, true},
		{"changed value", `{"resourceType":"CarePlan","id":"a","status":"completed","x":1.10}`, false},
		{"decimal written differently", `{"resourceType":"CarePlan","id":"a","status":"active","x":1.1}`, false},
		{"other meta kept", `{"resourceType":"CarePlan","id":"a","meta":{"tag":[{"code":"t"}]},"status":"active","x":1.10}`, false},
		{"added member", `{"resourceType":"CarePlan","id":"a","status":"active","x":1.10,"intent":"plan"}`, false},
	}
	for _, tc := range tests {
		if got := sameContent([]byte(stored), []byte(tc.body)); got != tc.same {
			t.Errorf("%s: sameContent = %v, want %v", tc.name, got, tc.same)
		}
	}
}
