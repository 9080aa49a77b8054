package report

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// Extension URLs the reports read.
const (
	extTranslation  = "http://hl7.org/fhir/StructureDefinition/translation"
	extOrdinalValue = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
	extCOValue      = "http://hl7.org/fhir/StructureDefinition/iso21090-CO-value"
	// ExtPositive, on a Questionnaire item, names (valueCoding, repeated) an answer option
	// counted as positive, instead of the top two options of its ordinal scale.
	ExtPositive = "https://fhir.patient-involvement.example/StructureDefinition/report-positive"
)

// Item is an item of the report: a question or a group of the Questionnaire, merged across
// the versions reported when they have the same linkId, type and options.
type Item struct {
	// LinkID and Type are the item's.
	LinkID, Type string
	// Versions are the Questionnaire versions whose item this is.
	Versions []string
	// Depth is how deep the item is nested (0: top level).
	Depth int
	// Options are a choice item's answer options (a boolean's are true and false).
	Options []Option
	// Children are the indexes (in Layout.Items) of a group's questions.
	Children []int

	texts    map[string]string // lang → text; "" the Questionnaire's own
	positive []bool
	ordinal  bool // some option has an ordinal value
}

// Option is an answer option.
type Option struct {
	// System and Code identify the option (Code alone for booleans: true, false).
	System, Code string
	// Ordinal is the option's ordinalValue, nil when it has none (such as "don't know").
	Ordinal *float64
	// Positive says the option counts as a positive answer.
	Positive bool

	displays map[string]string
}

// Text is the item's text in lang, else the Questionnaire's own.
func (it *Item) Text(lang string) string { return pickText(it.texts, lang) }

// Display is the option's display in lang, else its own, else its code.
func (o *Option) Display(lang string) string {
	if s := pickText(o.displays, lang); s != "" {
		return s
	}
	return o.Code
}

func pickText(m map[string]string, lang string) string {
	if s, ok := m[lang]; ok && s != "" {
		return s
	}
	return m[""]
}

// kind is what the report computes for an item.
type kind int

const (
	kindOther   kind = iota // not reported (display items, dates, attachments…)
	kindChoice              // distribution, mean of ordinals, share positive
	kindNumber              // n, mean, median, min, max
	kindBoolean             // distribution and share true
	kindText                // comments
	kindGroup               // dimension score
)

func (it *Item) kind() kind {
	switch it.Type {
	case "choice", "open-choice":
		if len(it.Options) > 0 {
			return kindChoice
		}
	case "integer", "decimal":
		return kindNumber
	case "boolean":
		return kindBoolean
	case "string", "text":
		return kindText
	case "group":
		return kindGroup
	}
	return kindOther
}

// Version is one Questionnaire version read for a report.
type Version struct {
	URL, Version, Title string
	titles              map[string]string
	tree                map[string]any
}

// Canonical is url|version, or the url alone.
func (v *Version) Canonical() string {
	if v.Version == "" {
		return v.URL
	}
	return v.URL + "|" + v.Version
}

// ReadVersion reads a stored Questionnaire for a report.
func ReadVersion(raw []byte) (*Version, error) {
	var tree map[string]any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return nil, fhir.Wrap(err, "decode Questionnaire")
	}
	v := &Version{tree: tree}
	v.URL, _ = tree["url"].(string)
	v.Version, _ = tree["version"].(string)
	v.Title, _ = tree["title"].(string)
	if v.Title == "" {
		v.Title, _ = tree["name"].(string)
	}
	v.titles = translations(tree, "title")
	return v, nil
}

// Layout is the items a report covers, in the order of the newest version, and where each
// version's linkIds are found in it.
type Layout struct {
	Items []*Item
	// byVersion maps a version's canonical, then a linkId, to an index in Items.
	byVersion map[string]map[string]int
	// options maps an item index, then an option's "system|code" (or a boolean's code), to
	// its index in the item's Options.
	options []map[string]int
	// versions are the versions' names, oldest first; versionOf maps a canonical to an index
	// in them.
	versions  []string
	versionOf map[string]int
}

// newLayout lays out the items of versions (oldest first). With merge, items of several
// versions that have the same linkId, type and options are one item; without, each version
// has its own. positive, when set, names the codes counted as positive on every choice item
// that has them.
func newLayout(versions []*Version, merge bool, positive []string) *Layout {
	l := &Layout{byVersion: map[string]map[string]int{}, versionOf: map[string]int{}}
	for i, v := range versions {
		l.versions = append(l.versions, v.Version)
		l.versionOf[v.Canonical()] = i
	}
	signature := map[string]int{} // linkId + type + options → index, when merging
	// The newest version decides the order; older ones add their own items after.
	for i := len(versions) - 1; i >= 0; i-- {
		v := versions[i]
		links := map[string]int{}
		l.byVersion[v.Canonical()] = links
		var walk func(list any, depth int, parent int)
		walk = func(list any, depth int, parent int) {
			items, _ := list.([]any)
			for _, x := range items {
				m, _ := x.(map[string]any)
				if m == nil {
					continue
				}
				it := readItem(m, depth, positive)
				if it.kind() == kindOther {
					walk(m["item"], depth+1, parent)
					continue
				}
				key := it.signature()
				idx, seen := signature[key]
				if !seen || !merge {
					idx = len(l.Items)
					l.Items = append(l.Items, it)
					l.options = append(l.options, it.optionIndex())
					if merge {
						signature[key] = idx
					}
				}
				l.Items[idx].Versions = append(l.Items[idx].Versions, v.Version)
				links[it.LinkID] = idx
				if parent >= 0 && it.kind() != kindGroup && !slices.Contains(l.Items[parent].Children, idx) {
					l.Items[parent].Children = append(l.Items[parent].Children, idx)
				}
				next := parent
				if it.kind() == kindGroup {
					next = idx
				}
				walk(m["item"], depth+1, next)
			}
		}
		walk(v.tree["item"], 0, -1)
	}
	for _, it := range l.Items {
		slices.SortFunc(it.Versions, fhir.CompareVersions)
	}
	return l
}

