package report

import (
	"fmt"
	"math"
	"testing"
)

// testQuestionnaire has a group of one Likert item with a "don't know" option, a boolean,
// an integer and a free-text item.
const testQuestionnaire = `{"resourceType":"Questionnaire","url":"https://example.org/q","version":"1","status":"active",
"item":[{"linkId":"g","type":"group","text":"Group","item":[
 {"linkId":"q1","type":"choice","text":"How?","answerOption":[
  {"valueCoding":{"system":"s","code":"1"},"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/ordinalValue","valueDecimal":1}]},
  {"valueCoding":{"system":"s","code":"2"},"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/ordinalValue","valueDecimal":2}]},
  {"valueCoding":{"system":"s","code":"3"},"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/ordinalValue","valueDecimal":3}]},
  {"valueCoding":{"system":"s","code":"4"},"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/ordinalValue","valueDecimal":4}]},
  {"valueCoding":{"system":"s","code":"5"},"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/ordinalValue","valueDecimal":5}]},
  {"valueCoding":{"system":"s","code":"9","display":"Don't know"}}]}]},
 {"linkId":"b","type":"boolean","text":"Yes?"},
 {"linkId":"i","type":"integer","text":"Days"},
 {"linkId":"t","type":"text","text":"Say"}]}`

// testRows are responses of units U1, U2, U3 (10 each) and U4 (3): q1 codes, b, i.
func testRows(t *testing.T) (*Layout, []Row) {
	t.Helper()
	v, err := ReadVersion([]byte(testQuestionnaire))
	if err != nil {
		t.Fatal(err)
	}
	units := []struct {
		key   string
		q1    []string
		trues int
	}{
		{"U1", []string{"5", "5", "5", "5", "4", "4", "4", "4", "4", "3"}, 10},
		{"U2", []string{"5", "4", "3", "3", "3", "3", "3", "2", "2", "9"}, 5},
		{"U3", []string{"4", "3", "3", "3", "2", "2", "2", "1", "1", "1"}, 0},
		{"U4", []string{"1", "1", "2"}, 0},
	}
	var rows []Row
	for _, u := range units {
		for k, code := range u.q1 {
			r := Row{Questionnaire: "https://example.org/q|1", Unit: "sys|" + u.key, UnitName: "Unit " + u.key,
				Codes:   []string{"q1$s|" + code, "q1$" + code, fmt.Sprintf("b$%v", k < u.trues)},
				Numbers: []Number{{LinkID: "i", Value: float64(k + 1)}}}
			rows = append(rows, r)
		}
	}
	return newLayout([]*Version{v}, false, nil), rows
}

func run(t *testing.T, l *Layout, rows []Row, min int) []*Stratum {
	t.Helper()
	s := &Service{}
	stratify, _, _ := s.stratifier(t.Context(), StratifyCareUnit)
	a := newAggregator(l, "https://example.org/q|1", stratify, false)
	for i := range rows {
		if err := a.add(&rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	return l.finish(a, min, true)
}

func index(l *Layout, link string) int {
	for i, it := range l.Items {
		if it.LinkID == link {
			return i
		}
	}
	return -1
}

func near(p *float64, want float64) bool { return p != nil && math.Abs(*p-want) < 0.0005 }

func TestFigures(t *testing.T) {
	t.Parallel()
	l, rows := testRows(t)
	strata := run(t, l, rows, 1) // nothing withheld: the figures as computed
	byLabel := map[string]*Stratum{}
	for _, s := range strata {
		byLabel[s.Label] = s
	}
	q1, b, i, g := index(l, "q1"), index(l, "b"), index(l, "i"), index(l, "g")
	for _, c := range []struct {
		name string
		got  *float64
		want float64
	}{
		// U1: 5,5,5,5,4,4,4,4,4,3 — mean 43/10, positive (4 and 5) 9/10
		{"U1 mean", byLabel["Unit U1"].Items[q1].Mean, 4.3},
		{"U1 share positive", byLabel["Unit U1"].Items[q1].SharePositive, 0.9},
		// U2: "don't know" is in the distribution, not in the mean nor the share: 28/9, 2/9
		{"U2 mean without don't know", byLabel["Unit U2"].Items[q1].Mean, 28.0 / 9},
		{"U2 share positive of the 9 with an opinion", byLabel["Unit U2"].Items[q1].SharePositive, 2.0 / 9},
		// the group's dimension score is its one item's mean
		{"U1 dimension", byLabel["Unit U1"].Items[g].Mean, 4.3},
		{"U2 share true", byLabel["Unit U2"].Items[b].SharePositive, 0.5},
		// i: 1…10 in each unit
		{"U1 median", byLabel["Unit U1"].Items[i].Median, 5.5},
		{"U1 max", byLabel["Unit U1"].Items[i].Max, 10},
		// overall: 33 responses; q1 positive 12 of 32 with an opinion
		{"all share positive", byLabel["all"].Items[q1].SharePositive, 12.0 / 32},
	} {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, deref(c.got), c.want)
		}
	}
	// Pooled share 12/32. U1 9/10 against the rest's 3/22: z = 4.1 → above; U2 2/9 against
	// 10/23: z = -1.1 → same; U3 1/10 against 11/22: z = -2.2 → below; U4 0/3 against
	// 12/29: z = -1.4 → same.
	for label, want := range map[string]string{"Unit U1": Above, "Unit U2": Same, "Unit U3": Below, "Unit U4": Same} {
		if got := byLabel[label].Items[q1].Significance; got != want {
			t.Errorf("%s significance %q, want %q", label, got, want)
		}
	}
	if n := byLabel["Unit U2"].Items[q1].N; n != 10 {
		t.Errorf("U2 n = %d, want 10 (don't know answered too)", n)
	}
}

