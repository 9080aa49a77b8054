package api_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"

	"github.com/patient-involvement/fhir-server/fixtures"
	"github.com/patient-involvement/fhir-server/internal/generate"
)

func gzipped(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gunzip(t testing.TB, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestResponseCompression checks which answers are compressed: those above about 1 KB for a
// client that accepts gzip, never small ones nor for clients that do not ask; a compressed
// answer decodes to the same JSON, keeps its ETag and says Vary: Accept-Encoding.
func TestResponseCompression(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	id, _ := s.mustCreate("QuestionnaireResponse", qrMinimal)
	for range 10 {
		s.mustCreate("QuestionnaireResponse", qrMinimal)
	}
	tests := []struct {
		name, path, acceptEncoding string
		wantEncoding               string
	}{
		{"a search page, gzip accepted", "/fhir/QuestionnaireResponse?_count=10", "gzip", "gzip"},
		{"the CapabilityStatement, as browsers ask", "/fhir/metadata", "gzip, deflate, br, zstd", "gzip"},
		{"gzip refused", "/fhir/QuestionnaireResponse?_count=10", "gzip;q=0, identity", ""},
		{"no Accept-Encoding", "/fhir/QuestionnaireResponse?_count=10", "identity", ""},
		{"a small resource stays plain", "/fhir/QuestionnaireResponse/" + id, "gzip", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("GET", tc.path, nil, "Accept-Encoding", tc.acceptEncoding)
			if r.status != http.StatusOK {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if got := r.header.Get("Content-Encoding"); got != tc.wantEncoding {
				t.Fatalf("Content-Encoding %q, want %q", got, tc.wantEncoding)
			}
			if !strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Accept-Encoding") {
				t.Errorf("Vary %q does not name Accept-Encoding", r.header.Values("Vary"))
			}
			body := r.body
			if tc.wantEncoding == "gzip" {
				body = gunzip(t, r.body)
				if len(r.body) >= len(body) {
					t.Errorf("compressed %d bytes into %d", len(body), len(r.body))
				}
			} else if tc.name == "a small resource stays plain" && len(body) >= 1024 {
				t.Fatalf("the resource is %d bytes: not small", len(body))
			}
			if !json.Valid(body) {
				t.Errorf("the body is not JSON: %.100q", body)
			}
		})
	}
	t.Run("the ETag survives compression", func(t *testing.T) {
		r := s.do("GET", "/fhir/QuestionnaireResponse/"+id+"?_pretty=true", nil, "Accept-Encoding", "gzip")
		if r.header.Get("ETag") != `W/"1"` {
			t.Errorf("ETag %q", r.header.Get("ETag"))
		}
	})
}

// TestCompressedRequestBodies sends bodies with Content-Encoding: gzip: they are read as
// decoded; the body limit applies to the decoded size, so a 10 MB bomb of a few KB is a 413;
// a body that is not the gzip it claims to be is the client's error (400), and an encoding
// the server does not read a 415.
func TestCompressedRequestBodies(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	bomb := gzipped(t, bytes.Repeat([]byte(" "), 10<<20))
	if len(bomb) > 64<<10 {
		t.Fatalf("the bomb is %d bytes compressed", len(bomb))
	}
	form := gzipped(t, []byte("status=completed"))
	tests := []struct {
		name, method, path, contentType, encoding string
		body                                      []byte
		status                                    int
		want                                      string
	}{
		{"a gzip create", "POST", "/fhir/QuestionnaireResponse", "application/fhir+json", "gzip", gzipped(t, []byte(qrMinimal)), 201, `"valueDecimal":1.10`},
		{"a gzip search form", "POST", "/fhir/QuestionnaireResponse/_search", "application/x-www-form-urlencoded", "gzip", form, 200, `"searchset"`},
		{"x-gzip is gzip", "POST", "/fhir/QuestionnaireResponse", "application/fhir+json", "x-gzip", gzipped(t, []byte(qrMinimal)), 201, `"completed"`},
		{"identity", "POST", "/fhir/QuestionnaireResponse", "application/fhir+json", "identity", []byte(qrMinimal), 201, `"completed"`},
		{"a 10 MB gzip bomb", "POST", "/fhir/QuestionnaireResponse", "application/fhir+json", "gzip", bomb, 413, "larger than the limit of 8388608 bytes"},
		{"not gzip at all", "POST", "/fhir/QuestionnaireResponse", "application/fhir+json", "gzip", []byte(qrMinimal), 400, "not valid gzip"},
		{"cut short", "PUT", "/fhir/QuestionnaireResponse/qr-cut", "application/fhir+json", "gzip", gzipped(t, []byte(qrMinimal))[:40], 400, "not valid gzip"},
		{"brotli is not read", "POST", "/fhir/QuestionnaireResponse", "application/fhir+json", "br", []byte("x"), 415, "Content-Encoding br is not accepted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(tc.method, tc.path, tc.body, "Content-Type", tc.contentType, "Content-Encoding", tc.encoding, "Accept-Encoding", "identity")
			if tc.status >= 400 {
				outcome(t, r, tc.status, tc.want)
				return
			}
			if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
				t.Fatalf("%d %s; want %d with %s", r.status, r.body, tc.status, tc.want)
			}
		})
	}
}

// BenchmarkSearchPageCompression fetches one search page of 200 QuestionnaireResponses (made
// by the generator: different patients, surveys and answers) over HTTP, plain and
// gzip-compressed, in the same run: B/response is what goes over the wire, ns/op the whole
// request, the search on the embedded database included.
func BenchmarkSearchPageCompression(b *testing.B) {
	srv := newTestServer(b)
	var ndjson bytes.Buffer
	if _, err := generate.Write(&ndjson, fixtures.FS(), generate.Options{Patients: 100, Seed: 42}); err != nil {
		b.Fatal(err)
	}
	created := 0
	for line := range bytes.Lines(ndjson.Bytes()) {
		if created < 200 && bytes.Contains(line, []byte(`"resourceType":"QuestionnaireResponse"`)) {
			srv.mustCreate("QuestionnaireResponse", string(line))
			created++
		}
	}
	if created < 200 {
		b.Fatalf("the generator made %d responses, want 200", created)
	}
	for _, enc := range []string{"identity", "gzip"} {
		b.Run(enc, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
			url := srv.URL + "/fhir/QuestionnaireResponse?_count=200"
			var n int
			for b.Loop() {
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("Accept-Encoding", enc)
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != map[string]string{"identity": "", "gzip": "gzip"}[enc] {
					b.Fatalf("%d, Content-Encoding %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
				}
				n = len(body)
			}
			b.ReportMetric(float64(n), "B/response")
		})
	}
	// What the compression itself costs, without the search: the same page gzipped in
	// memory by the library and level the server uses.
	page := srv.do("GET", "/fhir/QuestionnaireResponse?_count=200", nil, "Accept-Encoding", "identity").body
	b.Run("gzip-encode-only", func(b *testing.B) {
		var n int
		for b.Loop() {
			var buf bytes.Buffer
			zw, _ := kgzip.NewWriterLevel(&buf, kgzip.DefaultCompression)
			_, _ = zw.Write(page)
			_ = zw.Close()
			n = buf.Len()
		}
		b.ReportMetric(float64(n), "B/response")
	})
}
