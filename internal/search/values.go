package search

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// splitEscaped splits s on every sep not preceded by a backslash, leaving escapes in the
// parts (search.html "Escaping Search Parameters": \, \$ \| and \\).
func splitEscaped(s string, sep byte) []string {
	if strings.IndexByte(s, sep) < 0 {
		return []string{s}
	}
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++ // skip the escaped character
		case sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// unescape removes the backslash escapes from one value part.
func unescape(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// escape is the inverse of unescape for text placed in a value part.
func escape(s string) string {
	if !strings.ContainsAny(s, `\,$|`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\', ',', '$', '|':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (v String) encode() string  { return escape(v.Text) }
func (v URI) encode() string     { return escape(v.URI) }
func (v Missing) encode() string { return strconv.FormatBool(v.Missing) }

func (v Token) encode() string {
	switch {
	case v.Value != "":
		return escape(v.System) + "|" + escape(v.Code) + "|" + escape(v.Value)
	case v.HasSystem:
		return escape(v.System) + "|" + escape(v.Code)
	default:
		return escape(v.Code)
	}
}

func prefixText(p Prefix) string {
	if p == PrefixEq {
		return ""
	}
	return string(p)
}

func (v Date) encode() string   { return prefixText(v.Prefix) + v.Text }
func (v Number) encode() string { return prefixText(v.Prefix) + v.Number.Text }

func (v Quantity) encode() string {
	s := prefixText(v.Prefix) + v.Number.Text
	if v.System != "" || v.Code != "" {
		s += "|" + escape(v.System) + "|" + escape(v.Code)
	}
	return s
}

func (v Reference) encode() string {
	var s string
	if v.URL != "" {
		s = escape(v.URL)
		if v.Version != "" && !strings.Contains(v.URL, "/_history/") {
			s += "|" + escape(v.Version)
		}
		return s
	}
	s = escape(v.ID)
	if v.Type != "" {
		s = v.Type + "/" + s
	}
	if v.Version != "" {
		s += "/_history/" + escape(v.Version)
	}
	return s
}

func (v Composite) encode() string {
	parts := make([]string, len(v.Components))
	for i, c := range v.Components {
		parts[i] = c.encode()
	}
	return strings.Join(parts, "$")
}

// valueError is a bad value; the caller names the parameter.
type valueError struct{ msg string }

func (e *valueError) Error() string { return e.msg }

func badValue(format string, args ...any) error { return &valueError{fmt.Sprintf(format, args...)} }

// parseValue parses one OR-alternative raw (still escaped) of parameter d with modifier m.
func parseValue(d *Definition, m Modifier, targetType, raw string, opts *Options) (Value, error) {
	if m == ModifierMissing {
		switch raw {
		case "true":
			return Missing{true}, nil
		case "false":
			return Missing{false}, nil
		}
		return nil, badValue(":missing takes true or false, not %q", raw)
	}
	switch d.Type {
	case TypeString:
		return String{unescape(raw)}, nil
	case TypeURI:
		return URI{unescape(raw)}, nil
	case TypeToken:
		return parseToken(m, raw)
	case TypeDate:
		p, rest, err := splitPrefix(d, raw)
		if err != nil {
			return nil, err
		}
		v, err := parseDate(rest, opts.location())
		v.Prefix = p
		return v, err
	case TypeNumber:
		p, rest, err := splitPrefix(d, raw)
		if err != nil {
			return nil, err
		}
		n, err := parseDecimal(unescape(rest))
		return Number{Prefix: p, Number: n}, err
	case TypeQuantity:
		return parseQuantity(d, raw)
	case TypeReference:
		return parseReference(d, m, targetType, raw)
	case TypeComposite:
		parts := splitEscaped(raw, '$')
		if len(parts) != len(d.Components) {
			return nil, badValue("a %s value has %d parts separated by $, not %d", d.Name, len(d.Components), len(parts))
		}
		c := Composite{Components: make([]Value, len(parts))}
		for i, part := range parts {
			v, err := parseValue(d.Components[i].Def, ModifierNone, "", part, opts)
			if err != nil {
				return nil, err
			}
			c.Components[i] = v
		}
		return c, nil
	}
	return nil, badValue("parameters of type %s are not supported", d.Type)
}

func parseToken(m Modifier, raw string) (Value, error) {
	switch m {
	case ModifierText:
		return String{unescape(raw)}, nil
	case ModifierIn, ModifierNotIn:
		return URI{unescape(raw)}, nil
	case ModifierOfType:
		parts := splitEscaped(raw, '|')
		if len(parts) != 3 || parts[2] == "" {
			return nil, badValue(":of-type takes system|code|value, not %q", unescape(raw))
		}
		return Token{System: unescape(parts[0]), Code: unescape(parts[1]), HasSystem: true, Value: unescape(parts[2])}, nil
	}
	parts := splitEscaped(raw, '|')
	switch len(parts) {
	case 1:
		return Token{Code: unescape(raw)}, nil
	case 2:
		if parts[0] == "" && parts[1] == "" {
			return nil, badValue("a token needs a system or a code")
		}
		return Token{System: unescape(parts[0]), Code: unescape(parts[1]), HasSystem: true}, nil
	}
	return nil, badValue("a token is code, system|code, |code or system|; %q has too many |", unescape(raw))
}

// splitPrefix takes the comparison prefix off a number, date or quantity value. Values of
// these types start with a digit or sign, so two leading letters can only be a prefix.
func splitPrefix(d *Definition, raw string) (Prefix, string, error) {
	if len(raw) >= 2 && isLetter(raw[0]) && isLetter(raw[1]) {
		p := Prefix(raw[:2])
		for _, c := range d.Comparators {
			if c == p {
				return p, raw[2:], nil
			}
		}
		return "", "", badValue("%q is not a comparison prefix allowed on %s parameters (eq, ne, gt, lt, ge, le, sa, eb, ap)", raw[:2], d.Type)
	}
	return PrefixEq, raw, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// parseDecimal reads a FHIR decimal, optionally in exponent form, and the range its
// implicit precision covers: plus or minus half a unit in the last digit given.
func parseDecimal(s string) (Decimal, error) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	intStart := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == intStart {
		return Decimal{}, badValue("%q is not a number", s)
	}
	fraction := 0
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		fraction = i - start
		if fraction == 0 {
			return Decimal{}, badValue("%q is not a number", s)
		}
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || i+1 == len(s) {
			return Decimal{}, badValue("%q is not a number", s)
		}
		exp, i = e, len(s)
	}
	if i != len(s) {
		return Decimal{}, badValue("%q is not a number", s)
	}
	if exp > 400 || exp < -400 {
		return Decimal{}, badValue("%q is out of range", s)
	}
	// Exact arithmetic, so that the bounds are the floats nearest the true bounds.
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return Decimal{}, badValue("%q is not a number", s)
	}
	half := new(big.Rat).SetFrac(big.NewInt(1), big.NewInt(2))
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(exp-fraction))), nil))
	if exp-fraction >= 0 {
		half.Mul(half, scale)
	} else {
		half.Quo(half, scale)
	}
	v, _ := r.Float64()
	lo, _ := new(big.Rat).Sub(r, half).Float64()
	hi, _ := new(big.Rat).Add(r, half).Float64()
	if math.IsInf(v, 0) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return Decimal{}, badValue("%q is out of range", s)
	}
	return Decimal{Text: s, Value: v, Low: lo, High: hi}, nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func parseQuantity(d *Definition, raw string) (Value, error) {
	parts := splitEscaped(raw, '|')
	if len(parts) != 1 && len(parts) != 3 {
		return nil, badValue("a quantity is [prefix]number or [prefix]number|system|code, not %q", unescape(raw))
	}
	p, rest, err := splitPrefix(d, parts[0])
	if err != nil {
		return nil, err
	}
	n, err := parseDecimal(unescape(rest))
	if err != nil {
		return nil, err
	}
	q := Quantity{Prefix: p, Number: n}
	if len(parts) == 3 {
		q.System, q.Code = unescape(parts[1]), unescape(parts[2])
	}
	return q, nil
}

