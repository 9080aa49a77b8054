package questionnaire

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// kind is the FHIR datatype of an answer, option, enableWhen or bound value, as its
// value[x] suffix names it.
type kind uint8

const (
	kNone kind = iota
	kBoolean
	kDecimal
	kInteger
	kDate
	kDateTime
	kTime
	kString
	kURI
	kAttachment
	kCoding
	kQuantity
	kReference
)

var kindBySuffix = map[string]kind{
	"Boolean": kBoolean, "Decimal": kDecimal, "Integer": kInteger, "Date": kDate, "DateTime": kDateTime,
	"Time": kTime, "String": kString, "Uri": kURI, "Attachment": kAttachment, "Coding": kCoding,
	"Quantity": kQuantity, "Reference": kReference,
}

var suffixByKind = func() map[kind]string {
	m := map[kind]string{}
	for s, k := range kindBySuffix {
		m[k] = s
	}
	return m
}()

// suffix is the value[x] suffix of k ("Coding").
func (k kind) suffix() string { return suffixByKind[k] }

// numeric reports whether values of k compare as numbers.
func (k kind) numeric() bool { return k == kInteger || k == kDecimal || k == kQuantity }

// value is one typed value: an answer, an answerOption, an enableWhen answer, a bound.
type value struct {
	kind kind
	// text is the value as written: the string, uri, date, time or number literal, the
	// coding's code, the reference.
	text string
	// system and code of a Coding; system, code and unit of a Quantity.
	system, code, unit string
	display            string
	num                float64 // integer, decimal, quantity value
	hasNum             bool
	b                  bool
	// lo and hi bound a date or dateTime: [lo, hi) in UTC; for a time, lo holds the time
	// of day on 0000-01-01.
	lo, hi time.Time
	// bad says why the value could not be read ("" when it could).
	bad string
}

// readChoice reads the member prefix[x] of m as a value; ok is false when m has none.
func readChoice(m map[string]any, prefix string) (v value, ok bool) {
	suffix, raw := choice(m, prefix)
	if suffix == "" {
		return value{}, false
	}
	k, known := kindBySuffix[suffix]
	if !known {
		return value{kind: kNone, text: suffix, bad: fmt.Sprintf("%s%s is not a type an answer can have", prefix, suffix)}, true
	}
	return readValue(k, raw), true
}

// readValue reads raw as a value of kind k.
func readValue(k kind, raw any) value {
	v := value{kind: k}
	switch k {
	case kBoolean:
		v.b, _ = raw.(bool)
		v.text = strconv.FormatBool(v.b)
	case kInteger, kDecimal:
		n, _ := raw.(json.Number)
		v.text = string(n)
		f, err := strconv.ParseFloat(v.text, 64)
		if err != nil {
			v.bad = fmt.Sprintf("%q is not a number", v.text)
		}
		v.num, v.hasNum = f, err == nil
	case kString, kURI:
		v.text, _ = raw.(string)
	case kDate, kDateTime:
		v.text, _ = raw.(string)
		lo, hi, err := parseDateTime(v.text, k == kDate)
		if err != nil {
			v.bad = err.Error()
		}
		v.lo, v.hi = lo, hi
	case kTime:
		v.text, _ = raw.(string)
		t, err := parseTime(v.text)
		if err != nil {
			v.bad = err.Error()
		}
		v.lo = t
	case kCoding:
		m, _ := raw.(map[string]any)
		v.system, v.code, v.display = str(m, "system"), str(m, "code"), str(m, "display")
		v.text = v.code
	case kQuantity:
		m, _ := raw.(map[string]any)
		v.system, v.code, v.unit = str(m, "system"), str(m, "code"), str(m, "unit")
		if n, ok := m["value"].(json.Number); ok {
			v.text = string(n)
			f, err := strconv.ParseFloat(v.text, 64)
			v.num, v.hasNum = f, err == nil
		}
	case kReference:
		m, _ := raw.(map[string]any)
		v.text = str(m, "reference")
		if v.text == "" {
			if id := object(m, "identifier"); id != nil {
				v.text = str(id, "system") + "|" + str(id, "value")
			}
		}
	}
	return v
}

