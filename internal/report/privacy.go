package report

import (
	"math"
	"sort"
)

// The suppression rules (docs/reports.md has an example). A count is sensitive when it is
// above 0 and below the minimum count.
//
//  1. A stratum with fewer responses than the minimum is suppressed: it has no figures. When
//     the overall stratum has fewer, everything is.
//  2. An item whose n in a published stratum is below the minimum is suppressed there.
//  3. In a published item, an option count below the minimum is withheld: its share is
//     shown rounded to a whole percent, or withheld too when that percent and the published
//     n give the count away.
//  4. Complementary suppression: wherever a total is published (the overall responses, the
//     overall n of an item, the overall count of an option, a stratum's n of an item) and
//     exactly one of the cells that add up to it is withheld, or the withheld ones add up to
//     less than the minimum, the total minus the others would give it (or their sum) away,
//     so the smallest other cell above 0 is withheld too. This is repeated until no total
//     has exactly one withheld cell nor withheld cells summing to less than the minimum.
//  5. A mean or share positive is published only where it follows from the published
//     counts and n alone (guardScores).
//  6. With version=*, a stratum's responses to a version are a count too (hideVersions).

// suppress applies the rules to the overall stratum all and the other strata.
func (l *Layout) suppress(all *Stratum, strata []*Stratum, min int) {
	if all.Responses < min {
		hideStratum(all)
		for _, s := range strata {
			hideStratum(s)
		}
		return
	}
	// Rule 1 and its complement across strata.
	cells := make([]cell, len(strata))
	for i, s := range strata {
		cells[i] = cell{value: s.raw, hidden: s.raw < min}
	}
	protect(cells, min)
	for i, s := range strata {
		if cells[i].hidden {
			hideStratum(s)
		}
	}
	l.hideVersions(append([]*Stratum{all}, strata...), min)
	// Withheld item and option cells, found again until nothing changes.
	hiddenItem := func(s *Stratum, i int) bool { return s.Suppressed || s.Items[i].Suppressed }
	for i, it := range l.Items {
		k := it.kind()
		if k == kindText || k == kindGroup {
			continue
		}
		fa := all.Items[i]
		if fa.N < min {
			for _, s := range append([]*Stratum{all}, strata...) {
				hideItem(s.Items[i])
			}
			continue
		}
		for _, s := range strata {
			if !s.Suppressed && s.Items[i].N < min {
				hideItem(s.Items[i])
			}
		}
		for changed := true; changed; {
			changed = false
			// Rule 4 on the item's n across strata.
			cells := make([]cell, len(strata))
			for si, s := range strata {
				cells[si] = cell{value: s.Items[i].rawN, hidden: hiddenItem(s, i)}
			}
			if protect(cells, min) {
				changed = true
				for si, s := range strata {
					if cells[si].hidden && !hiddenItem(s, i) {
						hideItem(s.Items[i])
					}
				}
			}
			if len(it.Options) == 0 {
				continue
			}
			// Rules 3 and 4 on option counts, within each stratum and across strata.
			for _, s := range append([]*Stratum{all}, strata...) {
				if hiddenItem(s, i) {
					continue
				}
				f := s.Items[i]
				cells := make([]cell, len(f.Options))
				for oi, o := range f.Options {
					c := f.counts[oi]
					cells[oi] = cell{value: c, hidden: o.Count == nil || (c > 0 && c < min)}
				}
				protect(cells, min)
				for oi := range f.Options {
					if cells[oi].hidden && f.Options[oi].Count != nil {
						withhold(&f.Options[oi], answered(f), &changed)
					}
				}
			}
			for oi := range it.Options {
				cells := make([]cell, len(strata))
				for si, s := range strata {
					o := s.Items[i].Options[oi]
					cells[si] = cell{value: s.Items[i].counts[oi], hidden: hiddenItem(s, i) || o.Count == nil}
				}
				if protect(cells, min) {
					for si, s := range strata {
						if cells[si].hidden && !hiddenItem(s, i) && s.Items[i].Options[oi].Count != nil {
							withhold(&s.Items[i].Options[oi], answered(s.Items[i]), &changed)
						}
					}
				}
			}
		}
		l.guardScores(i, append([]*Stratum{all}, strata...))
	}
	for _, s := range append([]*Stratum{all}, strata...) {
		l.dimensions(s)
	}
}