// signature identifies an item across versions: linkId, type and options.
func (it *Item) signature() string {
	var b strings.Builder
	b.WriteString(it.LinkID + "\x00" + it.Type)
	for _, o := range it.Options {
		b.WriteString("\x00" + o.System + "|" + o.Code)
	}
	return b.String()
}

func (it *Item) optionIndex() map[string]int {
	m := make(map[string]int, len(it.Options))
	for i, o := range it.Options {
		if it.Type == "boolean" {
			m[o.Code] = i
		} else {
			m[o.System+"|"+o.Code] = i
		}
	}
	return m
}

func readItem(m map[string]any, depth int, positive []string) *Item {
	it := &Item{Depth: depth, texts: translations(m, "text")}
	it.LinkID, _ = m["linkId"].(string)
	it.Type, _ = m["type"].(string)
	if it.Type == "boolean" {
		it.Options = []Option{
			{Code: "true", displays: map[string]string{"": "true", "da": "Ja", "sv": "Ja", "en": "Yes"}},
			{Code: "false", displays: map[string]string{"": "false", "da": "Nej", "sv": "Nej", "en": "No"}},
		}
		it.Options[0].Positive = true
		return it
	}
	opts, _ := m["answerOption"].([]any)
	for _, x := range opts {
		om, _ := x.(map[string]any)
		c, _ := om["valueCoding"].(map[string]any)
		if c == nil {
			continue
		}
		o := Option{displays: translations(c, "display")}
		o.System, _ = c["system"].(string)
		o.Code, _ = c["code"].(string)
		if ord, ok := ordinal(om); ok {
			o.Ordinal = &ord
		} else if ord, ok := ordinal(c); ok {
			o.Ordinal = &ord
		}
		it.ordinal = it.ordinal || o.Ordinal != nil
		it.Options = append(it.Options, o)
	}
	it.markPositive(m, positive)
	return it
}

// markPositive sets which options are positive: those the positive parameter names (when
// the item has any of them), else those the report-positive extensions of the item name,
// else the top two options by ordinal value.
func (it *Item) markPositive(m map[string]any, positive []string) {
	if len(positive) > 0 {
		any := false
		for i := range it.Options {
			if slices.Contains(positive, it.Options[i].Code) {
				it.Options[i].Positive, any = true, true
			}
		}
		if any {
			return
		}
	}
	named := map[string]bool{}
	exts, _ := m["extension"].([]any)
	for _, x := range exts {
		e, _ := x.(map[string]any)
		if e["url"] != ExtPositive {
			continue
		}
		if c, _ := e["valueCoding"].(map[string]any); c != nil {
			code, _ := c["code"].(string)
			sys, _ := c["system"].(string)
			named[sys+"|"+code] = true
		}
	}
	if len(named) > 0 {
		for i := range it.Options {
			o := &it.Options[i]
			o.Positive = named[o.System+"|"+o.Code] || named["|"+o.Code]
		}
		return
	}
	var ords []float64
	for _, o := range it.Options {
		if o.Ordinal != nil && !slices.Contains(ords, *o.Ordinal) {
			ords = append(ords, *o.Ordinal)
		}
	}
	if len(ords) < 3 {
		return // no scale to take the top of
	}
	slices.Sort(ords)
	top := ords[len(ords)-2:]
	for i := range it.Options {
		if o := &it.Options[i]; o.Ordinal != nil && slices.Contains(top, *o.Ordinal) {
			o.Positive = true
		}
	}
}

// hasPositive says whether share positive means anything for the item.
func (it *Item) hasPositive() bool {
	for _, o := range it.Options {
		if o.Positive {
			return true
		}
	}
	return false
}

// translations reads an element's text and its translation extensions (on _name) by lang.
func translations(m map[string]any, name string) map[string]string {
	out := map[string]string{}
	if s, _ := m[name].(string); s != "" {
		out[""] = s
	}
	under, _ := m["_"+name].(map[string]any)
	exts, _ := under["extension"].([]any)
	for _, x := range exts {
		e, _ := x.(map[string]any)
		if e["url"] != extTranslation {
			continue
		}
		parts, _ := e["extension"].([]any)
		var lang, content string
		for _, p := range parts {
			pm, _ := p.(map[string]any)
			switch pm["url"] {
			case "lang":
				lang, _ = pm["valueCode"].(string)
			case "content":
				content, _ = pm["valueString"].(string)
			}
		}
		if lang != "" && content != "" {
			out[lang] = content
		}
	}
	return out
}

// ordinal reads the ordinalValue (or the older iso21090-CO-value) extension of m.
func ordinal(m map[string]any) (float64, bool) {
	exts, _ := m["extension"].([]any)
	for _, x := range exts {
		e, _ := x.(map[string]any)
		if e["url"] != extOrdinalValue && e["url"] != extCOValue {
			continue
		}
		switch v := e["valueDecimal"].(type) {
		case float64:
			return v, true
		case json.Number:
			f, err := v.Float64()
			return f, err == nil
		}
		if v, ok := e["valueInteger"].(float64); ok {
			return v, true
		}
	}
	return 0, false
}

// describeVersions names versions for people: "1.0", "1.0 and 2.0".
func describeVersions(vs []string) string {
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return vs[0]
	}
	return fmt.Sprintf("%s and %s", strings.Join(vs[:len(vs)-1], ", "), vs[len(vs)-1])
}
