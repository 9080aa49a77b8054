package store_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
	"github.com/patient-involvement/fhir-server/internal/store"
	"github.com/patient-involvement/fhir-server/internal/store/storetest"
)

func newSearchStore(t *testing.T) (*store.Store, *fhir.Service) {
	st, svc, _ := newSearchStoreDB(t)
	return st, svc
}

func newSearchStoreDB(t testing.TB) (*store.Store, *fhir.Service, *mongo.Database) {
	t.Helper()
	db := storetest.NewDatabase(t)
	st, err := store.New(db, fhir.DefaultRegistry(), store.Options{IDFiltersOnly: storetest.IsEmbedded(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureIndexes(t.Context()); err != nil {
		t.Fatal(err)
	}
	svc, err := fhir.NewService(st, fhir.DefaultRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return st, svc, db
}

func qr(patient, status string, n int) []byte {
	return fmt.Appendf(nil, `{"resourceType":"QuestionnaireResponse","status":%q,"subject":{"reference":"Patient/%s"},"authored":"2024-05-%02dT10:00:00Z","identifier":{"system":"urn:test","value":"n%d"}}`,
		status, patient, n%28+1, n)
}

func criteria(t *testing.T, typ, query string) *search.Criteria {
	t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := search.Parse(typ, q, search.Options{Strict: true, DefaultCount: 20})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// walk follows next cursors from the first page and returns the ids in order.
func walk(t *testing.T, s search.Searcher, c *search.Criteria, during func(page int)) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for page := 0; page < 100; page++ {
		res, err := s.Search(context.Background(), &search.Request{Criteria: c, Cursor: cursor})
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		for _, r := range res.Matches {
			ids = append(ids, r.ID)
		}
		if during != nil {
			during(page)
		}
		if res.Next == "" {
			return ids
		}
		cursor = res.Next
	}
	t.Fatal("more than 100 pages")
	return nil
}

// TestPagingWhileWriting walks the pages of a search while other clients create matching
// resources and update the ones already listed: every resource that matched when the walk
// began is listed exactly once.
func TestPagingWhileWriting(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ name, query string }{
		{"default order", "status=completed&_count=7"},
		{"by authored", "status=completed&_sort=authored&_count=7"},
		{"by authored descending", "status=completed&_sort=-authored&_count=7"},
		{"by identifier", "status=completed&_sort=identifier&_count=7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, svc := newSearchStore(t)
			var initial []string
			for i := 0; i < 40; i++ {
				res, err := svc.Create(ctx, "QuestionnaireResponse", qr("p1", "completed", i))
				if err != nil {
					t.Fatal(err)
				}
				initial = append(initial, res.Resource.ID)
			}
			c := criteria(t, "QuestionnaireResponse", tc.query)
			var wg sync.WaitGroup
			ids := walk(t, st, c, func(page int) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := 0; j < 3; j++ {
						if _, err := svc.Create(ctx, "QuestionnaireResponse", qr("p2", "completed", 100+page*3+j)); err != nil {
							t.Error(err)
						}
					}
					// Rewrite one listed resource without changing its sort values.
					id := initial[page]
					cur, err := svc.Read(ctx, "QuestionnaireResponse", id)
					if err != nil {
						t.Error(err)
						return
					}
					if _, err := svc.Update(ctx, "QuestionnaireResponse", id, cur.Raw, nil); err != nil {
						t.Error(err)
					}
				}()
				wg.Wait()
			})
			seen := map[string]int{}
			for _, id := range ids {
				seen[id]++
			}
			for id, n := range seen {
				if n > 1 {
					t.Errorf("%s listed %d times", id, n)
				}
			}
			for _, id := range initial {
				if seen[id] != 1 {
					t.Errorf("%s, which matched from the start, listed %d times", id, seen[id])
				}
			}
		})
	}
}

