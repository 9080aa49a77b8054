package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/patient-involvement/fhir-server/api"
)

const sid = "https://example.org/sid"

// count returns how many QuestionnaireResponses the query matches.
func (s *testServer) count(query string) int {
	s.t.Helper()
	b := s.search(query + "&_summary=count").bundle(s.t)
	if b.Total == nil {
		s.t.Fatalf("no total for %s", query)
	}
	return *b.Total
}

func TestConditionalCreate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		existing int    // responses with identifier r-1 before the request
		header   string // If-None-Exist
		prefer   string
		status   int
		text     string // in the body
		after    int    // responses with identifier r-1 after it
	}{
		{name: "no match creates", header: "identifier=" + sid + "|r-1", status: 201, text: `"resourceType":"QuestionnaireResponse"`, after: 1},
		{name: "one match is returned, nothing written", existing: 1, header: "identifier=" + sid + "|r-1", status: 200, text: `"versionId":"1"`, after: 1},
		{name: "one match, minimal", existing: 1, header: "identifier=" + sid + "|r-1", prefer: "return=minimal", status: 200, after: 1},
		{name: "one match, as OperationOutcome", existing: 1, header: "identifier=" + sid + "|r-1", prefer: "return=OperationOutcome", status: 200, text: "Nothing was written", after: 1},
		{name: "several matches", existing: 2, header: "identifier=" + sid + "|r-1", status: 412, text: "multiple-matches", after: 2},
		{name: "criteria with the type before ?", header: "QuestionnaireResponse?identifier=" + sid + "|r-1", status: 201, after: 1},
		{name: "criteria with another type", header: "CarePlan?identifier=" + sid + "|r-1", status: 400, text: "not QuestionnaireResponse"},
		{name: "no criteria", header: "", status: 400, text: "no search parameter"},
		{name: "only format", header: "_format=json", status: 400, text: "no search parameter"},
		{name: "unknown parameter is never ignored", header: "identifier=" + sid + "|r-1&colour=blue", status: 400, text: `\"colour\"`},
		{name: "result parameter", header: "identifier=" + sid + "|r-1&_count=1", status: 400, text: "result parameter"},
		{name: "invalid value", header: "authored=2024-13", status: 400, text: "authored"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t)
			var existing string
			for range tc.existing {
				existing, _ = s.mustCreate("QuestionnaireResponse", qrFor("completed", "p1", "r-1"))
			}
			headers := []string{"If-None-Exist", tc.header}
			if tc.prefer != "" {
				headers = append(headers, "Prefer", tc.prefer)
			}
			r := s.do("POST", "/fhir/QuestionnaireResponse", []byte(qrFor("amended", "p1", "r-1")), headers...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.text != "" && !strings.Contains(string(r.body), tc.text) {
				t.Errorf("body does not contain %s: %s", tc.text, r.body)
			}
			switch tc.status {
			case 200:
				if loc := r.header.Get("Location"); loc != s.base+"/QuestionnaireResponse/"+existing+"/_history/1" {
					t.Errorf("Location %q, want the match's version 1", loc)
				}
				if r.header.Get("ETag") != `W/"1"` || r.header.Get("Last-Modified") == "" {
					t.Errorf("ETag %q Last-Modified %q, want the match's", r.header.Get("ETag"), r.header.Get("Last-Modified"))
				}
				if tc.prefer == "return=minimal" && len(r.body) != 0 {
					t.Errorf("body %s, want none", r.body)
				}
				if tc.prefer == "" && !strings.Contains(string(r.body), `"status":"completed"`) {
					t.Errorf("body %s, want the stored resource, unchanged", r.body)
				}
			case 201:
				if !strings.HasSuffix(r.header.Get("Location"), "/_history/1") || r.header.Get("ETag") != `W/"1"` {
					t.Errorf("Location %q ETag %q, want version 1 of the new resource", r.header.Get("Location"), r.header.Get("ETag"))
				}
			default:
				outcome(t, r, tc.status, "")
			}
			if tc.after > 0 {
				if got := s.count("identifier=" + sid + "|r-1"); got != tc.after {
					t.Errorf("%d responses with the identifier, want %d", got, tc.after)
				}
			}
		})
	}
}

func TestConditionalCreatesAtOnceMakeOne(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	const n = 12
	statuses := make([]int, n)
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := s.do("POST", "/fhir/QuestionnaireResponse", []byte(qrFor("completed", "p1", "once")),
				"If-None-Exist", "identifier="+sid+"|once", "Prefer", "return=minimal")
			statuses[i] = r.status
			ids[i] = r.header.Get("Location")
		})
	}
	wg.Wait()
	created := 0
	for i, st := range statuses {
		switch st {
		case 201:
			created++
		case 200:
		default:
			t.Errorf("request %d: status %d", i, st)
		}
		if ids[i] != ids[0] {
			t.Errorf("request %d got Location %s, request 0 %s: want one resource", i, ids[i], ids[0])
		}
	}
	if created != 1 {
		t.Errorf("%d requests created, want exactly 1 (statuses %v)", created, statuses)
	}
	if got := s.count("identifier=" + sid + "|once"); got != 1 {
		t.Errorf("%d resources, want 1", got)
	}
}

