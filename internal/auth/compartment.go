package auth

import "slices"

// patientCompartment holds, for each served type in the FHIR R4 Patient compartment
// (http://hl7.org/fhir/R4/compartmentdefinition-patient.html), the search parameters whose
// reference to a Patient puts a resource in that patient's compartment.
var patientCompartment = map[string][]string{
	"CarePlan":              {"subject", "performer"},
	"QuestionnaireResponse": {"subject", "author"},
}

// PatientCompartment returns the search parameters that link a resource of resourceType to a
// patient, and false when the type is not in the Patient compartment (Questionnaire: a
// definition, the same for every patient). With AccessPatient, the HTTP layer lets through
// only resources where one of these parameters references Patient/<Principal.Patient>, and
// for types outside the compartment only reads and searches (r, s), never writes.
func PatientCompartment(resourceType string) ([]string, bool) {
	p, ok := patientCompartment[resourceType]
	return slices.Clone(p), ok
}
