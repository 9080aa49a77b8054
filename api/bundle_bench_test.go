package api_test

import (
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// bundleBenchSizes are the numbers of creates BenchmarkTransactionVersusSingleCreates sends
// (BUNDLE_BENCH_SIZES overrides the default 100, e.g. "10,100,1000").
func bundleBenchSizes(b *testing.B) []int {
	env := os.Getenv("BUNDLE_BENCH_SIZES")
	if env == "" {
		return []int{100}
	}
	var out []int
	for _, f := range strings.Split(env, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("BUNDLE_BENCH_SIZES=%q: %v", env, err)
		}
		out = append(out, n)
	}
	return out
}

// BenchmarkTransactionVersusSingleCreates measures, in one run on one embedded database with
// dev-mode tokens and the audit trail on, n QuestionnaireResponse creates sent as n single
// POSTs over HTTP (the baseline) and as one transaction Bundle of n entries. It reports the
// median milliseconds of each and their ratio (transaction / single: below 1 is faster).
//
//	go test -run XXX -bench TransactionVersusSingleCreates -benchtime 20x ./api/
func BenchmarkTransactionVersusSingleCreates(b *testing.B) {
	s, token := newAuditedServer(b)
	post := func(path, body string, want int) {
		req, _ := http.NewRequest("POST", s.base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/fhir+json")
		req.Header.Set("Prefer", "return=minimal")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			b.Fatalf("POST %s: %d", path, resp.StatusCode)
		}
	}
	median := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2].Microseconds()) / 1000
	}
	for _, n := range bundleBenchSizes(b) {
		entries := make([]entry, n)
		for i := range entries {
			entries[i] = entry{resource: qrMinimal, method: "POST", url: "QuestionnaireResponse"}
		}
		bundle := string(bundleOf("transaction", entries...))
		var single, tx []time.Duration
		b.Run(strconv.Itoa(n)+" single creates", func(b *testing.B) {
			for b.Loop() {
				start := time.Now()
				for range n {
					post("/QuestionnaireResponse", qrMinimal, http.StatusCreated)
				}
				single = append(single, time.Since(start))
			}
			b.ReportMetric(median(single), "ms-median")
		})
		b.Run("one transaction of "+strconv.Itoa(n)+" creates", func(b *testing.B) {
			for b.Loop() {
				start := time.Now()
				post("", bundle, http.StatusOK)
				tx = append(tx, time.Since(start))
			}
			b.ReportMetric(median(tx), "ms-median")
			b.ReportMetric(median(tx)/median(single), "ratio-to-single")
		})
	}
}
