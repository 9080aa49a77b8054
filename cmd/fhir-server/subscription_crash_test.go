package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestNotificationsSurviveKill acknowledges writes whose notifications cannot be delivered
// yet (the receiver is down), lets the receiver take the first one and kills the server with
// SIGKILL before the receiver answers, and restarts it on the same data directory: every
// acknowledged matching write is notified, nothing else, in the order written, and the one
// taken before the kill arrives again with the same event number (at least once).
func TestNotificationsSurviveKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the server twice")
	}
	var (
		mu   sync.Mutex
		down bool
		// hold keeps the answer to a notification back until it is closed: the server
		// is killed after the receiver has the notification and before it hears so.
		hold chan struct{}
		got  []struct {
			number int
			id     string
		}
		arrived = make(chan struct{}, 100)
	)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		if down {
			mu.Unlock()
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		h := hold
		if r.Header.Get("X-Subscription-Handshake") == "" {
			var res struct{ ID string }
			_ = json.Unmarshal(body, &res)
			n, _ := strconv.Atoi(r.Header.Get("X-Subscription-Event-Number"))
			got = append(got, struct {
				number int
				id     string
			}{n, res.ID})
			arrived <- struct{}{}
		}
		mu.Unlock()
		if h != nil {
			<-h
		}
	}))
	defer rc.Close()
	env := "FHIR_SUBSCRIPTION_ALLOWED_HOSTS=" + strings.TrimPrefix(rc.URL, "http://")
	dataDir := t.TempDir()
	srv := startChild(t, dataDir, env)
	token := adminToken(t, dataDir)
	post := func(base, typ, body string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/"+typ, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/fhir+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		data, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(data, &m)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", typ, resp.StatusCode, data)
		}
		return m
	}
	sub := post(srv.base, "Subscription", `{"resourceType":"Subscription","status":"requested","reason":"kill test",
		"criteria":"QuestionnaireResponse?subject=Patient/kill","channel":{"type":"rest-hook","endpoint":"`+rc.URL+`","payload":"application/fhir+json"}}`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, body := do(t, http.MethodGet, srv.base+"/Subscription/"+sub["id"].(string), token)
		if strings.Contains(body, `"status":"active"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the subscription did not become active: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	down = true
	mu.Unlock()
	var want []string
	for i := range 6 {
		subject := "kill"
		if i%3 == 2 {
			subject = "other" // not matching
		}
		r := post(srv.base, "QuestionnaireResponse", `{"resourceType":"QuestionnaireResponse","status":"completed","subject":{"reference":"Patient/`+subject+`"}}`)
		if subject == "kill" {
			want = append(want, r["id"].(string))
		}
	}
	// The receiver comes back, takes the first notification and answers only once the
	// server is dead: that one must come again after the restart, with the same number.
	release := make(chan struct{})
	mu.Lock()
	if len(got) != 0 {
		t.Errorf("notifications arrived while the receiver was down: %v", got)
	}
	down, hold = false, release
	mu.Unlock()
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the first notification was not retried once the receiver was back")
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = srv.cmd.Wait()
	mu.Lock()
	hold = nil
	mu.Unlock()
	close(release)

	startChild(t, dataDir, env)
	deadline = time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= len(want)+1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // anything more that would arrive
	mu.Lock()
	defer mu.Unlock()
	numbers := map[string]int{}
	var order []string
	if len(got) < 2 || got[0] != got[1] {
		t.Errorf("the notification taken before the kill was not sent again after it: %v", got)
	}
	for _, g := range got {
		if n, seen := numbers[g.id]; seen {
			if n != g.number {
				t.Errorf("%s arrived as event %d and again as event %d", g.id, n, g.number)
			}
			continue
		}
		numbers[g.id] = g.number
		order = append(order, g.id)
	}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Fatalf("notified %v, want %v in order", order, want)
	}
	for i, id := range want {
		if numbers[id] != i+1 {
			t.Errorf("%s has event number %d, want %d", id, numbers[id], i+1)
		}
	}
}
