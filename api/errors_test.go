package api_test

import (
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/api"
)

func TestBadInputIsRejectedAndNothingIsWritten(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(o *api.Options) { o.MaxBodyBytes = 4096 })
	existing, _ := s.mustCreate("QuestionnaireResponse", qrMinimal)
	withID := func(id string) string {
		return strings.Replace(qrMinimal, `"status"`, `"id":"`+id+`","status"`, 1)
	}
	tests := []struct {
		name        string
		method      string
		path        string
		body        string
		contentType string
		status      int
		want        string // in the OperationOutcome
		expression  string // in the OperationOutcome, "" when none is expected
	}{
		{"invalid JSON", "POST", "/fhir/QuestionnaireResponse", `{"resourceType": "QuestionnaireResponse",`, "", 400, "not valid JSON", ""},
		{"not an object", "POST", "/fhir/QuestionnaireResponse", `[1,2]`, "", 400, "JSON object", ""},
		{"empty body", "POST", "/fhir/QuestionnaireResponse", ` `, "", 400, "empty", ""},
		{"resourceType differs from URL", "POST", "/fhir/QuestionnaireResponse", `{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/1"}}`, "", 400, "URL is for QuestionnaireResponse", "resourceType"},
		{"no resourceType", "POST", "/fhir/QuestionnaireResponse", `{"status":"completed"}`, "", 400, "no resourceType", "resourceType"},
		{"misspelt element", "POST", "/fhir/QuestionnaireResponse", strings.Replace(qrMinimal, `"subject"`, `"subjekt"`, 1), "", 400, `did you mean \"subject\"`, "QuestionnaireResponse.subjekt"},
		{"invalid status code", "POST", "/fhir/QuestionnaireResponse", strings.Replace(qrMinimal, `"completed"`, `"done"`, 1), "", 400, `the code \"done\"`, "QuestionnaireResponse.status"},
		{"missing status", "POST", "/fhir/QuestionnaireResponse", strings.Replace(qrMinimal, `"status":"completed",`, ``, 1), "", 400, "Missing required element QuestionnaireResponse.status", "QuestionnaireResponse.status"},
		{"wrong JSON type", "POST", "/fhir/QuestionnaireResponse", strings.Replace(qrMinimal, `"valueDecimal":1.10`, `"valueInteger":"1"`, 1), "", 400, "must be a JSON number", "QuestionnaireResponse.item[0].answer[0].valueInteger"},
		{"single element given as array", "POST", "/fhir/QuestionnaireResponse", strings.Replace(qrMinimal, `"subject":{"reference":"Patient/p1"}`, `"subject":[{"reference":"Patient/p1"}]`, 1), "", 400, "must be a single value", "QuestionnaireResponse.subject"},
		{"two choice types", "POST", "/fhir/QuestionnaireResponse", strings.Replace(qrMinimal, `"valueDecimal":1.10`, `"valueDecimal":1.10,"valueString":"x"`, 1), "", 400, "only one value", ""},
		{"repeated key", "POST", "/fhir/QuestionnaireResponse", strings.Replace(qrMinimal, `"status":"completed"`, `"status":"completed","status":"amended"`, 1), "", 400, "repeats the key", "QuestionnaireResponse.status"},
		{"invalid body id on create", "POST", "/fhir/QuestionnaireResponse", withID("bad id!"), "", 400, "id", "QuestionnaireResponse.id"},
		{"unknown resource type", "POST", "/fhir/Questionaire", qrMinimal, "", 404, "not a FHIR R4 resource type", ""},
		{"type not served", "POST", "/fhir/Patient", `{"resourceType":"Patient"}`, "", 404, "does not serve Patient", ""},
		{"put id differs from URL", "PUT", "/fhir/QuestionnaireResponse/" + existing, withID("other"), "", 400, "does not match", "QuestionnaireResponse.id"},
		{"put without id", "PUT", "/fhir/QuestionnaireResponse/" + existing, qrMinimal, "", 400, "has no id", "QuestionnaireResponse.id"},
		{"put invalid URL id", "PUT", "/fhir/QuestionnaireResponse/" + strings.Repeat("x", 65), withID(strings.Repeat("x", 65)), "", 400, "not a valid resource id", ""},
		{"put invalid resource", "PUT", "/fhir/QuestionnaireResponse/" + existing, strings.Replace(withID(existing), `"completed"`, `"finished"`, 1), "", 400, `the code \"finished\"`, "QuestionnaireResponse.status"},
		{"unknown id", "GET", "/fhir/QuestionnaireResponse/nope", "", "", 404, "not known", ""},
		{"unknown version", "GET", "/fhir/QuestionnaireResponse/" + existing + "/_history/9", "", "", 404, "no version 9", ""},
		{"bad version id", "GET", "/fhir/QuestionnaireResponse/" + existing + "/_history/one", "", "", 404, "not a version id", ""},
		{"delete unknown", "DELETE", "/fhir/QuestionnaireResponse/nope", "", "", 404, "not known", ""},
		{"method not allowed", "POST", "/fhir/QuestionnaireResponse/" + existing, `{}`, "application/fhir+json", 405, "not allowed", ""},
		{"post on instance", "POST", "/fhir/QuestionnaireResponse/" + existing, qrMinimal, "", 405, "not allowed", ""},
		{"unsupported media type", "POST", "/fhir/QuestionnaireResponse", `<QuestionnaireResponse/>`, "application/fhir+xml", 415, "not accepted", ""},
		{"body over limit", "POST", "/fhir/QuestionnaireResponse", strings.Replace(qrMinimal, `"status"`, `"language":"`+strings.Repeat("a", 5000)+`","status"`, 1), "", 413, "larger than the limit", ""},
		{"bad _count on history", "GET", "/fhir/QuestionnaireResponse/_history?_count=-1", "", "", 400, "_count", "_count"},
		{"bad _since on history", "GET", "/fhir/QuestionnaireResponse/_history?_since=yesterday", "", "", 400, "_since", "_since"},
		{"tampered history cursor", "GET", "/fhir/QuestionnaireResponse/_history?_cursor=%21%21", "", "", 400, "paging cursor", ""},
		{"unknown path", "GET", "/nothing/here", "", "", 404, "Nothing is served", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			var headers []string
			if tc.contentType != "" {
				headers = append(headers, "Content-Type", tc.contentType)
			}
			r := s.do(tc.method, tc.path, body, headers...)
			outcome(t, r, tc.status, tc.want)
			if tc.expression != "" && !strings.Contains(string(r.body), `"expression":["`+tc.expression+`"]`) {
				t.Errorf("OperationOutcome lacks expression %q: %s", tc.expression, r.body)
			}
		})
	}

	// Nothing half-written: the only versions are the one created above.
	r := s.do("GET", "/fhir/QuestionnaireResponse/_history", nil)
	if n := len(r.json(t)["entry"].([]any)); n != 1 {
		t.Errorf("type history has %d entries after rejected requests, want 1: %s", n, r.body)
	}
	for _, typ := range []string{"CarePlan", "Questionnaire"} {
		r := s.do("GET", "/fhir/"+typ+"/_history", nil)
		if _, has := r.json(t)["entry"]; has {
			t.Errorf("%s history is not empty after rejected requests: %s", typ, r.body)
		}
	}
}
