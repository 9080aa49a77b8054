package fhir

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf8"
)

// maxSeedBytes leaves the largest corpus files out of the seeds: the fuzzer mutates each
// seed many times, and an instrumented run over a megabyte takes seconds.
const maxSeedBytes = 32 << 10

// seedResources adds the project's fixtures and, when it is beside the repository, the
// shared corpus (and its invalid files) to a fuzz target's seed corpus.
func seedResources(f *testing.F) {
	f.Helper()
	for _, pattern := range []string{
		"../../fixtures/*/*.json",
		"../../../shared/fhir-corpus/*/*.json",
		"../../../shared/fhir-corpus/invalid/*/*.json",
	} {
		files, _ := filepath.Glob(pattern) // none when the shared corpus is absent
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil && len(data) <= maxSeedBytes {
				f.Add(data)
			}
		}
	}
	for _, s := range []string{
		`{}`, `{"resourceType":"QuestionnaireResponse","status":"completed"}`,
		`{"resourceType":"QuestionnaireResponse","status":"completed","contained":[{"resourceType":"Patient","id":"p"}],"subject":{"reference":"#p"}}`,
		`{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/a"},"period":{"start":"2026-01-01T00:00:00Z"}}`,
		"{\"resourceType\":\"Questionnaire\",\"status\":\"draft\",\"title\":\"\\ud83d\\ude00 \xe2\x82\xac\"}",
		`[1,2,{"a":-0.5e+3}]`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
}

// FuzzParseBody feeds arbitrary bytes to the body parser and validator: it never panics,
// what it accepts is valid UTF-8 JSON, and the stored form it builds parses again to the same
// resource.
//
//	go test -run XXX -fuzz FuzzParseBody -fuzztime 30s ./internal/fhir/
func FuzzParseBody(f *testing.F) {
	seedResources(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBody(data, "")
		if err != nil {
			if ErrorKind(err) != KindInvalid && ErrorKind(err) != KindTooLarge {
				t.Fatalf("error of kind %d (status %d), want 400 or 413: %v", ErrorKind(err), ErrorKind(err).Status(), err)
			}
			return
		}
		if !json.Valid(data) || !utf8.Valid(data) {
			t.Fatalf("accepted a body that is not UTF-8 JSON: %q", data)
		}
		r, err := b.Version("fuzz-1", 3, time.Unix(1700000000, 0), "PUT")
		if err != nil {
			t.Fatalf("Version of an accepted body: %v", err)
		}
		again, err := ParseBody(r.Raw, b.Type)
		if err != nil {
			t.Fatalf("the stored form does not parse again: %v\n%s", err, r.Raw)
		}
		r2, err := again.Version("fuzz-1", 3, time.Unix(1700000000, 0), "PUT")
		if err != nil || !bytes.Equal(r.Raw, r2.Raw) {
			t.Fatalf("the stored form changes when stored again (%v):\n%s\n%s", err, r.Raw, r2.Raw)
		}
	})
}

// FuzzCheckJSON compares the strict JSON check with encoding/json: it accepts nothing that
// encoding/json refuses, and refuses valid JSON only for the reasons it gives (bytes that are
// not UTF-8, lone surrogates, the bounds).
//
//	go test -run XXX -fuzz FuzzCheckJSON -fuzztime 30s ./internal/fhir/
func FuzzCheckJSON(f *testing.F) {
	seedResources(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		err := checkJSON(data, 1<<30)
		valid := json.Valid(data)
		if err == nil && !valid {
			t.Fatalf("accepted what encoding/json refuses: %q", data)
		}
		if err != nil && valid && utf8.Valid(data) && !bytes.Contains(data, []byte(`\u`)) && !bytes.Contains(data, []byte(`\U`)) {
			if ErrorKind(err) != KindInvalid {
				t.Fatalf("kind %d: %v", ErrorKind(err), err)
			}
			if !bytes.Contains([]byte(err.Error()), []byte("nested deeper")) {
				t.Fatalf("refused valid UTF-8 JSON without escapes: %v\n%q", err, data)
			}
		}
	})
}
