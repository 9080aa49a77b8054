package report

import (
	"fmt"
	"html/template"
	"image/color"
	"io"
	"strings"
	"time"
)

// words are the page's own texts, by language ("" is English).
var words = map[string]map[string]string{
	"en": {"all": "All", "period": "Period", "versions": "Version", "responses": "Responses", "unit": "Stratum",
		"n": "n", "mean": "Mean", "positive": "Positive", "sig": "Against the rest", "above": "▲ above", "below": "▼ below",
		"same": "= no difference", "suppressed": "fewer than %d responses: not published", "itemSuppressed": "not published (fewer than %d answers)",
		"previous": "Previous period", "diff": "Change", "comments": "Comments", "median": "Median", "min": "Min", "max": "Max",
		"shareTrue": "Yes", "dimension": "Dimension score (mean of the item means)", "generated": "Made", "minNote": "No figure below %d is published: smaller counts are shown as a rounded share (~) or withheld (–).",
		"statuses": "Statuses", "noComments": "No comments.", "overview": "Responses per stratum"},
	"da": {"all": "Alle", "period": "Periode", "versions": "Version", "responses": "Besvarelser", "unit": "Enhed",
		"n": "n", "mean": "Gennemsnit", "positive": "Positive", "sig": "I forhold til resten", "above": "▲ over", "below": "▼ under",
		"same": "= ingen forskel", "suppressed": "færre end %d besvarelser: vises ikke", "itemSuppressed": "vises ikke (færre end %d svar)",
		"previous": "Forrige periode", "diff": "Ændring", "comments": "Kommentarer", "median": "Median", "min": "Min", "max": "Maks",
		"shareTrue": "Ja", "dimension": "Dimensionsscore (gennemsnit af spørgsmålenes gennemsnit)", "generated": "Dannet", "minNote": "Ingen tal under %d vises: mindre antal vises som afrundet andel (~) eller udelades (–).",
		"statuses": "Status", "noComments": "Ingen kommentarer.", "overview": "Besvarelser pr. enhed"},
	"sv": {"all": "Alla", "period": "Period", "versions": "Version", "responses": "Svar", "unit": "Enhet",
		"n": "n", "mean": "Medelvärde", "positive": "Positiva", "sig": "Jämfört med övriga", "above": "▲ över", "below": "▼ under",
		"same": "= ingen skillnad", "suppressed": "färre än %d svar: visas inte", "itemSuppressed": "visas inte (färre än %d svar)",
		"previous": "Föregående period", "diff": "Förändring", "comments": "Kommentarer", "median": "Median", "min": "Min", "max": "Max",
		"shareTrue": "Ja", "dimension": "Dimensionsresultat (medelvärde av frågornas medelvärden)", "generated": "Skapad", "minNote": "Inga tal under %d visas: mindre antal visas som avrundad andel (~) eller utelämnas (–).",
		"statuses": "Status", "noComments": "Inga kommentarer.", "overview": "Svar per enhet"},
}

// Page data of the HTML form.
type htmlPage struct {
	Lang, Title, Period, PrevPeriod, Versions, Statuses, Generated, MinNote string
	W                                                                       map[string]string
	Overview                                                                []htmlRow
	Items                                                                   []htmlItem
	Compare                                                                 bool
}

type htmlItem struct {
	LinkID, Text  string
	Depth         int
	Group, IsText bool
	Chart         template.HTML
	Legend        []htmlLegend
	Rows          []htmlRow
	Comments      []htmlComments
	Numbers       bool
}

type htmlLegend struct{ Label, Color string }

type htmlRow struct {
	Label, N, Mean, Positive, Sig, SigClass, Prev, Diff, Note string
	Median, Min, Max                                          string
	Options                                                   []string
	Suppressed                                                bool
}

type htmlComments struct {
	Label string
	List  []string
}