// TestPagingBackAndRestart walks forward, then back with the previous cursors, and follows
// a cursor through a new Store on the same database, as after a restart.
func TestPagingBackAndRestart(t *testing.T) {
	ctx := context.Background()
	st, svc, db := newSearchStoreDB(t)
	for i := 0; i < 23; i++ {
		if _, err := svc.Create(ctx, "QuestionnaireResponse", qr("p1", "completed", i)); err != nil {
			t.Fatal(err)
		}
	}
	c := criteria(t, "QuestionnaireResponse", "_sort=-authored&_count=5")
	var pages [][]string
	var last *search.Result
	cursor := ""
	for {
		res, err := st.Search(ctx, &search.Request{Criteria: c, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range res.Matches {
			ids = append(ids, r.ID)
		}
		pages = append(pages, ids)
		last = res
		if res.Next == "" {
			break
		}
		cursor = res.Next
	}
	if len(pages) != 5 || len(pages[4]) != 3 {
		t.Fatalf("pages %v, want 5 pages, the last of 3", pages)
	}
	// Back from the last page.
	prev := last.Prev
	for i := len(pages) - 2; i >= 0; i-- {
		if prev == "" {
			t.Fatalf("page %d has no previous link", i+1)
		}
		res, err := st.Search(ctx, &search.Request{Criteria: c, Cursor: prev})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range res.Matches {
			ids = append(ids, r.ID)
		}
		if strings.Join(ids, ",") != strings.Join(pages[i], ",") {
			t.Errorf("previous page %d = %v, want %v", i, ids, pages[i])
		}
		prev = res.Prev
	}
	if prev != "" {
		t.Errorf("the first page reached backwards has a previous link")
	}

	// A new Store on the same database, as after a restart, accepts the old cursors.
	st2, err := store.New(db, fhir.DefaultRegistry())
	if err != nil {
		t.Fatal(err)
	}
	res, err := st2.Search(ctx, &search.Request{Criteria: c, Cursor: last.Prev})
	if err != nil {
		t.Fatalf("after a restart: %v", err)
	}
	if len(res.Matches) != 5 || res.Matches[0].ID != pages[3][0] {
		t.Errorf("after a restart the previous page starts with %v, want %s", res.Matches, pages[3][0])
	}

	cases := []struct {
		name   string
		cursor string
		query  string
	}{
		{"flipped character", flip(last.Prev), "_sort=-authored&_count=5"},
		{"other search", last.Prev, "_sort=authored&_count=5"},
		{"garbage", "not-a-cursor", "_sort=-authored&_count=5"},
		{"empty signature", strings.Split(last.Prev, ".")[0] + ".", "_sort=-authored&_count=5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := st.Search(ctx, &search.Request{Criteria: criteria(t, "QuestionnaireResponse", tc.query), Cursor: tc.cursor})
			if !fhir.IsKind(err, fhir.KindInvalid) {
				t.Fatalf("err = %v, want an invalid-input error", err)
			}
			if !strings.Contains(err.Error(), "paging link") {
				t.Errorf("message %q does not say what is wrong", err)
			}
		})
	}
}

func flip(s string) string {
	b := []byte(s)
	i := len(b) / 3
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// TestTimeZone reads dates without a zone in the server's zone, and indexes stored
// resources again when the zone changes.
func TestTimeZone(t *testing.T) {
	ctx := context.Background()
	st, svc, db := newSearchStoreDB(t)
	body := `{"resourceType":"QuestionnaireResponse","status":"completed","authored":"2024-05-03"}`
	if _, err := svc.Create(ctx, "QuestionnaireResponse", []byte(body)); err != nil {
		t.Fatal(err)
	}
	cph, err := time.LoadLocation("Europe/Copenhagen")
	if err != nil {
		t.Fatal(err)
	}
	count := func(s *store.Store, loc *time.Location, query string) int {
		t.Helper()
		q, _ := url.ParseQuery(query)
		c, _, err := search.Parse("QuestionnaireResponse", q, search.Options{Strict: true, Location: loc})
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Search(ctx, &search.Request{Criteria: c})
		if err != nil {
			t.Fatal(err)
		}
		return len(res.Matches)
	}
	cases := []struct {
		name  string
		query string
		utc   int // indexed and searched in UTC
		cph   int // indexed again and searched in Copenhagen
	}{
		{"the day itself", "authored=2024-05-03", 1, 1},
		{"an instant in the UTC day only", "authored=le2024-05-02T22:30:00Z", 0, 1},
		{"an instant in the Copenhagen day only", "authored=ge2024-05-03T22:30:00Z", 1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name+" in UTC", func(t *testing.T) {
			if n := count(st, nil, tc.query); n != tc.utc {
				t.Errorf("%s: %d matches, want %d", tc.query, n, tc.utc)
			}
		})
	}
	st2, err := store.New(db, fhir.DefaultRegistry(), store.Options{Location: cph, IDFiltersOnly: storetest.IsEmbedded(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := st2.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st2.Reindex(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name+" in Copenhagen", func(t *testing.T) {
			if n := count(st2, cph, tc.query); n != tc.cph {
				t.Errorf("%s: %d matches, want %d", tc.query, n, tc.cph)
			}
		})
	}
}
