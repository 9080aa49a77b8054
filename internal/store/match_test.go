package store_test

import (
	"context"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/patient-involvement/fhir-server/fixtures"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
	"github.com/patient-involvement/fhir-server/internal/store"
)

// keptIndexes keeps the search values each write was observed with.
type keptIndexes struct {
	mu   sync.Mutex
	vers map[string]*fhir.Resource
	ixs  map[string]search.Index
}

func (k *keptIndexes) BeforeWrite(_ context.Context, next *fhir.Resource, ix search.Index) (func(error), error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.vers[next.Type+"/"+next.ID], k.ixs[next.Type+"/"+next.ID] = next, ix
	return func(error) {}, nil
}

// TestMatcherDecidesAsSearch writes the fixtures' responses and care plans and compares, for
// searches of every parameter type, the resources a search finds with those the in-memory
// Matcher accepts on the search values observed at the write.
func TestMatcherDecidesAsSearch(t *testing.T) {
	st, svc := newSearchStore(t)
	kept := &keptIndexes{vers: map[string]*fhir.Resource{}, ixs: map[string]search.Index{}}
	st.ObserveWrites(kept)
	for _, dir := range []string{"QuestionnaireResponse", "CarePlan"} {
		entries, _ := fs.ReadDir(fixtures.FS(), dir)
		for _, e := range entries {
			data, err := fs.ReadFile(fixtures.FS(), dir+"/"+e.Name())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Create(t.Context(), dir, data); err != nil {
				t.Fatalf("%s: %v", e.Name(), err)
			}
		}
	}
	cases := []struct{ typ, query string }{
		{"QuestionnaireResponse", "status=completed"},
		{"QuestionnaireResponse", "status:not=completed"},
		{"QuestionnaireResponse", "questionnaire=https://fhir.patient-involvement.example/Questionnaire/phq-9|1.0"},
		{"QuestionnaireResponse", "item-answer-number=phq9-item9$gt0"},
		{"QuestionnaireResponse", "item-answer=44260-8$http://loinc.org|LA6568-5"},
		{"QuestionnaireResponse", "item-answer=44260-8$LA6568-5,LA6569-3"},
		{"QuestionnaireResponse", "authored=ge2025-01-01"},
		{"QuestionnaireResponse", "authored=lt2025-06"},
		{"QuestionnaireResponse", "subject:missing=true"},
		{"QuestionnaireResponse", "_lastUpdated=gt2000-01-01"},
		{"QuestionnaireResponse", "identifier=urn:x|y"},
		{"CarePlan", "status=active"},
		{"CarePlan", "category:text=diab"},
		{"CarePlan", "date=ge2025"},
		{"CarePlan", "activity-date=le2026-01-01"},
		{"CarePlan", "performer:missing=false"},
		{"CarePlan", "intent=plan&status=active,completed"},
		{"CarePlan", "instantiates-uri:below=http"},
	}
	found := 0
	for _, tc := range cases {
		t.Run(tc.typ+"?"+tc.query, func(t *testing.T) {
			c := criteria(t, tc.typ, tc.query)
			c.Count = nil
			res, err := st.Search(t.Context(), &search.Request{Criteria: c})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, r := range res.Matches {
				want = append(want, r.ID)
			}
			m, err := st.Matcher(c)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for key, r := range kept.vers {
				if strings.HasPrefix(key, tc.typ+"/") && m(&search.Candidate{Resource: r, Index: kept.ixs[key]}) {
					got = append(got, r.ID)
				}
			}
			if len(want) > 0 {
				found++
			}
			sort.Strings(want)
			sort.Strings(got)
			if !slices.Equal(want, got) {
				t.Errorf("search found %v, matcher %v", want, got)
			}
		})
	}
	if found < len(cases)/2 {
		t.Errorf("only %d of %d searches found anything: the comparison says little", found, len(cases))
	}
}

var _ func(*search.Criteria) (search.Match, error) = (*store.Store)(nil).Matcher