// TestScoresGuarded: a mean or share positive that, with n and the shown counts, solves
// for a withheld count is withheld too.
func TestScoresGuarded(t *testing.T) {
	t.Parallel()
	l, rows := testRows(t)
	strata := run(t, l, rows, 3)
	byLabel := map[string]*Stratum{}
	for _, s := range strata {
		byLabel[s.Label] = s
	}
	q1 := index(l, "q1")
	// U1: 5×4, 4×5, 3×1 of 10. The 1 is withheld, the 4 with it (rule 4), and the 5 of "4"
	// across the units. Share positive 9/10 says x4 + x5 = 9, so with n the 3 is 10 − 9 = 1:
	// it goes, with its mark. The mean (3 x3 + 4 x4 + 5 x5 = 43) leaves 0, 1 or 2 for it and
	// stays.
	u1 := byLabel["Unit U1"].Items[q1]
	if u1.Options[2].Count != nil || u1.Options[3].Count != nil || u1.Options[4].Count != nil {
		t.Fatalf("U1 counts of 3, 4 and 5: %+v, want withheld", u1.Options)
	}
	if u1.SharePositive != nil || u1.Significance != "" {
		t.Errorf("U1 share positive %v, significance %q: they give the count of 1 away", deref(u1.SharePositive), u1.Significance)
	}
	if !near(u1.Mean, 4.3) {
		t.Errorf("U1 mean %v, want 4.3 (it gives nothing away)", deref(u1.Mean))
	}
	for i := range l.Items {
		for _, c := range l.revealed(i, strata, 3) {
			t.Errorf("%s: item %s option %d follows from the published figures", strata[c.si].Label, l.Items[i].LinkID, c.oi)
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestSuppression(t *testing.T) {
	t.Parallel()
	l, rows := testRows(t)
	strata := run(t, l, rows, 5)
	q1 := index(l, "q1")
	suppressed := map[string]bool{}
	for _, s := range strata {
		if s.Suppressed {
			suppressed[s.Label] = true
			if s.Responses != 0 || s.Items[q1].Mean != nil || s.Items[q1].Options[0].Count != nil {
				t.Errorf("%s is suppressed but publishes figures", s.Label)
			}
		}
	}
	// U4 has 3 responses; alone it would be all minus the others: U1, the first of the
	// smallest others, goes with it.
	if len(suppressed) != 2 || !suppressed["Unit U4"] || !suppressed["Unit U1"] {
		t.Errorf("suppressed %v, want Unit U4 and one more (Unit U1)", suppressed)
	}
	all := strata[0]
	if all.Suppressed || all.Responses != 33 {
		t.Errorf("overall: suppressed %v, %d responses", all.Suppressed, all.Responses)
	}
	// Overall q1 counts: 1×5, 2×6, 3×9, 4×7, 5×5, 9×1 of 33. "9" (1) is below 5: 1 of 33
	// is 3 %, which 1 alone rounds to: withheld. Then it is the one withheld count of the
	// item's n, so the smallest other (1: 5, the first of two) is withheld too; 5 of 33 is
	// 15 %, which only 5 rounds to: withheld, share and all.
	opts := all.Items[q1].Options
	if opts[5].Count != nil || opts[5].Share != nil || opts[0].Count != nil || opts[0].Share != nil {
		t.Errorf("overall 1 and don't know: %+v, %+v; want both withheld", opts[0], opts[5])
	}
	for oi, want := range map[int]int{1: 6, 2: 9, 3: 7, 4: 5} {
		if opts[oi].Count == nil || *opts[oi].Count != want {
			t.Errorf("overall option %d: %+v, want %d", oi, opts[oi], want)
		}
	}
	// With min-count 11 every unit is below it.
	for _, s := range run(t, l, rows, 11)[1:] {
		if !s.Suppressed {
			t.Errorf("%s published with 10 responses at min-count 11", s.Label)
		}
	}
	// With min-count 40 the overall is too.
	if !run(t, l, rows, 40)[0].Suppressed {
		t.Error("the overall of 33 is published at min-count 40")
	}
}

func TestWithheldShares(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		count, n  int
		shareOnly bool
	}{
		{1, 6, false},   // 17 %: only 1 of 6
		{3, 250, true},  // 1 %: 2, 3 and 4 of 250 all round to 1 %
		{4, 1000, true}, // 0 %: 0 … 4 of 1000
		{2, 40, false},  // 5 %: only 2 of 40
	} {
		count := c.count
		o := OptionFigures{Count: &count}
		changed := false
		withhold(&o, c.n, &changed)
		if o.Count != nil || o.ShareOnly != c.shareOnly || (o.Share == nil) == c.shareOnly {
			t.Errorf("%d of %d: %+v, want share only %v", c.count, c.n, o, c.shareOnly)
		}
	}
}

func TestTwoProportion(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		x1, n1, x2, n2 int
		want           string
	}{
		{90, 100, 70, 100, Above}, // z = 3.7
		{50, 100, 55, 100, Same},  // z = -0.7
		{30, 100, 50, 100, Below}, // z = -2.9
		{5, 5, 0, 0, ""},          // no rest to compare with
	} {
		if got := twoProportion(c.x1, c.n1, c.x2, c.n2); got != c.want {
			t.Errorf("%d/%d against %d/%d: %q, want %q", c.x1, c.n1, c.x2, c.n2, got, c.want)
		}
	}
}
