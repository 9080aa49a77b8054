package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParsePeriod reads a period as people name it, in loc, as [start, end) (end exclusive):
// a quarter (2026-Q1), a month (2026-03), a year (2026), a day (2026-03-14), or a range of
// days START..END, both included (2026-01-15..2026-02-14).
func ParsePeriod(s string, loc *time.Location) (start, end time.Time, err error) {
	s = strings.TrimSpace(s)
	if a, b, ok := strings.Cut(s, ".."); ok {
		start, err = time.ParseInLocation("2006-01-02", strings.TrimSpace(a), loc)
		if err == nil {
			end, err = time.ParseInLocation("2006-01-02", strings.TrimSpace(b), loc)
		}
		if err != nil || !start.Before(end.AddDate(0, 0, 1)) {
			return start, end, fmt.Errorf("period %q: a range is START..END, two dates (YYYY-MM-DD), the first not after the last", s)
		}
		return start, end.AddDate(0, 0, 1), nil
	}
	if y, q, ok := strings.Cut(s, "-Q"); ok {
		year, yerr := strconv.Atoi(y)
		n, qerr := strconv.Atoi(q)
		if yerr != nil || qerr != nil || len(y) != 4 || n < 1 || n > 4 {
			return start, end, fmt.Errorf("period %q: a quarter is YYYY-Q1 … YYYY-Q4", s)
		}
		start = time.Date(year, time.Month(3*(n-1)+1), 1, 0, 0, 0, 0, loc)
		return start, start.AddDate(0, 3, 0), nil
	}
	for _, u := range []struct {
		layout       string
		years, month int
		days         int
	}{{"2006", 1, 0, 0}, {"2006-01", 0, 1, 0}, {"2006-01-02", 0, 0, 1}} {
		if len(s) == len(u.layout) {
			if start, err = time.ParseInLocation(u.layout, s, loc); err == nil {
				return start, start.AddDate(u.years, u.month, u.days), nil
			}
		}
	}
	return start, end, fmt.Errorf("period %q: give a quarter (2026-Q1), a month (2026-03), a year (2026), a day (2026-03-14) or a range of days (2026-01-15..2026-02-14)", s)
}
