package api_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/api"
	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/metrics"
	"github.com/patient-involvement/fhir-server/internal/questionnaire"
	"github.com/patient-involvement/fhir-server/internal/store"
	"github.com/patient-involvement/fhir-server/internal/subscription"
)

// receiver is a care team's system in the test: it records what reaches it, and answers
// 503 while down.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []notification
	down bool
	more chan struct{}
}

type notification struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{more: make(chan struct{}, 100)}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		down := rc.down
		if !down {
			rc.got = append(rc.got, notification{r.Header.Clone(), body})
		}
		rc.mu.Unlock()
		if down {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		select {
		case rc.more <- struct{}{}:
		default:
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) setDown(down bool) {
	rc.mu.Lock()
	rc.down = down
	rc.mu.Unlock()
}

// await waits until n requests of subscription id arrived and returns them.
func (rc *receiver) await(t *testing.T, id string, n int) []notification {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		rc.mu.Lock()
		var mine []notification
		for _, g := range rc.got {
			if g.header.Get(subscription.HeaderSubscription) == id {
				mine = append(mine, g)
			}
		}
		rc.mu.Unlock()
		if len(mine) >= n {
			return mine
		}
		if time.Now().After(deadline) {
			t.Fatalf("Subscription/%s: %d requests arrived, want %d", id, len(mine), n)
		}
		select {
		case <-rc.more:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// newSubscriptionServer is newAuthServer with the Questionnaire rules and subscriptions, with
// retries fast enough for a test (the budget is retryFor).
func newSubscriptionServer(t *testing.T, retryFor time.Duration, allowed ...string) (*authServer, *metrics.Metrics) {
	t.Helper()
	reg := metrics.New()
	s := newAuthServer(t, func(o *api.Options) {
		st := o.Searcher.(*store.Store)
		rules, err := questionnaire.New(st, questionnaire.Options{})
		if err != nil {
			t.Fatal(err)
		}
		st.DeriveWith(rules)
		subs, err := subscription.New(subscription.Options{
			Dir: t.TempDir(), Store: st, Compile: st.Matcher, AllowedHosts: allowed,
			RetryFor: retryFor, RetryBase: 10 * time.Millisecond, RetryMax: 40 * time.Millisecond, Timeout: 2 * time.Second,
			Logger: slog.New(slog.DiscardHandler), Metrics: reg,
		})
		if err != nil {
			t.Fatal(err)
		}
		st.ObserveWrites(subs)
		// The service serves nothing yet: the rules and subscriptions check its writes from the first.
		fhir.WithContentChecker(fhir.ContentCheckers(rules, subs))(o.Service)
		subs.AuditWith(o.Audit)
		if err := subs.Start(t.Context(), o.Service); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = subs.Close() }) // after the server closes, before the audit writer
		o.Subscriptions, o.Metrics = subs, reg
	})
	return s, reg
}

// phq9Response is a fixture PHQ-9 response of patient, item 9 answered with code.
func phq9Response(t *testing.T, patient, code string) []byte {
	t.Helper()
	data, err := os.ReadFile("../fixtures/QuestionnaireResponse/qr-phq9-001.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "id")
	m["subject"] = map[string]any{"reference": "Patient/" + patient}
	var items []any
	for _, it := range m["item"].([]any) {
		item := it.(map[string]any)
		switch item["linkId"] {
		case "44261-6":
			continue // the total: the server computes it
		case "44260-8":
			item["answer"] = []any{map[string]any{"valueCoding": map[string]any{"system": "http://loinc.org", "code": code}}}
		}
		items = append(items, item)
	}
	m["item"] = items
	delete(m, "text")
	out, _ := json.Marshal(m)
	return out
}

const severePHQ9 = "QuestionnaireResponse?questionnaire=https://fhir.patient-involvement.example/Questionnaire/phq-9|1.0&item-answer-number=44260-8$gt0"

func subscriptionBody(criteria, endpoint, payload string, headers ...string) []byte {
	m := map[string]any{"resourceType": "Subscription", "status": "requested", "reason": "Severe PHQ-9 item 9",
		"criteria": criteria, "channel": map[string]any{"type": "rest-hook", "endpoint": endpoint}}
	if payload != "" {
		m["channel"].(map[string]any)["payload"] = payload
	}
	if len(headers) > 0 {
		m["channel"].(map[string]any)["header"] = headers
	}
	b, _ := json.Marshal(m)
	return b
}

// awaitStatus waits until the subscription has status and returns it.
func awaitStatus(t *testing.T, s *authServer, token, id, status string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := s.do("GET", "/fhir/Subscription/"+id, nil, "Authorization", "Bearer "+token)
		if r.status != http.StatusOK {
			t.Fatalf("read Subscription/%s: %d %s", id, r.status, r.body)
		}
		m := r.json(t)
		if m["status"] == status {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("Subscription/%s has status %v, want %s: %s", id, m["status"], status, r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func loadPHQ9(t *testing.T, s *authServer, token string) {
	t.Helper()
	data, err := os.ReadFile("../fixtures/Questionnaire/phq-9.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	if r := s.do("PUT", "/fhir/Questionnaire/"+m["id"].(string), data, "Authorization", "Bearer "+token); r.status != http.StatusCreated {
		t.Fatalf("PHQ-9: %d %s", r.status, r.body)
	}
}

// TestSubscriptionsNotifyTheCareTeam runs subscriptions end to end over HTTP with a receiver:
// the handshake, matching and non-matching writes, both payloads and the channel's headers,
// the receiver down for a while, the retry budget and resuming, a care plan's progress note.
func TestSubscriptionsNotifyTheCareTeam(t *testing.T) {
	rc := newReceiver(t)
	host := strings.TrimPrefix(rc.URL, "http://")
	s, reg := newSubscriptionServer(t, time.Second, host)
	team := s.mint(auth.TokenOptions{Scope: "user/*.cruds", Subject: "care-team-system"})
	anna := s.mint(auth.TokenOptions{Scope: "patient/*.cruds", Patient: "anna"})
	h := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	loadPHQ9(t, s, team)

	t.Run("refused", func(t *testing.T) {
		cases := []struct {
			name, token string
			body        []byte
			status      int
			want        string
		}{
			{"patient token", anna, subscriptionBody(severePHQ9, rc.URL, ""), 403, "only with user/ or system/ scopes"},
			{"unknown parameter", team, subscriptionBody("QuestionnaireResponse?nonsense=1", rc.URL, ""), 422, "nonsense"},
			{"type not subscribable", team, subscriptionBody("Questionnaire?status=active", rc.URL, ""), 422, "QuestionnaireResponse or CarePlan"},
			{"result parameter", team, subscriptionBody("CarePlan?_sort=date", rc.URL, ""), 422, "_sort"},
			{"xml payload", team, subscriptionBody(severePHQ9, rc.URL, "application/fhir+xml"), 422, "channel.payload"},
			{"bad header", team, subscriptionBody(severePHQ9, rc.URL, "", "no colon"), 422, "Subscription.channel.header[0]"},
			{"not requested", team, []byte(strings.Replace(string(subscriptionBody(severePHQ9, rc.URL, "")), `"requested"`, `"active"`, 1)), 422, "must have status"},
			{"http to a host not allowed", team, subscriptionBody(severePHQ9, "http://receiver.example.org/hook", ""), 422, "must be an https URL"},
			{"loopback", team, subscriptionBody(severePHQ9, "https://127.0.0.1:9/hook", ""), 422, "private, loopback or link-local"},
			{"private address", team, subscriptionBody(severePHQ9, "https://10.1.2.3/hook", ""), 422, "private, loopback or link-local"},
			{"link-local metadata address", team, subscriptionBody(severePHQ9, "https://169.254.169.254/latest/meta-data", ""), 422, "private, loopback or link-local"},
			{"IPv6 loopback", team, subscriptionBody(severePHQ9, "https://[::1]/hook", ""), 422, "private, loopback or link-local"},
			{"localhost", team, subscriptionBody(severePHQ9, "https://localhost/hook", ""), 422, "this machine"},
			{"name not resolving to a public address", team, subscriptionBody(severePHQ9, "https://127.0.0.1.nip.io/hook", ""), 422, "channel.endpoint"}, // resolved names: TestEndpointsCheckedAfterResolving
			{"credentials in the URL", team, subscriptionBody(severePHQ9, "https://u:p@receiver.example.org/hook", ""), 422, "user name or password"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				outcome(t, s.do("POST", "/fhir/Subscription", tc.body, h(tc.token)...), tc.status, tc.want)
			})
		}
	})

	r := s.do("POST", "/fhir/Subscription", subscriptionBody(severePHQ9, rc.URL+"/full", "application/fhir+json", "Authorization: Bearer receiver-secret"), h(team)...)
	if r.status != http.StatusCreated || r.json(t)["status"] != "requested" {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	full := r.json(t)["id"].(string)
	r = s.do("POST", "/fhir/Subscription", subscriptionBody(severePHQ9, rc.URL+"/empty", ""), h(team)...)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	empty := r.json(t)["id"].(string)

	t.Run("handshake", func(t *testing.T) {
		for _, id := range []string{full, empty} {
			hs := rc.await(t, id, 1)[0]
			if hs.header.Get(subscription.HeaderHandshake) != "true" || len(hs.body) != 0 {
				t.Errorf("handshake of %s: headers %v, body %q", id, hs.header, hs.body)
			}
			awaitStatus(t, s, team, id, "active")
		}
		if got := rc.await(t, full, 1)[0].header.Get("Authorization"); got != "Bearer receiver-secret" {
			t.Errorf("channel.header not sent: Authorization %q", got)
		}
		if r := s.do("GET", "/fhir/Subscription?status=active&url="+url.QueryEscape(rc.URL+"/full"), nil, h(team)...); r.status != 200 || !strings.Contains(string(r.body), full) || strings.Contains(string(r.body), empty) {
			t.Errorf("search by status and url: %d %s", r.status, r.body)
		}
	})

	var severe string
	t.Run("matching and non-matching writes, both payloads", func(t *testing.T) {
		if r := s.do("POST", "/fhir/QuestionnaireResponse", phq9Response(t, "anna", "LA6568-5"), h(anna)...); r.status != http.StatusCreated {
			t.Fatalf("item 9 = 0: %d %s", r.status, r.body)
		}
		r := s.do("POST", "/fhir/QuestionnaireResponse", phq9Response(t, "anna", "LA6570-1"), h(anna)...)
		if r.status != http.StatusCreated {
			t.Fatalf("item 9 > 0: %d %s", r.status, r.body)
		}
		severe = r.json(t)["id"].(string)
		got := rc.await(t, full, 2)
		n := got[1]
		if n.header.Get(subscription.HeaderEventNumber) != "1" || !strings.HasPrefix(n.header.Get("Content-Type"), "application/fhir+json") {
			t.Errorf("notification headers: %v", n.header)
		}
		var body map[string]any
		if err := json.Unmarshal(n.body, &body); err != nil || body["id"] != severe || body["resourceType"] != "QuestionnaireResponse" {
			t.Errorf("notification body is not the response written: %s", n.body)
		}
		e := rc.await(t, empty, 2)[1]
		if len(e.body) != 0 || e.header.Get(subscription.HeaderEventNumber) != "1" || e.header.Get("Content-Type") != "" {
			t.Errorf("empty payload notification: headers %v, body %q", e.header, e.body)
		}
		time.Sleep(100 * time.Millisecond)
		if n := len(rc.await(t, full, 2)); n != 2 {
			t.Errorf("%d requests reached the receiver, want the handshake and one notification: the non-matching response notified", n)
		}
	})

	t.Run("receiver down for a while", func(t *testing.T) {
		rc.setDown(true)
		var ids []string
		for range 3 {
			r := s.do("POST", "/fhir/QuestionnaireResponse", phq9Response(t, "bo", "LA6571-9"), h(team)...)
			if r.status != http.StatusCreated {
				t.Fatalf("%d %s", r.status, r.body)
			}
			ids = append(ids, r.json(t)["id"].(string))
		}
		time.Sleep(300 * time.Millisecond) // several attempts fail
		rc.setDown(false)
		got := rc.await(t, full, 5)[2:]
		for i, n := range got {
			var body map[string]any
			_ = json.Unmarshal(n.body, &body)
			if body["id"] != ids[i] || n.header.Get(subscription.HeaderEventNumber) != []string{"2", "3", "4"}[i] {
				t.Errorf("notification %d: resource %v, event number %s; want %s in order", i, body["id"], n.header.Get(subscription.HeaderEventNumber), ids[i])
			}
		}
	})

	t.Run("retry budget spent, then resumed", func(t *testing.T) {
		rc.setDown(true)
		r := s.do("POST", "/fhir/QuestionnaireResponse", phq9Response(t, "bo", "LA6571-9"), h(team)...)
		if r.status != http.StatusCreated {
			t.Fatalf("%d %s", r.status, r.body)
		}
		waiting := r.json(t)["id"].(string)
		sub := awaitStatus(t, s, team, full, "error")
		if msg, _ := sub["error"].(string); !strings.Contains(msg, "503") {
			t.Errorf("Subscription.error %q does not say why", msg)
		}
		// active is the server's to set, never a client's.
		sub["status"] = "active"
		body, _ := json.Marshal(sub)
		outcome(t, s.do("PUT", "/fhir/Subscription/"+full, body, h(team)...), 422, "are the server's to set")
		rc.setDown(false)
		sub["status"] = "requested"
		delete(sub, "error")
		body, _ = json.Marshal(sub)
		if r := s.do("PUT", "/fhir/Subscription/"+full, body, h(team)...); r.status != http.StatusOK {
			t.Fatalf("resume: %d %s", r.status, r.body)
		}
		awaitStatus(t, s, team, full, "active")
		got := rc.await(t, full, 7)
		if got[5].header.Get(subscription.HeaderHandshake) != "true" {
			t.Errorf("no new handshake on resuming: %v", got[5].header)
		}
		var last map[string]any
		_ = json.Unmarshal(got[6].body, &last)
		if last["id"] != waiting || got[6].header.Get(subscription.HeaderEventNumber) != "5" {
			t.Errorf("resumed with %v (event %s), want %s (event 5)", last["id"], got[6].header.Get(subscription.HeaderEventNumber), waiting)
		}
	})

	t.Run("a client may not change the channel of an active subscription", func(t *testing.T) {
		sub := awaitStatus(t, s, team, full, "active")
		sub["channel"].(map[string]any)["endpoint"] = rc.URL + "/elsewhere"
		body, _ := json.Marshal(sub)
		outcome(t, s.do("PUT", "/fhir/Subscription/"+full, body, h(team)...), 422, "changing the criteria or channel needs")
	})

	t.Run("progress note on a care plan", func(t *testing.T) {
		plan := sharedPlan("plan-anna")
		body, _ := json.Marshal(plan)
		if r := s.do("PUT", "/fhir/CarePlan/plan-anna", body, h(team)...); r.status != http.StatusCreated {
			t.Fatalf("%d %s", r.status, r.body)
		}
		r := s.do("POST", "/fhir/Subscription", subscriptionBody("CarePlan?subject=Patient/anna", rc.URL+"/plans", "application/fhir+json"), h(team)...)
		if r.status != http.StatusCreated {
			t.Fatalf("%d %s", r.status, r.body)
		}
		plans := r.json(t)["id"].(string)
		awaitStatus(t, s, team, plans, "active")
		a := plan["activity"].([]any)[0].(map[string]any)
		a["progress"] = append(a["progress"].([]any), map[string]any{"authorReference": map[string]any{"reference": "Patient/anna"},
			"time": time.Now().UTC().Format(time.RFC3339), "text": "Walked 20 minutes"})
		body, _ = json.Marshal(plan)
		if r := s.do("PUT", "/fhir/CarePlan/plan-anna", body, h(anna)...); r.status != http.StatusOK {
			t.Fatalf("progress note: %d %s", r.status, r.body)
		}
		n := rc.await(t, plans, 2)[1]
		if !strings.Contains(string(n.body), "Walked 20 minutes") || n.header.Get(subscription.HeaderEventNumber) != "1" {
			t.Errorf("care plan notification: %v %s", n.header, n.body)
		}
	})

	t.Run("writes in transactions, once committed", func(t *testing.T) {
		qr := string(phq9Response(t, "bo", "LA6571-9"))
		outcome(t, s.do("POST", "/fhir", bundleOf("transaction",
			entry{resource: qr, method: "POST", url: "QuestionnaireResponse"},
			entry{resource: `{"resourceType":"CarePlan","status":"bogus","intent":"plan","subject":{"reference":"Patient/bo"}}`, method: "POST", url: "CarePlan"}), h(team)...), 400, "entry 1")
		res := readBundleResponse(t, s.do("POST", "/fhir", bundleOf("transaction",
			entry{resource: qr, method: "POST", url: "QuestionnaireResponse"},
			entry{resource: qr, method: "POST", url: "QuestionnaireResponse"}), h(team)...), "transaction-response")
		var ids []string
		for _, e := range res.Entry {
			var m map[string]any
			_ = json.Unmarshal(e.Resource, &m)
			ids = append(ids, m["id"].(string))
		}
		got := rc.await(t, full, 9)[7:]
		for i, n := range got {
			var body map[string]any
			_ = json.Unmarshal(n.body, &body)
			if !slices.Contains(ids, body["id"].(string)) || n.header.Get(subscription.HeaderEventNumber) != []string{"6", "7"}[i] {
				t.Errorf("notification %s of %v, want the committed transaction's %v as events 6 and 7", n.header.Get(subscription.HeaderEventNumber), body["id"], ids)
			}
		}
	})

	t.Run("ended or deleted subscriptions notify nothing", func(t *testing.T) {
		r := s.do("POST", "/fhir/Subscription", subscriptionBody("QuestionnaireResponse?subject=Patient/dora", rc.URL+"/ended", ""), h(team)...)
		ended := r.json(t)["id"].(string)
		r = s.do("POST", "/fhir/Subscription", subscriptionBody("QuestionnaireResponse?subject=Patient/dora", rc.URL+"/deleted", ""), h(team)...)
		deleted := r.json(t)["id"].(string)
		sub := awaitStatus(t, s, team, ended, "active")
		sub["end"] = "2020-01-01T00:00:00Z"
		body, _ := json.Marshal(sub)
		if r := s.do("PUT", "/fhir/Subscription/"+ended, body, h(team)...); r.status != http.StatusOK {
			t.Fatalf("end: %d %s", r.status, r.body)
		}
		awaitStatus(t, s, team, deleted, "active")
		if r := s.do("DELETE", "/fhir/Subscription/"+deleted, nil, h(team)...); r.status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
		if r := s.do("POST", "/fhir/QuestionnaireResponse", phq9Response(t, "dora", "LA6568-5"), h(team)...); r.status != http.StatusCreated {
			t.Fatalf("%d %s", r.status, r.body)
		}
		time.Sleep(300 * time.Millisecond)
		for _, id := range []string{ended, deleted} {
			if got := rc.await(t, id, 1); len(got) != 1 {
				t.Errorf("Subscription/%s notified after its end or deletion: %d requests", id, len(got))
			}
		}
	})

	t.Run("deliveries and failures are audited and counted", func(t *testing.T) {
		if err := s.audit.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		r := s.do("GET", "/fhir/AuditEvent?entity=Subscription/"+full+"&_count=200", nil, h(team)...)
		for _, want := range []string{"notification 1 of Subscription/" + full + " delivered", "handshake of Subscription/" + full + " delivered",
			"of Subscription/" + full + " failed: POST", "QuestionnaireResponse/" + severe + "/_history/1"} {
			if r.status != http.StatusOK || !strings.Contains(string(r.body), want) {
				t.Errorf("the audit trail of Subscription/%s lacks %q", full, want)
			}
		}
		families, err := reg.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]float64{}
		for _, f := range families {
			if f.GetName() != "fhir_subscription_deliveries_total" {
				continue
			}
			for _, m := range f.GetMetric() {
				counts[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
		for _, outcome := range []string{"delivered", "failed", "handshake", "error"} {
			if counts[outcome] == 0 {
				t.Errorf("fhir_subscription_deliveries_total{outcome=%q} is 0: %v", outcome, counts)
			}
		}
	})

	t.Run("only what the creator may read", func(t *testing.T) {
		narrow := s.mint(auth.TokenOptions{Scope: "user/Subscription.cruds user/CarePlan.rs", Subject: "narrow"})
		outcome(t, s.do("POST", "/fhir/Subscription", subscriptionBody("QuestionnaireResponse?subject=Patient/cleo", rc.URL+"/narrow", "application/fhir+json"), h(narrow)...),
			403, "may not read QuestionnaireResponse")
		r := s.do("POST", "/fhir/Subscription", subscriptionBody("CarePlan?subject=Patient/cleo", rc.URL+"/narrow", "application/fhir+json"), h(narrow)...)
		if r.status != http.StatusCreated {
			t.Fatalf("%d %s", r.status, r.body)
		}
		id := r.json(t)["id"].(string)
		awaitStatus(t, s, team, id, "active")
		// The team's token turns it to responses: its creator is still the narrow token.
		patch := `[{"op":"replace","path":"/criteria","value":"QuestionnaireResponse?subject=Patient/cleo"},{"op":"replace","path":"/status","value":"requested"}]`
		if r := s.do("PATCH", "/fhir/Subscription/"+id, []byte(patch), append(h(team), "Content-Type", "application/json-patch+json")...); r.status != http.StatusOK {
			t.Fatalf("PATCH: %d %s", r.status, r.body)
		}
		rc.await(t, id, 2) // the second handshake
		awaitStatus(t, s, team, id, "active")
		r = s.do("POST", "/fhir/QuestionnaireResponse", phq9Response(t, "cleo", "LA6571-9"), h(team)...)
		if r.status != http.StatusCreated {
			t.Fatalf("%d %s", r.status, r.body)
		}
		qr := r.json(t)["id"].(string)
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := s.do("GET", "/fhir/AuditEvent?entity=QuestionnaireResponse/"+qr+"/_history/1", nil, h(team)...)
			if strings.Contains(string(r.body), "the subscription's creator may not read it") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no AuditEvent of the dropped notification of QuestionnaireResponse/%s: %s", qr, r.body)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got := rc.await(t, id, 2); len(got) != 2 {
			t.Errorf("a notification of a response the creator may not read was sent: %d requests", len(got))
		}
	})
}
