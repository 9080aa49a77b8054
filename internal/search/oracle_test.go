package search

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gofhir/fhirpath"
	"github.com/gofhir/fhirpath/types"

	"github.com/patient-involvement/fhir-server/fixtures"
)

// typeResolver resolves a reference to a stub resource of the type its type segment names,
// which is all "resolve() is T" needs; it is how Extract decides the same filter.
type typeResolver struct{}

func (typeResolver) Resolve(_ context.Context, ref string) ([]byte, error) {
	typ := referenceType(ref)
	if typ == "" {
		return nil, errors.New("no type in " + ref)
	}
	return []byte(`{"resourceType":"` + typ + `"}`), nil
}

// canonicalJSON re-encodes a decoded JSON value with sorted keys, so that equal values
// compare equal as strings.
func canonicalJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// engineValue turns a value the FHIRPath engine returned into the decoded JSON it stands for.
func engineValue(t testing.TB, v types.Value) any {
	t.Helper()
	switch x := v.(type) {
	case *types.ObjectValue:
		dec := json.NewDecoder(bytes.NewReader(x.Data()))
		dec.UseNumber()
		var out any
		if err := dec.Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	case types.Boolean:
		return x.Bool()
	default:
		return v.String()
	}
}

// set returns the distinct canonical JSON forms of values, sorted: FHIRPath unions remove
// duplicates, so the comparison is between sets. Dates and times are compared as the
// instant they start at, to the millisecond: the engine returns them reformatted
// ("+00:00" as "Z") and cut to milliseconds.
func set(t testing.TB, values []any) []string {
	var out []string
	for _, v := range values {
		if s, ok := v.(string); ok {
			if lo, _, ok := dateRange(s, time.UTC); ok {
				v = "@" + lo.Truncate(time.Millisecond).Format(time.RFC3339Nano)
			}
		}
		out = append(out, canonicalJSON(t, v))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// oracleShapes are resources written for the comparison, with the shapes the corpus has
// few of: choice elements of every type, references of every form, quantities and ranges.
var oracleShapes = []string{
	`{"resourceType":"CarePlan","id":"a","status":"active","intent":"plan","subject":{"reference":"Group/g1"},
	  "activity":[{"detail":{"status":"scheduled","scheduledTiming":{"event":["2024-05-01T09:00:00Z"],
	    "repeat":{"boundsPeriod":{"start":"2024-05-01"}}}}},
	  {"detail":{"status":"scheduled","scheduledPeriod":{"start":"2024-04-01","end":"2024-04-30"}}},
	  {"detail":{"status":"scheduled","scheduledString":"every morning","performer":[{"reference":"#p"}]}},
	  {"reference":{"reference":"https://x.org/fhir/Task/t1/_history/2"}}]}`,
	`{"resourceType":"CarePlan","id":"b","status":"active","intent":"plan",
	  "subject":{"reference":"https://x.org/fhir/Patient/p1/_history/3"},"period":{"end":"2025"},
	  "instantiatesCanonical":["http://x.org/PlanDefinition/p|1.0"],"instantiatesUri":["http://x.org/guide"]}`,
	`{"resourceType":"CarePlan","id":"c","status":"active","intent":"plan","subject":{"reference":"urn:uuid:1"}}`,
	`{"resourceType":"CarePlan","id":"d","status":"active","intent":"plan","subject":{"identifier":{"value":"x"}}}`,
	`{"resourceType":"QuestionnaireResponse","id":"e","status":"completed","subject":{"reference":"Patient/p2"},
	  "questionnaire":"http://x.org/Q/q|2","basedOn":[{"reference":"CarePlan/a"}],"partOf":[{"reference":"Procedure/1"}]}`,
	`{"resourceType":"Questionnaire","id":"f","status":"active","subjectType":["Patient","Group"],
	  "useContext":[{"code":{"code":"age"},"valueRange":{"low":{"value":18},"high":{"value":65}}},
	    {"code":{"code":"age"},"valueQuantity":{"value":5.4,"code":"a"}},
	    {"code":{"code":"focus"},"valueCodeableConcept":{"coding":[{"code":"x"}]}},
	    {"code":{"code":"program"},"valueReference":{"reference":"ResearchStudy/1"}}],
	  "effectivePeriod":{"start":"2024-01-01T00:00:00+01:00"}}`,
}

// TestExtractionReachesWhatFHIRPathReaches compares, for every corpus and fixture resource and
// every parameter, the elements the compiled path program reaches with what the gofhir
// FHIRPath engine returns for the parameter's expression. Composite parameters are compared
// on their base expression.
func TestExtractionReachesWhatFHIRPathReaches(t *testing.T) {
	t.Parallel()
	files, corpus := servedResources(t)
	if !corpus {
		t.Logf("corpus %s not found: only the fixtures are compared", corpusDir)
	}
	for i, raw := range oracleShapes {
		var h struct {
			ResourceType string `json:"resourceType"`
		}
		if err := json.Unmarshal([]byte(raw), &h); err != nil {
			t.Fatal(err)
		}
		files = append(files, resourceFile{fmt.Sprintf("shape %d", i), h.ResourceType, []byte(raw)})
	}
	compiled := map[string]*fhirpath.Expression{}
	compared := 0
	for _, f := range files {
		tree := decodeBytes(t, f.raw)
		for _, d := range Definitions(f.typ) {
			if d.extract != nil {
				continue // the answer parameters: answers_test.go checks their own extraction
			}
			expr := compiled[d.Expression]
			if expr == nil {
				var err error
				if expr, err = fhirpath.Compile(d.Expression); err != nil {
					t.Fatalf("%s: fhirpath.Compile(%q): %v", d.Name, d.Expression, err)
				}
				compiled[d.Expression] = expr
			}
			col, err := expr.EvaluateWithOptions(f.raw, fhirpath.WithResolver(typeResolver{}))
			if err != nil {
				t.Errorf("%s %s: engine: %v", f.name, d.Name, err)
				continue
			}
			var want []any
			for _, v := range col {
				want = append(want, engineValue(t, v))
			}
			got, err := reached(f.typ, d.Name, tree)
			if err != nil {
				t.Fatal(err)
			}
			if w, g := set(t, want), set(t, got); !slices.Equal(w, g) {
				t.Errorf("%s %s (%s):\nengine   %v\ncompiled %v", f.name, d.Name, d.Expression, w, g)
			}
			if len(got) > 0 {
				compared++
			}
		}
	}
	t.Logf("%d resources, %d non-empty parameter values compared", len(files), compared)
}

// benchResource returns the raw JSON of a benchmark input: a fixture QuestionnaireResponse,
// or the largest corpus Questionnaire.
func benchResource(b *testing.B, which string) []byte {
	b.Helper()
	if which == "fixture" {
		raw, err := fs.ReadFile(fixtures.FS(), "QuestionnaireResponse/qr-lup-001.json")
		if err != nil {
			b.Fatal(err)
		}
		return compact(b, raw)
	}
	files, err := filepath.Glob(filepath.Join(corpusDir, "Questionnaire", "*.json"))
	if err != nil || len(files) == 0 {
		b.Skipf("corpus %s not found", corpusDir)
	}
	var largest string
	var size int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.Size() > size {
			largest, size = f, st.Size()
		}
	}
	raw, err := os.ReadFile(largest)
	if err != nil {
		b.Fatal(err)
	}
	return compact(b, raw)
}

func compact(b *testing.B, raw []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkExtract measures Extract against evaluating the same expressions with the gofhir
// FHIRPath engine (compiled once), the cost the compiled path programs avoid on every write.
// Extract is given the decoded tree the write path already has; the engine reads the bytes.
func BenchmarkExtract(b *testing.B) {
	for _, c := range []struct{ name, typ, which string }{
		{"QuestionnaireResponse-fixture", "QuestionnaireResponse", "fixture"},
		{"Questionnaire-largest-corpus", "Questionnaire", "corpus"},
	} {
		b.Run(c.name, func(b *testing.B) {
			raw := benchResource(b, c.which)
			tree := decodeBytes(b, raw)
			b.Run("compiled", func(b *testing.B) {
				b.SetBytes(int64(len(raw)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Extract(c.typ, tree, ExtractOptions{}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("fhirpath", func(b *testing.B) {
				var exprs []*fhirpath.Expression
				for _, d := range Definitions(c.typ) {
					exprs = append(exprs, fhirpath.MustCompile(d.Expression))
				}
				b.SetBytes(int64(len(raw)))
				b.ReportAllocs()
				for b.Loop() {
					for _, e := range exprs {
						if _, err := e.EvaluateWithOptions(raw, fhirpath.WithResolver(typeResolver{})); err != nil {
							b.Fatal(fmt.Errorf("%s: %w", e, err))
						}
					}
				}
			})
		})
	}
}
