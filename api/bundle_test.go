package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/patient-involvement/fhir-server/api"
	"github.com/patient-involvement/fhir-server/internal/auth"
)

// entry is one Bundle entry of a test: its fullUrl, resource (JSON) and request.
type entry struct {
	fullURL, resource, method, url string
	// extra are more request members as JSON, e.g. `"ifMatch":"W/\"1\""`.
	extra string
}

func bundleOf(typ string, es ...entry) []byte {
	var parts []string
	for _, e := range es {
		var m []string
		if e.fullURL != "" {
			m = append(m, `"fullUrl":"`+e.fullURL+`"`)
		}
		if e.resource != "" {
			m = append(m, `"resource":`+e.resource)
		}
		req := `"method":"` + e.method + `","url":"` + e.url + `"`
		if e.extra != "" {
			req += "," + e.extra
		}
		m = append(m, `"request":{`+req+`}`)
		parts = append(parts, "{"+strings.Join(m, ",")+"}")
	}
	return []byte(`{"resourceType":"Bundle","type":"` + typ + `","entry":[` + strings.Join(parts, ",") + `]}`)
}

// bundleResponse is what the tests read of a batch-response or transaction-response.
type bundleResponse struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Entry        []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
		Response struct {
			Status, Location, Etag, LastModified string
			Outcome                              json.RawMessage
		} `json:"response"`
	} `json:"entry"`
}

func readBundleResponse(t *testing.T, r *response, typ string) *bundleResponse {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("bundle: %d %s", r.status, r.body)
	}
	var b bundleResponse
	if err := json.Unmarshal(r.body, &b); err != nil || b.ResourceType != "Bundle" || b.Type != typ {
		t.Fatalf("not a %s Bundle (%v): %s", typ, err, r.body)
	}
	return &b
}

// versions is the number of versions in typ's history.
func (s *testServer) versions(typ string, headers ...string) int {
	s.t.Helper()
	r := s.do("GET", "/fhir/"+typ+"/_history?_count=1000", nil, headers...)
	var b struct {
		Entry []json.RawMessage `json:"entry"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &b) != nil {
		s.t.Fatalf("history of %s: %d %s", typ, r.status, r.body)
	}
	return len(b.Entry)
}

func linkedPlan(subject string) string {
	return `{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"` + subject + `"},` +
		`"extension":[{"url":"http://example.org/fhir/StructureDefinition/answered-by","valueReference":{"reference":"urn:uuid:0c0ffee0-0000-4000-8000-000000000002"}}],` +
		`"contained":[{"resourceType":"Goal","id":"g1","lifecycleStatus":"active","description":{"text":"walk daily"},"subject":{"reference":"` + subject + `"},"outcomeReference":[{"reference":"urn:uuid:0c0ffee0-0000-4000-8000-000000000002"}]}],` +
		`"goal":[{"reference":"#g1"}],` +
		`"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">See <a href=\"urn:uuid:0c0ffee0-0000-4000-8000-000000000002\">the answers</a></div>"},` +
		`"activity":[{"outcomeReference":[{"reference":"urn:uuid:0c0ffee0-0000-4000-8000-000000000002"}],"detail":{"status":"scheduled"}}]}`
}

func linkedResponse(subject string) string {
	return `{"resourceType":"QuestionnaireResponse","status":"completed","subject":{"reference":"` + subject + `"},"basedOn":[{"reference":"urn:uuid:0c0ffee0-0000-4000-8000-000000000001"}],` +
		`"identifier":{"system":"urn:test","value":"linked-1"}}`
}

func TestTransactionRewritesReferencesBetweenItsEntries(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	b := bundleOf("transaction",
		entry{fullURL: "urn:uuid:0c0ffee0-0000-4000-8000-000000000001", resource: linkedPlan("Patient/p1"), method: "POST", url: "CarePlan"},
		entry{fullURL: "urn:uuid:0c0ffee0-0000-4000-8000-000000000002", resource: linkedResponse("Patient/p1"), method: "POST", url: "QuestionnaireResponse"},
	)
	res := readBundleResponse(t, s.do("POST", "/fhir", b), "transaction-response")
	if len(res.Entry) != 2 {
		t.Fatalf("%d entries, want 2", len(res.Entry))
	}
	var ids [2]string
	for i, typ := range []string{"CarePlan", "QuestionnaireResponse"} {
		e := res.Entry[i].Response
		if e.Status != "201 Created" || e.Etag != `W/"1"` || !strings.HasPrefix(e.Location, typ+"/") || !strings.HasSuffix(e.Location, "/_history/1") || e.LastModified == "" {
			t.Errorf("entry %d response %+v", i, e)
		}
		ids[i] = strings.Split(e.Location, "/")[1]
		if res.Entry[i].FullURL != s.base+"/"+typ+"/"+ids[i] {
			t.Errorf("entry %d fullUrl %q", i, res.Entry[i].FullURL)
		}
	}
	plan := string(s.do("GET", "/fhir/CarePlan/"+ids[0], nil).body)
	qr := "QuestionnaireResponse/" + ids[1]
	if strings.Contains(plan, "urn:uuid") || strings.Count(plan, `"reference":"`+qr+`"`) != 3 || !strings.Contains(plan, `href=\"`+qr+`\"`) {
		t.Errorf("the plan's references to the response were not all rewritten: %s", plan)
	}
	resp := string(s.do("GET", "/fhir/"+qr, nil).body)
	if !strings.Contains(resp, `"basedOn":[{"reference":"CarePlan/`+ids[0]+`"}]`) {
		t.Errorf("the response's reference to the plan was not rewritten: %s", resp)
	}
	if string(res.Entry[1].Resource) != resp {
		t.Errorf("the entry's resource is not what is stored:\n%s\n%s", res.Entry[1].Resource, resp)
	}
}

