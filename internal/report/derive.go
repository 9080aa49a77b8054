package report

// guardScores applies rule 5 to item i in the strata ss: a mean or share positive is
// published only where it follows from the published counts and n alone, so that it tells
// nothing of a withheld count, however it is combined with the other figures (as equations,
// as whole numbers that are never negative, or rounded).
//
//   - The mean is of the options with an ordinal value: it is published when none of them is
//     withheld.
//   - The share positive is of the positive options among those in its base: it is published
//     when the withheld options are all of one kind (positive, or not positive, or outside
//     the base, such as "don't know"), since it then follows from n minus the shown counts.
//
// Withholding a share positive withholds its significance mark too.
func (l *Layout) guardScores(i int, ss []*Stratum) {
	it := l.Items[i]
	if it.kind() != kindChoice && it.kind() != kindBoolean {
		return
	}
	for _, s := range ss {
		f := s.Items[i]
		if s.Suppressed || f.Suppressed {
			continue
		}
		ordinal := false
		kinds := map[[2]bool]bool{}
		for oi, o := range f.Options {
			if o.Count != nil {
				continue
			}
			opt := it.Options[oi]
			ordinal = ordinal || opt.Ordinal != nil
			kinds[[2]bool{opt.Positive, !it.ordinal || opt.Ordinal != nil}] = true
		}
		if ordinal && f.Mean != nil {
			f.Mean, f.MeanWithheld = nil, true
		}
		if len(kinds) > 1 && f.SharePositive != nil {
			f.SharePositive, f.Significance, f.ShareWithheld = nil, "", true
		}
	}
}
