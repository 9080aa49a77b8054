package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/internal/auth"
)

// TestCachingHeaders checks Cache-Control and X-Content-Type-Options: every answer of an
// authenticated /fhir request is no-store (and private where it names a version a client may
// read again conditionally), and every answer of the server carries nosniff.
func TestCachingHeaders(t *testing.T) {
	s := newAuthServer(t)
	admin := s.mint(auth.TokenOptions{Scope: "system/*.*"})
	id, _ := s.mustCreateWith("CarePlan", `{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/p1"}}`, admin)
	bearer := []string{"Authorization", "Bearer " + admin}
	tests := []struct {
		name, method, path string
		body               string
		token              bool
		wantCache          string
	}{
		{"read", "GET", "/fhir/CarePlan/" + id, "", true, "private, no-store"},
		{"vread", "GET", "/fhir/CarePlan/" + id + "/_history/1", "", true, "private, no-store"},
		{"update", "PUT", "/fhir/CarePlan/" + id, `{"resourceType":"CarePlan","id":"` + id + `","status":"active","intent":"plan","subject":{"reference":"Patient/p1"}}`, true, "private, no-store"},
		{"search", "GET", "/fhir/CarePlan", "", true, "no-store"},
		{"history", "GET", "/fhir/CarePlan/" + id + "/_history", "", true, "no-store"},
		{"an error", "GET", "/fhir/CarePlan/unknown", "", true, "no-store"},
		{"a refusal", "GET", "/fhir/CarePlan/" + id, "", false, "no-store"},
		{"metadata is public", "GET", "/fhir/metadata", "", false, ""},
		{"the docs are public", "GET", "/openapi.json", "", false, "no-cache"},
		{"health is public", "GET", "/healthz", "", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h []string
			if tc.token {
				h = bearer
			}
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			r := s.do(tc.method, tc.path, body, h...)
			if r.status >= 500 || (tc.token && r.status >= 400 && tc.name != "an error") {
				t.Fatalf("%d %.300s", r.status, r.body)
			}
			if got := r.header.Get("Cache-Control"); got != tc.wantCache {
				t.Errorf("Cache-Control %q, want %q (status %d)", got, tc.wantCache, r.status)
			}
			if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
		})
	}
}

// mustCreateWith posts a resource with a bearer token and returns its id.
func (s *authServer) mustCreateWith(typ, body, token string) (string, map[string]any) {
	s.t.Helper()
	r := s.do("POST", "/fhir/"+typ, []byte(body), "Authorization", "Bearer "+token)
	if r.status != http.StatusCreated {
		s.t.Fatalf("create %s: %d %s", typ, r.status, r.body)
	}
	m := r.json(s.t)
	return m["id"].(string), m
}

