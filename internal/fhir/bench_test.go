package fhir_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// The per-request hot path of a write: parse, validate, build the stored document, encode the
// response (the stored JSON is the response). It is measured beside plain encoding/json
// Unmarshal+Marshal of the same bytes, the baseline the ratio is taken against.
func benchInputs(b *testing.B) map[string][]byte {
	b.Helper()
	inputs := map[string][]byte{}
	files := map[string]string{
		"QuestionnaireResponse-2KB": "QuestionnaireResponse/r4spec__questionnaireresponse-example-f201-lifelines.json",
		"Questionnaire-260KB-SDC":   "Questionnaire/sdc__Questionnaire-CardiologyForm.json",
	}
	for name, rel := range files {
		data, err := os.ReadFile(filepath.Join(corpusDir, rel))
		if err != nil {
			b.Skipf("shared corpus not present: %v", err)
		}
		inputs[name] = data
	}
	return inputs
}

func BenchmarkHotPath(b *testing.B) {
	for name, data := range benchInputs(b) {
		typ := "Questionnaire"
		if name[:len("QuestionnaireResponse")] == "QuestionnaireResponse" {
			typ = "QuestionnaireResponse"
		}
		ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		b.Run(name+"/server", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				body, err := fhir.ParseBody(data, typ)
				if err != nil {
					b.Fatal(err)
				}
				r, err := body.Version("abc", 1, ts, http.MethodPost)
				if err != nil || len(r.Raw) == 0 {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/encoding-json", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var v any
				if err := json.Unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
				if _, err := json.Marshal(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
