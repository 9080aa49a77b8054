package questionnaire_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/patient-involvement/fhir-server/internal/questionnaire"
)

const phq9 = "https://fhir.patient-involvement.example/Questionnaire/phq-9"

// searchIDs runs a search and returns the ids it finds, sorted.
func (s *testServer) searchIDs(query string) []string {
	s.t.Helper()
	r := s.do(http.MethodGet, "/fhir/QuestionnaireResponse?_count=1000&"+query, nil)
	if r.status != http.StatusOK {
		s.t.Fatalf("search %s: %d %s", query, r.status, r.body)
	}
	var b struct {
		Entry []struct {
			Resource struct {
				ID string `json:"id"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil {
		s.t.Fatal(err)
	}
	ids := []string{}
	for _, e := range b.Entry {
		ids = append(ids, e.Resource.ID)
	}
	sort.Strings(ids)
	return ids
}

// fixtureAnswers reads, from the fixtures themselves, the ids of the responses whose item
// linkID has an answer accepted by keep.
func fixtureAnswers(t *testing.T, linkID string, keep func(answer map[string]any) bool) []string {
	t.Helper()
	var out []string
	for _, b := range fixtureFiles(t, "QuestionnaireResponse") {
		m, err := decode(b)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		var walk func(items any)
		walk = func(items any) {
			list, _ := items.([]any)
			for _, x := range list {
				it, _ := x.(map[string]any)
				answers, _ := it["answer"].([]any)
				for _, a := range answers {
					am, _ := a.(map[string]any)
					if it["linkId"] == linkID && keep(am) {
						found = true
					}
					walk(am["item"])
				}
				walk(it["item"])
			}
		}
		walk(m["item"])
		if found {
			out = append(out, m["id"].(string))
		}
	}
	sort.Strings(out)
	return out
}

func codeIn(codes ...string) func(map[string]any) bool {
	return func(a map[string]any) bool {
		c, _ := a["valueCoding"].(map[string]any)
		return c != nil && slices.Contains(codes, c["code"].(string))
	}
}

// TestSearchByAnswer: responses are found by the answers to one item: codes, booleans,
// numbers, the ordinal values of chosen options, computed scores and dates.
func TestSearchByAnswer(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, questionnaire.ModeStrict)
	for _, b := range fixtureFiles(t, "Questionnaire") {
		s.mustPut(b)
	}
	for _, b := range fixtureFiles(t, "QuestionnaireResponse") {
		s.mustPut(b)
	}
	s.mustPut(readFile(t, allRules))
	rules := readFile(t, allRulesResponse)
	m, _ := decode(rules)
	s.mustPut(encode(t, apply(t, m, set("id", `"all-rules"`))))

	unhappy := fixtureAnswers(t, "overall.1", codeIn("1", "2"))
	if len(unhappy) == 0 {
		t.Fatal("no fixture answers overall.1 with 1 or 2")
	}
	tests := []struct {
		name, query string
		want        []string
	}{
		{"the unhappy patients", "item-answer=overall.1$1,2", unhappy},
		{"with the code system", "item-answer=overall.1$https://fhir.patient-involvement.example/CodeSystem/likert-5|1,https://fhir.patient-involvement.example/CodeSystem/likert-5|2", unhappy},
		{"a code of another item does not count", "item-answer=welcome.1$1&item-answer=overall.1$1", intersect(fixtureAnswers(t, "welcome.1", codeIn("1")), fixtureAnswers(t, "overall.1", codeIn("1")))},
		{"a boolean", "item-answer=coordination.2$true", fixtureAnswers(t, "coordination.2", func(a map[string]any) bool { return a["valueBoolean"] == true })},
		{"Likert answers compare as numbers", "item-answer-number=overall.1$le2", unhappy},
		{"severe depression scores, computed", "questionnaire=" + phq9 + "|1.0&item-answer-number=44261-6$ge15", []string{"qr-phq9-001"}},
		{"a score range", "item-answer-number=44261-6$ge5&item-answer-number=44261-6$lt10", []string{"qr-phq9-003", "qr-phq9-005", "qr-phq9-006"}},
		{"an in-progress response's computed score", "item-answer-number=44261-6$6", []string{"qr-phq9-006"}},
		{"an integer answer", "item-answer-number=int$3", []string{"all-rules"}},
		{"a quantity's value", "item-answer-number=qty$gt69.5", []string{"all-rules"}},
		{"a calculated item's value", "item-answer-number=calc$ne7", []string{"all-rules"}},
		{"a number of another item does not count", "item-answer-number=int$7", []string{}},
		{"a date", "item-answer-date=date$2024-05", []string{"all-rules"}},
		{"a dateTime after", "item-answer-date=dt$gt2024-05-03T07:00:00Z", []string{"all-rules"}},
		{"a date before", "item-answer-date=date$lt2024", []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.searchIDs(tc.query); !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.query, got, tc.want)
			}
		})
	}

	// Extracting the search values again (a new server version) computes the scores again.
	if _, err := s.DB.Collection("QuestionnaireResponse").UpdateMany(t.Context(), bson.D{}, bson.D{{Key: "$set", Value: bson.D{{Key: "spv", Value: 0}}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.Reindex(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if got := s.searchIDs("item-answer-number=44261-6$6"); !slices.Equal(got, []string{"qr-phq9-006"}) {
		t.Errorf("after extracting again, the computed score of qr-phq9-006 is not found: %v", got)
	}
	if got := s.searchIDs("item-answer-number=overall.1$le2"); !slices.Equal(got, unhappy) {
		t.Errorf("after extracting again, ordinal values: %v, want %v", got, unhappy)
	}
	if r := s.do(http.MethodGet, "/fhir/QuestionnaireResponse?item-answer="+url.QueryEscape("2"), nil); r.status != http.StatusBadRequest {
		t.Errorf("item-answer without a linkId: %d, want 400", r.status)
	}
}

func intersect(a, b []string) []string {
	out := []string{}
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
