package api_test

import (
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/internal/auth"
)

// TestPatientTokenLearnsNothingOfOtherIDs: to a token limited to one patient, every write to
// an id of another patient's resource answers exactly as the same write to an id never
// written: update (update as create is not offered to such tokens), update with If-Match,
// conditional update naming the id, delete. Only the id differs in the answers.
func TestPatientTokenLearnsNothingOfOtherIDs(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t)
	admin := s.mint(auth.TokenOptions{Scope: "system/*.*"})
	f := seedPatients(t, s, admin)
	anna := "Bearer " + s.mint(auth.TokenOptions{Scope: "patient/*.cruds", Patient: "anna"})
	const unused = "never-written-id"
	body := func(id string) string {
		return `{"resourceType":"QuestionnaireResponse","id":"` + id + `","status":"completed","subject":{"reference":"Patient/anna"}}`
	}
	writes := []struct {
		name, method, path, body string
		header                   []string
	}{
		{"update", "PUT", "/fhir/QuestionnaireResponse/{id}", body("{id}"), nil},
		{"update with If-Match", "PUT", "/fhir/QuestionnaireResponse/{id}", body("{id}"), []string{"If-Match", `W/"1"`}},
		{"conditional update naming the id", "PUT", "/fhir/QuestionnaireResponse?_id={id}", body("{id}"), nil},
		{"conditional update by identifier", "PUT", "/fhir/QuestionnaireResponse?identifier=urn:t|qb", body("{id}"), nil},
		{"delete", "DELETE", "/fhir/QuestionnaireResponse/{id}", "", nil},
		{"delete with If-Match", "DELETE", "/fhir/QuestionnaireResponse/{id}", "", []string{"If-Match", `W/"1"`}},
	}
	for _, tc := range writes {
		t.Run(tc.name, func(t *testing.T) {
			answer := func(id string) (int, string) {
				var b []byte
				if tc.body != "" {
					b = []byte(strings.ReplaceAll(tc.body, "{id}", id))
				}
				r := s.do(tc.method, strings.ReplaceAll(tc.path, "{id}", id), b, append([]string{"Authorization", anna}, tc.header...)...)
				return r.status, strings.ReplaceAll(string(r.body), id, "{id}")
			}
			otherStatus, otherBody := answer(f.qrBo)
			unusedStatus, unusedBody := answer(unused)
			if otherStatus != unusedStatus || otherBody != unusedBody {
				t.Errorf("another patient's id: %d %s\nan unused id: %d %s", otherStatus, otherBody, unusedStatus, unusedBody)
			}
			if otherStatus == 201 || otherStatus == 200 {
				t.Errorf("the write happened: %d", otherStatus)
			}
		})
	}
	// Nothing of bo's changed, and the unused id was not created.
	if r := s.do("GET", "/fhir/QuestionnaireResponse/"+f.qrBo, nil, "Authorization", "Bearer "+admin); r.status != 200 || !strings.Contains(string(r.body), `"versionId":"1"`) {
		t.Errorf("bo's response: %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/fhir/QuestionnaireResponse/"+unused, nil, "Authorization", "Bearer "+admin); r.status != 404 {
		t.Errorf("the unused id: %d %s", r.status, r.body)
	}
	// The token still creates with POST, and updates its patient's own resources.
	id, _ := s.mustCreateWith("QuestionnaireResponse", body("ignored"), strings.TrimPrefix(anna, "Bearer "))
	if r := s.do("PUT", "/fhir/QuestionnaireResponse/"+id, []byte(body(id)), "Authorization", anna); r.status != 200 {
		t.Errorf("update of an own resource: %d %s", r.status, r.body)
	}
	outcome(t, s.do("PUT", "/fhir/QuestionnaireResponse/"+unused, []byte(body(unused)), "Authorization", anna), 404, "creates new ones with POST")
}
