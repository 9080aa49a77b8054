package report

import (
	"bytes"
	"fmt"
	"image/color"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// chartPalette colours answer options from the lowest ordinal (red) to the highest (green);
// options without an ordinal are grey.
var chartPalette = []color.RGBA{
	{0xc0, 0x39, 0x2b, 0xff}, {0xe6, 0x7e, 0x22, 0xff}, {0xf1, 0xc4, 0x0f, 0xff},
	{0x7d, 0xb9, 0x4f, 0xff}, {0x1e, 0x84, 0x49, 0xff}, {0x14, 0x5a, 0x32, 0xff},
}

var chartGrey = color.RGBA{0xa0, 0xa0, 0xa0, 0xff}

// categoryPalette colours the options of an item without ordinal values.
var categoryPalette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x94, 0x67, 0xbd, 0xff}, {0x17, 0xbe, 0xcf, 0xff},
	{0x8c, 0x56, 0x4b, 0xff}, {0xe3, 0x77, 0xc2, 0xff}, {0xbc, 0xbd, 0x22, 0xff}, {0x7f, 0x7f, 0x7f, 0xff},
}

// chartSVG draws an item's answer distribution as horizontal stacked bars, one per stratum
// shown (the overall first), each option's share in percent, and returns the SVG element.
// Suppressed strata get an empty bar; a withheld option count its rounded share, or nothing.
func (r *Report) chartSVG(i int, strata []*Stratum, labels []string) (string, error) {
	it := r.Items[i]
	p := plot.New()
	p.X.Min, p.X.Max = 0, 100
	p.X.Label.Text = "%"
	// Row order: the overall on top.
	names := make([]string, len(labels))
	for k := range labels {
		names[len(labels)-1-k] = shorten(labels[k], 38)
	}
	p.NominalY(names...)
	var below *plotter.BarChart
	colors := it.optionColors()
	for oi := range it.Options {
		vals := make(plotter.Values, len(strata))
		for k, s := range strata {
			f := s.Items[i].Options[oi]
			if !s.Suppressed && !s.Items[i].Suppressed && f.Share != nil {
				vals[len(strata)-1-k] = *f.Share * 100
			}
		}
		bar, err := plotter.NewBarChart(vals, vg.Points(14))
		if err != nil {
			return "", err
		}
		bar.Horizontal = true
		bar.LineStyle.Width = vg.Points(0.3)
		bar.LineStyle.Color = color.White
		bar.Color = colors[oi]
		if below != nil {
			bar.StackOn(below)
		}
		below = bar
		p.Add(bar)
	}
	width := 17 * vg.Centimeter
	height := vg.Length(len(strata))*vg.Points(20) + vg.Points(40)
	c := vgsvg.New(width, height)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("chart of %s: %w", it.LinkID, err)
	}
	svg := buf.String()
	if k := strings.Index(svg, "<svg"); k > 0 {
		svg = svg[k:] // inline: without the XML declaration
	}
	return svg, nil
}

// optionColors are the colours of an item's options in its chart and legend: by rank of
// ordinal value from red to green, grey for options without one (don't know); distinct
// colours when no option has one; a boolean's true green and false red.
func (it *Item) optionColors() []color.RGBA {
	out := make([]color.RGBA, len(it.Options))
	if it.kind() == kindBoolean {
		return []color.RGBA{chartPalette[4], chartPalette[0]}
	}
	ordinals := 0
	for _, o := range it.Options {
		if o.Ordinal != nil {
			ordinals++
		}
	}
	if ordinals == 0 {
		for oi := range out {
			out[oi] = categoryPalette[oi%len(categoryPalette)]
		}
		return out
	}
	rank := 0
	for oi, o := range it.Options {
		out[oi] = chartGrey
		if o.Ordinal != nil {
			out[oi] = chartPalette[min(rank*len(chartPalette)/ordinals, len(chartPalette)-1)]
			rank++
		}
	}
	return out
}

// shorten cuts a label to n characters with an ellipsis.
func shorten(s string, n int) string {
	rs := []rune(s)
	if len(rs) <= n {
		return s
	}
	return string(rs[:n-1]) + "…"
}
