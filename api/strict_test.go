package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/api"
	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// qrWith is a QuestionnaireResponse with extra members (JSON text after a comma).
func qrWith(members string) string {
	return `{"resourceType":"QuestionnaireResponse","status":"completed","subject":{"reference":"Patient/p1"},` + members + `}`
}

// TestStrictInputIsRefused: what FHIR R4 does not allow is refused with 400 and an
// OperationOutcome saying what and where, before anything is stored: text that is not UTF-8,
// dates and times out of their R4 form, references that are none, contained resources that
// break the R4 rules, ids of dots, and JSON errors reported at their line and column.
func TestStrictInputIsRefused(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	tests := []struct {
		name, body, want string
	}{
		{"bytes that are not UTF-8", qrWith("\"language\":\"en\xc3\x28\xff\""), "not UTF-8"},
		{"a lone surrogate escape", qrWith(`"language":"en\ud800"`), "surrogate pair"},
		{"a dateTime with a time but no zone", qrWith(`"authored":"2026-03-14T10:22:00"`), `2026-03-14T10:22:00\" is not a FHIR dateTime`},
		{"a dateTime without seconds", qrWith(`"authored":"2026-03-14T10:22+01:00"`), "is not a FHIR dateTime"},
		{"a day the month does not have", qrWith(`"item":[{"linkId":"1","answer":[{"valueDate":"2026-02-30"}]}]`), "a day that its month does not have"},
		{"a time out of range", qrWith(`"item":[{"linkId":"1","answer":[{"valueTime":"25:00:00"}]}]`), "is not a FHIR time"},
		{"a dateTime answer without a zone", qrWith(`"item":[{"linkId":"1","answer":[{"valueDateTime":"2026-03-14T10:22:00"}]}]`), "is not a FHIR dateTime"},
		{"a period without a zone", `{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/p1"},"period":{"start":"2026-01-01T00:00:00"}}`, "CarePlan.period.start"},
		{"a reference without an id", qrWith(`"author":{"reference":"Patient/"}`), `has the id \"\", which is not a valid resource id`},
		{"a reference with a space", qrWith(`"author":{"reference":"Patient/a b"}`), "white space"},
		{"a reference to no resource type", qrWith(`"author":{"reference":"Frobnicator/1"}`), "not a FHIR R4 resource type"},
		{"a reference that is a word", qrWith(`"author":{"reference":"anna"}`), "is not a reference such as Patient/123"},
		{"an http URL without a host", qrWith(`"author":{"reference":"https:///Patient/1"}`), "without a host"},
		{"a urn:uuid that is no UUID", qrWith(`"author":{"reference":"urn:uuid:1234"}`), "not a urn:uuid:"},
		{"a local reference with nothing contained", qrWith(`"author":{"reference":"#p1"}`), "(ref-1)"},
		{"# outside a contained resource", qrWith(`"author":{"reference":"#"}`), `only a contained resource may use`},
		{"a contained resource without an id", qrWith(`"contained":[{"resourceType":"Patient"}],"author":{"reference":"#p1"}`), "has no id"},
		{"a contained resource no one refers to", qrWith(`"contained":[{"resourceType":"Patient","id":"p1"}]`), "dom-3"},
		{"a contained resource with a version", qrWith(`"contained":[{"resourceType":"Patient","id":"p1","meta":{"versionId":"2"}}],"author":{"reference":"#p1"}`), "dom-4"},
		{"a contained resource with a security label", qrWith(`"contained":[{"resourceType":"Patient","id":"p1","meta":{"security":[{"code":"R"}]}}],"author":{"reference":"#p1"}`), "dom-5"},
		{"a contained resource holding another", qrWith(`"contained":[{"resourceType":"Patient","id":"p1","contained":[{"resourceType":"Patient","id":"p2"}]}],"author":{"reference":"#p1"}`), "SHALL NOT contain other resources"},
		{"two contained resources with one id", qrWith(`"contained":[{"resourceType":"Patient","id":"p1"},{"resourceType":"Patient","id":"p1"}],"author":{"reference":"#p1"}`), "Two contained resources have the id"},
		{"an id of one dot", qrWith(`"id":"."`), "not only dots"},
		{"an id of two dots", qrWith(`"id":".."`), "not only dots"},
		{"a syntax error on line 3", "{\n  \"resourceType\": \"QuestionnaireResponse\",\n  \"status\" \"completed\"\n}", "(line 3, column 12)"},
		{"a missing comma on line 2", "{\"resourceType\": \"QuestionnaireResponse\"\n \"status\": \"completed\"}", "(line 2, column 2)"},
		{"text after the object", qrWith(`"language":"en"`) + ` {}`, "after the JSON value"},
		{"a raw control character in a string", qrWith("\"language\":\"e\x01n\""), "control character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			typ := "QuestionnaireResponse"
			if strings.HasPrefix(tc.body, `{"resourceType":"CarePlan"`) {
				typ = "CarePlan"
			}
			outcome(t, s.do("POST", "/fhir/"+typ, []byte(tc.body)), http.StatusBadRequest, tc.want)
		})
	}
	ids := []struct {
		name, method, path string
		status             int
	}{
		{"update of id ..", "PUT", "/fhir/QuestionnaireResponse/..", 400},
		{"update of id .", "PUT", "/fhir/QuestionnaireResponse/.", 400},
		{"update of id ...", "PUT", "/fhir/QuestionnaireResponse/...", 400},
		{"read of id ..", "GET", "/fhir/QuestionnaireResponse/..", 404},
	}
	for _, tc := range ids {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.path[strings.LastIndexByte(tc.path, '/')+1:]
			var body []byte
			if tc.method == "PUT" {
				body = []byte(qrWith(`"id":"` + id + `"`))
			}
			outcome(t, s.do(tc.method, tc.path, body), tc.status, "")
		})
	}
}