// TestHeadAndConditionalRead: HEAD answers every GET route with its status and headers and
// no body; a read answers 304 to If-None-Match with its ETag and to If-Modified-Since at or
// after its Last-Modified, and 200 otherwise; the CapabilityStatement declares it.
func TestHeadAndConditionalRead(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	id, _ := s.mustCreate("QuestionnaireResponse", qrMinimal)
	read := "/fhir/QuestionnaireResponse/" + id
	first := s.do("GET", read, nil)
	lastModified := first.header.Get("Last-Modified")
	modified, err := http.ParseTime(lastModified)
	if err != nil {
		t.Fatalf("Last-Modified %q: %v", lastModified, err)
	}
	heads := []struct {
		name, path string
		status     int
	}{
		{"read", read, 200},
		{"vread", read + "/_history/1", 200},
		{"search", "/fhir/QuestionnaireResponse", 200},
		{"history", read + "/_history", 200},
		{"type history", "/fhir/QuestionnaireResponse/_history", 200},
		{"metadata", "/fhir/metadata", 200},
		{"discovery", "/fhir/.well-known/smart-configuration", 200},
		{"unknown id", "/fhir/QuestionnaireResponse/nope", 404},
		{"health", "/healthz", 200},
		{"readiness", "/readyz", 200},
		{"spec", "/openapi.json", 200},
		{"docs", "/docs/index.html", 200},
		{"home", "/", 200},
	}
	for _, tc := range heads {
		t.Run("HEAD "+tc.name, func(t *testing.T) {
			get := s.do("GET", tc.path, nil)
			head := s.do("HEAD", tc.path, nil)
			if head.status != tc.status || get.status != tc.status {
				t.Fatalf("HEAD %d, GET %d; want %d", head.status, get.status, tc.status)
			}
			if len(head.body) != 0 {
				t.Errorf("HEAD has a body of %d bytes", len(head.body))
			}
			for _, k := range []string{"Content-Type", "ETag", "Last-Modified", "Cache-Control"} {
				if head.header.Get(k) != get.header.Get(k) {
					t.Errorf("%s: HEAD %q, GET %q", k, head.header.Get(k), get.header.Get(k))
				}
			}
		})
	}

	conditional := []struct {
		name    string
		method  string
		headers []string
		status  int
	}{
		{"If-None-Match with the ETag", "GET", []string{"If-None-Match", `W/"1"`}, 304},
		{"If-None-Match, strong form", "GET", []string{"If-None-Match", `"1"`}, 304},
		{"If-None-Match in a list", "GET", []string{"If-None-Match", `W/"7", W/"1"`}, 304},
		{"If-None-Match *", "GET", []string{"If-None-Match", "*"}, 304},
		{"If-None-Match, HEAD", "HEAD", []string{"If-None-Match", `W/"1"`}, 304},
		{"If-None-Match with another version", "GET", []string{"If-None-Match", `W/"2"`}, 200},
		{"If-Modified-Since at Last-Modified", "GET", []string{"If-Modified-Since", lastModified}, 304},
		{"If-Modified-Since later", "GET", []string{"If-Modified-Since", modified.Add(time.Hour).Format(http.TimeFormat)}, 304},
		{"If-Modified-Since earlier", "GET", []string{"If-Modified-Since", modified.Add(-time.Hour).Format(http.TimeFormat)}, 200},
		{"If-None-Match wins over If-Modified-Since", "GET", []string{"If-None-Match", `W/"2"`, "If-Modified-Since", lastModified}, 200},
		{"a malformed date is ignored", "GET", []string{"If-Modified-Since", "yesterday"}, 200},
	}
	for _, tc := range conditional {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(tc.method, read, nil, tc.headers...)
			if r.status != tc.status {
				t.Fatalf("%d, want %d: %s", r.status, tc.status, r.body)
			}
			if r.header.Get("ETag") != `W/"1"` || r.header.Get("Last-Modified") != lastModified {
				t.Errorf("ETag %q, Last-Modified %q", r.header.Get("ETag"), r.header.Get("Last-Modified"))
			}
			if tc.status == 304 && len(r.body) != 0 {
				t.Errorf("304 with a body: %s", r.body)
			}
		})
	}

	t.Run("a changed resource is read again", func(t *testing.T) {
		up := s.do("PUT", read, []byte(strings.Replace(qrMinimal, `"resourceType"`, `"id":"`+id+`","resourceType"`, 1)))
		if up.status != 200 {
			t.Fatalf("update: %d %s", up.status, up.body)
		}
		if r := s.do("GET", read, nil, "If-None-Match", `W/"1"`); r.status != 200 || r.header.Get("ETag") != `W/"2"` {
			t.Errorf("%d ETag %q, want 200 W/\"2\"", r.status, r.header.Get("ETag"))
		}
	})

	t.Run("the CapabilityStatement declares it", func(t *testing.T) {
		var cs struct {
			Rest []struct {
				Resource []struct {
					Type            string `json:"type"`
					ConditionalRead string `json:"conditionalRead"`
				} `json:"resource"`
			} `json:"rest"`
		}
		if err := json.Unmarshal(s.do("GET", "/fhir/metadata", nil).body, &cs); err != nil {
			t.Fatal(err)
		}
		for _, r := range cs.Rest[0].Resource {
			if r.ConditionalRead != "full-support" {
				t.Errorf("%s: conditionalRead %q, want full-support", r.Type, r.ConditionalRead)
			}
		}
	})
}

