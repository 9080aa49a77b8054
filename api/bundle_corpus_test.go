package api_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCorpusTransactionBundles sends the corpus's transaction Bundles, as they are: each
// holds entries this server cannot serve (Patient and ValueSet resources, request URLs on
// other servers), so each is refused whole, naming the entry, and writes nothing. Sent as
// batches, every entry gets its own answer in its own place. The Questionnaire of the SDC
// Bundles, with its URL made relative, is then stored by a transaction of its own.
func TestCorpusTransactionBundles(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	// Why each is refused: the first entry processed that fails (deletes go first).
	refusals := map[string]struct {
		status int
		want   string
	}{
		"r4spec__bundle-transaction.json":                                {404, "entry 5 (DELETE Patient/234), which answered 404"},
		"r4spec__questionnaire-profile-example-ussg-fht.json":            {400, "give it relative to the server's base"},
		"sdc280__Bundle-questionnaire-sdc-profile-example-ussg-fht.json": {400, "give it relative to the server's base"},
	}
	files := corpus(t, "Bundle")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var b struct {
				Type  string `json:"type"`
				Entry []struct {
					FullURL  string          `json:"fullUrl"`
					Resource json.RawMessage `json:"resource"`
					Request  struct {
						Method string `json:"method"`
						URL    string `json:"url"`
					} `json:"request"`
				} `json:"entry"`
			}
			if err := json.Unmarshal(data, &b); err != nil || b.Type != "transaction" {
				t.Fatalf("not a transaction Bundle (%v)", err)
			}
			before := s.versions("Questionnaire")
			want, known := refusals[filepath.Base(f)]
			if !known {
				t.Fatalf("a corpus Bundle this test does not know: say why it is refused")
			}
			outcome(t, s.do("POST", "/fhir", data), want.status, want.want)
			if got := s.versions("Questionnaire"); got != before {
				t.Errorf("%d Questionnaire versions after a refused transaction, want %d", got, before)
			}

			batch := strings.Replace(string(data), `"transaction"`, `"batch"`, 1)
			res := readBundleResponse(t, s.do("POST", "/fhir", []byte(batch)), "batch-response")
			if len(res.Entry) != len(b.Entry) {
				t.Fatalf("%d answers to %d entries", len(res.Entry), len(b.Entry))
			}
			for i, e := range res.Entry {
				if e.Response.Status == "" || (!strings.HasPrefix(e.Response.Status, "2") && len(e.Response.Outcome) == 0) {
					t.Errorf("entry %d (%s %s): %+v", i, b.Entry[i].Request.Method, b.Entry[i].Request.URL, e.Response)
				}
			}

			// The Questionnaire entry alone, addressed to this server, is stored.
			for i, e := range b.Entry {
				if !strings.Contains(e.Request.URL, "/Questionnaire/") {
					continue
				}
				id := e.Request.URL[strings.LastIndex(e.Request.URL, "/")+1:]
				var q map[string]any
				if err := json.Unmarshal(e.Resource, &q); err != nil {
					t.Fatal(err)
				}
				q["id"] = id
				body, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []any{
					map[string]any{"fullUrl": e.FullURL, "resource": q, "request": map[string]any{"method": "PUT", "url": "Questionnaire/" + id}},
				}})
				res := readBundleResponse(t, s.do("POST", "/fhir", body), "transaction-response")
				if st := res.Entry[0].Response.Status; st != "201 Created" && st != "200 OK" {
					t.Errorf("entry %d's Questionnaire: %s %s", i, st, res.Entry[0].Response.Outcome)
				}
				if r := s.do("GET", "/fhir/Questionnaire/"+id, nil); r.status != http.StatusOK {
					t.Errorf("the Questionnaire is not stored: %d", r.status)
				}
			}
		})
	}
}
