package report

import "math"

// The means and shares positive of a choice item are sums over its option counts: a mean
// m says Σ (ordinal − m) × count = 0 over the ordinal options, a share positive p says
// Σ (positive − p × in base) × count = 0. With n and the published counts they can give a
// withheld count away (n minus the shown counts leaves two cells, the mean tells them
// apart; share positive times n minus the top option's count is the second's). Over the
// strata, the overall counts are the sums of the strata's. guardScores writes these
// relations as a linear system over the withheld counts, and withholds means and shares
// positive until no withheld count below the minimum follows from them.

// cellRef names one withheld figure of an item: stratum si (0 the overall) and option oi,
// or oi = -1 for the stratum's n.
type cellRef struct{ si, oi int }

// guardScores withholds, for item i, the means and shares positive that with the other
// published figures would give a withheld count below min away. Each round solves the
// item's system once and, for every stratum with a count given away, withholds the score of
// its own that gives it away (found on the stratum's own small system), else its own or
// else the overall's first score left.
func (l *Layout) guardScores(i int, ss []*Stratum, min int) {
	it := l.Items[i]
	if it.kind() != kindChoice && it.kind() != kindBoolean {
		return
	}
	for {
		cells := l.revealed(i, ss, min)
		if len(cells) == 0 {
			return
		}
		dropped := false
		seen := map[int]bool{}
		for _, c := range cells {
			if seen[c.si] {
				continue
			}
			seen[c.si] = true
			if l.dropLocal(i, ss[c.si], c.oi, min) {
				dropped = true
				continue
			}
			for _, f := range []*Figures{ss[c.si].Items[i], ss[0].Items[i]} {
				if dropFirst(f) {
					dropped = true
					break
				}
			}
		}
		if !dropped {
			for _, s := range ss {
				if dropFirst(s.Items[i]) {
					dropped = true
					break
				}
			}
		}
		if !dropped {
			return // the counts alone: the complementary rule's part
		}
	}
}

// dropLocal withholds the score of stratum s by which its own figures give option oi's
// count away: the mean, the share positive, or both. It reports whether it withheld any.
func (l *Layout) dropLocal(i int, s *Stratum, oi, min int) bool {
	one := []*Stratum{s}
	given := func() bool {
		for _, c := range l.revealed(i, one, min) {
			if c.oi == oi {
				return true
			}
		}
		return false
	}
	if !given() {
		return false
	}
	f := s.Items[i]
	for _, which := range []int{scoreMean, scoreShare} {
		if !hasScore(f, which) {
			continue
		}
		saved := *f
		dropScore(f, which)
		if !given() {
			return true
		}
		*f = saved
	}
	dropScore(f, scoreMean)
	dropScore(f, scoreShare)
	return true
}

// dropFirst withholds f's mean, else its share positive; it reports whether there was one.
func dropFirst(f *Figures) bool {
	for _, which := range []int{scoreMean, scoreShare} {
		if hasScore(f, which) {
			dropScore(f, which)
			return true
		}
	}
	return false
}

const (
	scoreMean = iota
	scoreShare
)

func hasScore(f *Figures, which int) bool {
	if f.Suppressed {
		return false
	}
	if which == scoreMean {
		return f.Mean != nil
	}
	return f.SharePositive != nil
}

func dropScore(f *Figures, which int) {
	if which == scoreMean {
		f.Mean = nil
		return
	}
	f.SharePositive, f.Significance = nil, ""
}

