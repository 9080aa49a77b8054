package patch_test

import (
	"encoding/json"
	"testing"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/patch"
)

const fuzzPlan = `{"resourceType":"CarePlan","id":"cp","meta":{"versionId":"1","lastUpdated":"2026-01-01T00:00:00.000Z"},"status":"active","_status":{"id":"s"},"intent":"plan","subject":{"reference":"Patient/p1"},"activity":[{"detail":{"status":"scheduled"}},{"detail":{"status":"completed"}}],"note":[{"text":"a"}]}`

// FuzzPatch applies any patch body, as JSON Patch and as FHIRPath Patch, to a stored plan:
// nothing panics, a refusal is the client's error (400 or 422), and a result is JSON.
func FuzzPatch(f *testing.F) {
	for _, seed := range []string{
		`[{"op":"replace","path":"/status","value":"completed"}]`,
		`[{"op":"move","from":"/activity/0","path":"/activity/1"}]`,
		`{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"delete"},{"name":"path","valueString":"CarePlan.activity[0]"}]}]}`,
		`{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"insert"},{"name":"path","valueString":"CarePlan.note"},{"name":"index","valueInteger":1},{"name":"value","valueAnnotation":{"text":"b"}}]}]}`,
		`{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"add"},{"name":"path","valueString":"CarePlan"},{"name":"name","valueString":"description"},{"name":"value","valueString":"x"}]}]}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, read := range []func([]byte) (fhir.Patcher, error){patch.JSONPatch, patch.FHIRPathPatch} {
			p, err := read([]byte(body))
			if err == nil {
				var out []byte
				out, err = p([]byte(fuzzPlan))
				if err == nil && !json.Valid(out) {
					t.Fatalf("a patch made invalid JSON: %s", out)
				}
			}
			if err != nil {
				if k := fhir.ErrorKind(err); k != fhir.KindInvalid && k != fhir.KindUnprocessable {
					t.Fatalf("%q: a %v error, want the client's (400 or 422): %v", body, k, err)
				}
			}
		}
	})
}
