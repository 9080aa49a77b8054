package search

// CareUnitExtension is the extension that says which care unit a QuestionnaireResponse is
// about: a valueReference whose identifier names the unit (a Danish SOR code, a Swedish
// HSA id) and whose display is its name. The reports count responses per unit by it.
const CareUnitExtension = "https://fhir.patient-involvement.example/StructureDefinition/care-unit"

// ParamCareUnit is the name of the token search parameter on the care unit's identifier.
const ParamCareUnit = "care-unit"

// careUnitDefinition is care-unit, a token on the identifier of the care-unit extension's
// reference: care-unit=system|value, care-unit=value, and :text on its display. Besides the
// token's keys, codes and normalised display, the stored values keep the display exactly as
// written (Values.E): reports read it to label a unit without reading the response.
var careUnitDefinition = func() *Definition {
	d := def("QuestionnaireResponse-care-unit", ParamCareUnit, TypeToken,
		"QuestionnaireResponse.extension('"+CareUnitExtension+"').value.ofType(Reference).identifier")
	d.URL = AnswerParamBase + "QuestionnaireResponse-care-unit"
	d.extract = (*acc).careUnit
	return d
}()

// careUnit extracts care-unit: the identifier and display of every care-unit extension on
// the response. Extensions that are not objects or hold no Reference are left out: they are
// the structure checks' concern.
func (a *acc) careUnit(tree map[string]any) error {
	exts, _ := tree["extension"].([]any)
	for _, x := range exts {
		ext, _ := x.(map[string]any)
		if ext == nil || ext["url"] != CareUnitExtension {
			continue
		}
		ref, _ := ext["valueReference"].(map[string]any)
		if ref == nil {
			continue
		}
		if id, ok := ref["identifier"]; ok && id != nil {
			if err := a.identifier(id); err != nil {
				return err
			}
		}
		if s, _ := ref["display"].(string); s != "" {
			a.v.E = appendUnique(a.v.E, s)
			if n := Normalize(s); n != "" {
				a.v.T = appendUnique(a.v.T, n)
			}
		}
	}
	return nil
}