// String renders the value for messages.
func (v value) String() string {
	switch v.kind {
	case kCoding:
		s := v.code
		if v.system != "" {
			s = v.system + "|" + v.code
		}
		if v.display != "" {
			s += " (" + v.display + ")"
		}
		return s
	case kQuantity:
		u := v.code
		if u == "" {
			u = v.unit
		}
		return strings.TrimSpace(v.text + " " + u)
	case kString, kURI:
		return strconv.Quote(v.text)
	case kAttachment:
		return "an attachment"
	}
	return v.text
}

// key is the value as a map key: values with equal keys are equal answers.
func (v value) key() string {
	switch v.kind {
	case kCoding:
		return "c" + v.system + "|" + v.code
	case kQuantity:
		return "q" + strconv.FormatFloat(v.num, 'g', -1, 64) + "|" + v.system + "|" + v.code + "|" + v.unit
	case kInteger, kDecimal:
		return "n" + strconv.FormatFloat(v.num, 'g', -1, 64)
	case kDate, kDateTime:
		return "d" + v.lo.Format(time.RFC3339Nano) + "/" + v.hi.Format(time.RFC3339Nano)
	case kTime:
		return "t" + v.lo.Format("15:04:05.000000000")
	}
	return fmt.Sprintf("%d:%s", v.kind, v.text)
}

// equal reports whether two values are the same answer: codings by system and code (a
// coding b without system matches any system: enableWhen answers may leave it out), numbers
// by value, quantities by value and unit, dates by the range they cover.
func equal(a, b value) bool {
	switch {
	case a.kind == kCoding && b.kind == kCoding:
		return a.code == b.code && (a.system == b.system || b.system == "")
	case a.kind == kQuantity && b.kind == kQuantity:
		return a.hasNum && b.hasNum && a.num == b.num && sameUnit(a, b)
	case a.kind.numeric() && b.kind.numeric():
		return a.hasNum && b.hasNum && a.num == b.num
	case (a.kind == kDate || a.kind == kDateTime) && (b.kind == kDate || b.kind == kDateTime):
		return a.bad == "" && b.bad == "" && a.lo.Equal(b.lo) && a.hi.Equal(b.hi)
	case a.kind == kTime && b.kind == kTime:
		return a.bad == "" && b.bad == "" && a.lo.Equal(b.lo)
	case a.kind == kBoolean && b.kind == kBoolean:
		return a.b == b.b
	case (a.kind == kString || a.kind == kURI) && (b.kind == kString || b.kind == kURI):
		return a.text == b.text
	case a.kind == kReference && b.kind == kReference:
		return a.text == b.text
	}
	return false
}

func sameUnit(a, b value) bool {
	if a.code != "" && b.code != "" {
		return a.code == b.code && (a.system == b.system || a.system == "" || b.system == "")
	}
	return a.unit == b.unit || a.code == b.unit || a.unit == b.code
}

