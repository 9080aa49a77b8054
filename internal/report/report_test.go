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

// TestScoresGuarded: a mean or share positive that does not follow from n and the shown
// counts alone is withheld.
func TestScoresGuarded(t *testing.T) {
	t.Parallel()
	l, rows := testRows(t)
	strata := run(t, l, rows, 3)
	byLabel := map[string]*Stratum{}
	for _, s := range strata {
		byLabel[s.Label] = s
	}
	q1 := index(l, "q1")
	for _, c := range []struct {
		name, unit      string
		mean, share     bool
		withheldOptions string
	}{
		// U1: 5×4, 4×5, 3×1 of 10. The 1 is withheld, the 4 of "5" with it (rule 4), the 5
		// of "4" across the units: ordinal options withheld, positive and not: neither.
		{"positive and not withheld", "Unit U1", false, false, "3 4 5"},
		// U3: 4×1, 3×3, 2×3, 1×3: the 1 of "4" is withheld, "1" and "3" with it (rule 4 in
		// the unit and across the units): neither.
		{"a positive option withheld with others", "Unit U3", false, false, "1 3 4"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := byLabel[c.unit].Items[q1]
			var withheld []string
			for oi, o := range f.Options {
				if o.Count == nil {
					withheld = append(withheld, l.Items[q1].Options[oi].Code)
				}
			}
			if got := fmt.Sprint(withheld); got != "["+c.withheldOptions+"]" {
				t.Errorf("withheld %s, want [%s]", got, c.withheldOptions)
			}
			if (f.Mean != nil) != c.mean || (f.SharePositive != nil) != c.share || (f.SharePositive == nil && f.Significance != "") {
				t.Errorf("mean %v, share positive %v, mark %q; want mean %v, share %v", deref(f.Mean), deref(f.SharePositive), f.Significance, c.mean, c.share)
			}
		})
	}
}

// TestNothingPinned plays the attacker on one stratum: over every table of counts that
// agrees with all that is published of an item (shown counts, n, whole percents, mean,
// share positive), each withheld count from 1 to 4 must be able to take more than one value.
func TestNothingPinned(t *testing.T) {
	t.Parallel()
	l, _ := testRows(t)
	q1 := index(l, "q1")
	it := l.Items[q1]
	seed := uint32(11)
	next := func(n int) int { seed = seed*1664525 + 1013904223; return int(seed>>16) % n }
	codes := []string{"1", "2", "3", "4", "5", "9"}
	for trial := range 300 {
		n := 5 + next(40)
		w := []int{1 + next(5), 1 + next(5), 1 + next(8), 1 + next(10), 1 + next(10), next(3)}
		sum := 0
		for _, x := range w {
			sum += x
		}
		a := newAggregator(l, "https://example.org/q|1", nil, false)
		for range n {
			r, oi := next(sum), 0
			for r >= w[oi] {
				r -= w[oi]
				oi++
			}
			if err := a.add(&Row{Questionnaire: "https://example.org/q|1", Codes: []string{"q1$s|" + codes[oi]}}); err != nil {
				t.Fatal(err)
			}
		}
		f := l.finish(a, 5, false)[0].Items[q1]
		if f.Suppressed {
			continue
		}
		x := make([]int, len(f.Options))
		var hidden []int
		left := f.N
		for oi, o := range f.Options {
			if o.Count == nil {
				hidden = append(hidden, oi)
			} else {
				x[oi] = *o.Count
				left -= x[oi]
			}
		}
		values := make([]map[int]bool, len(f.Options))
		for _, oi := range hidden {
			values[oi] = map[int]bool{}
		}
		agrees := func() bool {
			ordSum, ordN, pos, base := 0.0, 0, 0, 0
			for oi, o := range it.Options {
				if fo := f.Options[oi]; fo.Share != nil && fo.Count == nil && math.Round(100*float64(x[oi])/float64(f.N)) != math.Round(*fo.Share*100) {
					return false
				}
				if o.Ordinal != nil {
					ordSum += *o.Ordinal * float64(x[oi])
					ordN += x[oi]
					base += x[oi]
				}
				if o.Positive {
					pos += x[oi]
				}
			}
			if f.Mean != nil && (ordN == 0 || math.Abs(ordSum/float64(ordN)-*f.Mean) > 1e-9) {
				return false
			}
			return f.SharePositive == nil || base > 0 && math.Abs(float64(pos)/float64(base)-*f.SharePositive) < 1e-9
		}
		var fill func(k, left int)
		fill = func(k, left int) {
			if k == len(hidden)-1 {
				x[hidden[k]] = left
				if agrees() {
					for _, oi := range hidden {
						values[oi][x[oi]] = true
					}
				}
				return
			}
			for v := 0; v <= left; v++ {
				x[hidden[k]] = v
				fill(k+1, left-v)
			}
		}
		if len(hidden) > 0 {
			fill(0, left)
		}
		for _, oi := range hidden {
			if c := f.counts[oi]; c > 0 && c < 5 && len(values[oi]) < 2 {
				t.Errorf("trial %d: counts %v, n %d: the %d of %q follows from what is published (mean %v, share positive %v, options %+v)",
					trial, f.counts, f.N, c, it.Options[oi].Code, deref(f.Mean), deref(f.SharePositive), f.Options)
			}
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
