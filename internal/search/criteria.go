package search

import "time"

// Criteria is one search request, typed: the parameters to match (all must hold) and the
// result parameters that shape the answer.
type Criteria struct {
	// Type is the resource type searched.
	Type string
	// Params must all match (AND); each holds values of which one must match (OR).
	Params []Param
	// Count is the page size: the _count given, capped at Options.MaxCount, or
	// Options.DefaultCount; nil when neither applies.
	Count *int
	// Sort lists the sort keys in order of precedence.
	Sort []SortKey
	// Total is the _total asked for, "" when not given.
	Total Total
	// Summary is the _summary asked for, "" when not given.
	Summary Summary
	// Elements are the _elements asked for.
	Elements []string
	// Include and RevInclude are the _include and _revinclude directives.
	Include    []Include
	RevInclude []Include
}

// Param is one search parameter of a request with its values: a resource matches when
// any one of the values matches (OR).
type Param struct {
	Def      *Definition
	Modifier Modifier
	// TargetType is the resource type given as modifier ("subject:Patient"), when
	// Modifier is ModifierType.
	TargetType string
	Values     []Value
}

// Value is one typed search value. Its concrete type follows the parameter type and the
// modifier: String, Token, Date, Reference, URI, Quantity, Number, Composite, or Missing
// for the :missing modifier, String for token :text, URI for token :in / :not-in, and
// Token for reference :identifier.
type Value interface {
	// encode renders the value as query text, escaped, for the canonical query.
	encode() string
}

// String is a string parameter value (and the text of token :text).
type String struct {
	Text string
}

// Token is a token value: code, system|code, |code (HasSystem, empty System: the code
// has no system) or system| (any code in the system).
type Token struct {
	System    string
	Code      string
	HasSystem bool
	// Value is the identifier value for :of-type, where System|Code is the identifier type.
	Value string
}

// Date is a date value: the range [Low, High) that the (possibly partial) date given
// covers, in UTC, and the comparison prefix.
type Date struct {
	Prefix    Prefix
	Text      string
	Low, High time.Time
	Precision DatePrecision
	// HasZone is false when the value had a time but no zone and was read in Options.Location.
	HasZone bool
}

// Reference is a reference value: Type/ID (Type inferred when the parameter has a single
// target, or given by a type modifier), an absolute URL (with Type and ID filled in when its
// path ends in Type/id), or for canonical parameters a URL with an optional |Version.
type Reference struct {
	Type    string
	ID      string
	Version string // the _history version, or the canonical version after |
	URL     string
}

// URI is a uri value (and the value set of token :in / :not-in).
type URI struct {
	URI string
}

// Decimal is a decimal search number: the text as given and the range its implicit
// precision covers. 100 covers [99.5, 100.5), 100.0 covers [99.95, 100.05) and 1e2, with
// one significant figure, covers [50, 150).
type Decimal struct {
	Text             string
	Value, Low, High float64
}

// Number is a number value.
type Number struct {
	Prefix Prefix
	Number Decimal
}

// Quantity is a quantity value: [prefix]number|system|code, where system and code may be
// empty.
type Quantity struct {
	Prefix Prefix
	Number Decimal
	System string
	Code   string
}

// Composite is a composite value: one value per component of the definition, in order.
type Composite struct {
	Components []Value
}

// Missing is the value of the :missing modifier: true asks for resources without the element.
type Missing struct {
	Missing bool
}

// SortKey is one _sort key.
type SortKey struct {
	Param      *Definition
	Descending bool
}

// Include is one _include or _revinclude directive: SourceType:Param[:TargetType].
// Wildcard is set for "*" (all reference parameters; SourceType empty when the whole
// value was "*"). Iterate is set by the :iterate modifier (or the R3 name :recurse).
type Include struct {
	SourceType string
	Param      string
	TargetType string
	Iterate    bool
	Wildcard   bool
}