// parseDate reads a date search value (yyyy, yyyy-mm, yyyy-mm-dd, yyyy-mm-ddThh:mm,
// yyyy-mm-ddThh:mm:ss[.fff], each time optionally followed by Z or ±hh:mm) into the range it
// covers. Values with no zone are read in loc.
func parseDate(s string, loc *time.Location) (Date, error) {
	bad := badValue("%q is not a date (yyyy, yyyy-mm, yyyy-mm-dd or yyyy-mm-ddThh:mm[:ss[.fff]][Z|±hh:mm])", s)
	d := Date{Text: s}
	datePart, clock, hasTime := strings.Cut(s, "T")
	var layout string
	switch len(datePart) {
	case 4:
		layout, d.Precision = "2006", PrecisionYear
	case 7:
		layout, d.Precision = "2006-01", PrecisionMonth
	case 10:
		layout, d.Precision = "2006-01-02", PrecisionDay
	default:
		return d, bad
	}
	if !hasTime {
		t, err := time.ParseInLocation(layout, datePart, loc)
		if err != nil {
			return d, bad
		}
		d.Low = t.UTC()
		switch d.Precision {
		case PrecisionYear:
			d.High = t.AddDate(1, 0, 0).UTC()
		case PrecisionMonth:
			d.High = t.AddDate(0, 1, 0).UTC()
		default:
			d.High = t.AddDate(0, 0, 1).UTC()
		}
		return d, nil
	}
	if d.Precision != PrecisionDay {
		return d, bad
	}
	zone := loc
	switch {
	case strings.HasSuffix(clock, "Z"):
		clock, zone, d.HasZone = clock[:len(clock)-1], time.UTC, true
	case len(clock) > 6 && strings.ContainsAny(clock[len(clock)-6:len(clock)-5], "+- "):
		// An unencoded + in a query string arrives as a space.
		off := clock[len(clock)-6:]
		clock = clock[:len(clock)-6]
		if off[3] != ':' || !isDigit(off[1]) || !isDigit(off[2]) || !isDigit(off[4]) || !isDigit(off[5]) {
			return d, bad
		}
		h, _ := strconv.Atoi(off[1:3])
		m, _ := strconv.Atoi(off[4:6])
		if h > 14 || m > 59 {
			return d, bad
		}
		secs := h*3600 + m*60
		if off[0] == '-' {
			secs = -secs
		}
		zone, d.HasZone = time.FixedZone(off, secs), true
		d.Text = datePart + "T" + clock + strings.Replace(off, " ", "+", 1)
	}
	var step time.Duration
	switch {
	case len(clock) == 5:
		layout, d.Precision, step = "2006-01-02T15:04", PrecisionMinute, time.Minute
	case len(clock) == 8:
		layout, d.Precision, step = "2006-01-02T15:04:05", PrecisionSecond, time.Second
	case len(clock) > 9 && len(clock) <= 18 && clock[8] == '.':
		digits := len(clock) - 9
		layout, d.Precision = "2006-01-02T15:04:05."+strings.Repeat("0", digits), PrecisionFraction
		step = time.Duration(math.Pow10(9 - digits))
	default:
		return d, bad
	}
	t, err := time.ParseInLocation(layout, datePart+"T"+clock, zone)
	if err != nil {
		return d, bad
	}
	d.Low, d.High = t.UTC(), t.Add(step).UTC()
	return d, nil
}