func TestConditionalUpdate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		existing int // responses with identifier r-1
		query    string
		bodyID   string // "" sends no id; "match" the id of the first existing
		ifMatch  string
		status   int
		text     string
		version  string // of the resource written
	}{
		{name: "no match, no id: created with a new id", query: "identifier=" + sid + "|r-1", status: 201, version: "1"},
		{name: "no match, with id: created with that id", query: "identifier=" + sid + "|r-1", bodyID: "chosen-id", status: 201, text: `"id":"chosen-id"`, version: "1"},
		{name: "one match, no id: updated", existing: 1, query: "identifier=" + sid + "|r-1", status: 200, version: "2"},
		{name: "one match, its id: updated", existing: 1, query: "identifier=" + sid + "|r-1", bodyID: "match", status: 200, version: "2"},
		{name: "one match, If-Match holds", existing: 1, query: "identifier=" + sid + "|r-1", ifMatch: `W/"1"`, status: 200, version: "2"},
		{name: "one match, If-Match stale", existing: 1, query: "identifier=" + sid + "|r-1", ifMatch: `W/"7"`, status: 412, text: "If-Match"},
		{name: "one match, another id", existing: 1, query: "identifier=" + sid + "|r-1", bodyID: "someone-else", status: 400, text: "not that of"},
		{name: "several matches", existing: 2, query: "identifier=" + sid + "|r-1", status: 412, text: "multiple-matches"},
		{name: "no criteria", existing: 1, query: "", status: 400, text: "no search parameter"},
		{name: "unknown parameter", existing: 1, query: "identifer=" + sid + "|r-1", status: 400, text: `\"identifer\"`},
		{name: "type not served", query: "identifier=x", status: 404, text: "Patient"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t)
			var first string
			for i := range tc.existing {
				id, _ := s.mustCreate("QuestionnaireResponse", qrFor("completed", "p1", "r-1"))
				if i == 0 {
					first = id
				}
			}
			body := qrFor("amended", "p1", "r-1")
			switch tc.bodyID {
			case "":
			case "match":
				body = strings.Replace(body, "{", `{"id":"`+first+`",`, 1)
			default:
				body = strings.Replace(body, "{", `{"id":"`+tc.bodyID+`",`, 1)
			}
			path := "/fhir/QuestionnaireResponse?" + tc.query
			if tc.status == 404 {
				path = "/fhir/Patient?" + tc.query
			}
			headers := []string{}
			if tc.ifMatch != "" {
				headers = append(headers, "If-Match", tc.ifMatch)
			}
			r := s.do("PUT", path, []byte(body), headers...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.text != "" && !strings.Contains(string(r.body), tc.text) {
				t.Errorf("body does not contain %s: %s", tc.text, r.body)
			}
			if tc.status >= 300 {
				outcome(t, r, tc.status, "")
				return
			}
			m := r.json(t)
			id := m["id"].(string)
			if tc.existing == 1 && id != first {
				t.Errorf("wrote %s, want the match %s", id, first)
			}
			if v := m["meta"].(map[string]any)["versionId"]; v != tc.version || r.header.Get("ETag") != `W/"`+tc.version+`"` {
				t.Errorf("version %v ETag %q, want %s", v, r.header.Get("ETag"), tc.version)
			}
			if loc := r.header.Get("Location"); loc != s.base+"/QuestionnaireResponse/"+id+"/_history/"+tc.version {
				t.Errorf("Location %q", loc)
			}
			if m["status"] != "amended" {
				t.Errorf("status %v, want the body's", m["status"])
			}
		})
	}
}

func TestConditionalDelete(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		existing int // completed responses
		query    string
		prefer   string
		status   int
		text     string
		left     int // completed responses left
	}{
		{name: "no match", query: "status=completed", status: 204},
		{name: "one match", existing: 1, query: "status=completed", status: 204},
		{name: "several matches, all deleted", existing: 3, query: "status=completed", status: 204},
		{name: "several, reported", existing: 2, query: "status=completed", prefer: "return=OperationOutcome", status: 200, text: "Deleted QuestionnaireResponse/"},
		{name: "more than the server deletes at once", existing: 4, query: "status=completed", status: 412, text: "at most 3", left: 4},
		{name: "no criteria", existing: 1, query: "", status: 400, text: "no search parameter", left: 1},
		{name: "only _format", existing: 1, query: "_format=json", status: 400, text: "no search parameter", left: 1},
		{name: "unknown parameter", existing: 1, query: "colour=blue", status: 400, text: `\"colour\"`, left: 1},
		{name: "bad value", existing: 1, query: "authored=xx2024", status: 400, text: "prefix", left: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t, func(o *api.Options) { o.DefaultCount, o.MaxCount = 2, 3 })
			var ids []string
			for i := range tc.existing {
				id, _ := s.mustCreate("QuestionnaireResponse", qrFor("completed", "p1", fmt.Sprintf("r-%d", i)))
				ids = append(ids, id)
			}
			keep, _ := s.mustCreate("QuestionnaireResponse", qrFor("in-progress", "p1", "keep"))
			headers := []string{}
			if tc.prefer != "" {
				headers = append(headers, "Prefer", tc.prefer)
			}
			r := s.do("DELETE", "/fhir/QuestionnaireResponse?"+tc.query, nil, headers...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.text != "" && !strings.Contains(string(r.body), tc.text) {
				t.Errorf("body does not contain %s: %s", tc.text, r.body)
			}
			if tc.status >= 400 {
				outcome(t, r, tc.status, "")
			}
			if etag := r.header.Get("ETag"); (tc.existing == 1 && tc.status == 204) != (etag != "") {
				t.Errorf("ETag %q: want one exactly when one resource was deleted", etag)
			}
			if got := s.count("status=completed"); got != tc.left {
				t.Errorf("%d completed responses left, want %d", got, tc.left)
			}
			if tc.left == 0 {
				for _, id := range ids {
					if st := s.do("GET", "/fhir/QuestionnaireResponse/"+id, nil).status; st != http.StatusGone {
						t.Errorf("read of deleted %s: %d, want 410", id, st)
					}
				}
			}
			if st := s.do("GET", "/fhir/QuestionnaireResponse/"+keep, nil).status; st != http.StatusOK {
				t.Errorf("the response that does not match was touched: read %d", st)
			}
		})
	}
}
