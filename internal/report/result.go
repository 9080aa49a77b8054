package report

import (
	"math"
	"slices"
	"sort"
	"time"
)

// Report is a computed report, every figure already passed through the suppression rules.
type Report struct {
	// URL, Versions and Title are the Questionnaire's; Versions lists the versions covered.
	URL      string
	Versions []string
	Title    string
	// Start and End are the period (End exclusive); PrevStart and PrevEnd the compared one
	// when Compare is set.
	Start, End         time.Time
	Compare            bool
	PrevStart, PrevEnd time.Time
	// Stratifier is care-unit, none or the FHIRPath expression.
	Stratifier string
	// Statuses, MinCount, Lang and Comments are as asked.
	Statuses []string
	MinCount int
	Lang     string
	Comments bool
	// Items are the reported items; each stratum's Items follow the same order.
	Items []*Item
	// Strata are the overall stratum (key "all") first, then the others by label.
	Strata []*Stratum
	// Generated is when the report was made.
	Generated time.Time
}

// Stratum is the figures of one stratum.
type Stratum struct {
	// Key identifies the stratum (a unit's "system|value", a FHIRPath value, "all"); Label
	// names it for people.
	Key, Label string
	// Responses is the number of responses; 0 when Suppressed.
	Responses int
	// Suppressed says the stratum has fewer responses than the minimum count (or is
	// suppressed so that another cannot be derived): it has no figures.
	Suppressed bool
	// Items are the figures per report item.
	Items []*Figures
	// Previous are the figures of the compared period, when asked.
	Previous *Stratum
	raw      int   // Responses before suppression
	versions []int // the responses per version, with version=*
}

// Figures are the published figures of one item in one stratum. Nil pointers are figures
// not published (suppressed or not applicable).
type Figures struct {
	// N is the number of responses that answered the item.
	N int
	// Suppressed says the item's figures in this stratum are withheld.
	Suppressed bool
	// Options are the answer distribution (choice and boolean items).
	Options []OptionFigures
	// Mean is the mean ordinal value (choice), the mean (numbers) or the dimension score
	// (groups); Median, Min and Max are numbers'.
	Mean, Median, Min, Max *float64
	// SharePositive is the share (0–1) of positive answers; ShareTrue a boolean's.
	SharePositive *float64
	// Significance is above, below or same: this stratum's share positive against the rest
	// (two-proportion test at 95 %); "" when not tested.
	Significance string
	// Comments are the free-text answers (when asked and published).
	Comments []string
	// MeanWithheld and ShareWithheld say the mean or the share positive is withheld (rule 5)
	// though the item's n is published.
	MeanWithheld, ShareWithheld bool
	// positives counts the positive answers, for the test; never published as such.
	positives int
	// rawN and counts are N and the option counts before suppression.
	rawN   int
	counts []int
}

// OptionFigures are one answer option's figures.
type OptionFigures struct {
	// Count is the number of answers with the option; nil when withheld.
	Count *int
	// Share is its share (0–1) of the item's answers; nil when withheld. ShareOnly says the
	// count is withheld and the share rounded to a whole percent.
	Share     *float64
	ShareOnly bool
	// Suppressed says neither count nor share is published.
	Suppressed bool
}

// Significance marks.
const (
	Above = "above"
	Below = "below"
	Same  = "same"
)