func TestTransactionInteractions(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	planID, _ := s.mustCreate("CarePlan", `{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/p1"}}`)
	goneID, _ := s.mustCreate("CarePlan", `{"resourceType":"CarePlan","status":"draft","intent":"plan","subject":{"reference":"Patient/p1"}}`)
	existing, _ := s.mustCreate("QuestionnaireResponse", `{"resourceType":"QuestionnaireResponse","status":"completed","identifier":{"system":"urn:test","value":"known"},"subject":{"reference":"Patient/p1"}}`)
	s.mustCreate("QuestionnaireResponse", `{"resourceType":"QuestionnaireResponse","status":"completed","identifier":{"system":"urn:test","value":"other"},"subject":{"reference":"Patient/p2"}}`)

	b := bundleOf("transaction",
		// 0: a conditional create that matches: nothing is written, and references to it
		// take the id it matched.
		entry{fullURL: "urn:uuid:aaaaaaaa-0000-4000-8000-000000000001", resource: `{"resourceType":"QuestionnaireResponse","status":"completed","identifier":{"system":"urn:test","value":"known"},"subject":{"reference":"Patient/p1"}}`,
			method: "POST", url: "QuestionnaireResponse", extra: `"ifNoneExist":"identifier=urn:test|known"`},
		// 1: an update with If-Match that refers to entry 0 and, conditionally, to another response.
		entry{resource: `{"resourceType":"CarePlan","id":"` + planID + `","status":"active","intent":"plan","subject":{"reference":"Patient/p1"},"activity":[{"outcomeReference":[{"reference":"urn:uuid:aaaaaaaa-0000-4000-8000-000000000001"},{"reference":"QuestionnaireResponse?identifier=urn:test|other"}]}]}`,
			method: "PUT", url: "CarePlan/" + planID, extra: `"ifMatch":"W/\"1\""`},
		// 2: a delete.
		entry{method: "DELETE", url: "CarePlan/" + goneID},
		// 3: a read, which sees the plan as it was before the transaction.
		entry{method: "GET", url: "CarePlan/" + planID},
		// 4: a patch.
		entry{resource: fhirPathPatch(fpOp("replace", "QuestionnaireResponse.status", `{"name":"value","valueCode":"amended"}`)), method: "PATCH", url: "QuestionnaireResponse/" + existing},
		// 5: a search.
		entry{method: "GET", url: "CarePlan?subject=Patient/p1"},
	)
	res := readBundleResponse(t, s.do("POST", "/fhir", b), "transaction-response")
	want := []string{"200 OK", "200 OK", "204 No Content", "200 OK", "200 OK", "200 OK"}
	for i, w := range want {
		if res.Entry[i].Response.Status != w {
			t.Errorf("entry %d: %s, want %s: %s", i, res.Entry[i].Response.Status, w, res.Entry[i].Response.Outcome)
		}
	}
	if res.Entry[0].Response.Location != "QuestionnaireResponse/"+existing+"/_history/1" {
		t.Errorf("conditional create location %q", res.Entry[0].Response.Location)
	}
	if !strings.Contains(string(res.Entry[3].Resource), `"versionId":"1"`) {
		t.Errorf("the read saw the transaction's own write: %s", res.Entry[3].Resource)
	}
	if !strings.Contains(string(res.Entry[5].Resource), `"type":"searchset"`) {
		t.Errorf("the search entry: %s", res.Entry[5].Resource)
	}
	plan := string(s.do("GET", "/fhir/CarePlan/"+planID, nil).body)
	if !strings.Contains(plan, `"versionId":"2"`) || !strings.Contains(plan, `{"reference":"QuestionnaireResponse/`+existing+`"}`) || strings.Contains(plan, "?identifier") {
		t.Errorf("the update did not land with its references resolved: %s", plan)
	}
	if r := s.do("GET", "/fhir/CarePlan/"+goneID, nil); r.status != http.StatusGone {
		t.Errorf("the deleted plan: %d", r.status)
	}
	if r := s.do("GET", "/fhir/QuestionnaireResponse/"+existing, nil); !strings.Contains(string(r.body), `"status":"amended"`) {
		t.Errorf("the patch did not land: %s", r.body)
	}
}

