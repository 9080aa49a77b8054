package generate_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/fixtures"
	"github.com/patient-involvement/fhir-server/internal/generate"
	"github.com/patient-involvement/fhir-server/internal/loader"
	"github.com/patient-involvement/fhir-server/internal/servertest"
	"github.com/patient-involvement/fhir-server/internal/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

func generated(t *testing.T, patients int, seed uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := generate.Write(&buf, fixtures.FS(), generate.Options{Patients: patients, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestOutputDependsOnTheSeedOnly(t *testing.T) {
	t.Parallel()
	a, b := generated(t, 20, 42), generated(t, 20, 42)
	if !bytes.Equal(a, b) {
		t.Error("the same seed gave different output")
	}
	if c := generated(t, 20, 43); bytes.Equal(a, c) {
		t.Error("seeds 42 and 43 gave the same output")
	}
	// Patient n is the same whatever the number of patients.
	if fewer := generated(t, 5, 42); !bytes.HasPrefix(a, fewer) {
		t.Error("the data of 5 patients is not the start of the data of 20")
	}
	if _, err := generate.Write(&bytes.Buffer{}, fixtures.FS(), generate.Options{Patients: 0}); err == nil {
		t.Error("0 patients accepted")
	}
}

// TestServerAcceptsGeneratedData loads generated data into the real server: every line is
// accepted, and loading it again writes nothing.
func TestServerAcceptsGeneratedData(t *testing.T) {
	t.Parallel()
	srv := servertest.New(t)
	target, err := loader.NewHTTPTarget(srv.Base, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "generated.ndjson")
	data := generated(t, 4, 2026)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	lines := bytes.Count(data, []byte("\n"))
	for i, want := range []loader.Counts{{Created: lines}, {Unchanged: lines}} {
		inputs, err := loader.Paths([]string{path}, nil)
		if err != nil {
			t.Fatal(err)
		}
		l, err := loader.New(target, loader.Options{})
		if err != nil {
			t.Fatal(err)
		}
		sum, err := l.Load(t.Context(), inputs)
		if err != nil {
			t.Fatalf("load %d: %v", i+1, err)
		}
		if got := sum.Total(); got != want {
			t.Errorf("load %d: %+v, want %+v", i+1, got, want)
		}
	}
}

// The test's own reading of Questionnaires and responses, independent of the generator's.
type item struct {
	LinkID       string            `json:"linkId"`
	Type         string            `json:"type"`
	Required     bool              `json:"required"`
	ReadOnly     bool              `json:"readOnly"`
	EnableWhen   []json.RawMessage `json:"enableWhen"`
	AnswerOption []struct {
		ValueCoding coding `json:"valueCoding"`
		Extension   []struct {
			URL          string  `json:"url"`
			ValueDecimal float64 `json:"valueDecimal"`
		} `json:"extension"`
	} `json:"answerOption"`
	Extension []struct {
		URL          string `json:"url"`
		ValueInteger *int   `json:"valueInteger"`
	} `json:"extension"`
	EnableBehavior string  `json:"enableBehavior"`
	Item           []*item `json:"item"`
	Answer         []map[string]json.RawMessage
}

type coding struct{ System, Code, Display string }

type resource struct {
	ResourceType    string `json:"resourceType"`
	ID              string `json:"id"`
	URL             string `json:"url"`
	Version         string `json:"version"`
	Questionnaire   string `json:"questionnaire"`
	Status          string `json:"status"`
	Authored        string `json:"authored"`
	Subject         struct{ Reference string }
	EffectivePeriod struct{ Start, End string } `json:"effectivePeriod"`
	Item            []*item                     `json:"item"`
}

func questionnaires(t *testing.T) map[string]*resource {
	t.Helper()
	out := map[string]*resource{}
	names, _ := fs.Glob(fixtures.FS(), "Questionnaire/*.json")
	for _, n := range names {
		data, _ := fs.ReadFile(fixtures.FS(), n)
		var q resource
		if err := json.Unmarshal(data, &q); err != nil {
			t.Fatal(err)
		}
		out[q.URL+"|"+q.Version] = &q
	}
	return out
}

// index maps each linkId of a Questionnaire to its item and its parent's linkId.
func index(items []*item, parent string, into map[string]*item, parents map[string]string) {
	for _, it := range items {
		into[it.LinkID], parents[it.LinkID] = it, parent
		index(it.Item, it.LinkID, into, parents)
	}
}

// given is the answers of a response, as comparable strings per linkId.
func given(items []*item, into map[string][]string) {
	for _, it := range items {
		for _, a := range it.Answer {
			for k, v := range a {
				if k == "valueCoding" {
					var c coding
					_ = json.Unmarshal(v, &c)
					into[it.LinkID] = append(into[it.LinkID], c.System+"|"+c.Code)
				} else {
					into[it.LinkID] = append(into[it.LinkID], string(v))
				}
			}
		}
		given(it.Item, into)
	}
}

// isEnabled evaluates the enableWhen forms the fixtures use: = on a coding, a boolean or an
// integer, and <= on an integer.
func isEnabled(t *testing.T, q *item, answers map[string][]string) bool {
	if len(q.EnableWhen) == 0 {
		return true
	}
	var results []bool
	for _, raw := range q.EnableWhen {
		var ew struct {
			Question      string
			Operator      string
			AnswerCoding  *coding
			AnswerBoolean *bool
			AnswerInteger *int
		}
		_ = json.Unmarshal(raw, &ew)
		ok := false
		for _, got := range answers[ew.Question] {
			switch {
			case ew.AnswerCoding != nil && ew.Operator == "=":
				ok = ok || got == ew.AnswerCoding.System+"|"+ew.AnswerCoding.Code
			case ew.AnswerBoolean != nil && ew.Operator == "=":
				ok = ok || got == fmt.Sprint(*ew.AnswerBoolean)
			case ew.AnswerInteger != nil && ew.Operator == "<=":
				var n int
				_ = json.Unmarshal([]byte(got), &n)
				ok = ok || n <= *ew.AnswerInteger
			default:
				t.Fatalf("enableWhen %s is not a form this test knows", raw)
			}
		}
		results = append(results, ok)
	}
	anyOK, allOK := false, true
	for _, r := range results {
		anyOK, allOK = anyOK || r, allOK && r
	}
	if q.EnableBehavior == "any" {
		return anyOK
	}
	return allOK
}

// TestResponsesFollowTheirQuestionnaire checks every generated response against the
// Questionnaire version it names: in use on its date, the same linkIds and nesting, codings
// from the answer options, nothing that enableWhen disables, integers within their bounds,
// totals that add up, and required items answered when completed.
func TestResponsesFollowTheirQuestionnaire(t *testing.T) {
	t.Parallel()
	qs := questionnaires(t)
	sc := bufio.NewScanner(bytes.NewReader(generated(t, 120, 9)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r resource
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.ResourceType != "QuestionnaireResponse" {
			continue
		}
		q := qs[r.Questionnaire]
		if q == nil {
			t.Errorf("%s names %s, which is not a fixture", r.ID, r.Questionnaire)
			continue
		}
		date := r.Authored[:10]
		if (q.EffectivePeriod.Start != "" && date < q.EffectivePeriod.Start) || (q.EffectivePeriod.End != "" && date > q.EffectivePeriod.End) {
			t.Errorf("%s on %s answers %s, not in use then", r.ID, date, r.Questionnaire)
		}
		qItems, parents := map[string]*item{}, map[string]string{}
		index(q.Item, "", qItems, parents)
		answers := map[string][]string{}
		given(r.Item, answers)

		var walk func(items []*item, parent string)
		total := 0
		walk = func(items []*item, parent string) {
			for _, it := range items {
				qi := qItems[it.LinkID]
				switch {
				case qi == nil:
					t.Errorf("%s: linkId %s is not in %s", r.ID, it.LinkID, r.Questionnaire)
					continue
				case parents[it.LinkID] != parent:
					t.Errorf("%s: %s is under %q, the Questionnaire has it under %q", r.ID, it.LinkID, parent, parents[it.LinkID])
				case !isEnabled(t, qi, answers):
					t.Errorf("%s: %s is answered although enableWhen disables it", r.ID, it.LinkID)
				}
				for _, a := range it.Answer {
					if raw, ok := a["valueCoding"]; ok {
						var c coding
						_ = json.Unmarshal(raw, &c)
						found := false
						for _, o := range qi.AnswerOption {
							if o.ValueCoding == c {
								found = true
								for _, e := range o.Extension {
									total += int(e.ValueDecimal)
								}
							}
						}
						if !found {
							t.Errorf("%s: %s answered %+v, not one of its options", r.ID, it.LinkID, c)
						}
					}
					if raw, ok := a["valueInteger"]; ok && !qi.ReadOnly {
						var n int
						_ = json.Unmarshal(raw, &n)
						for _, e := range qi.Extension {
							if (strings.HasSuffix(e.URL, "/minValue") && n < *e.ValueInteger) || (strings.HasSuffix(e.URL, "/maxValue") && n > *e.ValueInteger) {
								t.Errorf("%s: %s = %d is out of bounds", r.ID, it.LinkID, n)
							}
						}
					}
				}
				walk(it.Item, it.LinkID)
			}
		}
		walk(r.Item, "")
		for lid, qi := range qItems {
			if qi.ReadOnly && qi.Type == "integer" {
				got, has := answers[lid]
				switch {
				case has && got[0] != fmt.Sprint(total):
					t.Errorf("%s: total %s = %s, the items add up to %d", r.ID, lid, got[0], total)
				case !has && r.Status == "completed":
					t.Errorf("%s: completed without the total %s", r.ID, lid)
				}
			}
			if qi.Required && r.Status == "completed" && answers[lid] == nil && isEnabled(t, qi, answers) {
				t.Errorf("%s: completed without the required %s", r.ID, lid)
			}
		}
	}
}

// TestAnswersLookLikeRealSurveys checks the shape of the answers over many patients.
func TestAnswersLookLikeRealSurveys(t *testing.T) {
	t.Parallel()
	var st struct {
		likert          [6]int
		nps             [11]int
		totals, low     int
		responses, prog int
		plans, patients int
		texts           map[string]bool
	}
	st.texts = map[string]bool{}
	subjects := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(generated(t, 300, 1)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r resource
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.ResourceType == "CarePlan" {
			st.plans++
			continue
		}
		st.responses++
		subjects[r.Subject.Reference] = true
		if r.Status == "in-progress" {
			st.prog++
		}
		var walk func([]*item)
		walk = func(items []*item) {
			for _, it := range items {
				for _, a := range it.Answer {
					var c coding
					var n int
					var s string
					switch {
					case json.Unmarshal(a["valueCoding"], &c) == nil && strings.HasSuffix(c.System, "likert-5"):
						st.likert[c.Code[0]-'0']++
					case it.LinkID == "nps.score" && json.Unmarshal(a["valueInteger"], &n) == nil:
						st.nps[n]++
					case it.LinkID == "44261-6" && json.Unmarshal(a["valueInteger"], &n) == nil:
						st.totals++
						if n <= 14 {
							st.low++
						}
					case json.Unmarshal(a["valueString"], &s) == nil:
						st.texts[s] = true
					}
				}
				walk(it.Item)
			}
		}
		walk(r.Item)
	}
	st.patients = len(subjects)
	likert := st.likert[1] + st.likert[2] + st.likert[3] + st.likert[4] + st.likert[5]
	nps := 0
	for _, n := range st.nps {
		nps += n
	}
	share := func(n, of int) float64 { return float64(n) / float64(of) }
	checks := []struct {
		name   string
		got    float64
		lo, hi float64
	}{
		{"Likert answers that are 4 or 5", share(st.likert[4]+st.likert[5], likert), 0.70, 0.92},
		{"Likert answers that are critical (1 or 2)", share(st.likert[1]+st.likert[2], likert), 0.03, 0.15},
		{"recommendation scores of 8 to 10", share(st.nps[8]+st.nps[9]+st.nps[10], nps), 0.65, 0.90},
		{"recommendation scores of 6 or less", share(nps-st.nps[7]-st.nps[8]-st.nps[9]-st.nps[10], nps), 0.04, 0.25},
		{"PHQ-9 totals at most moderate (<= 14)", share(st.low, st.totals), 0.70, 0.95},
		{"responses in progress", share(st.prog, st.responses), 0.05, 0.18},
		{"patients with a care plan", share(st.plans, st.patients), 0.6, 0.95},
		{"responses per patient", share(st.responses, st.patients), 2, 8},
	}
	for _, c := range checks {
		if c.got < c.lo || c.got > c.hi {
			t.Errorf("%s: %.3f, want between %.2f and %.2f", c.name, c.got, c.lo, c.hi)
		}
	}
	if st.patients != 300 {
		t.Errorf("%d patients answered, want all 300", st.patients)
	}
	if len(st.texts) < 100 {
		t.Errorf("%d different free-text answers, want a varied lot", len(st.texts))
	}
}
