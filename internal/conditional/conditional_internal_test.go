package conditional

import (
	"testing"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

func TestParseQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, want string
		err              bool
	}{
		{name: "parameters", text: "identifier=https://example.org/sid|1", want: "identifier=https%3A%2F%2Fexample.org%2Fsid%7C1"},
		{name: "encoded", text: "identifier=https%3A%2F%2Fexample.org%2Fsid%7C1&status=completed", want: "identifier=https%3A%2F%2Fexample.org%2Fsid%7C1&status=completed"},
		{name: "leading ?", text: "?status=completed", want: "status=completed"},
		{name: "type and ?", text: "QuestionnaireResponse?status=completed", want: "status=completed"},
		{name: "URL of the type", text: "http://example.org/fhir/QuestionnaireResponse?status=completed", want: "status=completed"},
		{name: "a ? inside a value", text: "questionnaire=https://example.org/q?v=1", want: "questionnaire=https%3A%2F%2Fexample.org%2Fq%3Fv%3D1"},
		{name: "another type", text: "CarePlan?status=active", err: true},
		{name: "bad escape", text: "status=%zz", err: true},
		{name: "empty", text: "  ", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q, err := ParseQuery("QuestionnaireResponse", tc.text)
			if tc.err {
				if !fhir.IsKind(err, fhir.KindInvalid) {
					t.Fatalf("error %v, want an invalid error", err)
				}
				return
			}
			if err != nil || q.Encode() != tc.want {
				t.Fatalf("ParseQuery(%q) = %q, %v; want %q", tc.text, q.Encode(), err, tc.want)
			}
		})
	}
}

func TestBodyID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body, id string
		has      bool
	}{
		{`{"resourceType":"CarePlan","id":"a"}`, "a", true},
		{`{"resourceType":"CarePlan"}`, "", false},
		{`{"resourceType":"CarePlan","id":7}`, "7", true},
		{`not json`, "", false},
	}
	for _, tc := range tests {
		if id, has := bodyID([]byte(tc.body)); id != tc.id || has != tc.has {
			t.Errorf("bodyID(%s) = %q, %v; want %q, %v", tc.body, id, has, tc.id, tc.has)
		}
	}
}

func TestWithID(t *testing.T) {
	t.Parallel()
	tests := []struct{ body, want string }{
		{`{"resourceType":"CarePlan"}`, `{"id":"x","resourceType":"CarePlan"}`},
		{" {\n \"resourceType\": \"CarePlan\"}", `{"id":"x","resourceType": "CarePlan"}`},
		{`{}`, `{"id":"x"}`},
	}
	for _, tc := range tests {
		if got, err := withID([]byte(tc.body), "x"); err != nil || string(got) != tc.want {
			t.Errorf("withID(%q) = %q, %v; want %q", tc.body, got, err, tc.want)
		}
	}
	if _, err := withID([]byte(`[1]`), "x"); err == nil {
		t.Error("withID accepted an array")
	}
}
