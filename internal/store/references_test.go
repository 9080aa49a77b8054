package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
	"github.com/patient-involvement/fhir-server/internal/store"
	"github.com/patient-involvement/fhir-server/internal/store/storetest"
)

// TestReferenceForms searches references written relative, absolute to this server's
// configured base URL, absolute elsewhere and by a bare id of types the parameter does
// not name (Group, Device), by every form a client may use: with the configured base as the client's base,
// with another base (a proxy in between), and with none.
func TestReferenceForms(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const base = "https://fhir.example.org/fhir"
	st, err := store.New(storetest.NewDatabase(t), fhir.DefaultRegistry(), store.Options{BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	svc, err := fhir.NewService(st, fhir.DefaultRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for name, ref := range map[string]string{
		"relative":  "Patient/p1",
		"here":      base + "/Patient/p1/_history/2",
		"elsewhere": "https://other.example.org/fhir/Patient/p1",
		"group":     "Group/p1",
		"foo":       "Device/p1",
	} {
		body := `{"resourceType":"QuestionnaireResponse","id":"` + name + `","status":"completed","subject":{"reference":"` + ref + `"},"author":{"reference":"` + ref + `"}}`
		if _, err := svc.Update(ctx, "QuestionnaireResponse", name, []byte(body), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		query, clientBase string
		want              []string
	}{
		{"subject=Patient/p1", base, []string{"here", "relative"}},
		{"subject=Patient/p1", "https://proxy.example.org/fhir", []string{"here", "relative"}},
		{"subject=Patient/p1", "", []string{"here", "relative"}},
		{"subject=" + base + "/Patient/p1", base, []string{"here", "relative"}},
		{"subject=" + base + "/Patient/p1", "https://proxy.example.org/fhir", []string{"here"}},
		{"subject=" + base + "/Patient/p1", "", []string{"here"}},
		{"subject=https://other.example.org/fhir/Patient/p1", base, []string{"elsewhere"}},
		{"subject=https://other.example.org/fhir/Patient/p1", "https://other.example.org/fhir", []string{"elsewhere", "here", "relative"}},
		{"subject=p1", base, []string{"foo", "group", "here", "relative"}},
		{"author=p1", base, []string{"foo", "group", "here", "relative"}},
		{"patient=p1", base, []string{"here", "relative"}},
		{"subject:Patient=p1", "", []string{"here", "relative"}},
		{"_sort=subject", base, []string{"foo", "group", "here", "relative", "elsewhere"}},
		{"_sort=-author", base, []string{"elsewhere", "relative", "here", "group", "foo"}},
	} {
		res, err := st.Search(ctx, &search.Request{Criteria: criteria(t, "QuestionnaireResponse", tc.query), BaseURL: tc.clientBase})
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		var got []string
		for _, r := range res.Matches {
			got = append(got, r.ID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s (client base %q) finds %v, want %v", tc.query, tc.clientBase, got, tc.want)
		}
	}
}