func TestTransactionIsAllOrNothing(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(o *api.Options) { o.MaxBundleEntries = 4 })
	planID, _ := s.mustCreate("CarePlan", `{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/p1"}}`)
	s.mustCreate("QuestionnaireResponse", `{"resourceType":"QuestionnaireResponse","status":"completed","identifier":{"system":"urn:test","value":"twice"}}`)
	s.mustCreate("QuestionnaireResponse", `{"resourceType":"QuestionnaireResponse","status":"completed","identifier":{"system":"urn:test","value":"twice"}}`)
	create := entry{fullURL: "urn:uuid:bbbbbbbb-0000-4000-8000-000000000001", resource: linkedResponse("Patient/p1"), method: "POST", url: "QuestionnaireResponse"}
	update := func(status string) entry {
		return entry{resource: `{"resourceType":"CarePlan","id":"` + planID + `","status":"` + status + `","intent":"plan","subject":{"reference":"Patient/p1"}}`, method: "PUT", url: "CarePlan/" + planID}
	}
	cases := []struct {
		name   string
		body   []byte
		status int
		want   string
	}{
		{"a stale If-Match", bundleOf("transaction", create, entry{resource: update("completed").resource, method: "PUT", url: "CarePlan/" + planID, extra: `"ifMatch":"W/\"9\""`}), 412, "entry 1 (PUT CarePlan/" + planID + ")"},
		{"an invalid entry", bundleOf("transaction", create, update("bogus")), 400, "entry 1 (PUT CarePlan/" + planID + ")"},
		{"an unknown type", bundleOf("transaction", create, entry{resource: `{"resourceType":"Patient"}`, method: "POST", url: "Patient"}), 404, "entry 1 (POST Patient)"},
		{"a conditional reference matching nothing", bundleOf("transaction", create, entry{resource: `{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/p1"},"supportingInfo":[{"reference":"QuestionnaireResponse?identifier=urn:test|none"}]}`, method: "POST", url: "CarePlan"}), 404, "Conditional reference: no QuestionnaireResponse matches"},
		{"a conditional reference matching two", bundleOf("transaction", create, entry{resource: `{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/p1"},"supportingInfo":[{"reference":"QuestionnaireResponse?identifier=urn:test|twice"}]}`, method: "POST", url: "CarePlan"}), 412, "more than one QuestionnaireResponse matches"},
		{"two entries on one resource", bundleOf("transaction", create, update("completed"), entry{method: "DELETE", url: "CarePlan/" + planID}), 400, "entry 1 (PUT CarePlan/" + planID + ") and entry 2 (DELETE CarePlan/" + planID + ") both change"},
		{"a conditional update matching what another entry changes", bundleOf("transaction", update("completed"), entry{resource: `{"resourceType":"CarePlan","status":"revoked","intent":"plan","subject":{"reference":"Patient/p1"}}`, method: "PUT", url: "CarePlan?_id=" + planID}), 400, "both change CarePlan/" + planID},
		{"an entry without a request", []byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"CarePlan"}}]}`), 400, "Entry 0 has no request"},
		{"too many entries", bundleOf("transaction", create, create, create, create, create), 413, "at most 4"},
		{"not a Bundle", []byte(`{"resourceType":"CarePlan"}`), 400, `not a \"CarePlan\"`},
		{"another Bundle type", []byte(`{"resourceType":"Bundle","type":"collection"}`), 400, `not \"collection\"`},
		{"a foreign URL", bundleOf("transaction", entry{method: "GET", url: "http://elsewhere.example/fhir/CarePlan/1"}), 400, "relative to the server's base"},
	}
	before := [2]int{s.versions("CarePlan"), s.versions("QuestionnaireResponse")}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			outcome(t, s.do("POST", "/fhir", tc.body), tc.status, tc.want)
			if after := [2]int{s.versions("CarePlan"), s.versions("QuestionnaireResponse")}; after != before {
				t.Errorf("versions %v after a refused transaction, want %v", after, before)
			}
		})
	}
}

