package loader_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/patient-involvement/fhir-server/fixtures"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/loader"
	"github.com/patient-involvement/fhir-server/internal/servertest"
	"github.com/patient-involvement/fhir-server/internal/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

var discard = slog.New(slog.DiscardHandler)

// targets are the two ways of loading, each on a fresh server.
var targets = []struct {
	name string
	new  func(t *testing.T, srv *servertest.Server) loader.Target
}{
	{"http", func(t *testing.T, srv *servertest.Server) loader.Target {
		tg, err := loader.NewHTTPTarget(srv.Base, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}},
	{"http batch", func(t *testing.T, srv *servertest.Server) loader.Target {
		tg, err := loader.NewHTTPTarget(srv.Base, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		return loader.NewBatchTarget(tg, 3)
	}},
	{"service", func(t *testing.T, srv *servertest.Server) loader.Target {
		tg, err := loader.NewServiceTarget(srv.Service, srv.Searcher)
		if err != nil {
			t.Fatal(err)
		}
		withBundles, err := tg.WithBundles(srv.Handler)
		if err != nil {
			t.Fatal(err)
		}
		return withBundles
	}},
}

func load(t *testing.T, target loader.Target, inputs []loader.Input) (*loader.Summary, error) {
	t.Helper()
	l, err := loader.New(target, loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return l.Load(t.Context(), inputs)
}

func fixtureInputs(t *testing.T) []loader.Input {
	t.Helper()
	in, err := loader.FSInputs(fixtures.FS(), ".", "fixtures")
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// writeFiles writes files (path -> content) under a new folder and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func paths(t *testing.T, dir string, names ...string) []loader.Input {
	t.Helper()
	var ps []string
	for _, n := range names {
		ps = append(ps, filepath.Join(dir, filepath.FromSlash(n)))
	}
	in, err := loader.Paths(ps, nil)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// version returns the current version of typ/id.
func version(t *testing.T, svc *fhir.Service, typ, id string) int64 {
	t.Helper()
	r, err := svc.Read(t.Context(), typ, id)
	if err != nil {
		t.Fatalf("read %s/%s: %v", typ, id, err)
	}
	return r.VersionID
}

func TestLoadFixturesTwiceIsIdempotent(t *testing.T) {
	t.Parallel()
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			srv := servertest.New(t)
			target := tg.new(t, srv)

			first, err := load(t, target, fixtureInputs(t))
			if err != nil {
				t.Fatalf("first load: %v", err)
			}
			if got, want := first.Total(), (loader.Counts{Created: 50}); got != want {
				t.Errorf("first load: %+v, want %+v", got, want)
			}
			for typ, want := range map[string]int{"Questionnaire": 6, "QuestionnaireResponse": 37, "CarePlan": 7} {
				if c := first.Types[typ]; c == nil || c.Created != want {
					t.Errorf("first load created %+v %s, want %d", c, typ, want)
				}
			}

			second, err := load(t, target, fixtureInputs(t))
			if err != nil {
				t.Fatalf("second load: %v", err)
			}
			if got, want := second.Total(), (loader.Counts{Unchanged: 50}); got != want {
				t.Errorf("second load: %+v, want %+v", got, want)
			}
			err = fs.WalkDir(fixtures.FS(), ".", func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				typ, id := filepath.Dir(p), strings.TrimSuffix(filepath.Base(p), ".json")
				if v := version(t, srv.Service, typ, id); v != 1 {
					t.Errorf("%s/%s is at version %d after loading twice, want 1", typ, id, v)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

const (
	questionnaire = `{"resourceType":"Questionnaire","url":"https://example.org/Questionnaire/q","version":"2","status":"active",
"item":[{"linkId":"1","type":"integer","text":"How many?"}]}`
	response = `{"resourceType":"QuestionnaireResponse","identifier":{"system":"https://example.org/sid","value":"r-%d"},
"questionnaire":"https://example.org/Questionnaire/q|2","status":"completed","item":[{"linkId":"1","answer":[{"valueInteger":%d}]}]}`
	carePlan = `{"resourceType":"CarePlan","id":"cp-%d","status":"active","intent":"plan","subject":{"reference":"Patient/p%d"}}`
)

func compact(s string) string { return strings.ReplaceAll(s, "\n", "") }

func TestLoadFormats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		load  []string
		want  map[string]loader.Counts
		// again is the outcome of loading the same files again: all unchanged unless set.
		again *loader.Counts
	}{
		{
			name:  "resource with an id",
			files: map[string]string{"cp.json": fmt.Sprintf(carePlan, 1, 1)},
			load:  []string{"cp.json"},
			want:  map[string]loader.Counts{"CarePlan": {Created: 1}},
		},
		{
			name:  "canonical resource without id, placed by url and version",
			files: map[string]string{"q.json": questionnaire},
			load:  []string{"q.json"},
			want:  map[string]loader.Counts{"Questionnaire": {Created: 1}},
		},
		{
			name: "collection bundle",
			files: map[string]string{"b.json": `{"resourceType":"Bundle","type":"collection","entry":[
{"resource":` + questionnaire + `},{"resource":` + fmt.Sprintf(response, 1, 3) + `},{"resource":` + fmt.Sprintf(carePlan, 1, 1) + `}]}`},
			load: []string{"b.json"},
			want: map[string]loader.Counts{"Questionnaire": {Created: 1}, "QuestionnaireResponse": {Created: 1}, "CarePlan": {Created: 1}},
		},
		{
			name: "transaction bundle with urn:uuid entries and no ids",
			files: map[string]string{"tx.json": `{"resourceType":"Bundle","type":"transaction","entry":[
{"fullUrl":"urn:uuid:8d2f5a56-1c4b-4f0e-9a57-0f3a3c1b2e11","resource":{"resourceType":"CarePlan","status":"draft","intent":"plan","subject":{"reference":"Patient/p1"}},
 "request":{"method":"POST","url":"CarePlan"}},
{"fullUrl":"urn:uuid:1b7e3d0c-2f4a-4c55-8a8e-6c2d9b0e4f22","resource":{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/p2"}},
 "request":{"method":"POST","url":"CarePlan"}}]}`},
			load: []string{"tx.json"},
			want: map[string]loader.Counts{"CarePlan": {Created: 2}},
			// Sent as the transaction it is: its plain creates create again.
			again: &loader.Counts{Created: 2},
		},
		{
			name: "transaction bundle with conditional creates and a reference between them",
			files: map[string]string{"tx.json": `{"resourceType":"Bundle","type":"transaction","entry":[
{"fullUrl":"urn:uuid:8d2f5a56-1c4b-4f0e-9a57-0f3a3c1b2e33","resource":` + fmt.Sprintf(response, 7, 1) + `,
 "request":{"method":"POST","url":"QuestionnaireResponse","ifNoneExist":"identifier=https://example.org/sid|r-7"}},
{"resource":{"resourceType":"CarePlan","id":"cp-tx","status":"active","intent":"plan","subject":{"reference":"Patient/p2"},"supportingInfo":[{"reference":"urn:uuid:8d2f5a56-1c4b-4f0e-9a57-0f3a3c1b2e33"}]},
 "request":{"method":"PUT","url":"CarePlan/cp-tx"}}]}`},
			load: []string{"tx.json"},
			want: map[string]loader.Counts{"QuestionnaireResponse": {Created: 1}, "CarePlan": {Created: 1}},
			// The response is found again; the plan's update writes a new version.
			again: &loader.Counts{Unchanged: 1, Updated: 1},
		},
		{
			name: "searchset bundle",
			files: map[string]string{"s.json": `{"resourceType":"Bundle","type":"searchset","total":2,"entry":[
{"fullUrl":"http://elsewhere.example/fhir/CarePlan/cp-1","resource":` + fmt.Sprintf(carePlan, 1, 1) + `,"search":{"mode":"match"}},
{"fullUrl":"http://elsewhere.example/fhir/CarePlan/cp-2","resource":` + fmt.Sprintf(carePlan, 2, 2) + `,"search":{"mode":"match"}}]}`},
			load: []string{"s.json"},
			want: map[string]loader.Counts{"CarePlan": {Created: 2}},
		},
		{
			name: "NDJSON with blank lines",
			files: map[string]string{"data.ndjson": compact(questionnaire) + "\n\n" + fmt.Sprintf(compact(response), 1, 1) + "\n" +
				fmt.Sprintf(compact(response), 2, 5) + "\r\n" + fmt.Sprintf(carePlan, 3, 3) + "\n"},
			load: []string{"data.ndjson"},
			want: map[string]loader.Counts{"Questionnaire": {Created: 1}, "QuestionnaireResponse": {Created: 2}, "CarePlan": {Created: 1}},
		},
		{
			name: "folder, recursively, without hidden or other files",
			files: map[string]string{
				"data/q.json":             questionnaire,
				"data/more/r.ndjson":      fmt.Sprintf(compact(response), 1, 1),
				"data/more/deeper/c.json": fmt.Sprintf(carePlan, 1, 1),
				"data/notes.txt":          "not FHIR",
				"data/.git/x.json":        "{broken",
				"data/.hidden.json":       "{broken",
			},
			load: []string{"data"},
			want: map[string]loader.Counts{"Questionnaire": {Created: 1}, "QuestionnaireResponse": {Created: 1}, "CarePlan": {Created: 1}},
		},
		{
			name: "the same resource in two files: the later one wins",
			files: map[string]string{
				"a.json": fmt.Sprintf(carePlan, 1, 1),
				"b.json": strings.Replace(fmt.Sprintf(carePlan, 1, 1), "active", "completed", 1),
			},
			load: []string{"a.json", "b.json"},
			want: map[string]loader.Counts{"CarePlan": {Created: 1, Updated: 1}},
			// Files that disagree about a resource are not idempotent: each load writes both.
			again: &loader.Counts{Updated: 2},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := servertest.New(t)
			target, err := loader.NewHTTPTarget(srv.Base, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			dir := writeFiles(t, tc.files)
			sum, err := load(t, target, paths(t, dir, tc.load...))
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			for typ, want := range tc.want {
				if got := sum.Types[typ]; got == nil || *got != want {
					t.Errorf("%s: %+v, want %+v", typ, got, want)
				}
			}
			if len(sum.Types) != len(tc.want) {
				t.Errorf("types loaded: %v, want %v", sum.Types, tc.want)
			}

			// Loading again finds every resource under the same id and writes nothing.
			again, err := load(t, target, paths(t, dir, tc.load...))
			if err != nil {
				t.Fatalf("second load: %v", err)
			}
			want := loader.Counts{Unchanged: sum.Total().Total()}
			if tc.again != nil {
				want = *tc.again
			}
			if got := again.Total(); got != want {
				t.Errorf("second load: %+v, want %+v", got, want)
			}
		})
	}
}

func TestLoadReportsFailures(t *testing.T) {
	t.Parallel()
	good := fmt.Sprintf(carePlan, 1, 1)
	tests := []struct {
		name   string
		file   string // its name says which format it is
		data   string
		loaded int      // resources that still load
		want   []string // in the error, beside the file name
	}{
		{
			name: "not JSON", file: "broken.json", data: "{\"resourceType\": \"CarePlan\",\n  \"status\": }",
			want: []string{"broken.json: not a JSON object: invalid character '}' looking for beginning of value (line 2, column 13)"},
		},
		{
			name: "invalid resource, with the server's diagnostics", file: "invalid.json",
			data: `{"resourceType":"CarePlan","id":"cp-bad","status":"sleeping","intent":"plan","subject":{"reference":"Patient/p1"}}`,
			want: []string{"invalid.json (CarePlan/cp-bad): HTTP 400", "sleeping"},
		},
		{
			name: "bundle with one bad entry", file: "bundle.json", loaded: 2,
			data: `{"resourceType":"Bundle","type":"collection","entry":[{"resource":` + good + `},
{"resource":{"resourceType":"CarePlan","id":"cp-2","status":"active","intent":"plan","subject":{"reference":"Patient/p2"},"unknownElement":1}},
{"resource":` + fmt.Sprintf(carePlan, 3, 3) + `},{"request":{"method":"DELETE","url":"CarePlan/cp-9"}}]}`,
			want: []string{"bundle.json#entry[1] (CarePlan/cp-2): HTTP 400", "unknownElement", "bundle.json#entry[3]: the entry has no resource"},
		},
		{
			name: "NDJSON with a bad line", file: "data.ndjson", loaded: 2,
			data: good + "\n{\"resourceType\":\"CarePlan\",\n" + fmt.Sprintf(carePlan, 2, 2) + "\n",
			want: []string{"data.ndjson:2: not a JSON object: unexpected end of JSON input (column 27)"},
		},
		{
			name: "type the server does not serve", file: "patient.json",
			data: `{"resourceType":"Patient","id":"p1"}`,
			want: []string{"patient.json (Patient/p1): HTTP 404", "does not serve Patient"},
		},
		{
			name: "no stable identity", file: "anonymous.json",
			data: `{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/p1"}}`,
			want: []string{"anonymous.json (CarePlan): the resource has no id, no url and no identifier"},
		},
		{
			name: "invalid id", file: "bad-id.json",
			data: `{"resourceType":"CarePlan","id":"no spaces allowed","status":"active","intent":"plan","subject":{"reference":"Patient/p1"}}`,
			want: []string{"bad-id.json (CarePlan): id \"no spaces allowed\" is not a valid FHIR id"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := servertest.New(t)
			target, err := loader.NewHTTPTarget(srv.Base, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			dir := writeFiles(t, map[string]string{"ok.json": fmt.Sprintf(carePlan, 100, 100), tc.file: tc.data})
			sum, err := load(t, target, paths(t, dir, "ok.json", tc.file))
			var failed *loader.FailedError
			if !errors.As(err, &failed) {
				t.Fatalf("error %v (%T), want a *loader.FailedError", err, err)
			}
			msg := err.Error()
			for _, w := range append([]string{tc.file}, tc.want...) {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not mention %q:\n%s", w, msg)
				}
			}
			if got, want := sum.Total().Created, 1+tc.loaded; got != want {
				t.Errorf("%d resources created, want %d (the good ones load despite the bad)", got, want)
			}
			if got := sum.Total().Failed; got != len(failed.Failures) || got == 0 {
				t.Errorf("summary counts %d failed, the error lists %d", got, len(failed.Failures))
			}
		})
	}
}

func TestLoadWritesANewVersionOnlyWhenChanged(t *testing.T) {
	t.Parallel()
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			srv := servertest.New(t)
			target := tg.new(t, srv)
			dir := writeFiles(t, map[string]string{"q.json": questionnaire})
			steps := []struct {
				content string
				want    loader.Counts
				version int64
			}{
				{questionnaire, loader.Counts{Created: 1}, 1},
				{strings.Replace(questionnaire, `"status":"active"`, `"status":"retired"`, 1), loader.Counts{Updated: 1}, 2},
				// Whitespace, member order and a client's meta.versionId are not changes.
				{strings.Replace(strings.Replace(questionnaire, `"status":"active"`, "\n  \"status\" : \"retired\"", 1),
					`{"resourceType":"Questionnaire",`, `{"meta":{"versionId":"7"},"resourceType":"Questionnaire",`, 1), loader.Counts{Unchanged: 1}, 2},
			}
			for i, step := range steps {
				if err := os.WriteFile(filepath.Join(dir, "q.json"), []byte(step.content), 0o644); err != nil {
					t.Fatal(err)
				}
				sum, err := load(t, target, paths(t, dir, "q.json"))
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if got := sum.Total(); got != step.want {
					t.Errorf("step %d: %+v, want %+v", i, got, step.want)
				}
				page, err := srv.Service.History(t.Context(), fhir.HistoryQuery{Type: "Questionnaire", Count: 10})
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Versions) != int(step.version) || page.Versions[0].VersionID != step.version {
					t.Errorf("step %d: %d versions, newest %d; want %d", i, len(page.Versions), page.Versions[0].VersionID, step.version)
				}
			}
		})
	}
}

func TestHTTPTargetStopsOnRefusedCredentials(t *testing.T) {
	t.Parallel()
	var calls, withToken atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") == "Bearer s3cret" {
			withToken.Add(1)
		}
		w.Header().Set("Content-Type", "application/fhir+json")
		if r.URL.Path == "/fhir/metadata" {
			_, _ = io.WriteString(w, `{"resourceType":"CapabilityStatement","fhirVersion":"4.0.1"}`)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"login","diagnostics":"The token has expired"}]}`)
	}))
	t.Cleanup(srv.Close)
	target, err := loader.NewHTTPTarget(srv.URL+"/fhir/", "s3cret", nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := loader.New(target, loader.Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Load(t.Context(), fixtureInputs(t))
	var failed *loader.FailedError
	if err == nil || errors.As(err, &failed) || !strings.Contains(err.Error(), "The token has expired") || !strings.Contains(err.Error(), "--token") {
		t.Fatalf("error %v, want the load stopped with the server's diagnostics", err)
	}
	if n := calls.Load(); n > 5 {
		t.Errorf("%d requests after the credentials were refused, want the load to stop at once", n)
	}
	if withToken.Load() != calls.Load() {
		t.Errorf("%d of %d requests carried the bearer token", withToken.Load(), calls.Load())
	}
}

func TestHTTPTargetChecksTheBaseURL(t *testing.T) {
	t.Parallel()
	srv := servertest.New(t)
	target, err := loader.NewHTTPTarget(strings.TrimSuffix(srv.Base, "/fhir"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = load(t, target, fixtureInputs(t))
	if err == nil || !strings.Contains(err.Error(), "the FHIR base URL") {
		t.Fatalf("error %v, want a hint about the base URL", err)
	}
	if _, err := loader.NewHTTPTarget("localhost:8080/fhir", "", nil); err == nil {
		t.Error("a URL without scheme was accepted")
	}
}

func TestPathsRejectsMissingPaths(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"empty/readme.txt": "nothing here"})
	for _, p := range []string{filepath.Join(dir, "missing.json"), filepath.Join(dir, "empty")} {
		if _, err := loader.Paths([]string{p}, nil); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("Paths(%s): error %v, want one naming the path", p, err)
		}
	}
}

func TestDemoLoadsOnFirstStartOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		before   string // a Questionnaire already in the database, or ""
		wantLoad bool
	}{
		{name: "empty database", wantLoad: true},
		{name: "database with the user's own questionnaire", before: questionnaire, wantLoad: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := servertest.NewBackend(t)
			svc := b.Service
			if tc.before != "" {
				if _, err := svc.Create(t.Context(), "Questionnaire", []byte(tc.before)); err != nil {
					t.Fatal(err)
				}
			}
			loaded, err := loader.Demo(t.Context(), svc, b.Searcher, discard)
			if err != nil || loaded != tc.wantLoad {
				t.Fatalf("first start: loaded %v, %v; want %v", loaded, err, tc.wantLoad)
			}
			_, err = svc.Read(t.Context(), "CarePlan", "careplan-copd-erik-andersson")
			if tc.wantLoad && err != nil {
				t.Errorf("demo CarePlan not loaded: %v", err)
			}
			if !tc.wantLoad && !fhir.IsKind(err, fhir.KindNotFound) {
				t.Errorf("demo CarePlan loaded into a database with data: %v", err)
			}
			if !tc.wantLoad {
				return
			}
			// A later start, after a demo resource was deleted, leaves the database alone.
			if _, err := svc.Delete(t.Context(), "CarePlan", "careplan-copd-erik-andersson", nil); err != nil {
				t.Fatal(err)
			}
			loaded, err = loader.Demo(t.Context(), svc, b.Searcher, discard)
			if err != nil || loaded {
				t.Fatalf("second start: loaded %v, %v; want nothing loaded", loaded, err)
			}
			if _, err := svc.Read(t.Context(), "CarePlan", "careplan-copd-erik-andersson"); !fhir.IsKind(err, fhir.KindGone) {
				t.Errorf("second start brought back a deleted demo resource: %v", err)
			}
			page, err := svc.History(t.Context(), fhir.HistoryQuery{Type: "Questionnaire", Count: 100})
			if err != nil || len(page.Versions) != 6 {
				t.Errorf("questionnaire history has %d versions (%v), want the 6 demo questionnaires once", len(page.Versions), err)
			}
		})
	}
}

func TestLoadWithoutIDsFindsTheSameResourcesEitherWay(t *testing.T) {
	t.Parallel()
	srv := servertest.New(t)
	dir := writeFiles(t, map[string]string{"data.ndjson": compact(questionnaire) + "\n" +
		fmt.Sprintf(compact(response), 1, 1) + "\n" + fmt.Sprintf(compact(response), 2, 5) + "\n"})
	tests := []struct {
		target string
		want   loader.Counts
	}{
		{"http", loader.Counts{Created: 3}},
		{"service", loader.Counts{Unchanged: 3}},
		{"http", loader.Counts{Unchanged: 3}},
	}
	for i, tc := range tests {
		var target loader.Target
		for _, tg := range targets {
			if tg.name == tc.target {
				target = tg.new(t, srv)
			}
		}
		sum, err := load(t, target, paths(t, dir, "data.ndjson"))
		if err != nil {
			t.Fatalf("load %d (%s): %v", i, tc.target, err)
		}
		if got := sum.Total(); got != tc.want {
			t.Errorf("load %d (%s): %+v, want %+v", i, tc.target, got, tc.want)
		}
	}
	for typ, want := range map[string]int{"Questionnaire": 1, "QuestionnaireResponse": 2} {
		page, err := srv.Service.History(t.Context(), fhir.HistoryQuery{Type: typ, Count: 10})
		if err != nil || len(page.Versions) != want {
			t.Errorf("%s: %d versions (%v), want %d: one copy each, written once", typ, len(page.Versions), err, want)
		}
	}
}

func TestLoadRefusesAmbiguousIdentifiers(t *testing.T) {
	t.Parallel()
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			srv := servertest.New(t)
			for range 2 {
				if _, err := srv.Service.Create(t.Context(), "QuestionnaireResponse", []byte(fmt.Sprintf(response, 1, 1))); err != nil {
					t.Fatal(err)
				}
			}
			dir := writeFiles(t, map[string]string{"r.json": fmt.Sprintf(response, 1, 2)})
			sum, err := load(t, tg.new(t, srv), paths(t, dir, "r.json"))
			var failed *loader.FailedError
			if !errors.As(err, &failed) || !strings.Contains(err.Error(), "HTTP 412") || !strings.Contains(err.Error(), "QuestionnaireResponse") {
				t.Fatalf("error %v, want the resource refused with 412", err)
			}
			if got := sum.Total(); got != (loader.Counts{Failed: 1}) {
				t.Errorf("%+v, want one failure", got)
			}
		})
	}
}

// TestLoadSendsTransactionsWhole: a transaction file is stored all or nothing, whichever
// way it is loaded; one entry the server refuses fails every entry, and stores none.
func TestLoadSendsTransactionsWhole(t *testing.T) {
	t.Parallel()
	tx := func(status string) string {
		return `{"resourceType":"Bundle","type":"transaction","entry":[
{"fullUrl":"urn:uuid:8d2f5a56-1c4b-4f0e-9a57-0f3a3c1b2e44","resource":{"resourceType":"QuestionnaireResponse","status":"completed","subject":{"reference":"Patient/p1"}},"request":{"method":"POST","url":"QuestionnaireResponse"}},
{"resource":{"resourceType":"CarePlan","id":"cp-whole","status":"` + status + `","intent":"plan","subject":{"reference":"Patient/p1"},"supportingInfo":[{"reference":"urn:uuid:8d2f5a56-1c4b-4f0e-9a57-0f3a3c1b2e44"}]},"request":{"method":"PUT","url":"CarePlan/cp-whole"}}]}`
	}
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			srv := servertest.New(t)
			target := tg.new(t, srv)
			dir := writeFiles(t, map[string]string{"bad.json": tx("bogus"), "good.json": tx("active")})
			sum, err := load(t, target, paths(t, dir, "bad.json"))
			var failed *loader.FailedError
			if !errors.As(err, &failed) || len(failed.Failures) != 2 || !strings.Contains(err.Error(), "bogus") {
				t.Fatalf("a refused transaction: %v", err)
			}
			if got := sum.Total(); got != (loader.Counts{Failed: 2}) {
				t.Errorf("a refused transaction: %+v", got)
			}
			if _, err := srv.Service.Read(t.Context(), "CarePlan", "cp-whole"); !fhir.IsKind(err, fhir.KindNotFound) {
				t.Errorf("the refused transaction's plan: %v", err)
			}
			sum, err = load(t, target, paths(t, dir, "good.json"))
			if err != nil {
				t.Fatalf("a transaction: %v", err)
			}
			if got := sum.Total(); got != (loader.Counts{Created: 2}) {
				t.Errorf("a transaction: %+v", got)
			}
			plan, err := srv.Service.Read(t.Context(), "CarePlan", "cp-whole")
			if err != nil || !strings.Contains(string(plan.Raw), `"supportingInfo":[{"reference":"QuestionnaireResponse/`) {
				t.Fatalf("the transaction's plan: %v", err)
			}
		})
	}
}
