package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/internal/auth"
)

const validCarePlan = `{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/p1"}}`

// TestValidate: $validate answers 200 with every issue, or one information issue, and
// stores nothing.
func TestValidate(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	id, _ := s.mustCreate("CarePlan", validCarePlan)
	params := func(res, mode string) string {
		p := `{"resourceType":"Parameters","parameter":[`
		if res != "" {
			p += `{"name":"resource","resource":` + res + `}`
		}
		if mode != "" {
			if res != "" {
				p += ","
			}
			p += `{"name":"mode","valueCode":"` + mode + `"}`
		}
		return p + `]}`
	}
	withID := strings.Replace(validCarePlan, `{"resourceType":"CarePlan",`, `{"resourceType":"CarePlan","id":"`+id+`",`, 1)
	tests := []struct {
		name, path, body string
		status           int
		severity, want   string
	}{
		{"a valid resource", "/fhir/CarePlan/$validate", validCarePlan, 200, "information", "No issues found"},
		{"every problem of an invalid one", "/fhir/CarePlan/$validate", `{"resourceType":"CarePlan","status":"bogus","intent":"plan","colour":"red"}`, 200, "error", "Missing required element CarePlan.subject"},
		{"not JSON is an issue", "/fhir/CarePlan/$validate", `{"resourceType":`, 200, "error", "not valid JSON"},
		{"another type is an issue", "/fhir/CarePlan/$validate", `{"resourceType":"Questionnaire","status":"draft"}`, 200, "error", "but the URL is for CarePlan"},
		{"in Parameters", "/fhir/CarePlan/$validate", params(validCarePlan, "create"), 200, "information", "No issues found"},
		{"Parameters without a resource", "/fhir/CarePlan/$validate", params("", "create"), 400, "error", "have no resource parameter"},
		{"an update needs the id", "/fhir/CarePlan/$validate", params(validCarePlan, "update"), 400, "error", "needs the id of the resource"},
		{"an unknown mode", "/fhir/CarePlan/$validate", params(validCarePlan, "profile"), 400, "error", "is not a mode of $validate"},
		{"an update of the id", "/fhir/CarePlan/" + id + "/$validate", withID, 200, "information", "No issues found"},
		{"an update with another id", "/fhir/CarePlan/" + id + "/$validate", strings.Replace(withID, id, "other", 1), 200, "error", "does not match the id in the URL"},
		{"an update without id", "/fhir/CarePlan/" + id + "/$validate", validCarePlan, 200, "error", "The resource has no id"},
		{"a delete of what exists", "/fhir/CarePlan/" + id + "/$validate", params("", "delete"), 200, "information", "No issues found"},
		{"a delete of what does not", "/fhir/CarePlan/nothing/$validate", params("", "delete"), 200, "error", "there is nothing to delete"},
		{"a profile not served", "/fhir/CarePlan/$validate", `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":` + validCarePlan + `},{"name":"profile","valueUri":"http://example.org/StructureDefinition/mine"}]}`, 200, "warning", "is not one this server validates against"},
		{"an unknown type", "/fhir/Patient/$validate", `{"resourceType":"Patient"}`, 404, "error", "does not serve Patient"},
		{"the audit trail", "/fhir/AuditEvent/$validate", `{"resourceType":"AuditEvent"}`, 405, "error", "written by the server alone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(http.MethodPost, tc.path, []byte(tc.body))
			outcome(t, r, tc.status, tc.want)
			var o struct {
				Issue []struct{ Severity string } `json:"issue"`
			}
			_ = json.Unmarshal(r.body, &o)
			found := false
			for _, is := range o.Issue {
				found = found || is.Severity == tc.severity
			}
			if !found {
				t.Errorf("no %s issue: %s", tc.severity, r.body)
			}
		})
	}
	if r := s.do(http.MethodGet, "/fhir/CarePlan?_total=accurate", nil); !strings.Contains(string(r.body), `"total":1`) {
		t.Errorf("$validate stored something: %s", r.body)
	}
}

// TestValidateNeedsRead: a token that may read a type may validate it; one that may not
// is refused (403), and a patient's token cannot learn of another patient's resource.
func TestValidateNeedsRead(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t)
	admin := s.mint(auth.TokenOptions{Scope: "system/*.*"})
	r := s.do(http.MethodPost, "/fhir/CarePlan", []byte(validCarePlan), "Authorization", "Bearer "+admin)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	withID := strings.Replace(validCarePlan, `{"resourceType":"CarePlan",`, `{"resourceType":"CarePlan","id":"`+id+`",`, 1)
	tests := []struct {
		name, token, path, body string
		status                  int
	}{
		{"no token", "", "/fhir/CarePlan/$validate", validCarePlan, 401},
		{"read scope", s.mint(auth.TokenOptions{Scope: "user/CarePlan.r"}), "/fhir/CarePlan/$validate", validCarePlan, 200},
		{"v1 read scope", s.mint(auth.TokenOptions{Scope: "user/CarePlan.read"}), "/fhir/CarePlan/$validate", validCarePlan, 200},
		{"write only", s.mint(auth.TokenOptions{Scope: "user/CarePlan.cu"}), "/fhir/CarePlan/$validate", validCarePlan, 403},
		{"another type", s.mint(auth.TokenOptions{Scope: "user/Questionnaire.r"}), "/fhir/CarePlan/$validate", validCarePlan, 403},
		{"the patient's own", s.mint(auth.TokenOptions{Scope: "patient/CarePlan.r", Patient: "p1"}), "/fhir/CarePlan/" + id + "/$validate", withID, 200},
		{"another patient's", s.mint(auth.TokenOptions{Scope: "patient/CarePlan.r", Patient: "p2"}), "/fhir/CarePlan/" + id + "/$validate", withID, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := []string{}
			if tc.token != "" {
				h = append(h, "Authorization", "Bearer "+tc.token)
			}
			if r := s.do(http.MethodPost, tc.path, []byte(tc.body), h...); r.status != tc.status {
				t.Errorf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
		})
	}
}

// TestCapabilitiesListValidate: the statement names $validate on the types clients write.
func TestCapabilitiesListValidate(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	var cs struct {
		Rest []struct {
			Resource []struct {
				Type      string `json:"type"`
				Operation []struct{ Name, Definition string }
			} `json:"resource"`
		} `json:"rest"`
	}
	if err := json.Unmarshal(s.do(http.MethodGet, "/fhir/metadata", nil).body, &cs); err != nil {
		t.Fatal(err)
	}
	for _, r := range cs.Rest[0].Resource {
		want := r.Type != "AuditEvent"
		ops := r.Operation
		if r.Type == "Questionnaire" && len(ops) == 2 && ops[1].Name == "report" {
			ops = ops[:1] // and $report, served on Questionnaire alone
		}
		got := len(ops) == 1 && ops[0].Name == "validate" && ops[0].Definition == "http://hl7.org/fhir/OperationDefinition/Resource-validate"
		if got != want {
			t.Errorf("%s: operations %+v", r.Type, r.Operation)
		}
	}
}
