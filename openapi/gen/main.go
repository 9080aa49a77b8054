// Command gen regenerates the OpenAPI description in openapi/: swag (github.com/swaggo/swag/v2,
// OpenAPI 3.1 output) reads the annotations on the handlers in api/, then finish turns each
// generic /fhir/{type}/... operation into one per served resource type and adds examples made
// from the fixtures and from the server's own types. See docs/api-docs.md.
//
// Run it through go generate from the module root:
//
//	go generate ./openapi
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/goccy/go-yaml"

	"github.com/patient-involvement/fhir-server/fixtures"
	"github.com/patient-involvement/fhir-server/internal/fhir"
)

func main() {
	root := flag.String("root", ".", "module root: where api/ and internal/fhir are")
	out := flag.String("out", "openapi", "directory to write openapi.json and openapi.yaml to")
	verbose := flag.Bool("v", false, "print swag's progress")
	flag.Parse()
	if err := run(*root, *out, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "openapi/gen:", err)
		os.Exit(1)
	}
}

func run(root, out string, verbose bool) error {
	out, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	if err := os.Chdir(root); err != nil {
		return err
	}
	log := io.Discard
	if verbose {
		log = os.Stderr
	}
	raw, err := runSwag(log)
	if err != nil {
		return err
	}
	ex, err := newExamples(fhir.DefaultRegistry(), fixtures.FS())
	if err != nil {
		return err
	}
	doc, err := finish(raw, fhir.DefaultRegistry(), ex)
	if err != nil {
		return err
	}
	jsonDoc, err := marshalDoc(doc)
	if err != nil {
		return err
	}
	yamlDoc, err := yaml.JSONToYAML(jsonDoc)
	if err != nil {
		return fmt.Errorf("convert to YAML: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "openapi.json"), jsonDoc, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "openapi.yaml"), yamlDoc, 0o644)
}

// topLevelOrder is the order of the document's top-level fields: what a reader looks for
// first comes first. Fields below the top level are sorted by name.
var topLevelOrder = []string{"openapi", "info", "externalDocs", "servers", "security", "tags", "paths", "components"}

// marshalDoc writes doc as indented JSON with its top-level fields in topLevelOrder.
func marshalDoc(doc map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("{")
	n := 0
	for _, k := range topLevelOrder {
		v, ok := doc[k]
		if !ok {
			continue
		}
		if n > 0 {
			buf.WriteString(",")
		}
		n++
		key, _ := json.Marshal(k)
		val, err := encodeJSON(v)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", k, err)
		}
		buf.WriteString("\n" + string(key) + ":")
		buf.Write(val)
	}
	if n != len(doc) {
		return nil, fmt.Errorf("the document has top-level fields beyond %v", topLevelOrder)
	}
	buf.WriteString("}")
	var out bytes.Buffer
	if err := json.Indent(&out, buf.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteString("\n")
	return out.Bytes(), nil
}

// encodeJSON is json.Marshal without HTML escaping: descriptions keep their < and >.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
