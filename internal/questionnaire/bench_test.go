package questionnaire_test

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/fixtures"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/questionnaire"
	"github.com/patient-involvement/fhir-server/internal/store"
	"github.com/patient-involvement/fhir-server/internal/store/storetest"
)

// BenchmarkHotPath measures what the Questionnaire rules add to a create: the hot path of
// internal/fhir's BenchmarkHotPath (parse, validate, build the stored version) of a LUP
// response (2.6 KB) and a PHQ-9 response, beside the same with the rules' check against the
// Questionnaire, resolved from the rules' warm cache, and the check alone.
func BenchmarkHotPath(b *testing.B) {
	ctx := context.Background()
	registry := fhir.DefaultRegistry()
	st, err := store.New(storetest.NewDatabase(b), registry, store.Options{IDFiltersOnly: storetest.IsEmbedded(b)})
	if err != nil {
		b.Fatal(err)
	}
	rules, err := questionnaire.New(st, questionnaire.Options{})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := fhir.NewService(st, registry, fhir.WithContentChecker(rules))
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{"lup-outpatient-v1", "phq-9"} {
		data, err := fs.ReadFile(fixtures.FS(), "Questionnaire/"+q+".json")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.Update(ctx, "Questionnaire", q, data, nil); err != nil {
			b.Fatal(err)
		}
	}
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, name := range []string{"qr-lup-005", "qr-phq9-001"} {
		data, err := fs.ReadFile(fixtures.FS(), "QuestionnaireResponse/"+name+".json")
		if err != nil {
			b.Fatal(err)
		}
		check := func(body *fhir.Body) {
			rep, err := rules.Check(ctx, &fhir.ContentWrite{Type: "QuestionnaireResponse", Tree: body.Tree})
			if err != nil || len(rep.Issues) > 0 || len(rep.Derived) == 0 {
				b.Fatalf("check: %v %v", err, rep)
			}
		}
		parse := func() *fhir.Body {
			body, err := fhir.ParseBody(data, "QuestionnaireResponse")
			if err != nil {
				b.Fatal(err)
			}
			return body
		}
		check(parse()) // warms the cache
		b.Run(name+"/hot-path", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if r, err := parse().Version("abc", 1, ts, http.MethodPost); err != nil || len(r.Raw) == 0 {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/hot-path+rules", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				body := parse()
				check(body)
				if r, err := body.Version("abc", 1, ts, http.MethodPost); err != nil || len(r.Raw) == 0 {
					b.Fatal(err)
				}
			}
		})
		parsed := parse()
		b.Run(name+"/rules", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				check(parsed)
			}
		})
	}
}

// BenchmarkTransaction measures, over HTTP, a transaction Bundle that creates a LUP
// Questionnaire (82 KB) and 100 responses to it: each response is checked against the
// Questionnaire as the transaction stages it, and once more as it is stored. Every iteration
// creates the Questionnaire under a url of its own.
func BenchmarkTransaction(b *testing.B) {
	const n = 100
	s := newTestServer(b, questionnaire.ModeStrict)
	q, err := decode(readFile(b, "../../fixtures/Questionnaire/lup-outpatient-v1.json"))
	if err != nil {
		b.Fatal(err)
	}
	qr, err := decode(readFile(b, "../../fixtures/QuestionnaireResponse/qr-lup-005.json"))
	if err != nil {
		b.Fatal(err)
	}
	delete(q, "id")
	delete(qr, "id")
	post := func(typ string, res map[string]any) string {
		return `{"resource":` + string(encode(b, res)) + `,"request":{"method":"POST","url":"` + typ + `"}}`
	}
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		url := fmt.Sprintf("https://example.org/Questionnaire/bench-%d", i)
		q["url"] = url
		qr["questionnaire"] = url + "|1.0"
		entries := []string{post("Questionnaire", q)}
		response := post("QuestionnaireResponse", qr)
		for range n {
			entries = append(entries, response)
		}
		bundle := []byte(`{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(entries, ",") + `]}`)
		b.StartTimer()
		if r := s.do(http.MethodPost, "/fhir", bundle, "Prefer", "return=minimal"); r.status != http.StatusOK || strings.Count(string(r.body), `"201 Created"`) != n+1 {
			b.Fatalf("transaction: %d %.500s", r.status, r.body)
		}
	}
}
