package api_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/internal/auth"
)

// patchPlan is a CarePlan with what a re-encoding would change: escapes, number forms, a
// primitive extension, narrative markup and a member order of the client's own.
const patchPlan = `{"resourceType":"CarePlan","status":"active","_status":{"extension":[{"url":"http://example.org/why","valueString":"set by n\u00e4rst\u00e5ende"}]},` +
	`"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Plan &amp; <b>goals</b></div>"},` +
	`"intent":"plan","subject":{"reference":"Patient/p1"},"description":"Daily walks","_description":{"id":"d1"},` +
	`"activity":[{"detail":{"status":"scheduled","description":"walk"}},{"detail":{"status":"not-started","description":"log weight","dailyAmount":{"value":1.50,"unit":"x"}}}]}`

// afterMeta is a stored resource's JSON after its resourceType, id and meta: what the
// client sent, as stored.
func afterMeta(t *testing.T, body []byte) string {
	t.Helper()
	i := bytes.Index(body, []byte(`"meta":{`))
	if i < 0 {
		t.Fatalf("no meta in %s", body)
	}
	j := bytes.IndexByte(body[i:], '}')
	return string(body[i+j+1:])
}

func fhirPathPatch(ops ...string) string {
	return `{"resourceType":"Parameters","parameter":[` + strings.Join(ops, ",") + `]}`
}

func fpOp(typ, path string, parts ...string) string {
	all := append([]string{`{"name":"type","valueCode":"` + typ + `"}`, `{"name":"path","valueString":"` + path + `"}`}, parts...)
	return `{"name":"operation","part":[` + strings.Join(all, ",") + `]}`
}

func TestPatchKeepsWhatItDoesNotName(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	jsonPatch := "application/json-patch+json"
	stored := func() (string, string) {
		id, _ := s.mustCreate("CarePlan", patchPlan)
		r := s.do("GET", "/fhir/CarePlan/"+id, nil)
		return id, afterMeta(t, r.body)
	}
	cases := []struct {
		name, contentType, body string
		// edit turns the stored members into what they must be after the patch.
		edit func(string) string
	}{
		{"json patch replace", jsonPatch, `[{"op":"test","path":"/status","value":"active"},{"op":"replace","path":"/status","value":"completed"}]`,
			func(b string) string { return strings.Replace(b, `"status":"active"`, `"status":"completed"`, 1) }},
		{"json patch add to a list", jsonPatch, `[{"op":"add","path":"/activity/-","value":{"detail":{"status":"scheduled","description":"swim"}}}]`,
			func(b string) string {
				return strings.TrimSuffix(b, "]}") + `,{"detail":{"status":"scheduled","description":"swim"}}]}`
			}},
		{"fhirpath replace a primitive keeps its extension", "application/fhir+json", fhirPathPatch(fpOp("replace", "CarePlan.status", `{"name":"value","valueCode":"on-hold"}`)),
			func(b string) string { return strings.Replace(b, `"status":"active"`, `"status":"on-hold"`, 1) }},
		{"fhirpath replace in a list element", "application/fhir+json", fhirPathPatch(fpOp("replace", "CarePlan.activity[1].detail.status", `{"name":"value","valueCode":"in-progress"}`)),
			func(b string) string { return strings.Replace(b, `"not-started"`, `"in-progress"`, 1) }},
		{"fhirpath delete a primitive with its extension", "application/fhir+json", fhirPathPatch(fpOp("delete", "CarePlan.description")),
			func(b string) string {
				return strings.Replace(b, `"description":"Daily walks","_description":{"id":"d1"},`, ``, 1)
			}},
		{"fhirpath delete a list element", "application/fhir+json", fhirPathPatch(fpOp("delete", "CarePlan.activity[0]")),
			func(b string) string {
				return strings.Replace(b, `{"detail":{"status":"scheduled","description":"walk"}},`, ``, 1)
			}},
		{"fhirpath add a repeating element", "application/fhir+json", fhirPathPatch(fpOp("add", "CarePlan", `{"name":"name","valueString":"note"}`, `{"name":"value","valueAnnotation":{"text":"Agreed with the patient"}}`)),
			func(b string) string {
				return strings.TrimSuffix(b, "}") + `,"note":[{"text":"Agreed with the patient"}]}`
			}},
		{"fhirpath insert and move", "application/fhir+json", fhirPathPatch(
			fpOp("insert", "CarePlan.activity", `{"name":"index","valueInteger":0}`, `{"name":"value","part":[{"name":"detail","part":[{"name":"status","valueCode":"scheduled"},{"name":"description","valueString":"rest"}]}]}`),
			fpOp("move", "CarePlan.activity", `{"name":"source","valueInteger":0}`, `{"name":"destination","valueInteger":2}`)),
			func(b string) string {
				return strings.TrimSuffix(b, "]}") + `,{"detail":{"status":"scheduled","description":"rest"}}]}`
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, before := stored()
			r := s.do("PATCH", "/fhir/CarePlan/"+id, []byte(tc.body), "Content-Type", tc.contentType)
			if r.status != http.StatusOK {
				t.Fatalf("patch: %d %s", r.status, r.body)
			}
			if r.header.Get("ETag") != `W/"2"` || r.header.Get("Location") != s.base+"/CarePlan/"+id+"/_history/2" {
				t.Errorf("patch headers: %v", r.header)
			}
			read := s.do("GET", "/fhir/CarePlan/"+id, nil)
			if got, want := afterMeta(t, read.body), tc.edit(before); got != want {
				t.Errorf("stored after the patch:\n got %s\nwant %s", got, want)
			}
			if !bytes.Equal(read.body, r.body) {
				t.Errorf("the answer is not what is stored:\n%s\n%s", r.body, read.body)
			}
			// The version patched is kept as it was.
			v1 := s.do("GET", "/fhir/CarePlan/"+id+"/_history/1", nil)
			if v1.status != http.StatusOK || afterMeta(t, v1.body) != before {
				t.Errorf("version 1 changed: %d %s", v1.status, v1.body)
			}
		})
	}
}

