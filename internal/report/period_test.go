package report

import (
	"testing"
	"time"
)

func TestParsePeriod(t *testing.T) {
	t.Parallel()
	cph, err := time.LoadLocation("Europe/Copenhagen")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, in, start, end string
	}{
		{"quarter", "2026-Q1", "2026-01-01T00:00:00+01:00", "2026-04-01T00:00:00+02:00"},
		{"last quarter", "2026-Q4", "2026-10-01T00:00:00+02:00", "2027-01-01T00:00:00+01:00"},
		{"month", "2026-03", "2026-03-01T00:00:00+01:00", "2026-04-01T00:00:00+02:00"},
		{"year", "2026", "2026-01-01T00:00:00+01:00", "2027-01-01T00:00:00+01:00"},
		{"day", "2026-03-14", "2026-03-14T00:00:00+01:00", "2026-03-15T00:00:00+01:00"},
		{"range, both days included", "2026-01-15..2026-02-14", "2026-01-15T00:00:00+01:00", "2026-02-15T00:00:00+01:00"},
		{"quarter 5", "2026-Q5", "", ""},
		{"range backwards", "2026-02-14..2026-01-15", "", ""},
		{"words", "last spring", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, e, err := ParsePeriod(c.in, cph)
			if c.start == "" {
				if err == nil {
					t.Errorf("%s: no error", c.in)
				}
				return
			}
			if err != nil || s.Format(time.RFC3339) != c.start || e.Format(time.RFC3339) != c.end {
				t.Errorf("%s = %s, %s, %v; want %s, %s", c.in, s.Format(time.RFC3339), e.Format(time.RFC3339), err, c.start, c.end)
			}
		})
	}
}

func TestPrevious(t *testing.T) {
	t.Parallel()
	utc := time.UTC
	for _, c := range []struct{ name, period, start, end string }{
		{"a quarter: the quarter before", "2026-Q2", "2026-01-01", "2026-04-01"},
		{"a month", "2026-03", "2026-02-01", "2026-03-01"},
		{"days: the same number of days", "2026-03-10..2026-03-19", "2026-02-28", "2026-03-10"},
	} {
		s, e, err := ParsePeriod(c.period, utc)
		if err != nil {
			t.Fatal(err)
		}
		ps, pe := previous(s, e)
		if ps.Format("2006-01-02") != c.start || pe.Format("2006-01-02") != c.end {
			t.Errorf("%s: previous %s – %s, want %s – %s", c.name, ps, pe, c.start, c.end)
		}
	}
}