// raw computes a stratum's unsuppressed figures from its counts.
func (l *Layout) raw(s *stratumAcc) *Stratum {
	out := &Stratum{Key: s.key, Label: s.label, Responses: s.responses, raw: s.responses, versions: s.byVersion, Items: make([]*Figures, len(l.Items))}
	for i, it := range l.Items {
		acc := &s.items[i]
		f := &Figures{N: acc.n, rawN: acc.n, counts: slices.Clone(acc.counts)}
		switch it.kind() {
		case kindChoice, kindBoolean:
			f.Options = make([]OptionFigures, len(it.Options))
			total := answered(f)
			for oi, c := range acc.counts {
				c := c
				f.Options[oi].Count = &c
				if total > 0 {
					sh := float64(c) / float64(total)
					f.Options[oi].Share = &sh
				}
				if it.Options[oi].Positive {
					f.positives += c
				}
			}
			if acc.ordN > 0 {
				m := acc.ordSum / float64(acc.ordN)
				f.Mean = &m
			}
			if base := it.positiveBase(acc.counts); base > 0 && it.hasPositive() {
				sp := float64(f.positives) / float64(base)
				f.SharePositive = &sp
			}
		case kindNumber:
			if len(acc.nums) > 0 {
				nums := slices.Clone(acc.nums)
				sort.Float64s(nums)
				sum := 0.0
				for _, v := range nums {
					sum += v
				}
				mean := sum / float64(len(nums))
				med := nums[len(nums)/2]
				if len(nums)%2 == 0 {
					med = (nums[len(nums)/2-1] + nums[len(nums)/2]) / 2
				}
				lo, hi := nums[0], nums[len(nums)-1]
				f.Mean, f.Median, f.Min, f.Max = &mean, &med, &lo, &hi
			}
		case kindText:
			f.N, f.rawN = len(acc.comments), len(acc.comments)
			f.Comments = acc.comments
		}
		out.Items[i] = f
	}
	l.dimensions(out)
	return out
}

// dimensions sets each group's score: the mean of its questions' means, over those with a
// published mean.
func (l *Layout) dimensions(s *Stratum) {
	for i, it := range l.Items {
		if it.kind() != kindGroup {
			continue
		}
		f := s.Items[i]
		if s.Suppressed {
			f.Suppressed = true
			continue
		}
		sum, k := 0.0, 0
		for _, c := range it.Children {
			cf := s.Items[c]
			if cf.Mean != nil && !cf.Suppressed && l.Items[c].kind() == kindChoice {
				sum += *cf.Mean
				k++
			}
			f.N = max(f.N, cf.N)
			f.rawN = max(f.rawN, cf.rawN)
		}
		f.Mean = nil
		if k > 0 {
			m := sum / float64(k)
			f.Mean = &m
		}
	}
}

// significance marks each published stratum's share positive against the rest of the
// responses: a two-proportion z-test at the 95 % level (|z| ≥ 1.96).
func (l *Layout) significance(all *Stratum, strata []*Stratum) {
	for i, it := range l.Items {
		if (it.kind() != kindChoice && it.kind() != kindBoolean) || !it.hasPositive() {
			continue
		}
		total := all.Items[i]
		for _, s := range strata {
			f := s.Items[i]
			if s.Suppressed || f.Suppressed || f.SharePositive == nil {
				continue
			}
			n1 := it.positiveBase(f.counts)
			n2 := it.positiveBase(total.counts) - n1
			x1, x2 := f.positives, total.positives-f.positives
			f.Significance = twoProportion(x1, n1, x2, n2)
		}
	}
}

// positiveBase is the number of answers share positive is a share of: those with an
// ordinal value on an ordinal scale (a "don't know" is no opinion), else all.
func (it *Item) positiveBase(counts []int) int {
	n := 0
	for oi, c := range counts {
		if !it.ordinal || it.Options[oi].Ordinal != nil {
			n += c
		}
	}
	return n
}

// answered is the number of answers an item's distribution holds, withheld ones included:
// the base of its shares.
func answered(f *Figures) int {
	n := 0
	for _, c := range f.counts {
		n += c
	}
	return n
}

// twoProportion tests x1/n1 against x2/n2 with the pooled two-proportion z-test at 95 %.
func twoProportion(x1, n1, x2, n2 int) string {
	if n1 == 0 || n2 == 0 {
		return ""
	}
	p := float64(x1+x2) / float64(n1+n2)
	if p == 0 || p == 1 {
		return Same
	}
	se := math.Sqrt(p * (1 - p) * (1/float64(n1) + 1/float64(n2)))
	z := (float64(x1)/float64(n1) - float64(x2)/float64(n2)) / se
	switch {
	case z >= 1.96:
		return Above
	case z <= -1.96:
		return Below
	}
	return Same
}
