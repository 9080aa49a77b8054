package questionnaire

import (
	"encoding/json"
	"strings"
)

// Helpers to read the decoded JSON tree: objects are map[string]any, arrays []any, numbers
// json.Number. A value of the wrong JSON type reads as absent: the FHIR structure check
// before has refused such bodies already.

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func boolean(m map[string]any, key string) bool {
	b, _ := m[key].(bool)
	return b
}

func object(m map[string]any, key string) map[string]any {
	o, _ := m[key].(map[string]any)
	return o
}

// objects returns the objects of the array m[key] (or of the single object there).
func objects(m map[string]any, key string) []map[string]any {
	switch v := m[key].(type) {
	case []any:
		out := make([]map[string]any, 0, len(v))
		for _, x := range v {
			if o, ok := x.(map[string]any); ok {
				out = append(out, o)
			}
		}
		return out
	case map[string]any:
		return []map[string]any{v}
	}
	return nil
}

// extensions returns the extensions of m with the given url.
func extensions(m map[string]any, url string) []map[string]any {
	var out []map[string]any
	for _, e := range objects(m, "extension") {
		if str(e, "url") == url {
			out = append(out, e)
		}
	}
	return out
}

// extension returns the first extension of m with the given url, or nil.
func extension(m map[string]any, url string) map[string]any {
	for _, e := range objects(m, "extension") {
		if str(e, "url") == url {
			return e
		}
	}
	return nil
}

// hasExtensionPrefix reports whether m has an extension whose url starts with prefix.
func hasExtensionPrefix(m map[string]any, prefix string) bool {
	for _, e := range objects(m, "extension") {
		if strings.HasPrefix(str(e, "url"), prefix) {
			return true
		}
	}
	return false
}

// choice returns the one member of m named prefix+Type (value[x], answer[x]): its type
// suffix ("Coding") and its value; "" when there is none.
func choice(m map[string]any, prefix string) (string, any) {
	for k, v := range m {
		if len(k) > len(prefix) && strings.HasPrefix(k, prefix) {
			if c := k[len(prefix)]; c >= 'A' && c <= 'Z' {
				return k[len(prefix):], v
			}
		}
	}
	return "", nil
}

// integer reads an integer extension value (valueInteger), false when there is none.
func integerValue(ext map[string]any) (int, bool) {
	n, ok := ext["valueInteger"].(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return int(i), err == nil
}

// The extensions and code systems the checks read.
const (
	extTranslation     = "http://hl7.org/fhir/StructureDefinition/translation"
	extMinOccurs       = "http://hl7.org/fhir/StructureDefinition/questionnaire-minOccurs"
	extMaxOccurs       = "http://hl7.org/fhir/StructureDefinition/questionnaire-maxOccurs"
	extMinLength       = "http://hl7.org/fhir/StructureDefinition/minLength"
	extRegex           = "http://hl7.org/fhir/StructureDefinition/regex"
	extMinValue        = "http://hl7.org/fhir/StructureDefinition/minValue"
	extMaxValue        = "http://hl7.org/fhir/StructureDefinition/maxValue"
	extMaxDecimals     = "http://hl7.org/fhir/StructureDefinition/maxDecimalPlaces"
	extOrdinalValue    = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
	extCOValue         = "http://hl7.org/fhir/StructureDefinition/iso21090-CO-value"
	extVariable        = "http://hl7.org/fhir/StructureDefinition/variable"
	extCQFExpression   = "http://hl7.org/fhir/StructureDefinition/cqf-expression"
	extRendering       = "http://hl7.org/fhir/StructureDefinition/rendering-"
	extCalculated      = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
	extEnableWhenExpr  = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression"
	extInitialExpr     = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-initialExpression"
	extCalculatedValue = "http://hl7.org/fhir/StructureDefinition/cqf-calculatedValue"
	languageFHIRPath   = "text/fhirpath"
)
