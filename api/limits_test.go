package api_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/api"
	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/store"
	"github.com/patient-involvement/fhir-server/internal/store/storetest"
)

// retryable asserts a 503 or 429 answer: an OperationOutcome with the issue code, and a
// Retry-After of whole seconds, at least one.
func retryable(t *testing.T, r *response, status int, code, want string) {
	t.Helper()
	outcome(t, r, status, want)
	if !strings.Contains(string(r.body), `"code":"`+code+`"`) {
		t.Errorf("issue code is not %s: %s", code, r.body)
	}
	if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("Retry-After %q, want whole seconds", r.header.Get("Retry-After"))
	}
}

// TestTooManyJSONValuesAreRefusedUnread: a body of many tiny elements is refused while it is
// scanned, with 413, before anything decodes it; the same resource with fewer is taken.
func TestTooManyJSONValuesAreRefusedUnread(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	body := func(n int) []byte {
		return []byte(`{"resourceType":"QuestionnaireResponse","status":"completed","item":[` +
			strings.TrimSuffix(strings.Repeat(`{"linkId":"a"},`, n), ",") + `]}`)
	}
	tests := []struct {
		name   string
		items  int
		status int
		want   string
	}{
		{"far more values than the bound", 120000, 413, "more than 200000 JSON values"},
		{"a large but real-sized resource", 5000, 201, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("POST", "/fhir/QuestionnaireResponse", body(tc.items))
			if tc.status != 201 {
				outcome(t, r, tc.status, tc.want)
				return
			}
			if r.status != tc.status {
				t.Fatalf("%d %.300s", r.status, r.body)
			}
		})
	}
	t.Run("empty elements are refused as values too", func(t *testing.T) {
		b := []byte(`{"resourceType":"QuestionnaireResponse","status":"completed","item":[` + strings.TrimSuffix(strings.Repeat(`{},`, 250000), ",") + `]}`)
		outcome(t, s.do("POST", "/fhir/QuestionnaireResponse", b), 413, "JSON values")
	})
}

// TestRateLimitPerCaller: past its rate and burst a caller gets 429 with Retry-After, a
// search counting ten requests; another caller is not held back.
func TestRateLimitPerCaller(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t, func(o *api.Options) { o.RateLimit, o.RateBurst = 0.01, 12 })
	a := "Bearer " + s.mint(auth.TokenOptions{Scope: "system/*.*", Subject: "caller-a"})
	b := "Bearer " + s.mint(auth.TokenOptions{Scope: "system/*.*", Subject: "caller-b"})
	steps := []struct {
		name, auth, path string
		status           int
	}{
		{"a search spends ten", a, "/fhir/CarePlan", 200},
		{"a read spends one", a, "/fhir/CarePlan/x", 404},
		{"a second read spends the last", a, "/fhir/CarePlan/x", 404},
		{"the next is refused", a, "/fhir/CarePlan/x", 429},
		{"a search is refused", a, "/fhir/CarePlan", 429},
		{"another caller is served", b, "/fhir/CarePlan", 200},
		{"no token is still 401 first", "", "/fhir/CarePlan", 401},
	}
	for _, st := range steps {
		r := s.do("GET", st.path, nil, "Authorization", st.auth)
		if st.status == 429 {
			retryable(t, r, 429, "throttled", "more requests than the server takes from one caller")
			continue
		}
		if r.status != st.status {
			t.Errorf("%s: %d, want %d: %s", st.name, r.status, st.status, r.body)
		}
	}
}

// slowBody is a request body that sends its first part and then waits until release is
// closed, to hold a request in the server.
type slowBody struct {
	first   []byte
	release chan struct{}
	rest    []byte
	sent    bool
}

func (b *slowBody) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		return copy(p, b.first), nil
	}
	<-b.release
	if len(b.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b.rest)
	b.rest = b.rest[n:]
	return n, nil
}

// holdRequest starts a POST whose body stalls after its first part, and returns the
// function that lets it finish and returns its status.
func holdRequest(t *testing.T, url string, first, rest string) func() int {
	t.Helper()
	return holdRequestAs(t, url, "application/fhir+json", first, rest)
}

// holdRequestAs is holdRequest with a Content-Type of the caller's choosing.
func holdRequestAs(t *testing.T, url, contentType, first, rest string) func() int {
	t.Helper()
	b := &slowBody{first: []byte(first), rest: []byte(rest), release: make(chan struct{})}
	req, err := http.NewRequest("POST", url, b)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	done := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	time.Sleep(100 * time.Millisecond) // let the server start reading it
	return func() int { close(b.release); return <-done }
}