// WriteHTML writes the report as a printable page: per item a chart of the answer
// distribution per stratum beside the overall, a table of n, means, shares positive and
// significance marks, suppression notes and, when asked, the comments. Charts are inline
// SVG; the page needs no script and no other file.
func (r *Report) WriteHTML(w io.Writer, loc *time.Location) error {
	wd := words["en"]
	if m, ok := words[r.Lang]; ok {
		wd = m
	}
	lang := r.Lang
	if lang == "" {
		lang = "en"
	}
	pg := htmlPage{
		Lang: lang, Title: r.Title, W: wd, Compare: r.Compare,
		Period:    periodText(r.Start, r.End, loc),
		Versions:  describeVersions(r.Versions),
		Statuses:  strings.Join(r.Statuses, ", "),
		Generated: r.Generated.In(loc).Format("2006-01-02 15:04"),
		MinNote:   fmt.Sprintf(wd["minNote"], r.MinCount),
	}
	if r.Compare {
		pg.PrevPeriod = periodText(r.PrevStart, r.PrevEnd, loc)
	}
	labels := make([]string, len(r.Strata))
	for k, s := range r.Strata {
		labels[k] = s.Label
		if k == 0 {
			labels[k] = wd["all"]
		}
		row := htmlRow{Label: labels[k], N: fmt.Sprint(s.Responses)}
		if s.Suppressed {
			row.N, row.Suppressed, row.Note = "–", true, fmt.Sprintf(wd["suppressed"], r.MinCount)
		}
		pg.Overview = append(pg.Overview, row)
	}
	for i, it := range r.Items {
		if r.Strata[0].Items[i].rawN == 0 && it.kind() != kindText {
			continue // nobody answered it in the period: nothing to show
		}
		hi := htmlItem{LinkID: it.LinkID, Text: it.Text(r.Lang), Depth: it.Depth, Group: it.kind() == kindGroup, IsText: it.kind() == kindText, Numbers: it.kind() == kindNumber}
		if hi.IsText {
			if !r.Comments {
				continue
			}
			for k, s := range r.Strata {
				if k == 0 && len(r.Strata) > 1 {
					continue // the overall list repeats the published strata's
				}
				if !s.Suppressed && len(s.Items[i].Comments) > 0 {
					hi.Comments = append(hi.Comments, htmlComments{Label: labels[k], List: s.Items[i].Comments})
				}
			}
			pg.Items = append(pg.Items, hi)
			continue
		}
		if len(it.Options) > 0 {
			svg, err := r.chartSVG(i, r.Strata, labels)
			if err != nil {
				return err
			}
			hi.Chart = template.HTML(svg) //nolint:gosec // SVG made by the chart library from escaped labels
			colors := it.optionColors()
			for oi, o := range it.Options {
				hi.Legend = append(hi.Legend, htmlLegend{Label: o.Display(r.Lang), Color: cssColor(colors[oi])})
			}
		}
		for k, s := range r.Strata {
			hi.Rows = append(hi.Rows, r.htmlRow(i, s, labels[k], wd))
		}
		pg.Items = append(pg.Items, hi)
	}
	return pageTemplate.Execute(w, pg)
}

func (r *Report) htmlRow(i int, s *Stratum, label string, wd map[string]string) htmlRow {
	f := s.Items[i]
	row := htmlRow{Label: label}
	if s.Suppressed || f.Suppressed {
		row.Suppressed = true
		row.N = "–"
		row.Note = fmt.Sprintf(wd["itemSuppressed"], r.MinCount)
		if s.Suppressed {
			row.Note = fmt.Sprintf(wd["suppressed"], r.MinCount)
		}
		return row
	}
	row.N = fmt.Sprint(f.N)
	row.Mean = opt(f.Mean, formatNumber)
	row.Positive = opt(f.SharePositive, func(v float64) string { return formatPercent(v, false) + " %" })
	if f.MeanWithheld {
		row.Mean = "–"
	}
	if f.ShareWithheld {
		row.Positive = "–"
	}
	row.Median, row.Min, row.Max = opt(f.Median, formatNumber), opt(f.Min, formatNumber), opt(f.Max, formatNumber)
	if f.Significance != "" {
		row.Sig, row.SigClass = wd[f.Significance], f.Significance
	}
	for _, o := range f.Options {
		switch {
		case o.Count != nil && o.Share != nil:
			row.Options = append(row.Options, fmt.Sprintf("%d (%s %%)", *o.Count, formatPercent(*o.Share, false)))
		case o.Count != nil:
			row.Options = append(row.Options, fmt.Sprint(*o.Count))
		case o.Share != nil:
			row.Options = append(row.Options, "~"+formatPercent(*o.Share, true)+" %")
		default:
			row.Options = append(row.Options, "–")
		}
	}
	if p := s.Previous; p != nil {
		pf := p.Items[i]
		switch {
		case p.Suppressed || pf.Suppressed:
			row.Prev = "–"
		case f.SharePositive != nil && pf.SharePositive != nil:
			row.Prev = formatPercent(*pf.SharePositive, false) + " %"
			row.Diff = signed((*f.SharePositive-*pf.SharePositive)*100, " pp")
		case f.Mean != nil && pf.Mean != nil:
			row.Prev = formatNumber(*pf.Mean)
			row.Diff = signed(*f.Mean-*pf.Mean, "")
		}
	}
	return row
}

// periodText writes [start, end) for people: its first and last day when both are
// midnights in loc, else its instants.
func periodText(start, end time.Time, loc *time.Location) string {
	p := fhirPeriod(start, end, loc)
	return p["start"].(string) + " – " + p["end"].(string)
}

func opt(v *float64, f func(float64) string) string {
	if v == nil {
		return ""
	}
	return f(*v)
}

func signed(v float64, unit string) string {
	s := formatNumber(v)
	if v > 0 {
		s = "+" + s
	}
	return s + unit
}

