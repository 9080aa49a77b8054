package generate

import (
	"fmt"
	"time"
)

// The year generated data covers: fixed, so that the output depends on the seed alone.
var (
	windowStart = time.Date(2025, time.December, 1, 0, 0, 0, 0, time.UTC)
	windowEnd   = time.Date(2026, time.November, 30, 0, 0, 0, 0, time.UTC) // also "today" for care-plan status
)

const windowDays = 365

// day formats a civil date.
func day(t time.Time) string { return t.Format(time.DateOnly) }

// localDateTime formats minute (since midnight) on day d as a FHIR dateTime with the
// Danish and Swedish offset of that date: +02:00 in summer time, +01:00 otherwise.
func localDateTime(d time.Time, minute int) string {
	return fmt.Sprintf("%sT%02d:%02d:00%s", day(d), minute/60, minute%60, offset(d))
}

// offset is the UTC offset of Central European (Summer) Time at daytime on d: summer time
// runs from the last Sunday of March to the last Sunday of October (the switches happen at
// night, before any time the generator writes).
func offset(d time.Time) string {
	if !d.Before(lastSunday(d.Year(), time.March)) && d.Before(lastSunday(d.Year(), time.October)) {
		return "+02:00"
	}
	return "+01:00"
}

func lastSunday(year int, month time.Month) time.Time {
	t := time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC) // last day of month
	return t.AddDate(0, 0, -int(t.Weekday()))
}
