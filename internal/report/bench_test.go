package report

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/fixtures"
	"github.com/patient-involvement/fhir-server/internal/generate"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// benchRows turns n generated LUP responses into the rows the store would read of them.
func benchRows(b *testing.B, n int) (*Layout, string, []Row) {
	b.Helper()
	var versions []*Version
	for _, f := range []string{"Questionnaire/lup-outpatient-v1.json", "Questionnaire/lup-outpatient-v2.json"} {
		raw, err := fs.ReadFile(fixtures.FS(), f)
		if err != nil {
			b.Fatal(err)
		}
		v, err := ReadVersion(raw)
		if err != nil {
			b.Fatal(err)
		}
		versions = append(versions, v)
	}
	lines, err := generate.Responses(fixtures.FS(), 4*n, 3)
	if err != nil {
		b.Fatal(err)
	}
	var rows []Row
	for _, line := range lines {
		var tree map[string]any
		if err := json.Unmarshal(line, &tree); err != nil {
			b.Fatal(err)
		}
		q, _ := tree["questionnaire"].(string)
		if q != versions[0].Canonical() && q != versions[1].Canonical() {
			continue
		}
		ix, err := search.Extract("QuestionnaireResponse", tree, search.ExtractOptions{})
		if err != nil {
			b.Fatal(err)
		}
		r := Row{Questionnaire: q, Authored: ix["authored"].Lo[0]}
		if u := ix[search.ParamCareUnit]; u != nil {
			r.Unit, r.UnitName = u.K[0], u.E[0]
		}
		if a := ix[search.ParamItemAnswer]; a != nil {
			r.Codes = a.K
		}
		if a := ix[search.ParamItemAnswerNumber]; a != nil {
			for _, e := range a.V {
				r.Numbers = append(r.Numbers, Number{LinkID: e.K[0], Value: *e.XLo})
			}
		}
		rows = append(rows, r)
		if len(rows) == n {
			break
		}
	}
	return newLayout(versions, true, nil), versions[1].Canonical(), rows
}

// BenchmarkAggregate measures the server's own CPU per response: counting rows already read
// into strata per care unit, then the figures and their suppression (no database).
func BenchmarkAggregate(b *testing.B) {
	const n = 10000
	layout, fallback, rows := benchRows(b, n)
	s := &Service{}
	stratify, _, _ := s.stratifier(b.Context(), StratifyCareUnit)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		a := newAggregator(layout, fallback, stratify, false)
		for i := range rows {
			if err := a.add(&rows[i]); err != nil {
				b.Fatal(err)
			}
		}
		layout.finish(a, DefaultMinCount, true)
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N*len(rows))/1000, "µs/response")
}

// BenchmarkSuppressManyUnits measures the figures and their suppression, complementary rule
// included, for a report of 80 care units of 8 to 40 responses each.
func BenchmarkSuppressManyUnits(b *testing.B) {
	v, err := ReadVersion([]byte(testQuestionnaire))
	if err != nil {
		b.Fatal(err)
	}
	l := newLayout([]*Version{v}, false, nil)
	var rows []Row
	seed := uint32(7)
	next := func(n int) int { seed = seed*1664525 + 1013904223; return int(seed>>16) % n }
	codes := []string{"1", "2", "3", "3", "4", "4", "4", "5", "5", "5", "5", "9"}
	for u := range 80 {
		for range 8 + next(33) {
			code := codes[next(len(codes))]
			rows = append(rows, Row{Questionnaire: "https://example.org/q|1", Unit: fmt.Sprintf("sys|U%02d", u), UnitName: fmt.Sprintf("Unit %02d", u),
				Codes: []string{"q1$s|" + code, fmt.Sprintf("b$%v", next(3) > 0)}})
		}
	}
	s := &Service{}
	stratify, _, _ := s.stratifier(b.Context(), StratifyCareUnit)
	for b.Loop() {
		a := newAggregator(l, "https://example.org/q|1", stratify, false)
		for i := range rows {
			if err := a.add(&rows[i]); err != nil {
				b.Fatal(err)
			}
		}
		l.finish(a, 5, true)
	}
}