func cssColor(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

var pageTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} – {{.Period}}</title>
<style>
@page { size: A4; margin: 15mm 12mm; }
body { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; color: #1d1d1d; max-width: 190mm; margin: 0 auto; padding: 8px; font-size: 10.5pt; }
h1 { font-size: 17pt; margin: 0 0 4px; }
h2 { font-size: 12.5pt; margin: 18px 0 4px; }
h2.group { border-bottom: 2px solid #145a32; padding-bottom: 2px; }
.meta { color: #444; margin: 0 0 8px; }
.note { font-size: 9pt; color: #555; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; font-size: 9.5pt; }
th, td { border-bottom: 1px solid #ddd; padding: 2px 5px; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
tr.suppressed td { color: #888; font-style: italic; }
.above { color: #1e8449; font-weight: bold; }
.below { color: #c0392b; font-weight: bold; }
.item { break-inside: avoid; page-break-inside: avoid; }
.chart svg { width: 100%; height: auto; }
.legend { font-size: 9pt; margin: 2px 0; }
.legend span { display: inline-block; margin-right: 10px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 3px; vertical-align: -1px; }
blockquote { margin: 2px 0 2px 12px; font-size: 9.5pt; }
@media print { .chart svg { max-height: 120mm; } }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="meta">{{.W.period}}: {{.Period}}{{if .Compare}} ({{.W.previous}}: {{.PrevPeriod}}){{end}} · {{.W.versions}} {{.Versions}} · {{.W.statuses}}: {{.Statuses}} · {{.W.generated}} {{.Generated}}</p>
<p class="note">{{.MinNote}}</p>
<h2>{{.W.overview}}</h2>
<table class="overview"><thead><tr><th>{{.W.unit}}</th><th>{{.W.responses}}</th><th></th></tr></thead><tbody>
{{range .Overview}}<tr{{if .Suppressed}} class="suppressed"{{end}}><td>{{.Label}}</td><td>{{.N}}</td><td>{{.Note}}</td></tr>
{{end}}</tbody></table>
{{range .Items}}{{$it := .}}
<section class="item" data-link-id="{{.LinkID}}">
{{if .Group}}<h2 class="group">{{.Text}}</h2><p class="note">{{$.W.dimension}}</p>
<table><thead><tr><th>{{$.W.unit}}</th><th>{{$.W.n}}</th><th>{{$.W.mean}}</th>{{if $.Compare}}<th>{{$.W.previous}}</th><th>{{$.W.diff}}</th>{{end}}<th></th></tr></thead><tbody>
{{range .Rows}}<tr{{if .Suppressed}} class="suppressed"{{end}}><td>{{.Label}}</td><td>{{.N}}</td><td>{{.Mean}}</td>{{if $.Compare}}<td>{{.Prev}}</td><td>{{.Diff}}</td>{{end}}<td>{{.Note}}</td></tr>
{{end}}</tbody></table>
{{else if .IsText}}<h2>{{.Text}}</h2>
{{range .Comments}}<h3 class="note">{{.Label}}</h3>{{range .List}}<blockquote>“{{.}}”</blockquote>{{end}}{{else}}<p class="note">{{$.W.noComments}}</p>{{end}}
{{else}}<h2>{{.Text}}</h2>
{{if .Chart}}<div class="chart">{{.Chart}}</div>
<div class="legend">{{range .Legend}}<span><i style="background:{{.Color}}"></i>{{.Label}}</span>{{end}}</div>{{end}}
<table><thead><tr><th>{{$.W.unit}}</th><th>{{$.W.n}}</th>{{range .Legend}}<th>{{.Label}}</th>{{end}}{{if .Numbers}}<th>{{$.W.mean}}</th><th>{{$.W.median}}</th><th>{{$.W.min}}</th><th>{{$.W.max}}</th>{{else}}<th>{{$.W.mean}}</th><th>{{$.W.positive}}</th><th>{{$.W.sig}}</th>{{end}}{{if $.Compare}}<th>{{$.W.previous}}</th><th>{{$.W.diff}}</th>{{end}}</tr></thead><tbody>
{{range .Rows}}<tr{{if .Suppressed}} class="suppressed"{{end}}><td>{{.Label}}</td><td>{{.N}}</td>{{if .Suppressed}}<td colspan="{{len $it.Legend}}">{{.Note}}</td>{{else}}{{range .Options}}<td>{{.}}</td>{{end}}{{end}}{{if $it.Numbers}}<td>{{.Mean}}</td><td>{{.Median}}</td><td>{{.Min}}</td><td>{{.Max}}</td>{{else}}<td>{{.Mean}}</td><td>{{.Positive}}</td><td class="{{.SigClass}}">{{.Sig}}</td>{{end}}{{if $.Compare}}<td>{{.Prev}}</td><td>{{.Diff}}</td>{{end}}</tr>
{{end}}</tbody></table>
{{end}}</section>
{{end}}
</body>
</html>
`))