// TestConcurrencyCaps: with every turn taken, a request waits briefly and then answers 503
// with Retry-After, for requests served at once and for large bodies parsed at once; once
// the turn is given back, requests are served again.
func TestConcurrencyCaps(t *testing.T) {
	t.Parallel()
	body := `{"resourceType":"QuestionnaireResponse","status":"completed","item":[{"linkId":"` + strings.Repeat("x", 4000) + `"}]}`
	t.Run("requests in flight", func(t *testing.T) {
		t.Parallel()
		s := newTestServer(t, func(o *api.Options) { o.MaxInFlight, o.InFlightWait = 1, 50*time.Millisecond })
		finish := holdRequest(t, s.base+"/QuestionnaireResponse", body[:100], body[100:])
		retryable(t, s.do("GET", "/fhir/QuestionnaireResponse/x", nil), 503, "transient", "as many requests as it takes at once (1)")
		if st := finish(); st != 201 {
			t.Errorf("the held request: %d", st)
		}
		if r := s.do("GET", "/fhir/QuestionnaireResponse/x", nil); r.status != 404 {
			t.Errorf("after the turn was given back: %d %s", r.status, r.body)
		}
	})
	t.Run("searches take at most a quarter of the turns", func(t *testing.T) {
		t.Parallel()
		s := newTestServer(t, func(o *api.Options) { o.MaxInFlight, o.InFlightWait = 4, 50*time.Millisecond })
		finish := holdRequestAs(t, s.base+"/QuestionnaireResponse/_search", "application/x-www-form-urlencoded", "status=", "completed")
		retryable(t, s.do("GET", "/fhir/QuestionnaireResponse?status=completed", nil), 503, "transient", "as many searches as it takes at once (1)")
		if r := s.do("GET", "/fhir/QuestionnaireResponse/x", nil); r.status != 404 {
			t.Errorf("a read beside the searches: %d %s", r.status, r.body)
		}
		if st := finish(); st != 200 {
			t.Errorf("the held search: %d", st)
		}
	})
	t.Run("large bodies", func(t *testing.T) {
		t.Parallel()
		s := newTestServer(t, func(o *api.Options) {
			o.MaxLargeBodies, o.LargeBodyBytes, o.LargeBodyWait = 1, 2048, 50*time.Millisecond
		})
		finish := holdRequest(t, s.base+"/QuestionnaireResponse", body[:3000], body[3000:])
		retryable(t, s.do("POST", "/fhir/QuestionnaireResponse", []byte(body)), 503, "transient", "large request bodies")
		if r := s.do("POST", "/fhir/QuestionnaireResponse", []byte(qrMinimal)); r.status != 201 {
			t.Errorf("a small body while a large one is read: %d %s", r.status, r.body)
		}
		// Just under the large size, whatever the sizes of the reads that take it in.
		under := `{"resourceType":"QuestionnaireResponse","status":"completed","item":[{"linkId":"` + strings.Repeat("u", 1950) + `"}]}`
		if r := s.do("POST", "/fhir/QuestionnaireResponse", []byte(under)); r.status != 201 || len(under) > 2048 {
			t.Errorf("a body of %d bytes, under the large size, while a large one is read: %d %s", len(under), r.status, r.body)
		}
		if st := finish(); st != 201 {
			t.Errorf("the held request: %d", st)
		}
		if r := s.do("POST", "/fhir/QuestionnaireResponse", []byte(body)); r.status != 201 {
			t.Errorf("a large body after the turn was given back: %d %s", r.status, r.body)
		}
		// A large entry is read as part of its Bundle, in the Bundle's turn.
		for _, typ := range []string{"batch", "transaction"} {
			res := readBundleResponse(t, s.do("POST", "/fhir", bundleOf(typ, entry{resource: body, method: "POST", url: "QuestionnaireResponse"})), typ+"-response")
			if st := res.Entry[0].Response.Status; st != "201 Created" {
				t.Errorf("a large entry of a %s: %s %s", typ, st, res.Entry[0].Response.Outcome)
			}
		}
	})
}

// TestSearchDeadline: a search that takes longer than the server's bound answers 503 with
// Retry-After, not a 500 and not a hang.
func TestSearchDeadline(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, func(o *api.Options) { o.SearchTimeout = time.Nanosecond })
	s.mustCreate("QuestionnaireResponse", qrMinimal)
	retryable(t, s.do("GET", "/fhir/QuestionnaireResponse?status=completed", nil), 503, "transient", "in time")
	retryable(t, s.do("GET", "/fhir/QuestionnaireResponse/_history", nil), 503, "transient", "in time")
}