// parseReference reads a reference value: [Type/]id[/_history/version], an absolute URL, or
// for canonical parameters url[|version]; with a type modifier just the id; with
// :identifier a token.
func parseReference(d *Definition, m Modifier, targetType, raw string) (Value, error) {
	switch m {
	case ModifierIdentifier:
		return parseToken(ModifierNone, raw)
	case ModifierType:
		id := unescape(raw)
		if !validID(id) {
			return nil, badValue("with a type modifier the value is a resource id, and %q is not one", id)
		}
		return Reference{Type: targetType, ID: id}, nil
	}
	var r Reference
	v := unescape(raw)
	if d.Canonical {
		parts := splitEscaped(raw, '|')
		if len(parts) > 2 {
			return nil, badValue("a canonical reference is url or url|version, not %q", v)
		}
		v = unescape(parts[0])
		if len(parts) == 2 {
			r.Version = unescape(parts[1])
		}
	}
	if v == "" {
		return nil, badValue("a reference needs a value")
	}
	segs := strings.Split(v, "/")
	if strings.Contains(v, "://") || strings.HasPrefix(v, "urn:") {
		r.URL = v
		if n := len(segs); n >= 4 && segs[n-2] == "_history" {
			r.Version, segs = segs[n-1], segs[:n-2]
		}
		if n := len(segs); n >= 2 && fhir.IsResourceType(segs[n-2]) && validID(segs[n-1]) {
			r.Type, r.ID = segs[n-2], segs[n-1]
		}
	} else {
		if n := len(segs); n == 4 && segs[2] == "_history" {
			if r.Version != "" {
				return nil, badValue("%q gives two versions", raw)
			}
			r.Version, segs = segs[3], segs[:2]
		}
		switch len(segs) {
		case 1:
			r.ID = segs[0]
			if len(d.Targets) == 1 && d.Targets[0] != anyType {
				r.Type = d.Targets[0]
			}
		case 2:
			r.Type, r.ID = segs[0], segs[1]
			if !fhir.IsResourceType(r.Type) {
				return nil, badValue("%q is not a FHIR resource type", r.Type)
			}
		default:
			return nil, badValue("a reference is [Type/]id, Type/id/_history/version or an absolute URL, not %q", v)
		}
		if !validID(r.ID) {
			return nil, badValue("%q is not a resource id", r.ID)
		}
		// A relative reference's version is written Type/id/_history/version: it must be
		// a version id, or the canonical form would not read back (found by FuzzParse).
		if r.Version != "" && !validID(r.Version) {
			return nil, badValue("%q is not a version id", r.Version)
		}
	}
	if r.Type != "" && !d.targets(r.Type) {
		return nil, badValue("%s cannot refer to %s (allowed: %s)", d.Name, r.Type, strings.Join(d.Targets, ", "))
	}
	return r, nil
}

// validID reports whether s is a FHIR id: 1 to 64 of A-Z a-z 0-9 - and .
func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isLetter(c) && !isDigit(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}
