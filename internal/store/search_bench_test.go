package store_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"

	"context"
	"encoding/json"
	"github.com/patient-involvement/fhir-server/api"
	"github.com/patient-involvement/fhir-server/internal/auth"
	"io/fs"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/patient-involvement/fhir-server/fixtures"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
	"github.com/patient-involvement/fhir-server/internal/store"
)

// benchQueries are the searches the benchmark times: what a patient app, an EHR sync and a
// quality team ask. {patient} and {questionnaire} are filled in from the generated data.
var benchQueries = []struct{ name, query string }{
	{"patient", "patient={patient}"},
	{"patient-newest-first", "patient={patient}&_sort=-authored&_count=10"},
	{"questionnaire-version", "questionnaire={questionnaire}&_count=50"},
	{"authored-range-sorted", "authored=ge2026-06-01&authored=lt2026-07-01&_sort=-authored&_count=20"},
	{"status-total", "status=in-progress&_total=accurate&_count=20"},
	{"include-questionnaire", "patient={patient}&_include=QuestionnaireResponse:questionnaire"},
}

// BenchmarkSearchParseCompile times turning a query string into typed criteria and a
// database filter, against url.ParseQuery of the same string as the baseline.
func BenchmarkSearchParseCompile(b *testing.B) {
	const raw = "patient=Patient/123&questionnaire=http://example.org/Questionnaire/lup|2.0&authored=ge2025-06-01&authored=lt2025-07-01&status=completed,amended&_sort=-authored&_count=20"
	b.Run("baseline-url.ParseQuery", func(b *testing.B) {
		for b.Loop() {
			if _, err := url.ParseQuery(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parse+compile", func(b *testing.B) {
		for b.Loop() {
			q, _ := url.ParseQuery(raw)
			c, _, err := search.Parse("QuestionnaireResponse", q, search.Options{DefaultCount: 20})
			if err != nil {
				b.Fatal(err)
			}
			if err := store.CompileForBenchmark(c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSearch times searches end to end in the store (query, decode, checks, paging
// cursor, includes) over 1,000 and 10,000 generated QuestionnaireResponses, with a read by
// id on the same database as the baseline. SEARCH_BENCH_SIZES overrides the sizes
// ("1000,10000"). It runs on the embedded database, or on MongoDB when MONGODB_URI is set.
func BenchmarkSearch(b *testing.B) {
	for _, size := range benchSizes(b, "SEARCH_BENCH_SIZES", 1000, 10000) {
		b.Run("QR="+strconv.Itoa(size), func(b *testing.B) {
			st, svc, _ := newSearchStoreDB(b)
			ids, patient, questionnaire := seed(b, svc, size)
			ctx := context.Background()
			verifier, err := auth.NewVerifier(ctx, auth.Options{Mode: auth.ModeOff})
			if err != nil {
				b.Fatal(err)
			}
			h, err := api.New(api.Options{Service: svc, Searcher: st, Logger: slog.New(slog.DiscardHandler), Auth: verifier})
			if err != nil {
				b.Fatal(err)
			}
			b.Run("baseline-read-by-id", func(b *testing.B) {
				i := 0
				for b.Loop() {
					if _, err := svc.Read(ctx, "QuestionnaireResponse", ids[i%len(ids)]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
			for _, bq := range benchQueries {
				query := strings.NewReplacer("{patient}", url.QueryEscape(patient), "{questionnaire}", url.QueryEscape(questionnaire)).Replace(bq.query)
				q, err := url.ParseQuery(query)
				if err != nil {
					b.Fatal(err)
				}
				c, _, err := search.Parse("QuestionnaireResponse", q, search.Options{DefaultCount: 20})
				if err != nil {
					b.Fatal(err)
				}
				b.Run(bq.name, func(b *testing.B) {
					var n int
					for b.Loop() {
						res, err := st.Search(ctx, &search.Request{Criteria: c})
						if err != nil {
							b.Fatal(err)
						}
						n = len(res.Matches) + len(res.Included)
					}
					b.ReportMetric(float64(n), "entries")
				})
				// The same search through the HTTP handler: parsing, authorization, the
				// search and the Bundle, as a client gets it (in process, no network).
				b.Run(bq.name+"/http", func(b *testing.B) {
					for b.Loop() {
						rec := httptest.NewRecorder()
						h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://localhost/fhir/QuestionnaireResponse?"+query, nil))
						if rec.Code != http.StatusOK {
							b.Fatalf("%d %s", rec.Code, rec.Body)
						}
					}
				})
			}
		})
	}
}

// seed writes size generated QuestionnaireResponses (and the fixture Questionnaires) and
// returns their ids, one patient's reference and one questionnaire's canonical.
func seed(b *testing.B, svc *fhir.Service, size int) (ids []string, patient, questionnaire string) {
	b.Helper()
	ctx := context.Background()
	lines := generatedResponses(b, size)
	var head struct {
		Questionnaire string `json:"questionnaire"`
		Subject       struct {
			Reference string `json:"reference"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(lines[0], &head); err != nil {
		b.Fatal(err)
	}
	patient, questionnaire = head.Subject.Reference, head.Questionnaire
	names, err := fs.Glob(fixtures.FS(), "Questionnaire/*.json")
	if err != nil || len(names) == 0 {
		b.Fatalf("fixture questionnaires: %v", err)
	}
	for _, n := range names {
		data, err := fs.ReadFile(fixtures.FS(), n)
		if err != nil {
			b.Fatal(err)
		}
		var head struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(data, &head); err != nil {
			b.Fatal(err)
		}
		if _, err := svc.Update(ctx, "Questionnaire", head.ID, data, nil); err != nil {
			b.Fatal(err)
		}
	}
	ids = make([]string, len(lines))
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				res, err := svc.Create(ctx, "QuestionnaireResponse", lines[i])
				if err != nil {
					b.Error(err)
					return
				}
				ids[i] = res.Resource.ID
			}
		}()
	}
	for i := range lines {
		work <- i
	}
	close(work)
	wg.Wait()
	return ids, patient, questionnaire
}
