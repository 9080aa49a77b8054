package pathexpr_test

import (
	"strings"
	"testing"

	"github.com/gofhir/fhirpath/funcs"

	"github.com/patient-involvement/fhir-server/internal/pathexpr"
)

// TestExpressionsTheEngineFailsOnAreErrors: what makes gofhir panic is an error, and what
// evaluates gives its result.
func TestExpressionsTheEngineFailsOnAreErrors(t *testing.T) {
	resource := []byte(`{"resourceType":"CarePlan","status":"active","subject":{"reference":"Patient/anna"}}`)
	cases := []struct {
		name, expr string
		want       string // the error, "" when it evaluates
		result     string
	}{
		{"substring with a negative length", "CarePlan.status.substring(1,-5)", "the FHIRPath engine failed", ""},
		{"a plain path", "CarePlan.status", "", "active"},
		{"trace", "CarePlan.subject.reference.trace('who')", "", "Patient/anna"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x, err := pathexpr.Compile(tc.expr)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			res, err := pathexpr.Evaluate(x, resource)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %v, want one saying %q", err, tc.want)
				}
				return
			}
			if err != nil || len(res) != 1 || res[0].String() != tc.result {
				t.Errorf("%v, %v; want %q", res, err, tc.result)
			}
		})
	}
}

// TestTraceWritesNothing: gofhir's trace() would write the values it is given, health data,
// to standard error; with this package linked in it writes nowhere.
func TestTraceWritesNothing(t *testing.T) {
	if l, ok := funcs.GetTraceLogger().(funcs.NullTraceLogger); !ok {
		t.Errorf("trace() logs through %T", l)
	}
}
