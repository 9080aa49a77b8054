package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/fixtures"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/generate"
	"github.com/patient-involvement/fhir-server/internal/report"
	"github.com/patient-involvement/fhir-server/internal/store"
	"github.com/patient-involvement/fhir-server/internal/store/storetest"
)

// BenchmarkReport times a report from the store, per care unit over a year, of 10,000
// generated LUP responses (100,000 when MONGODB_URI is set; REPORT_BENCH_SIZES overrides),
// beside a plain loop that only reads the same documents from the database, in the same
// run: report/store against read/raw-driver is what the report costs over reading. The
// aggregation's own CPU per response is BenchmarkAggregate in internal/report.
func BenchmarkReport(b *testing.B) {
	def := 10000
	if os.Getenv("MONGODB_URI") != "" {
		def = 100000
	}
	for _, size := range benchSizes(b, "REPORT_BENCH_SIZES", def) {
		b.Run("LUP="+strconv.Itoa(size), func(b *testing.B) { benchReport(b, size) })
	}
}

func benchReport(b *testing.B, size int) {
	ctx := context.Background()
	db := storetest.NewDatabase(b)
	st, err := store.New(db, fhir.DefaultRegistry(), store.Options{IDFiltersOnly: storetest.IsEmbedded(b)})
	if err != nil {
		b.Fatal(err)
	}
	if err := st.EnsureIndexes(ctx); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	var rs []*fhir.Resource
	for _, f := range []string{"Questionnaire/lup-outpatient-v1.json", "Questionnaire/lup-outpatient-v2.json"} {
		raw, err := fs.ReadFile(fixtures.FS(), f)
		if err != nil {
			b.Fatal(err)
		}
		rs = append(rs, version(b, raw, "Questionnaire", now))
	}
	lines, err := generate.Responses(fixtures.FS(), 4*size, 11)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, line := range lines {
		if n < size && bytes.Contains(line, []byte(`Questionnaire/lup-outpatient|`)) {
			rs = append(rs, version(b, line, "QuestionnaireResponse", now))
			n++
		}
	}
	if n < size {
		b.Fatalf("%d LUP responses generated, want %d", n, size)
	}
	t0 := time.Now()
	if _, err := st.InsertNew(ctx, rs); err != nil {
		b.Fatal(err)
	}
	b.Logf("inserted %d LUP responses in %s", size, time.Since(t0).Round(time.Millisecond))
	svc, err := report.New(st, st, st, report.Options{})
	if err != nil {
		b.Fatal(err)
	}
	start, end := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	lup := "https://fhir.patient-involvement.example/Questionnaire/lup-outpatient"
	sel := report.Selection{Canonicals: []string{lup + "|1.0", lup + "|2.0", lup}, Start: start, End: end, Statuses: []string{"completed", "amended"}}
	coll := db.Collection("QuestionnaireResponse")

	var read int
	b.Run("read/raw-driver", func(b *testing.B) {
		timed(b, func(int) {
			cur, err := coll.Find(ctx, store.ReportFilter(sel))
			if err != nil {
				b.Fatal(err)
			}
			read = 0
			for cur.Next(ctx) {
				read++
			}
			if err := cur.Close(ctx); err != nil || read == 0 {
				b.Fatalf("%d documents, %v", read, err)
			}
		})
	})
	b.Run("report/store", func(b *testing.B) {
		timed(b, func(int) {
			rep, err := svc.Run(ctx, &report.Request{URL: lup, AllVersions: true, Start: start, End: end,
				Stratifier: report.StratifyCareUnit, Statuses: sel.Statuses})
			if err != nil {
				b.Fatal(err)
			}
			if got := rep.Strata[0].Responses; got != read {
				b.Fatalf("the report counts %d responses, the read %d", got, read)
			}
		})
	})
}

// version turns a resource's JSON into its first stored version.
func version(b *testing.B, raw []byte, typ string, now time.Time) *fhir.Resource {
	b.Helper()
	var head struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		b.Fatal(err)
	}
	body, err := fhir.ParseBody(raw, typ)
	if err != nil {
		b.Fatal(err)
	}
	r, err := body.Version(head.ID, 1, now, http.MethodPut)
	if err != nil {
		b.Fatal(err)
	}
	return r
}
