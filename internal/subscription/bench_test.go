package subscription_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/store"
	"github.com/patient-involvement/fhir-server/internal/store/storetest"
	"github.com/patient-involvement/fhir-server/internal/subscription"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// benchSizes are the numbers of subscriptions the create benchmark runs with:
// SUBSCRIPTION_BENCH_SIZES ("0,10,100", the default) overrides them.
func benchSizes(b *testing.B) []int {
	v := os.Getenv("SUBSCRIPTION_BENCH_SIZES")
	if v == "" {
		return []int{0, 10, 100}
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			b.Fatalf("SUBSCRIPTION_BENCH_SIZES: %v", err)
		}
		out = append(out, n)
	}
	return out
}

const benchResponse = `{"resourceType":"QuestionnaireResponse","status":"completed","subject":{"reference":"Patient/bench"},
"authored":"2025-03-01T10:00:00Z","item":[{"linkId":"44260-8","answer":[{"valueInteger":0}]},{"linkId":"q2","answer":[{"valueString":"fine"}]}]}`

// BenchmarkCreateWithSubscriptions measures the cost subscriptions add to the create hot
// path (Service.Create: checks, extraction, the observer, the database write), in one run on
// one embedded database: a create with no subscription machinery at all, and with the
// machinery and 0, 10 and 100 active subscriptions whose criteria (on other patients, on
// answers) the created response does not meet. "matching" adds one subscription it meets:
// that create also writes and fsyncs its notification to the outbox. Each reports the median
// (p50-ms) and its ratio to the baseline.
//
//	go test -run XXX -bench CreateWithSubscriptions -benchtime 400x ./internal/subscription/
func BenchmarkCreateWithSubscriptions(b *testing.B) {
	rc := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer rc.Close()
	host := strings.TrimPrefix(rc.URL, "http://")
	var base float64
	run := func(name string, subs int, matching, wired bool) {
		b.Run(name, func(b *testing.B) {
			registry := fhir.DefaultRegistry()
			st, err := store.New(storetest.NewDatabase(b), registry, store.Options{IDFiltersOnly: storetest.IsEmbedded(b)})
			if err == nil {
				err = st.EnsureIndexes(b.Context())
			}
			if err != nil {
				b.Fatal(err)
			}
			var svc *fhir.Service
			if !wired {
				svc, err = fhir.NewService(st, registry)
			} else {
				m, merr := subscription.New(subscription.Options{Dir: filepath.Join(b.TempDir(), "subs"), Store: st, Compile: st.Matcher,
					AllowedHosts: []string{host}, Logger: slog.New(slog.DiscardHandler)})
				if merr != nil {
					b.Fatal(merr)
				}
				defer m.Close()
				st.ObserveWrites(m)
				svc, err = fhir.NewService(st, registry, fhir.WithContentChecker(m))
				if err == nil {
					err = m.Start(b.Context(), svc)
				}
			}
			if err != nil {
				b.Fatal(err)
			}
			scopes, _ := auth.ParseScopes("system/*.*")
			ctx := auth.WithPrincipal(context.Background(), &auth.Principal{Scope: "system/*.*", Scopes: scopes})
			n := subs
			if matching {
				n++
			}
			for i := range n {
				criteria := fmt.Sprintf("QuestionnaireResponse?subject=Patient/p%d&item-answer-number=44260-8$gt0", i)
				if matching && i == subs {
					criteria = "QuestionnaireResponse?subject=Patient/bench"
				}
				body := `{"resourceType":"Subscription","status":"requested","reason":"bench","criteria":"` + criteria +
					`","channel":{"type":"rest-hook","endpoint":"` + rc.URL + `/` + strconv.Itoa(i) + `"}}`
				if _, err := svc.Create(ctx, "Subscription", []byte(body)); err != nil {
					b.Fatal(err)
				}
			}
			time.Sleep(200 * time.Millisecond) // the handshakes
			for range 20 {                     // warm up
				if _, err := svc.Create(ctx, "QuestionnaireResponse", []byte(benchResponse)); err != nil {
					b.Fatal(err)
				}
			}
			times := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				if _, err := svc.Create(ctx, "QuestionnaireResponse", []byte(benchResponse)); err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(start))
			}
			b.StopTimer()
			sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
			p50 := float64(times[len(times)/2].Microseconds()) / 1000
			b.ReportMetric(p50, "p50-ms")
			if !wired {
				base = p50
			} else if base > 0 {
				b.ReportMetric(p50/base, "x-baseline")
			}
		})
	}
	run("none", 0, false, false)
	for _, n := range benchSizes(b) {
		run(fmt.Sprintf("subscriptions=%d", n), n, false, true)
	}
	run("subscriptions=100+1 matching", 100, true, true)
}
