package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestCreateReadUpdateDeleteLifecycle(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)

	// Create: a body id is ignored, the server assigns one.
	r := s.do("POST", "/fhir/QuestionnaireResponse", []byte(strings.Replace(qrMinimal, `{"resourceType":"QuestionnaireResponse",`, `{"resourceType":"QuestionnaireResponse","id":"client-id",`, 1)))
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	created := r.json(t)
	id := created["id"].(string)
	if id == "client-id" || id == "" {
		t.Fatalf("create kept the client's id %q", id)
	}
	wantLoc := s.base + "/QuestionnaireResponse/" + id + "/_history/1"
	for h, want := range map[string]string{"Location": wantLoc, "ETag": `W/"1"`} {
		if got := r.header.Get(h); got != want {
			t.Errorf("create %s = %q, want %q", h, got, want)
		}
	}
	if _, err := http.ParseTime(r.header.Get("Last-Modified")); err != nil {
		t.Errorf("create Last-Modified %q: %v", r.header.Get("Last-Modified"), err)
	}
	meta := created["meta"].(map[string]any)
	if meta["versionId"] != "1" {
		t.Errorf("meta.versionId = %v, want 1", meta["versionId"])
	}
	lu, err := time.Parse(time.RFC3339Nano, meta["lastUpdated"].(string))
	if err != nil || time.Since(lu) > time.Minute || !strings.HasSuffix(meta["lastUpdated"].(string), "Z") {
		t.Errorf("meta.lastUpdated %v is not the server's UTC time: %v", meta["lastUpdated"], err)
	}
	if !strings.Contains(string(r.body), `"valueDecimal":1.10`) {
		t.Errorf("decimal 1.10 was altered: %s", r.body)
	}

	// Read.
	r = s.do("GET", "/fhir/QuestionnaireResponse/"+id, nil)
	if r.status != http.StatusOK || r.header.Get("ETag") != `W/"1"` || !strings.Contains(string(r.body), `"id":"`+id+`"`) {
		t.Fatalf("read: %d %v %s", r.status, r.header, r.body)
	}

	// Update.
	upd := strings.Replace(qrMinimal, `"status":"completed"`, `"id":"`+id+`","status":"amended"`, 1)
	r = s.do("PUT", "/fhir/QuestionnaireResponse/"+id, []byte(upd))
	if r.status != http.StatusOK || r.header.Get("ETag") != `W/"2"` || r.header.Get("Location") != s.base+"/QuestionnaireResponse/"+id+"/_history/2" {
		t.Fatalf("update: %d %v %s", r.status, r.header, r.body)
	}

	// Vread both versions.
	for vid, status := range map[string]string{"1": "completed", "2": "amended"} {
		r = s.do("GET", "/fhir/QuestionnaireResponse/"+id+"/_history/"+vid, nil)
		if r.status != http.StatusOK || r.json(t)["status"] != status || r.header.Get("ETag") != `W/"`+vid+`"` {
			t.Errorf("vread %s: %d %s", vid, r.status, r.body)
		}
	}

	// Delete, then read is 410, deleting again is fine.
	r = s.do("DELETE", "/fhir/QuestionnaireResponse/"+id, nil)
	if r.status != http.StatusNoContent || r.header.Get("ETag") != `W/"3"` {
		t.Fatalf("delete: %d %v %s", r.status, r.header, r.body)
	}
	outcome(t, s.do("GET", "/fhir/QuestionnaireResponse/"+id, nil), http.StatusGone, "deleted")
	outcome(t, s.do("GET", "/fhir/QuestionnaireResponse/"+id+"/_history/3", nil), http.StatusGone, "deleted")
	if r := s.do("DELETE", "/fhir/QuestionnaireResponse/"+id, nil); r.status != http.StatusNoContent {
		t.Errorf("second delete: %d %s", r.status, r.body)
	}

	// History: newest first, with the interaction that wrote each version.
	r = s.do("GET", "/fhir/QuestionnaireResponse/"+id+"/_history", nil)
	h := r.json(t)
	if h["type"] != "history" {
		t.Fatalf("history bundle type %v", h["type"])
	}
	entries := h["entry"].([]any)
	var got []string
	for _, e := range entries {
		em := e.(map[string]any)
		req := em["request"].(map[string]any)
		got = append(got, fmt.Sprintf("%s %s", req["method"], em["response"].(map[string]any)["etag"]))
	}
	want := []string{`DELETE W/"3"`, `PUT W/"2"`, `POST W/"1"`}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("history = %v, want %v", got, want)
	}

	// Update after delete brings it back as a new version.
	r = s.do("PUT", "/fhir/QuestionnaireResponse/"+id, []byte(upd))
	if r.status != http.StatusCreated || r.header.Get("ETag") != `W/"4"` {
		t.Errorf("update after delete: %d %v", r.status, r.header.Get("ETag"))
	}
}

func TestUpdateAsCreate(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	body := `{"resourceType":"CarePlan","id":"plan-1","status":"active","intent":"plan","subject":{"reference":"Patient/p1"}}`
	r := s.do("PUT", "/fhir/CarePlan/plan-1", []byte(body))
	if r.status != http.StatusCreated || r.header.Get("ETag") != `W/"1"` || r.header.Get("Location") != s.base+"/CarePlan/plan-1/_history/1" {
		t.Fatalf("update as create: %d %v %s", r.status, r.header, r.body)
	}
	r = s.do("PUT", "/fhir/CarePlan/plan-1", []byte(body))
	if r.status != http.StatusOK || r.header.Get("ETag") != `W/"2"` {
		t.Fatalf("second put: %d %v", r.status, r.header)
	}
}