// TestStrictInputAccepts the forms R4 allows, so that the checks refuse only what they
// should: every kind of reference, partial dates, dateTimes with a zone, a contained
// resource referred to or referring back to its container, and ids with dots among other
// characters.
func TestStrictInputAccepts(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	tests := []struct{ name, body string }{
		{"relative, versioned, absolute, urn references", qrWith(`"author":{"reference":"Practitioner/pr-1"},"source":{"reference":"Patient/p1/_history/2"},` +
			`"encounter":{"reference":"https://ehr.example.org/fhir/Encounter/e1"},"basedOn":[{"reference":"urn:uuid:3f2c8a4e-9d1b-4c6e-8f0a-2b7d5e9c1a43"},{"reference":"urn:oid:2.16.840.1.113883.3.1"}]`)},
		{"partial dates and zoned times", qrWith(`"authored":"2026-03-14T10:22:00.123+01:00","item":[{"linkId":"1","answer":[{"valueDate":"2026-03"},{"valueDateTime":"2026"},{"valueTime":"23:59:60"}]}]`)},
		{"a contained resource referred to", qrWith(`"contained":[{"resourceType":"Patient","id":"p1"}],"author":{"reference":"#p1"}`)},
		{"a contained resource referring to its container", qrWith(`"contained":[{"resourceType":"Provenance","id":"prov","target":[{"reference":"#"}],"recorded":"2026-03-14T10:22:00Z","agent":[{"who":{"display":"x"}}]}]`)},
		{"an id with dots among letters", qrWith(`"id":"a.b.c"`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if r := s.do("POST", "/fhir/QuestionnaireResponse", []byte(tc.body)); r.status != http.StatusCreated {
				t.Errorf("%d %s", r.status, r.body)
			}
		})
	}
}

// TestStoredDataIsServedAsStored: a version stored before the checks became stricter (here
// written to the store directly) is still read, byte for byte: the checks apply to writes.
func TestStoredDataIsServedAsStored(t *testing.T) {
	t.Parallel()
	var svc *fhir.Service
	s := newTestServer(t, func(o *api.Options) { svc = o.Service })
	raw := `{"resourceType":"QuestionnaireResponse","id":"old-1","meta":{"versionId":"1","lastUpdated":"2025-01-01T00:00:00.000Z"},"status":"completed","authored":"2025-01-01T10:00:00","author":{"reference":"Patient/a b"}}`
	r := &fhir.Resource{Type: "QuestionnaireResponse", ID: "old-1", VersionID: 1, LastUpdated: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Method: "PUT", Raw: []byte(raw)}
	if err := svc.Store().Put(context.Background(), r, nil); err != nil {
		t.Fatal(err)
	}
	got := s.do("GET", "/fhir/QuestionnaireResponse/old-1", nil)
	if got.status != 200 || string(got.body) != raw {
		t.Errorf("%d %s\nwant %s", got.status, got.body, raw)
	}
}