func TestPatchRefusals(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	id, _ := s.mustCreate("CarePlan", patchPlan)
	s.mustCreate("CarePlan", patchPlan) // a second plan of Patient/p1
	gone, _ := s.mustCreate("CarePlan", patchPlan)
	s.do("DELETE", "/fhir/CarePlan/"+gone, nil)
	jp := "application/json-patch+json"
	cases := []struct {
		name, path, contentType, body string
		headers                       []string
		status                        int
		want                          string
	}{
		{"stale If-Match", "/fhir/CarePlan/" + id, jp, `[{"op":"replace","path":"/status","value":"completed"}]`, []string{"If-Match", `W/"7"`}, 412, "If-Match names version 7"},
		{"failed test", "/fhir/CarePlan/" + id, jp, `[{"op":"test","path":"/status","value":"draft"}]`, nil, 422, "test operation failed"},
		{"missing path", "/fhir/CarePlan/" + id, jp, `[{"op":"remove","path":"/nothing"}]`, nil, 422, "cannot be applied"},
		{"not a patch", "/fhir/CarePlan/" + id, jp, `{"op":"replace"}`, nil, 400, "JSON array of operations"},
		{"unknown op", "/fhir/CarePlan/" + id, jp, `[{"op":"frobnicate","path":"/status"}]`, nil, 400, "frobnicate"},
		{"invalid result", "/fhir/CarePlan/" + id, jp, `[{"op":"replace","path":"/status","value":"bogus"}]`, nil, 400, "bogus"},
		{"id changed", "/fhir/CarePlan/" + id, jp, `[{"op":"replace","path":"/id","value":"other"}]`, nil, 400, "does not match the id in the URL"},
		{"not Parameters", "/fhir/CarePlan/" + id, "application/fhir+json", patchPlan, nil, 400, "Parameters resource"},
		{"fhirpath bad type", "/fhir/CarePlan/" + id, "application/fhir+json", fhirPathPatch(fpOp("squash", "CarePlan.status")), nil, 400, "squash"},
		{"fhirpath bad expression", "/fhir/CarePlan/" + id, "application/fhir+json", fhirPathPatch(fpOp("delete", "CarePlan.(((")), nil, 400, "not a FHIRPath expression"},
		{"fhirpath path the engine fails on", "/fhir/CarePlan/" + id, "application/fhir+json", fhirPathPatch(fpOp("delete", "CarePlan.status.substring(1,-5)")), nil, 422, "the path cannot be evaluated: the FHIRPath engine failed"},
		{"fhirpath replace nothing", "/fhir/CarePlan/" + id, "application/fhir+json", fhirPathPatch(fpOp("replace", "CarePlan.period", `{"name":"value","valuePeriod":{"start":"2025-01-01"}}`)), nil, 422, "selects nothing"},
		{"fhirpath add to a single element", "/fhir/CarePlan/" + id, "application/fhir+json", fhirPathPatch(fpOp("add", "CarePlan", `{"name":"name","valueString":"status"}`, `{"name":"value","valueCode":"draft"}`)), nil, 422, "use replace"},
		{"media type", "/fhir/CarePlan/" + id, "text/plain", `x`, nil, 415, "not accepted"},
		{"unknown id", "/fhir/CarePlan/nope", jp, `[{"op":"remove","path":"/description"}]`, nil, 404, "not known"},
		{"deleted", "/fhir/CarePlan/" + gone, jp, `[{"op":"remove","path":"/description"}]`, nil, 410, "was deleted"},
		{"conditional, no match", "/fhir/CarePlan?subject=Patient/none", jp, `[{"op":"remove","path":"/description"}]`, nil, 404, "no CarePlan matches"},
		{"conditional, several", "/fhir/CarePlan?subject=Patient/p1", jp, `[{"op":"remove","path":"/description"}]`, nil, 412, "more than one"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := append([]string{"Content-Type", tc.contentType}, tc.headers...)
			outcome(t, s.do("PATCH", tc.path, []byte(tc.body), h...), tc.status, tc.want)
		})
	}
	// Nothing was written by any of them.
	if r := s.do("GET", "/fhir/CarePlan/"+id, nil); r.header.Get("ETag") != `W/"1"` {
		t.Errorf("a refused patch wrote: %v %s", r.header, r.body)
	}
	// A conditional patch of exactly one match, with If-Match.
	only, _ := s.mustCreate("CarePlan", strings.Replace(patchPlan, "Patient/p1", "Patient/p2", 1))
	r := s.do("PATCH", "/fhir/CarePlan?subject=Patient/p2", []byte(`[{"op":"replace","path":"/status","value":"completed"}]`), "Content-Type", jp, "If-Match", `W/"1"`, "Prefer", "return=minimal")
	if r.status != http.StatusOK || len(r.body) != 0 || r.header.Get("Location") != s.base+"/CarePlan/"+only+"/_history/2" {
		t.Fatalf("conditional patch: %d %v %s", r.status, r.header, r.body)
	}
}

