// Package search turns the query of a FHIR R4 (4.0.1) search request into typed criteria.
//
// It is the pure first half of search: it knows the search parameters the FHIR R4
// specification defines for the resource types the server serves (Questionnaire,
// QuestionnaireResponse and CarePlan, plus the parameters common to every resource), and
// it parses a url.Values into a Criteria whose values are typed per parameter type
// (string, token, date, reference, uri, quantity, number, composite), with prefixes and
// modifiers as named constants, and the result parameters (_count, _sort, _total,
// _summary, _elements, _include, _revinclude) checked and typed.
//
// It knows nothing of the database or of HTTP: internal/store compiles a Criteria into a
// query, api/ reads the query string and renders errors. Every invalid input is a
// fhir.Error of kind fhir.KindInvalid whose issue names the offending parameter.
//
// Date values without a time zone are read in Options.Location. The specification says
// that "where both search parameters and resource element date times do not have time
// zones, the server's local time zone should be assumed"; the server's zone is therefore a
// deliberate setting (UTC when unset) rather than whatever zone the host happens to run in.
package search
