package api_test

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
)

func TestCapabilityStatementListsWhatIsServed(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	r := s.do("GET", "/fhir/metadata", nil)
	if r.status != http.StatusOK {
		t.Fatalf("metadata: %d %s", r.status, r.body)
	}
	cs := r.json(t)
	for k, want := range map[string]any{"resourceType": "CapabilityStatement", "fhirVersion": "4.0.1", "kind": "instance", "status": "active"} {
		if cs[k] != want {
			t.Errorf("%s = %v, want %v", k, cs[k], want)
		}
	}
	rest := cs["rest"].([]any)[0].(map[string]any)
	var types []string
	for _, res := range rest["resource"].([]any) {
		rm := res.(map[string]any)
		typ := rm["type"].(string)
		types = append(types, typ)
		var codes []string
		for _, i := range rm["interaction"].([]any) {
			codes = append(codes, i.(map[string]any)["code"].(string))
		}
		sort.Strings(codes)
		want := "[create delete history-instance history-type patch read search-type update vread]"
		if typ == "AuditEvent" {
			want = "[read search-type]" // written by the server alone
		}
		if fmt.Sprint(codes) != want {
			t.Errorf("%s interactions %v, want %s", typ, codes, want)
		}
		// Every interaction listed is really served.
		probes := map[string]struct{ method, path string }{
			"read":             {"GET", "/fhir/" + typ + "/none"},
			"vread":            {"GET", "/fhir/" + typ + "/none/_history/1"},
			"history-instance": {"GET", "/fhir/" + typ + "/none/_history"},
			"history-type":     {"GET", "/fhir/" + typ + "/_history"},
			"delete":           {"DELETE", "/fhir/" + typ + "/none"},
			"search-type":      {"GET", "/fhir/" + typ},
		}
		for _, code := range codes {
			p, ok := probes[code]
			if !ok {
				continue
			}
			got := s.do(p.method, p.path, nil)
			if got.status == http.StatusMethodNotAllowed || strings.Contains(string(got.body), "Nothing is served") {
				t.Errorf("%s %s is listed but not routed: %d %s", p.method, p.path, got.status, got.body)
			}
		}
	}
	// The system interactions: both kinds of Bundle, served at the base.
	var system []string
	for _, i := range rest["interaction"].([]any) {
		system = append(system, i.(map[string]any)["code"].(string))
	}
	sort.Strings(system)
	if fmt.Sprint(system) != "[batch transaction]" {
		t.Errorf("system interactions %v, want [batch transaction]", system)
	}
	for _, typ := range []string{"batch", "transaction"} {
		got := s.do("POST", "/fhir", []byte(`{"resourceType":"Bundle","type":"`+typ+`"}`))
		if got.status != http.StatusOK || !strings.Contains(string(got.body), `"`+typ+`-response"`) {
			t.Errorf("POST /fhir with a %s: %d %s", typ, got.status, got.body)
		}
	}
	if fmt.Sprint(types) != "[AuditEvent CarePlan Questionnaire QuestionnaireResponse Subscription]" {
		t.Errorf("types %v", types)
	}
}
