package questionnaire_test

import (
	"bytes"
	"io/fs"
	"net/http"
	"path"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/fixtures"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/generate"
	"github.com/patient-involvement/fhir-server/internal/questionnaire"
	"github.com/patient-involvement/fhir-server/internal/store"
	"github.com/patient-involvement/fhir-server/internal/store/storetest"
)

const lup = "https://fhir.patient-involvement.example/Questionnaire/lup-outpatient"

// fixtureFiles returns the fixture files of one type.
func fixtureFiles(t *testing.T, typ string) map[string][]byte {
	t.Helper()
	names, err := fs.Glob(fixtures.FS(), typ+"/*.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("no %s fixtures: %v", typ, err)
	}
	out := map[string][]byte{}
	for _, n := range names {
		b, err := fs.ReadFile(fixtures.FS(), n)
		if err != nil {
			t.Fatal(err)
		}
		out[path.Base(n)] = b
	}
	return out
}

// TestEveryFixtureResponsePasses stores the fixture Questionnaires, then each fixture
// response: every one is created without an error or warning about its Questionnaire.
func TestEveryFixtureResponsePasses(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, questionnaire.ModeStrict)
	for name, b := range fixtureFiles(t, "Questionnaire") {
		r := s.do(http.MethodPost, "/fhir/Questionnaire", b, "Prefer", "return=OperationOutcome")
		if r.status != http.StatusCreated || len(r.outcome(t).Issue) != 1 {
			t.Fatalf("%s: %d %s", name, r.status, r.body)
		}
	}
	for name, b := range fixtureFiles(t, "QuestionnaireResponse") {
		t.Run(name, func(t *testing.T) {
			r := s.do(http.MethodPost, "/fhir/QuestionnaireResponse", b, "Prefer", "return=OperationOutcome")
			if r.status != http.StatusCreated {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if is := r.outcome(t).Issue; len(is) != 1 {
				t.Errorf("issues besides the information: %s", r.body)
			}
		})
	}
}

// TestVersionsResolve: a response is checked against the version its canonical names, and
// a canonical without version resolves to the highest version stored.
func TestVersionsResolve(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, questionnaire.ModeStrict)
	qs := fixtureFiles(t, "Questionnaire")
	s.mustPut(qs["lup-outpatient-v1.json"])
	s.mustPut(qs["lup-outpatient-v2.json"])
	rs := fixtureFiles(t, "QuestionnaireResponse")
	v1, v2 := rs["qr-lup-001.json"], rs["qr-lup-007.json"] // answers of 1.0 and of 2.0
	tests := []struct {
		name      string
		body      []byte
		canonical string
		status    int
		message   string
	}{
		{"1.0 answers against 1.0", v1, lup + "|1.0", 201, ""},
		{"2.0 answers against 2.0", v2, lup + "|2.0", 201, ""},
		{"2.0 answers against 1.0", v2, lup + "|1.0", 422, `Item "respondent" is not in Questionnaire ` + lup + `|1.0`},
		{"2.0 answers against the url alone: the highest version", v2, lup, 201, ""},
		{"1.0 answers against the url alone", v1, lup, 201, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := decode(tc.body)
			if err != nil {
				t.Fatal(err)
			}
			apply(t, m, set("questionnaire", `"`+tc.canonical+`"`), del("id"))
			r := s.do(http.MethodPost, "/fhir/QuestionnaireResponse", encode(t, m))
			if r.status != tc.status || !r.says(tc.message) {
				t.Fatalf("status %d, want %d saying %q: %s", r.status, tc.status, tc.message, r.body)
			}
		})
	}
}

