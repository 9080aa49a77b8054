package store_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// TestCompartmentLimitsEveryRead checks that a compartment limits search, includes and
// both kinds of history to one patient's resources, deletions included.
func TestCompartmentLimitsEveryRead(t *testing.T) {
	ctx := context.Background()
	st, svc := newSearchStore(t)
	q := `{"resourceType":"Questionnaire","status":"active","url":"http://example.org/Questionnaire/lup","version":"1"}`
	qres, err := svc.Create(ctx, "Questionnaire", []byte(q))
	if err != nil {
		t.Fatal(err)
	}
	mk := func(patient string) string {
		body := `{"resourceType":"QuestionnaireResponse","status":"completed","questionnaire":"http://example.org/Questionnaire/lup|1","subject":{"reference":"Patient/` + patient + `"}}`
		res, err := svc.Create(ctx, "QuestionnaireResponse", []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return res.Resource.ID
	}
	a1, a2, b1 := mk("a"), mk("a"), mk("b")
	cur, _ := svc.Read(ctx, "QuestionnaireResponse", a1)
	if _, err := svc.Update(ctx, "QuestionnaireResponse", a1, cur.Raw, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Delete(ctx, "QuestionnaireResponse", a2, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Delete(ctx, "QuestionnaireResponse", b1, nil); err != nil {
		t.Fatal(err)
	}
	b2 := mk("b")

	ids := func(rs []*fhir.Resource) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Type+"/"+r.ID+"/"+string(rune('0'+r.VersionID)))
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	v := func(typ, id string, vid int) string { return typ + "/" + id + "/" + string(rune('0'+vid)) }
	join := func(s ...string) string { sort.Strings(s); return strings.Join(s, " ") }

	t.Run("search", func(t *testing.T) {
		res, err := st.Search(ctx, &search.Request{Criteria: criteria(t, "QuestionnaireResponse", "status=completed"), Compartment: "Patient/a"})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ids(res.Matches), join(v("QuestionnaireResponse", a1, 2)); got != want {
			t.Errorf("matches %s, want %s", got, want)
		}
	})
	t.Run("revinclude keeps to the compartment", func(t *testing.T) {
		res, err := st.Search(ctx, &search.Request{Criteria: criteria(t, "Questionnaire", "_revinclude=QuestionnaireResponse:questionnaire"), Compartment: "Patient/b"})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ids(res.Included), join(v("QuestionnaireResponse", b2, 1)); got != want {
			t.Errorf("included %s, want %s", got, want)
		}
		if got, want := ids(res.Matches), join(v("Questionnaire", qres.Resource.ID, 1)); got != want {
			t.Errorf("matches %s, want %s (questionnaires are not patient data)", got, want)
		}
	})
	t.Run("type history", func(t *testing.T) {
		page, err := st.History(ctx, fhir.HistoryQuery{Type: "QuestionnaireResponse", Count: 50, Compartment: "Patient/a"})
		if err != nil {
			t.Fatal(err)
		}
		want := join(v("QuestionnaireResponse", a1, 1), v("QuestionnaireResponse", a1, 2), v("QuestionnaireResponse", a2, 1), v("QuestionnaireResponse", a2, 2))
		if got := ids(page.Versions); got != want {
			t.Errorf("history %s, want %s", got, want)
		}
	})
	t.Run("instance history of another patient's resource", func(t *testing.T) {
		page, err := st.History(ctx, fhir.HistoryQuery{Type: "QuestionnaireResponse", ID: b1, Count: 50, Compartment: "Patient/a"})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Versions) != 0 {
			t.Errorf("history of Patient/b's resource shows %s to Patient/a", ids(page.Versions))
		}
	})
	t.Run("versions carry their compartment", func(t *testing.T) {
		r, err := st.Version(ctx, "QuestionnaireResponse", a1, 1)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(r.Compartments, ",") != "Patient/a" {
			t.Errorf("compartments %v, want [Patient/a]", r.Compartments)
		}
		gone, err := st.Current(ctx, "QuestionnaireResponse", b1)
		if err != nil {
			t.Fatal(err)
		}
		if !gone.Deleted || strings.Join(gone.Compartments, ",") != "Patient/b" {
			t.Errorf("deleted version: deleted=%v compartments %v, want Patient/b", gone.Deleted, gone.Compartments)
		}
	})
}
