package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"

	"github.com/swaggo/swag/v2"
)

// swagDirs are the packages swag reads: the handlers (with the general information in
// api/docs.go) and the domain types their annotations name.
var swagDirs = []string{"api", "internal/fhir"}

// runSwag parses the annotations under the module root (the working directory) as
// `swag init --v3.1 -g docs.go -d api,internal/fhir --parseInternal` would, and returns the
// OpenAPI 3.1 document it builds, as JSON.
func runSwag(verbose io.Writer) ([]byte, error) {
	p := swag.New(
		swag.GenerateOpenAPI3Doc(true),
		swag.ParseUsingGoList(true),
		swag.SetDebugger(log.New(verbose, "swag: ", 0)),
		swag.SetStrict(true),
		// Bundle entries carry resources as raw JSON; describe them as resources.
		swag.SetOverrides(map[string]string{"json.RawMessage": "resourceDoc"}),
	)
	p.ParseInternal = true
	p.PropNamingStrategy = swag.CamelCase
	if err := p.ParseAPIMultiSearchDir(swagDirs, "docs.go", 100); err != nil {
		return nil, fmt.Errorf("swag: %w", err)
	}
	return json.Marshal(p.GetOpenAPI())
}
