package search

import (
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// seedQueries adds the searches the api tests run (over the shared corpus too) and a few of
// every parameter type to a fuzz target's seeds, as "Type?query".
func seedQueries(f *testing.F) {
	f.Helper()
	re := regexp.MustCompile(`"((?:QuestionnaireResponse|Questionnaire|CarePlan|AuditEvent)\?[^"]*)"`)
	for _, file := range []string{"../../api/search_corpus_test.go", "../../api/search_spec_test.go", "../../api/search_test.go"} {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, m := range re.FindAllSubmatch(data, -1) {
			f.Add(string(m[1]))
		}
	}
	for _, s := range []string{
		"QuestionnaireResponse?authored=ge2026-01-01&authored=lt2026-02-01T00:00:00Z&_sort=-authored&_count=5",
		"QuestionnaireResponse?subject:Patient=p1&_include=QuestionnaireResponse:questionnaire&_revinclude=*",
		"CarePlan?category=http://snomed.info/sct|734163000,|x&_summary=count&_total=accurate",
		"Questionnaire?url:below=http://example.org&version=1.0&title:contains=pain&_elements=title,status",
		"QuestionnaireResponse?_id=a,b&_lastUpdated=gt2026&status:not=completed&item-answer:missing=true",
		"AuditEvent?agent:identifier=u1&date=2026-03&outcome=4&entity=QuestionnaireResponse/x&_include:iterate=*",
	} {
		f.Add(s)
	}
}

// FuzzParse feeds arbitrary queries to the search parser: it never panics, refuses only with
// the errors a client may be given (400 or 404, never a 500), and what it accepts it writes as
// a canonical query that parses again to the same criteria.
//
//	go test -run XXX -fuzz FuzzParse -fuzztime 30s ./internal/search/
func FuzzParse(f *testing.F) {
	seedQueries(f)
	f.Fuzz(func(t *testing.T, text string) {
		typ, raw, ok := strings.Cut(text, "?")
		if !ok || registry[typ] == nil {
			typ, raw = "QuestionnaireResponse", text
		}
		q, err := url.ParseQuery(raw)
		if err != nil || CheckText(q) != nil {
			return // the HTTP layer answers these with 400 before parsing
		}
		opts := Options{DefaultCount: 20, MaxCount: 1000, Location: time.UTC}
		c, _, err := Parse(typ, q, opts)
		if err != nil {
			if k := fhir.ErrorKind(err); k != fhir.KindInvalid && k != fhir.KindNotFound && k != fhir.KindNotSupported {
				t.Fatalf("%s: error of kind %d (status %d): %v", text, k, k.Status(), err)
			}
			return
		}
		enc := c.Encode()
		q2, err := url.ParseQuery(enc)
		if err != nil {
			t.Fatalf("%s: the canonical query %q is not a query string: %v", text, enc, err)
		}
		c2, _, err := Parse(typ, q2, opts)
		if err != nil {
			t.Fatalf("%s: the canonical query %q does not parse: %v", text, enc, err)
		}
		if enc2 := c2.Encode(); enc2 != enc {
			t.Fatalf("%s: the canonical query changes when parsed again:\n%s\n%s", text, enc, enc2)
		}
	})
}
