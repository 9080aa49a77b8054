package store

import (
	"context"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/internal/search"
)

// TestLastUpdatedOnTS checks _lastUpdated, which is compiled onto the document's ts, with
// every prefix and precision against the range comparison searches decide in Go: a
// resource last updated at t stands for [t, t+1ms). Search values finer than a millisecond
// are included, where rounding the bounds the wrong way would be off by one resource.
func TestLastUpdatedOnTS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	t0 := time.Date(2024, 5, 3, 10, 15, 30, 388_000_000, time.UTC)
	var stamps []time.Time
	for i, d := range []time.Duration{-24 * time.Hour, 0, time.Millisecond, 2 * time.Millisecond, time.Second, 40 * 24 * time.Hour} {
		ts := t0.Add(d)
		stamps = append(stamps, ts)
		if err := s.Put(ctx, version(t, string(rune('a'+i)), 1, ts), nil); err != nil {
			t.Fatal(err)
		}
	}
	values := []string{"2024", "2024-05", "2024-05-03", "2024-05-03T10:15Z", "2024-05-03T10:15:30Z",
		"2024-05-03T10:15:30.389Z", "2024-05-03T10:15:30.3891Z", "2024-05-03T10:15:30.3889Z", "2024-05-03T12:15:30.39+02:00"}
	less := func(a, b time.Time) bool { return a.Before(b) }
	for _, v := range values {
		for _, p := range search.AllPrefixes {
			query := "_lastUpdated=" + url.QueryEscape(string(p)+v)
			c, _, err := search.Parse("CarePlan", url.Values{"_lastUpdated": {string(p) + v}}, search.Options{Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			opts := compileOptions{now: fixedNow}
			L, H := dateRange(c.Params[0].Values[0].(search.Date), opts)
			var want []string
			for i, ts := range stamps {
				if rangeMatch(p, ts, ts.Add(time.Millisecond), L, H, less) {
					want = append(want, string(rune('a'+i)))
				}
			}
			q, err := compileCriteria(c, "", opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(q.checks) > 0 {
				t.Errorf("%s is checked in Go", query)
			}
			docs, _, err := s.collect(ctx, "CarePlan", q.filter, sortDoc(sortFields(c), false), nil, -1)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range docs {
				got = append(got, d.ID())
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s finds %v, want %v", query, got, want)
			}
		}
	}
}
