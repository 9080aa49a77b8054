package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// corpusDir is the shared corpus of real FHIR R4 resources beside the repository.
const corpusDir = "../../shared/fhir-corpus"

func corpus(t *testing.T, sub string) []string {
	t.Helper()
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("shared corpus %s is not present: %v", corpusDir, err)
	}
	files, err := filepath.Glob(filepath.Join(corpusDir, sub, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no files in %s: %v", sub, err)
	}
	return files
}

func decode(t *testing.T, data []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // compare numbers by their literal text: 1.10 must stay 1.10
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return m
}

// withoutServerFields drops what the server owns: id, meta.versionId, meta.lastUpdated.
func withoutServerFields(m map[string]any) map[string]any {
	delete(m, "id")
	if meta, ok := m["meta"].(map[string]any); ok {
		delete(meta, "versionId")
		delete(meta, "lastUpdated")
		if len(meta) == 0 {
			delete(m, "meta")
		}
	}
	return m
}

// breaksAnInvariant are the corpus files the JSON schema and the structure definitions
// accept but an R4 invariant the server checks refuses, with the server's words for it.
var breaksAnInvariant = map[string]string{
	// A QuestionnaireResponse contained as test data, without an id and referred to from
	// nowhere: R4 dom-3 (error) says a contained resource SHALL be referred to from the
	// resource or refer to it, and nothing can refer to one without an id.
	"lforms__expression-on-data-from-prepopulation.json": "Questionnaire.contained[0] has no id",
}

func TestCorpusRoundTrip(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	for _, typ := range []string{"Questionnaire", "QuestionnaireResponse", "CarePlan"} {
		for _, f := range corpus(t, typ) {
			t.Run(typ+"/"+filepath.Base(f), func(t *testing.T) {
				original, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if want, ok := breaksAnInvariant[filepath.Base(f)]; ok {
					outcome(t, s.do("POST", "/fhir/"+typ, original), http.StatusBadRequest, want)
					return
				}
				r := s.do("POST", "/fhir/"+typ, original)
				if r.status != http.StatusCreated {
					t.Fatalf("create: %d %s", r.status, r.body)
				}
				id := r.json(t)["id"].(string)
				got := s.do("GET", "/fhir/"+typ+"/"+id, nil)
				if got.status != http.StatusOK {
					t.Fatalf("read: %d %s", got.status, got.body)
				}
				want := withoutServerFields(decode(t, original))
				have := withoutServerFields(decode(t, got.body))
				if !reflect.DeepEqual(want, have) {
					wb, _ := json.MarshalIndent(want, "", " ")
					hb, _ := json.MarshalIndent(have, "", " ")
					t.Errorf("read differs from what was sent (apart from id/meta)\nsent: %.2000s\nread: %.2000s", wb, hb)
				}
			})
		}
	}
}

func TestCorpusInvalidIsRejected(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	// Each file's known defect (see the corpus's VALIDATION.md), as the server words it.
	reasons := map[string]string{
		"lforms__Argonaut-questionnaire-questionnaire-example-asq3.json": `Unknown element \"option\"`,
		"lforms__enableWhen-test.R4.json":                                "must be a JSON boolean",
		"lforms__phq9.json":                                              "valueDuration.value must be a JSON number",
		"smartforms__715.R4.json":                                        "valueInteger must be a JSON number",
		"lforms__fhir-sdc-response-ussgfht.json":                         "QuestionnaireResponse.questionnaire must be a JSON string",
		"lforms__qr-with-answerValueSet-matrix.json":                     "Missing required element QuestionnaireResponse.status",
	}
	for _, typ := range []string{"Questionnaire", "QuestionnaireResponse"} {
		for _, f := range corpus(t, filepath.Join("invalid", typ)) {
			name := filepath.Base(f)
			t.Run(typ+"/"+name, func(t *testing.T) {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				want, ok := reasons[name]
				if !ok {
					t.Fatalf("no expected reason recorded for %s", name)
				}
				outcome(t, s.do("POST", "/fhir/"+typ, data), http.StatusBadRequest, want)
			})
		}
	}
	r := s.do("GET", "/fhir/Questionnaire/_history", nil)
	if strings.Contains(string(r.body), `"entry"`) {
		t.Errorf("a rejected resource was stored: %s", r.body)
	}
}
