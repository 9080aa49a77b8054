// Package patch computes the patched form of a stored resource for the FHIR R4 patch
// interaction (http.html#patch): JSON Patch (RFC 6902, application/json-patch+json) and
// FHIRPath Patch (fhirpatch.html, a Parameters resource). Both work on the stored JSON bytes
// and change only what the patch names: every other member keeps its bytes, its order and
// its primitive extensions (`_name`). A FHIRPath Patch is turned into JSON Patch operations
// on the places its paths select, so that both are applied by one library
// (github.com/evanphx/json-patch/v5).
//
// Errors are fhir.KindInvalid for a patch document that is malformed and
// fhir.KindUnprocessable for one that cannot be applied to this resource (a path that
// selects nothing where something is needed, a failed test operation).
package patch

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// Media types of patch bodies.
const (
	// MediaJSONPatch is the media type of a JSON Patch document.
	MediaJSONPatch = "application/json-patch+json"
)

// applyOptions keep the bytes of what is not patched: no HTML escaping, no paths made up.
func applyOptions() *jsonpatch.ApplyOptions {
	o := jsonpatch.NewApplyOptions()
	o.EscapeHTML = false
	return o
}

// JSONPatch returns a Patcher applying the JSON Patch document body.
func JSONPatch(body []byte) (fhir.Patcher, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '[' {
		return nil, fhir.Errorf(fhir.KindInvalid, "A JSON Patch body is a JSON array of operations, e.g. [{\"op\":\"replace\",\"path\":\"/status\",\"value\":\"completed\"}]")
	}
	p, err := jsonpatch.DecodePatch(body)
	if err != nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "The JSON Patch document cannot be read: %v", err)
	}
	for i, op := range p {
		kind := op.Kind()
		switch kind {
		case "add", "remove", "replace", "move", "copy", "test":
		default:
			return nil, fhir.Errorf(fhir.KindInvalid, "JSON Patch operation %d has op %q: use add, remove, replace, move, copy or test", i, kind)
		}
		if _, err := op.Path(); err != nil {
			return nil, fhir.Errorf(fhir.KindInvalid, "JSON Patch operation %d (%s) has no path", i, kind)
		}
	}
	return func(current []byte) ([]byte, error) { return applyJSON(p, current) }, nil
}

func applyJSON(p jsonpatch.Patch, doc []byte) ([]byte, error) {
	out, err := p.ApplyWithOptions(doc, applyOptions())
	if err != nil {
		msg := err.Error()
		if errors.Is(err, jsonpatch.ErrTestFailed) {
			return nil, fhir.Errorf(fhir.KindUnprocessable, "The patch was not applied: a test operation failed (%s)", msg)
		}
		return nil, fhir.Errorf(fhir.KindUnprocessable, "The patch cannot be applied to the current version: %s", msg)
	}
	return out, nil
}

// pointerEscaper and pointerUnescaper escape and unescape a JSON Pointer reference token
// (RFC 6901); built once, since a FHIRPath Patch escapes every member of the resource.
var (
	pointerEscaper   = strings.NewReplacer("~", "~0", "/", "~1")
	pointerUnescaper = strings.NewReplacer("~1", "/", "~0", "~")
)

// pointerToken escapes one JSON Pointer reference token (RFC 6901).
func pointerToken(s string) string { return pointerEscaper.Replace(s) }

// op is one JSON Patch operation.
type op struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	From  string          `json:"from,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

// applyOps applies JSON Patch operations made here to doc.
func applyOps(doc []byte, ops []op) ([]byte, error) {
	if len(ops) == 0 {
		return doc, nil
	}
	b, err := json.Marshal(ops)
	if err != nil {
		return nil, fhir.Wrap(err, "encode patch operations")
	}
	p, err := jsonpatch.DecodePatch(b)
	if err != nil {
		return nil, fhir.Wrap(err, "decode patch operations")
	}
	return applyJSON(p, doc)
}