func TestBatchServesEachEntryOnItsOwn(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	planID, _ := s.mustCreate("CarePlan", `{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/p1"}}`)
	b := []byte(strings.Replace(string(bundleOf("batch",
		entry{resource: linkedResponse("Patient/p1"), method: "POST", url: "QuestionnaireResponse"},
		entry{resource: `{"resourceType":"CarePlan","id":"` + planID + `","status":"bogus","intent":"plan"}`, method: "PUT", url: "CarePlan/" + planID},
		entry{method: "GET", url: "CarePlan/" + planID},
		entry{method: "GET", url: "CarePlan/nope"},
		entry{resource: `{"resourceType":"Binary","contentType":"application/json-patch+json","data":"` + base64Std(`[{"op":"replace","path":"/status","value":"completed"}]`) + `"}`, method: "PATCH", url: "CarePlan/" + planID},
	)), `]}`, `,{"resource":{"resourceType":"CarePlan"}}]}`, 1))
	res := readBundleResponse(t, s.do("POST", "/fhir", b, "Prefer", "return=minimal"), "batch-response")
	want := []string{"201 Created", "400 Bad Request", "200 OK", "404 Not Found", "200 OK", "400 Bad Request"}
	if len(res.Entry) != len(want) {
		t.Fatalf("%d entries, want %d", len(res.Entry), len(want))
	}
	for i, w := range want {
		e := res.Entry[i]
		if e.Response.Status != w {
			t.Errorf("entry %d: %s, want %s", i, e.Response.Status, w)
		}
		if failed := !strings.HasPrefix(w, "2"); failed != strings.Contains(string(e.Response.Outcome), "OperationOutcome") {
			t.Errorf("entry %d outcome: %s", i, e.Response.Outcome)
		}
	}
	if res.Entry[0].Resource != nil || res.Entry[4].Resource != nil {
		t.Errorf("return=minimal entries carry resources")
	}
	if res.Entry[2].Resource == nil || res.Entry[4].Response.Etag != `W/"2"` {
		t.Errorf("read %s, patch %+v", res.Entry[2].Resource, res.Entry[4].Response)
	}
}