// TestPatchWithPatientToken holds a patient token's patches to its own compartment: another
// patient's plan reads as unknown, and no patch moves a plan to another patient.
func TestPatchWithPatientToken(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t)
	admin := s.mint(auth.TokenOptions{Scope: "system/*.*"})
	f := seedPatients(t, s, admin)
	anna := "Bearer " + s.mint(auth.TokenOptions{Scope: "patient/*.cruds", Patient: "anna"})
	readOnly := "Bearer " + s.mint(auth.TokenOptions{Scope: "patient/*.rs", Patient: "anna"})
	jp := "application/json-patch+json"
	cases := []struct {
		name, token, path, body string
		status                  int
		want                    string
	}{
		{"another patient's plan", anna, "/fhir/CarePlan/" + f.cpBo, `[{"op":"replace","path":"/status","value":"completed"}]`, 404, "is not known"},
		{"moving her plan to another patient", anna, "/fhir/CarePlan/" + f.cpAnna, `[{"op":"replace","path":"/subject/reference","value":"Patient/bo"}]`, 403, "whose subject is Patient/anna"},
		{"without update scope", readOnly, "/fhir/CarePlan/" + f.cpAnna, `[{"op":"replace","path":"/status","value":"completed"}]`, 403, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			outcome(t, s.do("PATCH", tc.path, []byte(tc.body), "Content-Type", jp, "Authorization", tc.token), tc.status, tc.want)
		})
	}
	// Her own plan's status is the care team's (careplan_write_test.go has what she may change).
	outcome(t, s.do("PATCH", "/fhir/CarePlan/"+f.cpAnna, []byte(`[{"op":"replace","path":"/status","value":"completed"}]`), "Content-Type", jp, "Authorization", anna),
		403, "A patient may not change CarePlan.status")
}