// TestIncludesBeyondTheCapAreReported: a page whose _include or _revinclude finds more than
// the server adds to one page includes that many and says, in an OperationOutcome entry,
// that it is incomplete; under the cap there is no such entry.
func TestIncludesBeyondTheCapAreReported(t *testing.T) {
	t.Parallel()
	s := newTestServerOn(t, store.Options{IDFiltersOnly: storetest.IsEmbedded(t), MaxIncluded: 2})
	var qs []string
	for i := range 3 {
		url := fmt.Sprintf("http://example.org/Questionnaire/q%d", i)
		s.mustCreate("Questionnaire", `{"resourceType":"Questionnaire","status":"active","url":"`+url+`"}`)
		qs = append(qs, url)
	}
	pid, _ := s.mustCreate("Questionnaire", `{"resourceType":"Questionnaire","status":"active","url":"http://example.org/Questionnaire/popular"}`)
	for _, q := range append(qs, "http://example.org/Questionnaire/popular", "http://example.org/Questionnaire/popular") {
		s.mustCreate("QuestionnaireResponse", `{"resourceType":"QuestionnaireResponse","status":"completed","questionnaire":"`+q+`"}`)
	}
	tests := []struct {
		name, query string
		included    int
		incomplete  bool
	}{
		{"include beyond the cap", "/fhir/QuestionnaireResponse?_count=10&_include=QuestionnaireResponse:questionnaire", 2, true},
		{"revinclude beyond the cap", "/fhir/Questionnaire?_count=10&_revinclude=QuestionnaireResponse:questionnaire", 2, true},
		{"revinclude within the cap", "/fhir/Questionnaire?_id=" + pid + "&_revinclude=QuestionnaireResponse:questionnaire", 2, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("GET", tc.query, nil)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			included := strings.Count(string(r.body), `"mode":"include"`)
			incomplete := strings.Contains(string(r.body), `"code":"incomplete"`)
			if included != tc.included || incomplete != tc.incomplete {
				t.Errorf("%d included, incomplete %v; want %d, %v: %s", included, incomplete, tc.included, tc.incomplete, r.body)
			}
		})
	}
}

// rawRequest sends text as the whole request on a connection of its own, closes the
// sending side, and returns the status and body of the answer.
func rawRequest(t *testing.T, addr, text string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, text); err != nil {
		t.Fatal(err)
	}
	_ = conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestBrokenBodiesAndQueriesAreTheClientsError: a body cut short or sent in a broken chunk,
// and search values with control characters or bytes that are not UTF-8, answer 400 with an
// OperationOutcome, never 500.
func TestBrokenBodiesAndQueriesAreTheClientsError(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	addr := strings.TrimPrefix(s.URL, "http://")
	head := "POST /fhir/QuestionnaireResponse HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/fhir+json\r\nConnection: close\r\n"
	bodies := []struct{ name, request, want string }{
		{"cut short", head + "Content-Length: 200\r\n\r\n" + `{"resourceType":"QuestionnaireResponse"`, "could not be read"},
		{"a broken chunk", head + "Transfer-Encoding: chunked\r\n\r\n" + "zz\r\n{}\r\n0\r\n\r\n", "could not be read"},
		{"a chunked body cut short", head + "Transfer-Encoding: chunked\r\n\r\n" + "40\r\n{\"resourceType\"", "could not be read"},
	}
	for _, tc := range bodies {
		t.Run(tc.name, func(t *testing.T) {
			status, body := rawRequest(t, addr, tc.request)
			if status != 400 || !strings.Contains(body, "OperationOutcome") || !strings.Contains(body, tc.want) {
				t.Errorf("%d %s", status, body)
			}
		})
	}
	queries := []struct{ name, query, want string }{
		{"a NUL in a string value", "name=a%00b", "control character"},
		{"a NUL in a token value", "identifier=urn:x|a%00", "control character"},
		{"a line break", "status=completed%0A", "control character"},
		{"bytes that are not UTF-8", "identifier=%C3%28%FF", "not UTF-8"},
		{"a control character in a name", "na%01me=x", "control character"},
	}
	for _, tc := range queries {
		t.Run(tc.name, func(t *testing.T) {
			outcome(t, s.do("GET", "/fhir/QuestionnaireResponse?"+tc.query, nil), 400, tc.want)
			outcome(t, s.do("POST", "/fhir/QuestionnaireResponse/_search", []byte(tc.query), "Content-Type", "application/x-www-form-urlencoded"), 400, tc.want)
			outcome(t, s.do("POST", "/fhir/QuestionnaireResponse", []byte(qrMinimal), "If-None-Exist", tc.query), 400, tc.want)
		})
	}
}
