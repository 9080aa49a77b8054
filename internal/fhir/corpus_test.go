package fhir_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// corpusDir is the shared corpus of real FHIR R4 resources beside the repository.
const corpusDir = "../../../shared/fhir-corpus"

func corpusFiles(t *testing.T, sub string) []string {
	t.Helper()
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("corpus %s not present: %v", corpusDir, err)
	}
	files, err := filepath.Glob(filepath.Join(corpusDir, sub, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files under %s: %v", sub, err)
	}
	return files
}

// breaksAnInvariant are the corpus files the JSON schema and the structure definitions
// accept but an R4 invariant refuses (see api/corpus_test.go), with a part of the error.
var breaksAnInvariant = map[string]string{
	"lforms__expression-on-data-from-prepopulation.json": "Questionnaire.contained[0] has no id",
}

func TestParseBodyAcceptsValidCorpus(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"Questionnaire", "QuestionnaireResponse", "CarePlan", "Bundle"} {
		for _, f := range corpusFiles(t, dir) {
			t.Run(dir+"/"+filepath.Base(f), func(t *testing.T) {
				t.Parallel()
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				_, err = fhir.ParseBody(data, dir)
				if want, ok := breaksAnInvariant[filepath.Base(f)]; ok {
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Errorf("got %v, want the error %q (an R4 invariant)", err, want)
					}
					return
				}
				if err != nil {
					t.Errorf("valid resource rejected: %v", err)
					for _, is := range err.(*fhir.Error).Issues {
						t.Logf("  %s: %s", is.Expression, is.Diagnostics)
					}
				}
			})
		}
	}
}

func TestParseBodyRejectsInvalidCorpus(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"Questionnaire", "QuestionnaireResponse"} {
		for _, f := range corpusFiles(t, filepath.Join("invalid", dir)) {
			t.Run(dir+"/"+filepath.Base(f), func(t *testing.T) {
				t.Parallel()
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				_, err = fhir.ParseBody(data, dir)
				if !fhir.IsKind(err, fhir.KindInvalid) {
					t.Fatalf("invalid resource: got %v, want a KindInvalid error", err)
				}
				if !strings.Contains(err.Error(), dir) {
					t.Errorf("message does not name the element: %v", err)
				}
				t.Logf("%v", err)
			})
		}
	}
}