// compare orders a against b: -1, 0 or 1, and false when they do not compare (other kinds,
// quantities of other units, unreadable values). Dates compare by where they start, and
// equal when one covers the other's start.
func compare(a, b value) (int, bool) {
	switch {
	case a.kind == kQuantity && b.kind == kQuantity && !sameUnit(a, b):
		return 0, false
	case a.kind.numeric() && b.kind.numeric():
		if !a.hasNum || !b.hasNum {
			return 0, false
		}
		return cmpFloat(a.num, b.num), true
	case (a.kind == kDate || a.kind == kDateTime) && (b.kind == kDate || b.kind == kDateTime):
		if a.bad != "" || b.bad != "" {
			return 0, false
		}
		switch {
		case !a.hi.After(b.lo):
			return -1, true
		case !b.hi.After(a.lo):
			return 1, true
		}
		return 0, true
	case a.kind == kTime && b.kind == kTime:
		if a.bad != "" || b.bad != "" {
			return 0, false
		}
		return a.lo.Compare(b.lo), true
	case (a.kind == kString || a.kind == kURI) && (b.kind == kString || b.kind == kURI):
		return strings.Compare(a.text, b.text), true
	}
	return 0, false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// dateRE is the FHIR date and dateTime syntax.
var dateRE = regexp.MustCompile(`^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$`)

// parseDateTime reads a FHIR date or dateTime as the range of instants it covers, in UTC;
// a value without a zone is read in UTC. dateOnly refuses a time part.
func parseDateTime(s string, dateOnly bool) (lo, hi time.Time, err error) {
	m := dateRE.FindStringSubmatch(s)
	if m == nil || (dateOnly && m[4] != "") {
		what := "dateTime"
		if dateOnly {
			what = "date"
		}
		return lo, hi, fmt.Errorf("%q is not a FHIR %s", s, what)
	}
	atoi := func(x string, def int) int {
		if x == "" {
			return def
		}
		n, _ := strconv.Atoi(x)
		return n
	}
	loc := time.UTC
	if z := m[8]; z != "" && z != "Z" {
		t, perr := time.Parse("-07:00", z)
		if perr != nil {
			return lo, hi, fmt.Errorf("%q has a bad time zone", s)
		}
		_, off := t.Zone()
		loc = time.FixedZone(z, off)
	}
	y, mo, d := atoi(m[1], 0), atoi(m[2], 1), atoi(m[3], 1)
	h, mi, sec := atoi(m[4], 0), atoi(m[5], 0), atoi(m[6], 0)
	nanos := 0
	if f := m[7]; f != "" {
		frac := (f[1:] + "000000000")[:9]
		nanos, _ = strconv.Atoi(frac)
	}
	if mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || sec > 60 {
		return lo, hi, fmt.Errorf("%q is not a valid date", s)
	}
	lo = time.Date(y, time.Month(mo), d, h, mi, sec, nanos, loc).UTC()
	switch {
	case m[2] == "":
		hi = lo.AddDate(1, 0, 0)
	case m[3] == "":
		hi = lo.AddDate(0, 1, 0)
	case m[4] == "":
		hi = lo.AddDate(0, 0, 1)
	case m[6] == "":
		hi = lo.Add(time.Minute)
	case m[7] == "":
		hi = lo.Add(time.Second)
	default:
		hi = lo.Add(time.Nanosecond)
	}
	return lo, hi, nil
}

var timeRE = regexp.MustCompile(`^([01]\d|2[0-3]):([0-5]\d):([0-5]\d|60)(\.\d+)?$`)

// parseTime reads a FHIR time as a time of day on 0000-01-01 UTC.
func parseTime(s string) (time.Time, error) {
	m := timeRE.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, fmt.Errorf("%q is not a FHIR time (hh:mm:ss)", s)
	}
	h, _ := strconv.Atoi(m[1])
	mi, _ := strconv.Atoi(m[2])
	sec, _ := strconv.Atoi(m[3])
	nanos := 0
	if f := m[4]; f != "" {
		nanos, _ = strconv.Atoi((f[1:] + "000000000")[:9])
	}
	return time.Date(0, 1, 1, h, mi, sec, nanos, time.UTC), nil
}

// decimalPlaces counts the digits after the decimal point of a number literal.
func decimalPlaces(lit string) int {
	lit = strings.ToLower(lit)
	exp := 0
	if i := strings.IndexByte(lit, 'e'); i >= 0 {
		exp, _ = strconv.Atoi(lit[i+1:])
		lit = lit[:i]
	}
	places := 0
	if i := strings.IndexByte(lit, '.'); i >= 0 {
		places = len(lit) - i - 1
	}
	return max(places-exp, 0)
}
