package search

import "time"

// Index holds the search values of one resource version, keyed by search parameter name.
// It is computed by Extract when the resource is written and stored with it (as the "sp"
// sub-document of the current version), so that deciding whether a resource matches never
// needs its body: every condition is one comparison on one flat field, which a declared
// index serves. A parameter the resource has no value for is absent (that is :missing=true).
type Index map[string]*Values

// Values are the search values of one parameter of one resource. Which fields are set
// depends on the parameter type; every slice holds one entry per value found (duplicates
// removed, order kept). Field names are short because they are stored in every document.
type Values struct {
	// N holds string values normalised by Normalize (lower case, accents removed, white
	// space collapsed): string parameters, and reference/token display text is not here.
	N []string `bson:"n,omitempty" json:"n,omitempty"`
	// E holds string values exactly as written, for :exact.
	E []string `bson:"e,omitempty" json:"e,omitempty"`

	// K holds token keys "system|code" ("|code" when there is no system): Coding
	// system|code, Identifier system|value, ContactPoint system|value. For reference
	// parameters it holds the keys of Reference.identifier (for :identifier). For composite
	// parameters it holds the combined keys, components joined by "$" (see Extract).
	K []string `bson:"k,omitempty" json:"k,omitempty"`
	// C holds token codes without their system (Coding.code, Identifier.value, code,
	// boolean "true"/"false", id, string values of token parameters).
	C []string `bson:"c,omitempty" json:"c,omitempty"`
	// T holds the normalised text of a token (CodeableConcept.text, Coding.display,
	// Identifier.type.text), for :text.
	T []string `bson:"t,omitempty" json:"t,omitempty"`
	// Y holds Identifier keys for :of-type, "typeSystem|typeCode|value", one per coding of
	// Identifier.type.
	Y []string `bson:"y,omitempty" json:"y,omitempty"`

	// R holds reference keys, one per reference: "Type/id" for relative references (a
	// version in Type/id/_history/n is dropped) and for absolute ones that start with the
	// server's base URL, the absolute URL for other absolute ones (its version dropped
	// too); and for canonical parameters "url|version", or the URL when it names no
	// version.
	R []string `bson:"r,omitempty" json:"r,omitempty"`
	// A holds the absolute URLs (versions dropped) of the references that start with the
	// server's base URL, whose "Type/id" R holds: a search by that absolute URL from a
	// client that sees another base finds them here.
	A []string `bson:"a,omitempty" json:"a,omitempty"`
	// I holds the id part of the typed reference keys in R ("123" for "Patient/123") whose
	// type a bare id search does not find by "Type/id" (see Definition.BareIDTypes): on
	// parameters with several target types, references to other types. Usually empty.
	I []string `bson:"i,omitempty" json:"i,omitempty"`

	// U holds uri values exactly as written.
	U []string `bson:"u,omitempty" json:"u,omitempty"`

	// Lo and Hi hold, per date value, the first instant it covers and the instant after the
	// last, in UTC: 2024-05 is [2024-05-01T00:00Z, 2024-06-01T00:00Z). An open Period end is
	// MinTime or MaxTime. Lo[i] and Hi[i] belong to one value.
	Lo []time.Time `bson:"lo,omitempty" json:"lo,omitempty"`
	Hi []time.Time `bson:"hi,omitempty" json:"hi,omitempty"`
	// D holds, per date value, the smallest UTC year, month or day that wholly contains
	// its range, from CalendarKey: "Y2024", "M2024-05" or "D2024-05-03" (duplicates
	// removed). An eq search for a year, month or day is then an equality or anchored
	// prefix on D; one for a smaller range is narrowed by the day's key. Parameters with
	// at most one value (Definition.SingleValued) have no D: one range decides eq there.
	D []string `bson:"d,omitempty" json:"d,omitempty"`

	// QLo and QHi hold, per number or quantity value, the range its precision covers
	// (value 5.4 covers [5.35, 5.45)); a Range gives [low.lo, high.hi). QU holds the
	// quantities' "system|code" units and QC their codes (or units when there is no code).
	QLo []float64 `bson:"ql,omitempty" json:"ql,omitempty"`
	QHi []float64 `bson:"qh,omitempty" json:"qh,omitempty"`
	QU  []string  `bson:"qu,omitempty" json:"qu,omitempty"`
	QC  []string  `bson:"qc,omitempty" json:"qc,omitempty"`

	// V holds each value separately when the parameter has more than one value and a
	// condition needs two fields of the same value (date eq with fractional seconds, ap,
	// quantity with a unit, composite token$quantity): the database pre-filters on the flat
	// fields above and the server re-checks these in Go.
	V []Element `bson:"v,omitempty" json:"v,omitempty"`

	// O is the sort key: the smallest N (string), C (token), R (reference), U (uri), Lo
	// (date) or QLo (number, quantity). Absent for composites, and for parameters of
	// which a resource has at most one value, which sort by that value's field
	// (Definition.SortKey).
	O any `bson:"o,omitempty" json:"o,omitempty"`
}

// Element is one value of a multi-valued parameter, kept whole for checks in Go.
type Element struct {
	Lo  time.Time `bson:"lo,omitempty" json:"lo,omitempty"`
	Hi  time.Time `bson:"hi,omitempty" json:"hi,omitempty"`
	QLo *float64  `bson:"ql,omitempty" json:"ql,omitempty"`
	QHi *float64  `bson:"qh,omitempty" json:"qh,omitempty"`
	// XLo and XHi are a quantity's exact bounds, without the range its precision implies:
	// the value for a Quantity, low and high for a Range. The prefixes gt, lt, ge, le, sa
	// and eb compare with these.
	XLo *float64 `bson:"xl,omitempty" json:"xl,omitempty"`
	XHi *float64 `bson:"xh,omitempty" json:"xh,omitempty"`
	QU  []string `bson:"qu,omitempty" json:"qu,omitempty"`
	QC  []string `bson:"qc,omitempty" json:"qc,omitempty"`
	// K holds the token keys of a composite's token component, "system|code" and the bare code.
	K []string `bson:"k,omitempty" json:"k,omitempty"`
}

// MinTime and MaxTime stand for the open ends of a Period.
var (
	MinTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(9999, 12, 31, 23, 59, 59, 999000000, time.UTC)
)
