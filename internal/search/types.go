package search

// ParamType is a search parameter type (http://hl7.org/fhir/ValueSet/search-param-type).
type ParamType string

// The search parameter types of FHIR R4.
const (
	TypeNumber    ParamType = "number"
	TypeDate      ParamType = "date"
	TypeString    ParamType = "string"
	TypeToken     ParamType = "token"
	TypeReference ParamType = "reference"
	TypeComposite ParamType = "composite"
	TypeQuantity  ParamType = "quantity"
	TypeURI       ParamType = "uri"
	TypeSpecial   ParamType = "special"
)

// Modifier is a search modifier (http://hl7.org/fhir/ValueSet/search-modifier-code), the
// part after the colon in "name:modifier". A reference parameter may also carry a resource
// type as its modifier ("subject:Patient"); Param.Modifier is then ModifierType and
// Param.TargetType holds the type.
type Modifier string

// The search modifiers of FHIR R4.
const (
	ModifierNone       Modifier = ""
	ModifierMissing    Modifier = "missing"
	ModifierExact      Modifier = "exact"
	ModifierContains   Modifier = "contains"
	ModifierText       Modifier = "text"
	ModifierNot        Modifier = "not"
	ModifierAbove      Modifier = "above"
	ModifierBelow      Modifier = "below"
	ModifierIn         Modifier = "in"
	ModifierNotIn      Modifier = "not-in"
	ModifierOfType     Modifier = "of-type"
	ModifierIdentifier Modifier = "identifier"
	// ModifierType stands for a resource type used as a modifier ("subject:Patient").
	ModifierType Modifier = "type"
)

// Prefix is a comparison prefix on number, date and quantity values
// (http://hl7.org/fhir/ValueSet/search-comparator).
type Prefix string

// The comparison prefixes of FHIR R4. A value without a prefix compares with PrefixEq.
const (
	PrefixEq Prefix = "eq" // the value's range contains the target's range
	PrefixNe Prefix = "ne" // the value's range does not contain the target's range
	PrefixGt Prefix = "gt" // the target is greater than the value
	PrefixLt Prefix = "lt" // the target is less than the value
	PrefixGe Prefix = "ge" // the target is greater than or equal to the value
	PrefixLe Prefix = "le" // the target is less than or equal to the value
	PrefixSa Prefix = "sa" // the target starts after the value's range ends
	PrefixEb Prefix = "eb" // the target ends before the value's range starts
	PrefixAp Prefix = "ap" // the target is approximately the value (server-defined tolerance)
)

// AllPrefixes lists every prefix, in the order the specification gives them.
var AllPrefixes = []Prefix{PrefixEq, PrefixNe, PrefixGt, PrefixLt, PrefixGe, PrefixLe, PrefixSa, PrefixEb, PrefixAp}

// modifiersFor gives the modifiers the FHIR R4 search page (search.html, "Modifiers")
// allows on each parameter type. :missing applies to every type except composite and
// special; type modifiers on references are checked against the targets separately.
func modifiersFor(t ParamType, name string) []Modifier {
	switch t {
	case TypeString:
		return []Modifier{ModifierMissing, ModifierExact, ModifierContains}
	case TypeToken:
		// :above, :below, :in and :not-in need a terminology service, which this server
		// does not have; they are refused as modifiers it does not support.
		m := []Modifier{ModifierMissing, ModifierText, ModifierNot}
		if name == "identifier" {
			// :of-type only has meaning on an Identifier element.
			m = append(m, ModifierOfType)
		}
		return m
	case TypeReference:
		return []Modifier{ModifierMissing, ModifierType, ModifierIdentifier}
	case TypeURI:
		return []Modifier{ModifierMissing, ModifierAbove, ModifierBelow}
	case TypeDate, TypeNumber, TypeQuantity:
		return []Modifier{ModifierMissing}
	default:
		return nil
	}
}

// DatePrecision is how much of a date search value was given.
type DatePrecision int

// The precisions a date search value may have.
const (
	PrecisionYear DatePrecision = iota + 1
	PrecisionMonth
	PrecisionDay
	PrecisionMinute
	PrecisionSecond
	PrecisionFraction // seconds with a decimal fraction
)

// Total is the _total result parameter.
type Total string

// The values of _total.
const (
	TotalNone     Total = "none"
	TotalEstimate Total = "estimate"
	TotalAccurate Total = "accurate"
)

// Summary is the _summary result parameter.
type Summary string

// The values of _summary.
const (
	SummaryTrue  Summary = "true"
	SummaryText  Summary = "text"
	SummaryData  Summary = "data"
	SummaryCount Summary = "count"
	SummaryFalse Summary = "false"
)