// TestQuestionnaireWritesInvalidate: the cached resolution and compiled Questionnaire
// follow every write of a Questionnaire: a new version, changed items, a delete.
func TestQuestionnaireWritesInvalidate(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, questionnaire.ModeStrict)
	q := readFile(t, allRules)
	s.mustPut(q)
	response, err := decode(readFile(t, allRulesResponse))
	if err != nil {
		t.Fatal(err)
	}
	bare := encode(t, apply(t, response, set("questionnaire", `"https://fhir.patient-involvement.example/Questionnaire/test-all-rules"`)))
	post := func(want int, saying string) {
		t.Helper()
		r := s.do(http.MethodPost, "/fhir/QuestionnaireResponse", bare)
		if r.status != want || !r.says(saying) {
			t.Fatalf("status %d, want %d saying %q: %s", r.status, want, saying, r.body)
		}
	}
	post(201, "") // resolved and cached

	// The draft gains a required item: the same response is now incomplete.
	m, _ := decode(q)
	apply(t, m, add("item", `{"linkId":"extra","text":"One more","type":"string","required":true}`))
	s.mustPut(encode(t, m))
	post(422, `Item "extra" ("One more") is required`)

	// A version 2.0 as another resource: the url alone now names it.
	apply(t, m, set("id", `"test-all-rules-2"`), set("version", `"2.0"`), del("item[5]"), set("item[3].extension[0].valueExpression.expression", `"1"`))
	s.mustPut(encode(t, m))
	post(422, "its calculatedExpression gives 1, the response says 6")

	// Deleted, version 1.0 is the highest again (with its required extra item).
	if r := s.do(http.MethodDelete, "/fhir/Questionnaire/test-all-rules-2", nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	post(422, `Item "extra" ("One more") is required`)
}

// TestGeneratedResponsesPass: the generator's made-up responses follow their
// Questionnaires, as the rules see them.
func TestGeneratedResponsesPass(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, questionnaire.ModeStrict)
	for _, b := range fixtureFiles(t, "Questionnaire") {
		s.mustPut(b)
	}
	var buf bytes.Buffer
	st, err := generate.Write(&buf, fixtures.FS(), generate.Options{Patients: 6, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		if !bytes.Contains(line, []byte(`"resourceType":"QuestionnaireResponse"`)) {
			continue
		}
		checked++
		if r := s.do(http.MethodPost, "/fhir/QuestionnaireResponse", line, "Prefer", "return=OperationOutcome"); r.status != http.StatusCreated || len(r.outcome(t).Issue) != 1 {
			t.Errorf("%d %s\n%.400s", r.status, r.body, line)
		}
	}
	if checked != st.Responses || checked == 0 {
		t.Errorf("%d responses checked, %d generated", checked, st.Responses)
	}
}

// TestResolverTTL: on MongoDB another server may write a Questionnaire without this one
// hearing of it; the versions known of a url are asked again once the TTL has passed.
func TestResolverTTL(t *testing.T) {
	t.Parallel()
	registry := fhir.DefaultRegistry()
	st, err := store.New(storetest.NewDatabase(t), registry, store.Options{IDFiltersOnly: storetest.IsEmbedded(t)})
	if err != nil {
		t.Fatal(err)
	}
	other, err := fhir.NewService(st, registry) // another server's writes: this resolver is not told
	if err != nil {
		t.Fatal(err)
	}
	const ttl = 300 * time.Millisecond
	r := questionnaire.NewResolver(st, ttl)
	url := "https://fhir.patient-involvement.example/Questionnaire/test-all-rules"
	resolve := func() string {
		t.Helper()
		res, err := r.Resolve(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		if res.Checker == nil {
			return "none"
		}
		return res.Checker.Version
	}
	start := time.Now() // the cached answer is made after this, so it stands at least until start+ttl
	if got := resolve(); got != "none" {
		t.Fatalf("before any write: %s", got)
	}
	if _, err := other.Update(t.Context(), "Questionnaire", "test-all-rules", readFile(t, allRules), nil); err != nil {
		t.Fatal(err)
	}
	got := resolve()
	// Only a resolve that ended within the TTL must see the cached answer: on a busy machine
	// the write may take longer than the TTL.
	if within := time.Since(start) < ttl; within && got != "none" {
		t.Errorf("within the TTL the cached answer stands, got %s", got)
	} else if !within {
		t.Logf("the write took longer than the TTL (%s): the cached answer is not checked", ttl)
	}
	time.Sleep(ttl + 50*time.Millisecond)
	if got := resolve(); got != "1.0" {
		t.Errorf("after the TTL: %s, want 1.0", got)
	}
}
