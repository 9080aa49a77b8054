// Package report turns the QuestionnaireResponses of one Questionnaire and period into a
// patient-experience report, per care unit (or another stratifier) and overall, as LUP and
// the Swedish national patient survey report them: per item the answer distribution, the
// mean of the options' ordinal values, the share of positive answers and whether a unit is
// significantly above or below the rest; per group the dimension score; numbers' n, mean,
// median, min and max; booleans' share true; and, on request, the free-text comments.
//
// No published figure reveals a count below the minimum count (see Suppress and
// docs/reports.md). The report renders as a FHIR R4 MeasureReport, as CSV and as a printable
// HTML page with SVG charts.
//
// The responses come from a Source, which reads only what the aggregation needs of each (the
// stored search values of its answers, its care unit, its authored time and status), in one
// streaming pass: bodies are read only for comments and FHIRPath stratifiers.
package report