// TestBundleEntriesAreAuthorisedOneByOne: a patient token's transaction that touches another
// patient's data fails as a whole, naming the entry; in a batch only that entry fails.
func TestBundleEntriesAreAuthorisedOneByOne(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t)
	admin := s.mint(auth.TokenOptions{Scope: "system/*.*"})
	f := seedPatients(t, s, admin)
	anna := "Bearer " + s.mint(auth.TokenOptions{Scope: "patient/*.cruds", Patient: "anna"})
	own := entry{resource: subjectQR("anna"), method: "POST", url: "QuestionnaireResponse"}
	cases := []struct {
		name   string
		other  entry
		status int
		want   string
	}{
		{"a response about another patient", entry{resource: subjectQR("bo"), method: "POST", url: "QuestionnaireResponse"}, 403, "entry 1 (POST QuestionnaireResponse)"},
		{"another patient's plan", entry{method: "DELETE", url: "CarePlan/" + f.cpBo}, 404, "entry 1 (DELETE CarePlan/" + f.cpBo + ")"},
		{"a Questionnaire", entry{resource: `{"resourceType":"Questionnaire","status":"draft"}`, method: "POST", url: "Questionnaire"}, 403, "entry 1 (POST Questionnaire)"},
		{"moving her plan to another patient", entry{resource: `[{"op":"replace","path":"/subject/reference","value":"Patient/bo"}]`, method: "PATCH", url: "CarePlan/" + f.cpAnna}, 403, "whose subject is Patient/anna"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			other := tc.other
			if other.method == "PATCH" {
				other.resource = `{"resourceType":"Binary","contentType":"application/json-patch+json","data":"` + base64Std(other.resource) + `"}`
			}
			before := s.versions("QuestionnaireResponse", "Authorization", "Bearer "+admin)
			outcome(t, s.do("POST", "/fhir", bundleOf("transaction", own, other), "Authorization", anna), tc.status, tc.want)
			if got := s.versions("QuestionnaireResponse", "Authorization", "Bearer "+admin); got != before {
				t.Errorf("%d response versions after a refused transaction, want %d", got, before)
			}
			res := readBundleResponse(t, s.do("POST", "/fhir", bundleOf("batch", own, other), "Authorization", anna), "batch-response")
			if res.Entry[0].Response.Status != "201 Created" || !strings.HasPrefix(res.Entry[1].Response.Status, fmt.Sprint(tc.status)) {
				t.Errorf("batch: %s, %s", res.Entry[0].Response.Status, res.Entry[1].Response.Status)
			}
		})
	}
}

// TestConditionalReferencesReachWhatTheCallerMaySearch: a transaction's conditional
// references are searched as the caller may search, so a patient token learns nothing through
// them of the audit trail, of Subscriptions or of another patient's data.
func TestConditionalReferencesReachWhatTheCallerMaySearch(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t)
	admin := "Bearer " + s.mint(auth.TokenOptions{Scope: "system/*.*"})
	if r := s.do("POST", "/fhir/QuestionnaireResponse", []byte(`{"resourceType":"QuestionnaireResponse","status":"completed","subject":{"reference":"Patient/bo"},"identifier":{"system":"urn:test","value":"bo-1"}}`), "Authorization", admin); r.status != http.StatusCreated {
		t.Fatalf("seed: %d %s", r.status, r.body)
	}
	anna := "Bearer " + s.mint(auth.TokenOptions{Scope: "patient/*.cruds", Patient: "anna"})
	cases := []struct {
		name, reference string
		status          int
		want            string
	}{
		{"the audit trail", "AuditEvent?action=C", 403, "AuditEvent resources can be read or written only with user/ or system/ scopes"},
		{"Subscriptions", "Subscription?status=requested,active,off,error", 403, "Subscription resources can be read or written only with user/ or system/ scopes"},
		{"another patient's response", "QuestionnaireResponse?identifier=urn:test|bo-1", 404, "no QuestionnaireResponse matches"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			qr := `{"resourceType":"QuestionnaireResponse","status":"completed","subject":{"reference":"Patient/anna"},"author":{"reference":"` + tc.reference + `"}}`
			outcome(t, s.do("POST", "/fhir", bundleOf("transaction", entry{resource: qr, method: "POST", url: "QuestionnaireResponse"}), "Authorization", anna), tc.status, tc.want)
		})
	}
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestBundleEntriesAreAudited: every entry of a batch or transaction has its AuditEvent,
// and so has the Bundle; the entries of a transaction that was rolled back are recorded as
// not stored.
func TestBundleEntriesAreAudited(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t)
	admin := "Bearer " + s.mint(auth.TokenOptions{Scope: "system/*.*", Subject: "bundler"})
	create := entry{resource: linkedResponse("Patient/p1"), method: "POST", url: "QuestionnaireResponse"}
	ok := readBundleResponse(t, s.do("POST", "/fhir", bundleOf("transaction", create), "Authorization", admin), "transaction-response")
	created := strings.TrimSuffix(ok.Entry[0].Response.Location, "/_history/1")
	outcome(t, s.do("POST", "/fhir", bundleOf("transaction", create, entry{resource: `{"resourceType":"CarePlan","status":"bogus","intent":"plan"}`, method: "POST", url: "CarePlan"}), "Authorization", admin), 400, "entry 1")
	readBundleResponse(t, s.do("POST", "/fhir", bundleOf("batch", create, entry{method: "GET", url: created}), "Authorization", admin), "batch-response")
	if err := s.audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, query string
		n           int
		want        []string
	}{
		{"the transactions", "subtype=transaction", 2, []string{`"code":"transaction"`}},
		{"the batch", "subtype=batch", 1, nil},
		// One stored by the transaction, one rolled back, one refused, one of the batch.
		{"the creates", "subtype=create&agent:identifier=bundler", 4, nil},
		{"the refused and rolled-back entries", "subtype=create&outcome=4", 2, []string{"Not stored: the transaction it was part of was rolled back", `bogus`}},
		{"the patient of each stored create", "subtype=create&patient=p1", 3, nil},
		{"the read entry", "subtype=read&entity=" + created, 1, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("GET", "/fhir/AuditEvent?_count=100&"+tc.query, nil, "Authorization", admin)
			if r.status != http.StatusOK {
				t.Fatalf("%d %s", r.status, r.body)
			}
			entries, _ := r.json(t)["entry"].([]any)
			if len(entries) != tc.n {
				t.Errorf("%d AuditEvents, want %d: %s", len(entries), tc.n, r.body)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(r.body), w) {
					t.Errorf("lacks %s: %s", w, r.body)
				}
			}
		})
	}
}

