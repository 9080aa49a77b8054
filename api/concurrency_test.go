package api_test

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestConcurrentUpdates(t *testing.T) {
	t.Parallel()
	const writers = 50
	tests := []struct {
		name    string
		ifMatch string
		// wantOK is how many updates succeed; the others must get 412.
		wantOK int
	}{
		{"same If-Match: exactly one wins", `W/"1"`, 1},
		{"no If-Match: none is lost", "", writers},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t)
			id, _ := s.mustCreate("QuestionnaireResponse", qrMinimal)
			body := []byte(strings.Replace(qrMinimal, `"status":"completed"`, `"id":"`+id+`","status":"amended"`, 1))
			var mu sync.Mutex
			statuses := map[int]int{}
			var etags []string
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := 0; i < writers; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					var h []string
					if tc.ifMatch != "" {
						h = []string{"If-Match", tc.ifMatch}
					}
					r := s.do("PUT", "/fhir/QuestionnaireResponse/"+id, body, h...)
					mu.Lock()
					defer mu.Unlock()
					statuses[r.status]++
					if r.status == http.StatusOK {
						etags = append(etags, r.header.Get("ETag"))
					}
				}()
			}
			close(start)
			wg.Wait()
			if statuses[http.StatusOK] != tc.wantOK || statuses[http.StatusPreconditionFailed] != writers-tc.wantOK {
				t.Fatalf("statuses %v, want %d×200 and %d×412", statuses, tc.wantOK, writers-tc.wantOK)
			}
			// Every successful update got its own version: 2 … wantOK+1, no gap, no repeat.
			var got []int
			for _, e := range etags {
				n, _ := strconv.Atoi(strings.Trim(strings.TrimPrefix(e, "W/"), `"`))
				got = append(got, n)
			}
			sort.Ints(got)
			for i, v := range got {
				if v != i+2 {
					t.Fatalf("versions written %v, want 2..%d", got, tc.wantOK+1)
				}
			}
			// The history holds them all.
			r := s.do("GET", "/fhir/QuestionnaireResponse/"+id+"/_history?_count=1000", nil)
			if n := len(r.json(t)["entry"].([]any)); n != tc.wantOK+1 {
				t.Errorf("history has %d versions, want %d", n, tc.wantOK+1)
			}
		})
	}
}