// revealed returns the withheld option counts of item i in strata ss (ss[0] the overall,
// whose counts are the sums of the others'), above 0 and below min, that the published
// figures determine.
func (l *Layout) revealed(i int, ss []*Stratum, min int) []cellRef {
	it := l.Items[i]
	vars := map[cellRef]int{}
	var refs []cellRef
	hidden := func(si int) bool { return ss[si].Suppressed || ss[si].Items[i].Suppressed }
	variable := func(c cellRef) int {
		if v, ok := vars[c]; ok {
			return v
		}
		vars[c] = len(refs)
		refs = append(refs, c)
		return vars[c]
	}
	type term struct {
		c    cellRef
		coef float64
	}
	var eqs [][]term
	var rhs []float64
	// add records Σ coef × cell = 0, moving published cells to the right-hand side.
	add := func(ts []term) {
		eqs, rhs = append(eqs, ts), append(rhs, 0)
	}
	known := func(c cellRef) (float64, bool) {
		f := ss[c.si].Items[i]
		if hidden(c.si) {
			return 0, false
		}
		if c.oi < 0 {
			return float64(f.N), true
		}
		if o := f.Options[c.oi]; o.Count != nil {
			return float64(*o.Count), true
		}
		return 0, false
	}
	for si := range ss {
		f := ss[si].Items[i]
		total := 0
		for _, c := range f.counts {
			total += c
		}
		if total == f.rawN { // one answer each: the counts add up to n
			ts := []term{{cellRef{si, -1}, -1}}
			for oi := range it.Options {
				ts = append(ts, term{cellRef{si, oi}, 1})
			}
			add(ts)
		}
		if f.Mean != nil && !hidden(si) {
			var ts []term
			for oi, o := range it.Options {
				if o.Ordinal != nil {
					ts = append(ts, term{cellRef{si, oi}, *o.Ordinal - *f.Mean})
				}
			}
			add(ts)
		}
		if f.SharePositive != nil && !hidden(si) {
			var ts []term
			for oi, o := range it.Options {
				c := 0.0
				if o.Positive {
					c = 1
				}
				if !it.ordinal || o.Ordinal != nil {
					c -= *f.SharePositive
				}
				ts = append(ts, term{cellRef{si, oi}, c})
			}
			add(ts)
		}
	}
	if len(ss) > 1 { // the overall is the sum of the strata
		for oi := -1; oi < len(it.Options); oi++ {
			ts := []term{{cellRef{0, oi}, 1}}
			for si := 1; si < len(ss); si++ {
				ts = append(ts, term{cellRef{si, oi}, -1})
			}
			add(ts)
		}
	}
	// The rows over the withheld cells.
	rows := make([][]float64, 0, len(eqs))
	for _, ts := range eqs {
		for _, t := range ts {
			if _, ok := known(t.c); !ok {
				variable(t.c)
			}
		}
	}
	for e, ts := range eqs {
		row := make([]float64, len(refs)+1)
		row[len(refs)] = rhs[e]
		for _, t := range ts {
			if v, ok := known(t.c); ok {
				row[len(refs)] -= t.coef * v
			} else {
				row[vars[t.c]] += t.coef
			}
		}
		rows = append(rows, row)
	}
	determined := reduce(rows, len(refs))
	sensitive := func(c cellRef) bool {
		v := ss[c.si].Items[i].counts[c.oi]
		return v > 0 && v < min
	}
	var out []cellRef
	for v, c := range refs {
		if c.oi >= 0 && determined[v] && sensitive(c) {
			out = append(out, c)
		}
	}
	return out
}

// reduce brings rows (n coefficients and a right-hand side each) to reduced row echelon
// form and reports which of the n unknowns they determine.
func reduce(rows [][]float64, n int) []bool {
	const eps = 1e-9
	pivots := make([]int, 0, n)
	r := 0
	for col := 0; col < n && r < len(rows); col++ {
		best := r
		for k := r + 1; k < len(rows); k++ {
			if math.Abs(rows[k][col]) > math.Abs(rows[best][col]) {
				best = k
			}
		}
		if math.Abs(rows[best][col]) < eps {
			continue
		}
		rows[r], rows[best] = rows[best], rows[r]
		p := rows[r][col]
		for j := col; j <= n; j++ {
			rows[r][j] /= p
		}
		for k := range rows {
			if k == r || math.Abs(rows[k][col]) < eps {
				continue
			}
			f := rows[k][col]
			for j := col; j <= n; j++ {
				rows[k][j] -= f * rows[r][j]
			}
		}
		pivots = append(pivots, col)
		r++
	}
	out := make([]bool, n)
	for k, col := range pivots {
		alone := true
		for j := col + 1; j < n; j++ {
			if math.Abs(rows[k][j]) > eps {
				alone = false
				break
			}
		}
		out[col] = alone
	}
	return out
}
