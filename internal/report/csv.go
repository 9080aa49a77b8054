package report

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"
)

// CSVHeader are the columns of the CSV form, in order.
var CSVHeader = []string{"questionnaire", "version", "period_start", "period_end", "stratum", "linkId", "answer", "count", "n", "percent", "mean", "suppressed"}

// WriteCSV writes the report as CSV: per stratum and item one row per answer option and one
// with an empty answer holding n and the mean (a group's: the dimension score). With a
// comparison, the previous period's rows follow, with its period. Withheld cells are empty,
// with suppressed=true.
func (r *Report) WriteCSV(w io.Writer, loc *time.Location) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	periods := []struct {
		start, end time.Time
		pick       func(*Stratum) *Stratum
	}{{r.Start, r.End, func(s *Stratum) *Stratum { return s }}}
	if r.Compare {
		periods = append(periods, struct {
			start, end time.Time
			pick       func(*Stratum) *Stratum
		}{r.PrevStart, r.PrevEnd, func(s *Stratum) *Stratum { return s.Previous }})
	}
	for _, p := range periods {
		ps, pe := formatDate(p.start, loc), formatDate(p.end, loc)
		for _, cur := range r.Strata {
			s := p.pick(cur)
			if s == nil {
				continue
			}
			for i, it := range r.Items {
				k := it.kind()
				if k == kindText {
					continue
				}
				f := s.Items[i]
				base := []string{cellText(r.URL), cellText(strings.Join(it.Versions, "+")), ps, pe, cellText(cur.Label), cellText(it.LinkID)}
				for oi, o := range it.Options {
					of := f.Options[oi]
					row := append(append([]string{}, base...), cellText(o.Code), "", "", "", "", "false")
					if of.Count != nil {
						row[7] = strconv.Itoa(*of.Count)
					}
					if !f.Suppressed {
						row[8] = strconv.Itoa(f.N)
					}
					if of.Share != nil {
						row[9] = formatPercent(*of.Share, of.ShareOnly)
					}
					if f.Suppressed || of.Suppressed || of.Count == nil {
						row[11] = "true"
					}
					if err := cw.Write(row); err != nil {
						return err
					}
				}
				row := append(append([]string{}, base...), "", "", "", "", "", "false")
				if f.Suppressed || f.MeanWithheld || f.ShareWithheld {
					row[11] = "true"
				}
				if !f.Suppressed {
					row[8] = strconv.Itoa(f.N)
					if f.Mean != nil {
						row[10] = formatNumber(*f.Mean)
					}
					if f.SharePositive != nil {
						row[9] = formatPercent(*f.SharePositive, false)
					}
				}
				if err := cw.Write(row); err != nil {
					return err
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// cellText guards a text cell against spreadsheets that run a cell starting with =, +, -, @,
// a tab or a carriage return as a formula (a unit's name comes from the responses): such a
// cell gets a leading apostrophe, which spreadsheets show as text and do not display.
func cellText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// formatDate writes an instant as a date when it is midnight in loc, else as a dateTime.
func formatDate(t time.Time, loc *time.Location) string {
	lt := t.In(loc)
	if isMidnight(lt) {
		return lt.Format("2006-01-02")
	}
	return lt.Format(time.RFC3339)
}

// formatPercent writes a share (0–1) as a percent: one decimal, or whole when rounded.
func formatPercent(share float64, whole bool) string {
	if whole {
		return strconv.FormatFloat(share*100, 'f', 0, 64)
	}
	return strconv.FormatFloat(share*100, 'f', 1, 64)
}

// formatNumber writes a mean or score with at most two decimals.
func formatNumber(v float64) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return s
}
