package fhir

import (
	"regexp"
	"time"
)

// primitiveType is a FHIR R4 primitive whose values have a form of their own, beyond being
// a string: the date and time types.
type primitiveType uint8

const (
	primitiveNone primitiveType = iota
	primitiveDate
	primitiveDateTime
	primitiveInstant
	primitiveTime
)

// The R4 regular expressions of the date and time types
// (http://hl7.org/fhir/R4/datatypes.html#primitive): a dateTime with a time has a zone; an
// instant has seconds and a zone.
var primitivePatterns = map[primitiveType]*regexp.Regexp{
	primitiveDate: regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$`),
	primitiveDateTime: regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])` +
		`(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$`),
	primitiveInstant: regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])` +
		`T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$`),
	primitiveTime: regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?$`),
}

// primitiveNames and primitiveExamples are for messages.
var (
	primitiveNames    = map[primitiveType]string{primitiveDate: "date", primitiveDateTime: "dateTime", primitiveInstant: "instant", primitiveTime: "time"}
	primitiveExamples = map[primitiveType]string{
		primitiveDate:     "2026, 2026-03 or 2026-03-14",
		primitiveDateTime: "2026-03-14, or 2026-03-14T10:22:00+01:00 (a time needs seconds and a zone)",
		primitiveInstant:  "2026-03-14T10:22:00.000Z (seconds and a zone are required)",
		primitiveTime:     "10:22:00",
	}
)

// checkPrimitive reports what is wrong with s as a value of type p, "" when nothing is: the
// R4 form, and for a full date a day the month has.
func checkPrimitive(p primitiveType, s string) string {
	re := primitivePatterns[p]
	if re == nil {
		return ""
	}
	if !re.MatchString(s) {
		return "is not a FHIR " + primitiveNames[p] + ", such as " + primitiveExamples[p]
	}
	if p != primitiveTime && len(s) >= 10 {
		if _, err := time.Parse("2006-01-02", s[:10]); err != nil {
			return "names a day that its month does not have"
		}
	}
	return ""
}
