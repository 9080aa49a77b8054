package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// txClient sends requests with a token to one server process.
type txClient struct {
	t     *testing.T
	base  string
	token string
}

func (c *txClient) do(method, path, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

func (c *txClient) must(method, path, body string, want int) []byte {
	c.t.Helper()
	status, data, err := c.do(method, path, body)
	if err != nil || status != want {
		c.t.Fatalf("%s %s: %d %v %s", method, path, status, err, data)
	}
	return data
}

// txSeed is what the transaction of the kill test changes.
type txSeed struct{ plan, gone, response string }

func seedForKill(t *testing.T, c *txClient) txSeed {
	id := func(data []byte) string {
		var m struct{ ID string }
		_ = json.Unmarshal(data, &m)
		return m.ID
	}
	plan := `{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/p1"}}`
	return txSeed{
		plan:     id(c.must("POST", "/CarePlan", plan, 201)),
		gone:     id(c.must("POST", "/CarePlan", plan, 201)),
		response: id(c.must("POST", "/QuestionnaireResponse", `{"resourceType":"QuestionnaireResponse","status":"completed","subject":{"reference":"Patient/p1"}}`, 201)),
	}
}

// killTransaction creates a response, moves a plan to another patient (its history moves
// too), deletes a plan and patches a response: every kind of store operation.
func killTransaction(s txSeed) string {
	patch := base64.StdEncoding.EncodeToString([]byte(`[{"op":"replace","path":"/status","value":"amended"}]`))
	return `{"resourceType":"Bundle","type":"transaction","entry":[` +
		`{"fullUrl":"urn:uuid:1f0e2d3c-0000-4000-8000-00000000000a","resource":{"resourceType":"QuestionnaireResponse","status":"completed","identifier":{"system":"urn:kill","value":"new"},"subject":{"reference":"Patient/p2"},"basedOn":[{"reference":"CarePlan/` + s.plan + `"}]},"request":{"method":"POST","url":"QuestionnaireResponse"}},` +
		`{"resource":{"resourceType":"CarePlan","id":"` + s.plan + `","status":"active","intent":"plan","subject":{"reference":"Patient/p2"},"supportingInfo":[{"reference":"urn:uuid:1f0e2d3c-0000-4000-8000-00000000000a"}]},"request":{"method":"PUT","url":"CarePlan/` + s.plan + `"}},` +
		`{"request":{"method":"DELETE","url":"CarePlan/` + s.gone + `"}},` +
		`{"resource":{"resourceType":"Binary","contentType":"application/json-patch+json","data":"` + patch + `"},"request":{"method":"PATCH","url":"QuestionnaireResponse/` + s.response + `"}}]}`
}

// txState says how much of the transaction is visible: "none", "all", or what is mixed.
func txState(t *testing.T, c *txClient, s txSeed) string {
	t.Helper()
	var seen []string
	versions := func(path string) int {
		var b struct{ Entry []json.RawMessage }
		_ = json.Unmarshal(c.must("GET", path+"/_history", "", 200), &b)
		return len(b.Entry)
	}
	plan := string(c.must("GET", "/CarePlan/"+s.plan, "", 200))
	planHistory := versions("/CarePlan/" + s.plan)
	// The plan's history follows it to its patient: p1 sees it only before the transaction.
	var p1 struct{ Entry []json.RawMessage }
	_ = json.Unmarshal(c.must("GET", "/CarePlan?subject=Patient/p1&_count=100", "", 200), &p1)
	goneStatus, _, _ := c.do("GET", "/CarePlan/"+s.gone, "")
	resp := string(c.must("GET", "/QuestionnaireResponse/"+s.response, "", 200))
	var news struct{ Entry []json.RawMessage }
	_ = json.Unmarshal(c.must("GET", "/QuestionnaireResponse?identifier=urn:kill|new", "", 200), &news)
	qrVersions := versions("/QuestionnaireResponse")
	checks := []struct {
		name        string
		before, now bool
	}{
		{"plan moved", false, strings.Contains(plan, "Patient/p2") && strings.Contains(plan, `"versionId":"2"`)},
		{"plan history", false, planHistory == 2},
		{"p1's plans", false, len(p1.Entry) == 0},
		{"plan deleted", false, goneStatus == http.StatusGone},
		{"response patched", false, strings.Contains(resp, `"amended"`)},
		{"response created", false, len(news.Entry) == 1},
		{"response history", false, qrVersions == 3},
	}
	all, none := true, true
	for _, ch := range checks {
		all = all && ch.now
		none = none && !ch.now
		seen = append(seen, fmt.Sprintf("%s=%v", ch.name, ch.now))
	}
	switch {
	case all:
		return "all"
	case none && planHistory == 1 && qrVersions == 1:
		return "none"
	}
	return "mixed: " + strings.Join(seen, ", ")
}

// TestTransactionSurvivesKill kills the server (SIGKILL) at every point of a transaction on
// the embedded database, from the journal written to the last database operation, and at a
// few random moments: after each restart either every entry of the transaction is visible,
// in current reads and in history, or none is.
func TestTransactionSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the server many times")
	}
	dataDir := t.TempDir()
	srv := startChild(t, dataDir)
	c := &txClient{t: t, base: srv.base, token: adminToken(t, dataDir)}
	seed := seedForKill(t, c)
	tx := killTransaction(seed)
	if got := txState(t, c, seed); got != "none" {
		t.Fatalf("before the transaction: %s", got)
	}
	_ = srv.cmd.Process.Kill()
	_ = srv.cmd.Wait()

	var took time.Duration // how long the whole transaction takes
	for n := 0; ; n++ {
		srv = startChild(t, dataDir, fmt.Sprintf("FHIR_TEST_TRANSACTION_KILL_AFTER=%d", n))
		c.base = srv.base
		if got := txState(t, c, seed); got != "none" {
			t.Fatalf("after a kill at step %d: %s\n%s", n-1, got, srv.log)
		}
		start := time.Now()
		status, body, err := c.do("POST", "", tx)
		if err == nil {
			took = time.Since(start)
			// The transaction finished before step n: it is stored whole.
			if status != http.StatusOK {
				t.Fatalf("transaction: %d %s", status, body)
			}
			if got := txState(t, c, seed); got != "all" {
				t.Fatalf("after the transaction: %s", got)
			}
			if n < 5 {
				t.Fatalf("the transaction ran only %d store operations: the kill points do not cover it", n)
			}
			t.Logf("killed at each of steps 0 to %d", n-1)
			break
		}
		_ = srv.cmd.Wait() // killed by itself
		if !bytes.Contains([]byte(srv.log.String()), []byte("killing the process inside a transaction")) {
			t.Fatalf("step %d: the request failed without the kill: %v\n%s", n, err, srv.log)
		}
	}
	_ = srv.cmd.Process.Kill()
	_ = srv.cmd.Wait()

	// Kills at random moments within twice the time a transaction takes, on fresh data each
	// time: all or nothing.
	for i := range 4 {
		dir := t.TempDir()
		srv := startChild(t, dir)
		c := &txClient{t: t, base: srv.base, token: adminToken(t, dir)}
		seed := seedForKill(t, c)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _, _ = c.do("POST", "", killTransaction(seed))
		}()
		time.Sleep(time.Duration(rand.Int64N(2*int64(took) + 1)))
		_ = srv.cmd.Process.Signal(syscall.SIGKILL)
		_ = srv.cmd.Wait()
		<-done
		srv = startChild(t, dir)
		c.base = srv.base
		got := txState(t, c, seed)
		if got != "none" && got != "all" {
			t.Fatalf("random kill %d: %s", i, got)
		}
		t.Logf("random kill %d (transaction takes %v): %s", i, took, got)
	}
}
