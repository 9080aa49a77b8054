package loader

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestStableID(t *testing.T) {
	t.Parallel()
	byURL := derivedID("url", "https://example.org/Questionnaire/q|2")
	byIdentifier := derivedID("identifier", "https://example.org/sid|r-1")
	tests := []struct {
		name     string
		resource string
		fullURL  string
		want     string
		added    bool
		err      string
	}{
		{name: "own id", resource: `{"resourceType":"CarePlan","id":"cp-1","identifier":[{"system":"s","value":"v"}]}`, want: "cp-1"},
		{name: "own id wins over url", resource: `{"resourceType":"Questionnaire","id":"q","url":"https://example.org/Questionnaire/q","version":"2"}`, want: "q"},
		{name: "url and version", resource: `{"resourceType":"Questionnaire","url":"https://example.org/Questionnaire/q","version":"2"}`, want: byURL, added: true},
		{name: "another version is another resource", resource: `{"resourceType":"Questionnaire","url":"https://example.org/Questionnaire/q","version":"3"}`,
			want: derivedID("url", "https://example.org/Questionnaire/q|3"), added: true},
		{name: "identifier list, first with a value", resource: `{"resourceType":"CarePlan","identifier":[{"system":"x"},{"system":"https://example.org/sid","value":"r-1"}]}`,
			want: byIdentifier, added: true},
		{name: "single identifier object", resource: `{"resourceType":"QuestionnaireResponse","identifier":{"system":"https://example.org/sid","value":"r-1"}}`,
			want: byIdentifier, added: true},
		{name: "urn:uuid fullUrl", resource: `{"resourceType":"CarePlan"}`, fullURL: "urn:uuid:8D2F5A56-1c4b-4f0e-9a57-0f3a3c1b2e11",
			want: "8d2f5a56-1c4b-4f0e-9a57-0f3a3c1b2e11", added: true},
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
			if err != nil || got.id != tc.want || got.added != tc.added {
				t.Fatalf("stableID = %+v, %v; want id %q, added %v", got, err, tc.want, tc.added)
			}
		})
	}
	if len(byURL) != 20 || byURL == byIdentifier {
		t.Errorf("derived ids %q and %q: want 20 hex digits, distinct", byURL, byIdentifier)
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
