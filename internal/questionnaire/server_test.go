package questionnaire_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/questionnaire"
	"github.com/patient-involvement/fhir-server/internal/servertest"
	"github.com/patient-involvement/fhir-server/internal/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// testServer is the real server, with the Questionnaire rules, on a fresh database, reached
// over HTTP.
type testServer struct {
	*servertest.Server
	t testing.TB
}

func newTestServer(t testing.TB, mode questionnaire.Mode) *testServer {
	t.Helper()
	return &testServer{Server: servertest.New(t, servertest.Options{Questionnaire: questionnaire.Options{Mode: mode}}), t: t}
}

// response is what a test reads of an answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// outcome is an OperationOutcome as the tests read it.
type outcome struct {
	ResourceType string       `json:"resourceType"`
	Issue        []fhir.Issue `json:"issue"`
}

func (r *response) outcome(t testing.TB) *outcome {
	t.Helper()
	var o outcome
	if err := json.Unmarshal(r.body, &o); err != nil || o.ResourceType != "OperationOutcome" {
		t.Fatalf("not an OperationOutcome (%v): %s", err, r.body)
	}
	return &o
}

func (r *response) json(t testing.TB) map[string]any {
	t.Helper()
	m, err := decode(r.body)
	if err != nil {
		t.Fatalf("not JSON: %v: %s", err, r.body)
	}
	return m
}

// do sends a request; headers come in pairs of name, value.
func (s *testServer) do(method, path string, body []byte, headers ...string) *response {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data}
}

// mustPut stores a resource under the id its body has, failing the test unless it is created.
func (s *testServer) mustPut(body []byte) {
	s.t.Helper()
	m, err := decode(body)
	if err != nil {
		s.t.Fatal(err)
	}
	path := "/fhir/" + m["resourceType"].(string) + "/" + m["id"].(string)
	if r := s.do(http.MethodPut, path, body); r.status != http.StatusCreated && r.status != http.StatusOK {
		s.t.Fatalf("PUT %s: %d %s", path, r.status, r.body)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	err := dec.Decode(&m)
	return m, err
}

func encode(t testing.TB, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edit changes a decoded resource at a path such as item[0].item[3].answer[0]: set puts a
// value there (a JSON text), del removes it, add appends the value to the array there.
type edit struct {
	op, path, value string
}

func set(path, value string) edit { return edit{"set", path, value} }
func del(path string) edit        { return edit{"del", path, ""} }
func add(path, value string) edit { return edit{"add", path, value} }

var segment = regexp.MustCompile(`^([A-Za-z_]+)(?:\[(\d+)\])?$`)

func apply(t testing.TB, m map[string]any, edits ...edit) map[string]any {
	t.Helper()
	for _, e := range edits {
		var val any
		if e.value != "" {
			dec := json.NewDecoder(strings.NewReader(e.value))
			dec.UseNumber()
			if err := dec.Decode(&val); err != nil {
				t.Fatalf("edit %s: %v", e.path, err)
			}
		}
		segs := strings.Split(e.path, ".")
		var cur any = m
		for i, seg := range segs {
			p := segment.FindStringSubmatch(seg)
			if p == nil {
				t.Fatalf("edit path %q: bad segment %q", e.path, seg)
			}
			obj, ok := cur.(map[string]any)
			if !ok {
				t.Fatalf("edit path %q: %q is not in an object", e.path, seg)
			}
			last := i == len(segs)-1
			if p[2] == "" {
				if !last {
					cur = obj[p[1]]
					continue
				}
				switch e.op {
				case "set":
					obj[p[1]] = val
				case "del":
					delete(obj, p[1])
				case "add":
					arr, _ := obj[p[1]].([]any)
					obj[p[1]] = append(arr, val)
				}
				continue
			}
			idx, _ := strconv.Atoi(p[2])
			arr, ok := obj[p[1]].([]any)
			if !ok || idx >= len(arr) {
				t.Fatalf("edit path %q: no %s", e.path, seg)
			}
			if !last {
				cur = arr[idx]
				continue
			}
			switch e.op {
			case "set":
				arr[idx] = val
			case "del":
				obj[p[1]] = append(arr[:idx:idx], arr[idx+1:]...)
				if len(obj[p[1]].([]any)) == 0 {
					delete(obj, p[1])
				}
			case "add":
				inner, _ := arr[idx].([]any)
				arr[idx] = append(inner, val)
			}
		}
	}
	return m
}

// says reports whether the answer is an OperationOutcome with an issue whose diagnostics
// contain msg ("" always holds).
func (r *response) says(msg string) bool {
	if msg == "" {
		return true
	}
	var o outcome
	if json.Unmarshal(r.body, &o) != nil {
		return false
	}
	for _, is := range o.Issue {
		if strings.Contains(is.Diagnostics, msg) {
			return true
		}
	}
	return false
}