func TestIfMatch(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	id, _ := s.mustCreate("QuestionnaireResponse", qrMinimal)
	body := []byte(strings.Replace(qrMinimal, `"status":"completed"`, `"id":"`+id+`","status":"completed"`, 1))
	tests := []struct {
		name    string
		method  string
		ifMatch string
		status  int
	}{
		{"put stale version", "PUT", `W/"7"`, http.StatusPreconditionFailed},
		{"put malformed tag", "PUT", `W/"x"`, http.StatusBadRequest},
		{"put current version", "PUT", `W/"1"`, http.StatusOK},
		{"put previous version now stale", "PUT", `W/"1"`, http.StatusPreconditionFailed},
		{"delete stale version", "DELETE", `W/"1"`, http.StatusPreconditionFailed},
		{"delete current version", "DELETE", `W/"2"`, http.StatusNoContent},
	}
	for _, tc := range tests {
		var b []byte
		if tc.method == "PUT" {
			b = body
		}
		r := s.do(tc.method, "/fhir/QuestionnaireResponse/"+id, b, "If-Match", tc.ifMatch)
		if r.status != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, r.status, tc.status, r.body)
		}
		if tc.status >= 400 {
			outcome(t, r, tc.status, "")
		}
	}
}

func TestPrefer(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	tests := []struct {
		name     string
		prefer   string
		wantBody string // "" for an empty body
	}{
		{"default is representation", "", `"resourceType":"QuestionnaireResponse"`},
		{"representation", "return=representation", `"resourceType":"QuestionnaireResponse"`},
		{"minimal", "return=minimal", ""},
		{"operation outcome", "return=OperationOutcome", `"resourceType":"OperationOutcome"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("POST", "/fhir/QuestionnaireResponse", []byte(qrMinimal), "Prefer", tc.prefer)
			if r.status != http.StatusCreated || r.header.Get("Location") == "" || r.header.Get("ETag") != `W/"1"` {
				t.Fatalf("status %d, headers %v", r.status, r.header)
			}
			if tc.wantBody == "" {
				if len(r.body) != 0 {
					t.Errorf("body %q, want none", r.body)
				}
			} else if !strings.Contains(string(r.body), tc.wantBody) {
				t.Errorf("body %s does not contain %s", r.body, tc.wantBody)
			}
		})
	}
}

func TestFormatNegotiation(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	id, _ := s.mustCreate("QuestionnaireResponse", qrMinimal)
	path := "/fhir/QuestionnaireResponse/" + id
	tests := []struct {
		name        string
		query       string
		accept      string
		status      int
		contentType string
	}{
		{"no accept", "", "", 200, "application/fhir+json"},
		{"fhir json", "", "application/fhir+json", 200, "application/fhir+json"},
		{"plain json", "", "application/json", 200, "application/json"},
		{"any", "", "*/*", 200, "application/fhir+json"},
		{"browser accept", "", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 200, "application/fhir+json"},
		{"xml only", "", "application/fhir+xml", 406, "application/fhir+json"},
		{"_format json", "?_format=json", "application/fhir+xml", 200, "application/fhir+json"},
		{"_format xml", "?_format=xml", "", 406, "application/fhir+json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("GET", path+tc.query, nil, "Accept", tc.accept)
			if r.status != tc.status || !strings.HasPrefix(r.header.Get("Content-Type"), tc.contentType) {
				t.Fatalf("status %d type %q, want %d %q: %s", r.status, r.header.Get("Content-Type"), tc.status, tc.contentType, r.body)
			}
			if tc.status != 200 {
				outcome(t, r, tc.status, "")
			}
		})
	}

	t.Run("pretty", func(t *testing.T) {
		r := s.do("GET", path+"?_pretty=true", nil)
		if !strings.Contains(string(r.body), "\n  \"resourceType\": \"QuestionnaireResponse\"") || !strings.Contains(string(r.body), `"valueDecimal": 1.10`) {
			t.Errorf("_pretty=true body not indented or decimal altered: %s", r.body)
		}
		r = s.do("GET", path, nil)
		if strings.Contains(string(r.body), "\n") {
			t.Errorf("body without _pretty is indented: %s", r.body)
		}
	})
}

func TestRequestIDAndHealth(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	tests := []struct {
		name, path, reqID string
		status            int
		body              string
	}{
		{"healthz", "/healthz", "", 200, `"status":"ok"`},
		{"readyz", "/readyz", "", 200, `"status":"ok"`},
		{"metadata with request id", "/fhir/metadata", "abc-123", 200, `"fhirVersion":"4.0.1"`},
		{"home page links", "/", "", 200, `/fhir/metadata`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("GET", tc.path, nil, "X-Request-Id", tc.reqID)
			if r.status != tc.status || !strings.Contains(string(r.body), tc.body) {
				t.Fatalf("status %d body %s", r.status, r.body)
			}
			got := r.header.Get("X-Request-Id")
			if tc.reqID != "" && got != tc.reqID {
				t.Errorf("X-Request-Id %q, want the client's %q", got, tc.reqID)
			}
			if got == "" {
				t.Error("no X-Request-Id")
			}
		})
	}
}
