// Package pathexpr compiles and evaluates FHIRPath expressions with gofhir for the packages
// that take expressions from outside the server (Questionnaires, report stratifiers,
// FHIRPath Patch): a panic inside gofhir's parser or engine becomes an error, never a crash
// of the request, and an evaluation error is reported by its message alone. FHIRPath's
// trace() writes nothing: what it would write is health data, chosen by whoever sent the
// expression, and gofhir writes it to standard error, that is the server's log.
package pathexpr

import (
	"errors"
	"fmt"

	"github.com/gofhir/fhirpath"
	"github.com/gofhir/fhirpath/eval"
	"github.com/gofhir/fhirpath/funcs"
	"github.com/gofhir/fhirpath/types"
)

func init() { funcs.SetTraceLogger(funcs.NullTraceLogger{}) }

// Compile compiles a FHIRPath expression, reporting a panic of the parser as an error
// instead of letting it through.
func Compile(text string) (x *fhirpath.Expression, err error) {
	defer func() {
		if r := recover(); r != nil {
			x, err = nil, fmt.Errorf("the parser failed: %v", r)
		}
	}()
	return fhirpath.Compile(text)
}

// Evaluate evaluates a compiled FHIRPath expression on a resource's JSON with the given
// options. A panic of the engine is reported as an error, and an evaluation error by its
// message alone.
func Evaluate(x *fhirpath.Expression, resource []byte, opts ...fhirpath.EvalOption) (out types.Collection, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("the FHIRPath engine failed: %v", r)
		}
	}()
	out, err = x.EvaluateWithOptions(resource, opts...)
	if err != nil {
		var ee *eval.EvalError
		if errors.As(err, &ee) {
			return nil, errors.New(ee.Error())
		}
		return nil, err
	}
	return out, nil
}