// TestConcurrentTransactionsNeverInterleave sends transactions that each write the same two
// plans at once: each is stored whole or refused (409), and version by version the two
// plans were written by the same transaction.
func TestConcurrentTransactionsNeverInterleave(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	a, _ := s.mustCreate("CarePlan", `{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/p1"},"description":"0"}`)
	b, _ := s.mustCreate("CarePlan", `{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/p1"},"description":"0"}`)
	plan := func(id string, n int) entry {
		return entry{resource: fmt.Sprintf(`{"resourceType":"CarePlan","id":"%s","status":"active","intent":"plan","subject":{"reference":"Patient/p1"},"description":"%d"}`, id, n), method: "PUT", url: "CarePlan/" + id}
	}
	const writers = 6
	statuses := make(chan int, writers)
	var wg sync.WaitGroup
	for i := 1; i <= writers; i++ {
		wg.Go(func() {
			r := s.do("POST", "/fhir", bundleOf("transaction", plan(a, i), plan(b, i)), "Prefer", "return=minimal")
			statuses <- r.status
		})
	}
	// A single write beside them, with If-Match on the first version: it wins or gets 412.
	wg.Go(func() {
		r := s.do("PUT", "/fhir/CarePlan/"+a, []byte(plan(a, 99).resource), "If-Match", `W/"1"`)
		if r.status != http.StatusOK && r.status != http.StatusPreconditionFailed {
			t.Errorf("single write: %d %s", r.status, r.body)
		}
	})
	wg.Wait()
	close(statuses)
	stored := 0
	for st := range statuses {
		switch st {
		case http.StatusOK:
			stored++
		case http.StatusConflict:
		default:
			t.Errorf("transaction answered %d", st)
		}
	}
	descriptions := func(id string) []string {
		var h struct {
			Entry []struct {
				Resource struct{ Description string } `json:"resource"`
			} `json:"entry"`
		}
		_ = json.Unmarshal(s.do("GET", "/fhir/CarePlan/"+id+"/_history", nil).body, &h)
		var out []string
		for _, e := range h.Entry {
			out = append(out, e.Resource.Description)
		}
		return out
	}
	da, db := descriptions(a), descriptions(b)
	// b's history is the transactions' alone; a's may hold the single write (99) too.
	var fromTx []string
	for _, d := range da {
		if d != "99" {
			fromTx = append(fromTx, d)
		}
	}
	if strings.Join(fromTx, ",") != strings.Join(db, ",") || len(db) != stored+1 {
		t.Errorf("the plans' histories disagree: %v and %v (%d transactions stored)", da, db, stored)
	}
}