// hideVersions applies rule 6: with version=*, a stratum's responses are the sum of its
// responses per version, and an item reported per version is answered by its versions'
// responses only, so a stratum's responses minus such an item's n would tell how many
// answered the other versions. Versions with fewer responses than min in a stratum are
// withheld there (with the complementary rule over the versions), and so is, in that
// stratum, every item whose versions hold some of the withheld versions but not all.
func (l *Layout) hideVersions(ss []*Stratum, min int) {
	if len(l.versions) < 2 {
		return
	}
	for _, s := range ss {
		if s.Suppressed {
			continue
		}
		cells := make([]cell, len(s.versions))
		for vi, c := range s.versions {
			cells[vi] = cell{value: c, hidden: c > 0 && c < min}
		}
		protect(cells, min)
		hidden := map[string]bool{}
		for vi, c := range cells {
			if c.hidden && c.value > 0 {
				hidden[l.versions[vi]] = true
			}
		}
		if len(hidden) == 0 {
			continue
		}
		for i, it := range l.Items {
			some := 0
			for _, v := range it.Versions {
				if hidden[v] {
					some++
				}
			}
			if some > 0 && some < len(hidden) {
				hideItem(s.Items[i])
			}
		}
	}
}

// cell is one of the figures that add up to a published total.
type cell struct {
	value  int
	hidden bool
}

// protect withholds, while exactly one cell above 0 is withheld or the withheld cells add up
// to less than min (the total minus the shown cells would give that sum away), the
// smallest other cell above 0 as well. It reports whether it withheld any.
func protect(cells []cell, min int) bool {
	changed := false
	for {
		hidden, sum, open := 0, 0, -1
		for i, c := range cells {
			switch {
			case c.hidden && c.value > 0:
				hidden++
				sum += c.value
			case !c.hidden && c.value > 0 && (open < 0 || c.value < cells[open].value):
				open = i
			}
		}
		if (hidden != 1 && (sum == 0 || sum >= min)) || open < 0 {
			return changed
		}
		cells[open].hidden = true
		changed = true
	}
}

// withhold hides an option's count: its share stays, rounded to a whole percent, unless that
// percent of n gives the count away.
func withhold(o *OptionFigures, n int, changed *bool) {
	if o.Count == nil {
		return
	}
	c := *o.Count
	o.Count = nil
	*changed = true
	if n <= 0 {
		o.Share, o.Suppressed = nil, true
		return
	}
	pct := math.Round(100 * float64(c) / float64(n))
	if derivable(pct, n) {
		o.Share, o.Suppressed = nil, true
		return
	}
	sh := pct / 100
	o.Share, o.ShareOnly = &sh, true
}

// derivable reports whether exactly one count of n rounds to pct percent.
func derivable(pct float64, n int) bool {
	lo := int(math.Floor((pct-0.5)*float64(n)/100)) - 1
	hi := int(math.Ceil((pct+0.5)*float64(n)/100)) + 1
	k := 0
	for c := max(lo, 0); c <= min(hi, n); c++ {
		if math.Round(100*float64(c)/float64(n)) == pct {
			k++
		}
	}
	return k <= 1
}

func hideStratum(s *Stratum) {
	s.Suppressed = true
	s.Responses = 0
	for _, f := range s.Items {
		hideItem(f)
	}
}

// hideItem withholds every figure of an item in a stratum, keeping the raw counts for the
// complementary rule.
func hideItem(f *Figures) {
	*f = Figures{Suppressed: true, Options: make([]OptionFigures, len(f.Options)), counts: f.counts, rawN: f.rawN}
	for i := range f.Options {
		f.Options[i] = OptionFigures{Suppressed: true}
	}
}

// sortStrata orders strata by label, the unlabelled last.
func sortStrata(strata []*Stratum) {
	sort.SliceStable(strata, func(i, j int) bool {
		a, b := strata[i], strata[j]
		if (a.Key == "") != (b.Key == "") {
			return b.Key == ""
		}
		return a.Label < b.Label
	})
}
