package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// walk follows next links from path and returns "id@version" of every entry in order.
func walk(t *testing.T, s *testServer, path string) []string {
	t.Helper()
	var got []string
	url := s.URL + path
	for pages := 0; url != ""; pages++ {
		if pages > 100 {
			t.Fatal("more than 100 pages: the next links loop")
		}
		r := s.do("GET", url, nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", url, r.status, r.body)
		}
		b := r.json(t)
		url = ""
		for _, l := range b["link"].([]any) {
			lm := l.(map[string]any)
			if lm["relation"] == "next" {
				url = lm["url"].(string)
			}
		}
		entries, _ := b["entry"].([]any)
		for _, e := range entries {
			em := e.(map[string]any)
			full := em["fullUrl"].(string)
			etag := em["response"].(map[string]any)["etag"].(string)
			got = append(got, full[strings.LastIndex(full, "/")+1:]+"@"+strings.Trim(strings.TrimPrefix(etag, "W/"), `"`))
		}
	}
	return got
}

func TestHistoryPaging(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	// Three resources, written interleaved: a gets 4 versions, b 2 and a delete, c 1.
	ids := map[string]string{}
	for _, name := range []string{"a", "b", "c"} {
		r := s.do("PUT", "/fhir/CarePlan/"+name, []byte(carePlan(name, "draft")))
		if r.status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", name, r.status, r.body)
		}
		ids[name] = name
	}
	steps := []struct{ method, id, status string }{
		{"PUT", "a", "active"}, {"PUT", "b", "active"}, {"PUT", "a", "on-hold"}, {"DELETE", "b", ""}, {"PUT", "a", "completed"},
	}
	for _, st := range steps {
		var body []byte
		if st.method == "PUT" {
			body = []byte(carePlan(st.id, st.status))
		}
		if r := s.do(st.method, "/fhir/CarePlan/"+st.id, body); r.status >= 300 {
			t.Fatalf("%s %s: %d %s", st.method, st.id, r.status, r.body)
		}
	}
	tests := []struct {
		name string
		path string
		want []string
	}{
		{"instance history, pages of 1", "/fhir/CarePlan/a/_history?_count=1", []string{"a@4", "a@3", "a@2", "a@1"}},
		{"instance history, pages of 3", "/fhir/CarePlan/a/_history?_count=3", []string{"a@4", "a@3", "a@2", "a@1"}},
		{"deleted resource history", "/fhir/CarePlan/b/_history?_count=2", []string{"b@3", "b@2", "b@1"}},
		{"type history, pages of 2", "/fhir/CarePlan/_history?_count=2", []string{"a@4", "b@3", "a@3", "b@2", "a@2", "c@1", "b@1", "a@1"}},
		{"type history, one page", "/fhir/CarePlan/_history", []string{"a@4", "b@3", "a@3", "b@2", "a@2", "c@1", "b@1", "a@1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := walk(t, s, tc.path)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("entries %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("_since keeps later versions", func(t *testing.T) {
		r := s.do("GET", "/fhir/CarePlan/a/_history/3", nil)
		since := r.json(t)["meta"].(map[string]any)["lastUpdated"].(string)
		got := walk(t, s, "/fhir/CarePlan/a/_history?_since="+since)
		if fmt.Sprint(got) != "[a@4 a@3]" {
			t.Errorf("entries %v, want [a@4 a@3]", got)
		}
	})
	t.Run("unknown resource", func(t *testing.T) {
		outcome(t, s.do("GET", "/fhir/CarePlan/zzz/_history", nil), http.StatusNotFound, "not known")
	})
}

func carePlan(id, status string) string {
	return fmt.Sprintf(`{"resourceType":"CarePlan","id":%q,"status":%q,"intent":"plan","subject":{"reference":"Patient/p1"}}`, id, status)
}
