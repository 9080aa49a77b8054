// Package questionnaire compiles a Questionnaire into a Checker and checks
// QuestionnaireResponses against it, as the SDC implementation guide's validation page asks
// (http://hl7.org/fhir/uv/sdc/validation.html): every linkId where the Questionnaire has it,
// answers of the item's type drawn from its options, required items and cardinalities,
// value constraints (maxLength, minLength, regex, minValue, maxValue, maxDecimalPlaces),
// unique answers of repeating items, enableWhen with every operator and enableBehavior,
// enableWhenExpression and calculatedExpression in FHIRPath, and the total scores of
// Questionnaires whose options carry ordinal values. It also checks a Questionnaire's own
// integrity when it is written.
//
// Rules is the fhir.ContentChecker the server installs: it resolves a response's
// questionnaire canonical to a stored Questionnaire (a Resolver with a cache invalidated by
// Questionnaire writes), applies the checks as the response's status allows, and refuses,
// warns or stays silent as its Mode says. The package works on the decoded JSON tree, not
// on generated structs, so that primitive extensions (translations of item text, ordinal
// values) are seen.
//
// Status awareness follows SDC: completed and amended responses get every rule;
// in-progress and stopped ones only the structural rules (linkIds, nesting, answer types,
// option membership), so that missing answers never refuse them; entered-in-error ones are
// never refused, their problems reported as warnings.
package questionnaire
