package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/internal/store"
	"github.com/patient-involvement/fhir-server/internal/store/storetest"
)

// When more searches arrive than the embedded database may scan at once, the ones that find
// no slot in time answer 503 with Retry-After and an OperationOutcome, never a 500, and the
// others answer as usual.
func TestBusySearchesAnswer503WithRetryAfter(t *testing.T) {
	t.Parallel()
	s := newTestServerOn(t, store.Options{IDFiltersOnly: storetest.IsEmbedded(t), MaxScans: 1, ScanWait: time.Millisecond})
	for i := 0; i < 150; i++ {
		s.mustCreate("QuestionnaireResponse", strings.Replace(qrMinimal, `"Patient/p1"`, fmt.Sprintf(`"Patient/p%d"`, i), 1))
	}
	const n = 6
	var wg sync.WaitGroup
	results := make([]*response, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = s.do("GET", "/fhir/QuestionnaireResponse?status=completed&_total=accurate&_count=1000", nil)
		}()
	}
	close(start)
	wg.Wait()
	busy := 0
	for i, r := range results {
		switch r.status {
		case http.StatusOK:
		case http.StatusServiceUnavailable:
			busy++
			if got := r.header.Get("Retry-After"); got == "" {
				t.Errorf("search %d: 503 without Retry-After", i)
			}
			outcome(t, r, http.StatusServiceUnavailable, "The server is busy")
			if !strings.Contains(string(r.body), `"code":"transient"`) {
				t.Errorf("search %d: the OperationOutcome's issue is not transient: %s", i, r.body)
			}
		default:
			t.Errorf("search %d: status %d: %s", i, r.status, r.body)
		}
	}
	if busy == 0 {
		t.Errorf("%d concurrent searches with one scan slot: none was refused as busy", n)
	}
	if busy == n {
		t.Errorf("every search was refused: none got the slot")
	}
}