// TestBundleInteractionsOfEveryKind runs the interactions not covered above through both
// kinds of Bundle: vread and history in a batch, a conditional update and delete and a
// urn:oid fullUrl in a transaction, and Prefer: return=OperationOutcome on the entries.
func TestBundleInteractionsOfEveryKind(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	planID, _ := s.mustCreate("CarePlan", `{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/p1"},"identifier":[{"system":"urn:test","value":"plan-1"}]}`)
	s.mustCreate("QuestionnaireResponse", `{"resourceType":"QuestionnaireResponse","status":"completed","identifier":{"system":"urn:test","value":"old"}}`)

	res := readBundleResponse(t, s.do("POST", "/fhir", bundleOf("batch",
		entry{method: "GET", url: "CarePlan/" + planID + "/_history/1"},
		entry{method: "GET", url: "CarePlan/" + planID + "/_history"},
		entry{method: "GET", url: "CarePlan/_history"},
		entry{method: "GET", url: "CarePlan/" + planID, extra: `"ifNoneMatch":"W/\"1\""`},
	)), "batch-response")
	for i, want := range []string{"200 OK", "200 OK", "200 OK", "304 Not Modified"} {
		if res.Entry[i].Response.Status != want {
			t.Errorf("batch entry %d: %s, want %s", i, res.Entry[i].Response.Status, want)
		}
	}
	if !strings.Contains(string(res.Entry[1].Resource), `"type":"history"`) || res.Entry[0].Response.Etag != `W/"1"` {
		t.Errorf("vread %+v, history %s", res.Entry[0].Response, res.Entry[1].Resource)
	}

	res = readBundleResponse(t, s.do("POST", "/fhir", bundleOf("transaction",
		entry{fullURL: "urn:oid:1.2.752.129.2.1.4.1", resource: `{"resourceType":"QuestionnaireResponse","status":"completed","identifier":{"system":"urn:test","value":"new"}}`, method: "POST", url: "QuestionnaireResponse"},
		entry{resource: `{"resourceType":"CarePlan","status":"completed","intent":"plan","subject":{"reference":"Patient/p1"},"identifier":[{"system":"urn:test","value":"plan-1"}],"supportingInfo":[{"reference":"urn:oid:1.2.752.129.2.1.4.1"}]}`,
			method: "PUT", url: "CarePlan?identifier=urn:test|plan-1"},
		entry{method: "DELETE", url: "QuestionnaireResponse?identifier=urn:test|old"},
	), "Prefer", "return=OperationOutcome"), "transaction-response")
	for i, want := range []string{"201 Created", "200 OK", "200 OK"} {
		e := res.Entry[i]
		if e.Response.Status != want || !strings.Contains(string(e.Response.Outcome), `"informational"`) || e.Resource != nil {
			t.Errorf("transaction entry %d: %s (want %s), outcome %s", i, e.Response.Status, want, e.Response.Outcome)
		}
	}
	created := strings.Split(res.Entry[0].Response.Location, "/")[1]
	plan := string(s.do("GET", "/fhir/CarePlan/"+planID, nil).body)
	if !strings.Contains(plan, `"status":"completed"`) || !strings.Contains(plan, `"reference":"QuestionnaireResponse/`+created+`"`) {
		t.Errorf("the conditional update with the urn:oid reference: %s", plan)
	}
	if n := s.count("identifier=urn:test|old"); n != 0 {
		t.Errorf("the conditional delete left %d", n)
	}
}

// TestBundleEnvelopeIsStrict: what the Bundle itself says is checked as R4 defines it: a
// misspelt element or a method that is no HTTP verb is refused, never ignored.
func TestBundleEnvelopeIsStrict(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	cases := []struct {
		name, body string
		want       string
	}{
		{"a misspelt element", `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"CarePlan","ifNoneMach":"x"}}]}`, "ifNoneMach"},
		{"a method that is no verb", `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"FETCH","url":"CarePlan"}}]}`, "FETCH"},
		{"an entry that is no object", `{"resourceType":"Bundle","type":"batch","entry":[3]}`, "entry"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			outcome(t, s.do("POST", "/fhir", []byte(tc.body)), http.StatusBadRequest, tc.want)
		})
	}
}
