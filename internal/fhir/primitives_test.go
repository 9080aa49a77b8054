package fhir

import "testing"

// TestPrimitiveTableNamesModelElements: every element the generated table names on a model
// type is a string element of it, and the table reaches over 200 of them: a table out of step
// with the models would check nothing, silently. (The table names a backbone element used in
// two places under both paths; the models have one of them.)
func TestPrimitiveTableNamesModelElements(t *testing.T) {
	t.Parallel()
	seen := map[string]*schema{}
	var walk func(s *schema)
	walk = func(s *schema) {
		if seen[s.name] != nil {
			return
		}
		seen[s.name] = s
		for _, f := range s.fields {
			if f.complex != nil {
				walk(f.complex)
			}
		}
	}
	for _, typ := range modelTypes {
		walk(schemaFor(typ))
	}
	checked := 0
	for model, fields := range primitiveTypes {
		s := seen[model]
		if s == nil {
			continue
		}
		for name, p := range fields {
			f := s.fields[name]
			switch {
			case f == nil:
				t.Errorf("%s.%s is not an element of the model", model, name)
			case f.kind != kindString || f.prim != p:
				t.Errorf("%s.%s: kind %d, primitive %d; want a string checked as %d", model, name, f.kind, f.prim, p)
			default:
				checked++
			}
		}
	}
	if checked < 200 {
		t.Errorf("only %d date and time elements are checked", checked)
	}
}

func TestCheckPrimitive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		p     primitiveType
		value string
		ok    bool
	}{
		{"year", primitiveDate, "2026", true},
		{"year and month", primitiveDate, "2026-03", true},
		{"date", primitiveDate, "2026-03-14", true},
		{"leap day", primitiveDate, "2024-02-29", true},
		{"not a leap year", primitiveDate, "2026-02-29", false},
		{"date with a time", primitiveDate, "2026-03-14T10:00:00Z", false},
		{"year zero", primitiveDate, "0000", false},
		{"dateTime as a date", primitiveDateTime, "2026-03-14", true},
		{"dateTime with a zone", primitiveDateTime, "2026-03-14T10:22:00+01:00", true},
		{"dateTime in UTC with fractions", primitiveDateTime, "2026-03-14T10:22:00.5Z", true},
		{"dateTime without a zone", primitiveDateTime, "2026-03-14T10:22:00", false},
		{"dateTime without seconds", primitiveDateTime, "2026-03-14T10:22Z", false},
		{"dateTime with a zone out of range", primitiveDateTime, "2026-03-14T10:22:00+15:00", false},
		{"instant", primitiveInstant, "2026-03-14T10:22:00.000Z", true},
		{"instant without a zone", primitiveInstant, "2026-03-14T10:22:00", false},
		{"instant without seconds", primitiveInstant, "2026-03-14T10:22Z", false},
		{"instant as a date", primitiveInstant, "2026-03-14", false},
		{"time", primitiveTime, "10:22:00", true},
		{"leap second", primitiveTime, "23:59:60", true},
		{"time without seconds", primitiveTime, "10:22", false},
		{"time with a zone", primitiveTime, "10:22:00Z", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkPrimitive(tc.p, tc.value) == ""; got != tc.ok {
				t.Errorf("checkPrimitive(%s, %q): ok %v, want %v (%s)", primitiveNames[tc.p], tc.value, got, tc.ok, checkPrimitive(tc.p, tc.value))
			}
		})
	}
}
