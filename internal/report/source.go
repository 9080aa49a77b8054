package report

import (
	"context"
	"time"
)

// Selection is which responses a report reads: those answering one of Canonicals, authored
// in [Start, End), with one of Statuses.
type Selection struct {
	// Canonicals are the questionnaire values (url|version, or the url alone) to read.
	Canonicals []string
	// Start and End bound authored; End is exclusive.
	Start, End time.Time
	// Statuses are the response statuses to read (completed, amended…).
	Statuses []string
	// Body asks for each response's JSON too (Row.Body): for comments and FHIRPath
	// stratifiers only.
	Body bool
}

// Row is one response as a report reads it: not its body, but the search values stored
// beside it.
type Row struct {
	// Questionnaire is the canonical the response names (url|version).
	Questionnaire string
	// Authored is when it was authored.
	Authored time.Time
	// Unit and UnitName are the care unit's identifier key ("system|value") and display;
	// empty when the response names none.
	Unit, UnitName string
	// Codes are the item-answer keys of its coded and boolean answers:
	// "linkId$system|code", "linkId$|code", "linkId$code", "linkId$true".
	Codes []string
	// Numbers are its number answers, ordinal values and computed scores, by linkId.
	Numbers []Number
	// Body is the response's JSON, when Selection.Body asked for it.
	Body []byte
}

// Number is one number answer or computed value of an item.
type Number struct {
	LinkID string
	Value  float64
}

// Source reads responses for reports.
type Source interface {
	// ReportRows calls fn for each response sel selects, in no particular order, reusing
	// the Row between calls. It returns fn's first error, a fhir.KindUnavailable error when
	// the database cannot be read, or ctx's error.
	ReportRows(ctx context.Context, sel Selection, fn func(*Row) error) error
}