// TestMediaTypes checks the media type of answers (with fhirVersion=4.0), what Accept and
// _format may ask for (the unescaped + of HAPI's clients included), and the request bodies
// taken.
func TestMediaTypes(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	tests := []struct {
		name, method, path string
		headers            []string
		body               string
		status             int
		contentType        string // of a 2xx answer
		want               string // in a 4xx OperationOutcome
	}{
		{"default", "GET", "/fhir/metadata", nil, "", 200, "application/fhir+json; fhirVersion=4.0", ""},
		{"FHIR JSON", "GET", "/fhir/metadata", []string{"Accept", "application/fhir+json"}, "", 200, "application/fhir+json; fhirVersion=4.0", ""},
		{"FHIR R4 asked", "GET", "/fhir/metadata", []string{"Accept", "application/fhir+json; fhirVersion=4.0"}, "", 200, "application/fhir+json; fhirVersion=4.0", ""},
		{"plain JSON", "GET", "/fhir/metadata", []string{"Accept", "application/json"}, "", 200, "application/json; fhirVersion=4.0", ""},
		{"another version, then any", "GET", "/fhir/metadata", []string{"Accept", "application/fhir+json; fhirVersion=3.0, */*;q=0.1"}, "", 200, "application/fhir+json; fhirVersion=4.0", ""},
		{"_format json", "GET", "/fhir/QuestionnaireResponse?_format=json", nil, "", 200, "application/fhir+json; fhirVersion=4.0", ""},
		{"_format with an unescaped +", "GET", "/fhir/QuestionnaireResponse?_format=application/fhir+json", nil, "", 200, "application/fhir+json; fhirVersion=4.0", ""},
		{"_format with an escaped +", "GET", "/fhir/QuestionnaireResponse?_format=application%2Ffhir%2Bjson", nil, "", 200, "application/fhir+json; fhirVersion=4.0", ""},
		{"an error is FHIR JSON too", "GET", "/fhir/QuestionnaireResponse/nope", nil, "", 404, "application/fhir+json; fhirVersion=4.0", "not known"},

		{"another FHIR version only", "GET", "/fhir/metadata", []string{"Accept", "application/fhir+json; fhirVersion=3.0"}, "", 406, "", "fhirVersion=4.0"},
		{"_format of another version", "GET", "/fhir/metadata?_format=application/fhir%2Bjson%3BfhirVersion=1.0", nil, "", 406, "", "FHIR version 1.0"},
		{"XML", "GET", "/fhir/metadata", []string{"Accept", "application/fhir+xml"}, "", 406, "", "application/fhir+json"},
		{"_format xml", "GET", "/fhir/metadata?_format=xml", nil, "", 406, "", "JSON only"},
		{"a body of another version", "POST", "/fhir/QuestionnaireResponse", []string{"Content-Type", "application/fhir+json; fhirVersion=3.0"}, qrMinimal, 415, "", "FHIR R4"},
		{"a body of R4", "POST", "/fhir/QuestionnaireResponse", []string{"Content-Type", "application/fhir+json; fhirVersion=4.0"}, qrMinimal, 201, "application/fhir+json; fhirVersion=4.0", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			r := s.do(tc.method, tc.path, body, tc.headers...)
			if tc.status >= 400 {
				outcome(t, r, tc.status, tc.want)
				if tc.contentType != "" && r.header.Get("Content-Type") != tc.contentType {
					t.Errorf("Content-Type %q, want %q", r.header.Get("Content-Type"), tc.contentType)
				}
				return
			}
			if r.status != tc.status || r.header.Get("Content-Type") != tc.contentType {
				t.Fatalf("%d %q, want %d %q: %s", r.status, r.header.Get("Content-Type"), tc.status, tc.contentType, r.body)
			}
		})
	}
}

// TestMetadataModes: mode=terse is a smaller statement with the same types and
// interactions, full and normative the whole one, and any other mode a 400.
func TestMetadataModes(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	full := s.do("GET", "/fhir/metadata", nil)
	type statement struct {
		Rest []struct {
			Resource []struct {
				Type        string            `json:"type"`
				Interaction []json.RawMessage `json:"interaction"`
				SearchParam []json.RawMessage `json:"searchParam"`
			} `json:"resource"`
		} `json:"rest"`
	}
	var want statement
	if err := json.Unmarshal(full.body, &want); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		mode    string
		status  int
		smaller bool
	}{
		{"full", 200, false},
		{"normative", 200, false},
		{"terse", 200, true},
		{"brief", 400, false},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			r := s.do("GET", "/fhir/metadata?mode="+tc.mode, nil)
			if tc.status == 400 {
				outcome(t, r, 400, "mode=brief is not a mode")
				return
			}
			var got statement
			if err := json.Unmarshal(r.body, &got); err != nil || r.status != 200 {
				t.Fatalf("%d %v %s", r.status, err, r.body)
			}
			if smaller := len(r.body) < len(full.body)/2; smaller != tc.smaller {
				t.Errorf("%d bytes against %d in full", len(r.body), len(full.body))
			}
			for i, res := range got.Rest[0].Resource {
				w := want.Rest[0].Resource[i]
				if res.Type != w.Type || len(res.Interaction) != len(w.Interaction) {
					t.Errorf("%s: %d interactions, want %s with %d", res.Type, len(res.Interaction), w.Type, len(w.Interaction))
				}
				if tc.smaller && len(res.SearchParam) != 0 {
					t.Errorf("%s keeps %d search parameters in terse mode", res.Type, len(res.SearchParam))
				}
			}
		})
	}
}
