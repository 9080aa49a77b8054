package questionnaire

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// Checker is one version of a Questionnaire compiled for checking responses: its linkId
// tree, the type and options of every item, its enableWhen graph, its expressions and its
// scores. It is immutable once compiled, so one Checker serves any number of concurrent
// checks.
type Checker struct {
	// URL and Version are the Questionnaire's canonical url and version ("" when absent).
	URL, Version string
	// Status is the Questionnaire's publication status.
	Status string
	// ID and VersionID name the stored version compiled; empty for a contained one.
	ID        string
	VersionID int64

	roots  []*Item
	byLink map[string]*Item
	// all holds every item in document order.
	all []*Item
	// ordinals map "system|code" to the ordinal value of an option of any item, and
	// ordinalsByCode a bare code to the ordinals options with that code carry.
	ordinals       map[string]float64
	ordinalsByCode map[string][]float64
	// totals are the score items whose answer is the sum of the ordinal values of the
	// answers in their parent (an item without an expression: see isTotal).
	totals []*Item
	// variables are the Questionnaire-level FHIRPath variables.
	variables []*expression
	// expressions is set when any item has an enableWhenExpression or calculatedExpression:
	// only then is a response turned into JSON for the FHIRPath engine.
	expressions bool
	// contained are the Questionnaire's contained ValueSets, by id.
	contained map[string]map[string]any
	// json is the Questionnaire, for %questionnaire.
	json []byte
	// unusable says why the Questionnaire could not be compiled ("" when it was): its
	// responses are then not checked.
	unusable string
}

// Canonical is url|version, or the url alone when there is no version.
func (c *Checker) Canonical() string {
	if c.Version == "" {
		return c.URL
	}
	return c.URL + "|" + c.Version
}

// Item is one item of the Questionnaire.
type Item struct {
	// LinkID, Type and Text are the item's linkId, type (group, display, choice, integer, …)
	// and text.
	LinkID string
	Type   string
	Text   string
	// texts are the other texts a response may give: the translations of Text.
	texts []string
	// textVaries is set when the text is computed or rendered (cqf-expression, rendering
	// extensions): a response's text is then not compared.
	textVaries bool
	// Required, Repeats and ReadOnly are the item's flags of those names.
	Required bool
	Repeats  bool
	ReadOnly bool

	minOccurs, maxOccurs *int
	maxLength, minLength *int
	maxDecimals          *int
	regex                *regexp.Regexp
	regexText            string
	minValue, maxValue   *value

	// options are the answerOptions; optionKinds their value kinds.
	options     []option
	optionKinds map[kind]bool
	// valueSet is the answerValueSet canonical, set holds its codes when it is a contained
	// ValueSet that enumerates them (nil otherwise), and systems the code systems it
	// includes whole.
	valueSet string
	vsCodes  map[string]bool
	vsSystem map[string]bool
	vsOpen   bool // the contained ValueSet has filters or includes other value sets: not checkable here

	enableWhen []condition
	enableAll  bool
	enableExpr *expression
	calculated *expression
	variables  []*expression
	// total is set on a score item computed as the sum of ordinal values (see findTotals);
	// knownTotal when its code is a known total score.
	total, knownTotal bool

	parent   *Item
	children []*Item
	// path is the item's FHIRPath in the Questionnaire, for integrity issues.
	path string
}

// option is one answerOption.
type option struct {
	v       value
	ordinal *float64
}

// condition is one enableWhen.
type condition struct {
	question string
	operator string
	answer   value
	path     string
}

// Items returns the top-level items.
func (c *Checker) Items() []*Item { return c.roots }

// Item returns the item with the linkId, or nil.
func (c *Checker) Item(linkID string) *Item { return c.byLink[linkID] }

// Children returns the item's nested items.
func (it *Item) Children() []*Item { return it.children }

// isQuestion reports whether the item takes answers.
func (it *Item) isQuestion() bool { return it.Type != "group" && it.Type != "display" }

// answerKinds are the value kinds an answer to an item of each type may have.
var answerKinds = map[string][]kind{
	"boolean": {kBoolean}, "decimal": {kDecimal}, "integer": {kInteger}, "date": {kDate},
	"dateTime": {kDateTime}, "time": {kTime}, "string": {kString}, "text": {kString}, "url": {kURI},
	"choice": {kCoding}, "open-choice": {kCoding, kString}, "attachment": {kAttachment},
	"reference": {kReference}, "quantity": {kQuantity},
}

// optionKinds are the answerOption value kinds each item type may have (R4 que-5 allows
// options on these types).
var optionKindsByType = map[string][]kind{
	"choice": {kCoding, kString, kInteger, kDate, kTime, kReference}, "open-choice": {kCoding, kString, kInteger, kDate, kTime, kReference},
	"integer": {kInteger}, "date": {kDate}, "time": {kTime}, "string": {kString}, "text": {kString},
	"reference": {kReference},
}

// accepts reports whether an answer of kind k fits the item's type.
func (it *Item) accepts(k kind) bool {
	for _, x := range answerKinds[it.Type] {
		if x == k {
			return true
		}
	}
	return (it.Type == "choice" || it.Type == "open-choice") && it.optionKinds[k]
}

// expected names the answer types the item takes, for messages.
func (it *Item) expected() string {
	var names []string
	seen := map[kind]bool{}
	add := func(k kind) {
		if !seen[k] {
			seen[k] = true
			names = append(names, "value"+k.suffix())
		}
	}
	for _, k := range answerKinds[it.Type] {
		add(k)
	}
	if it.Type == "choice" || it.Type == "open-choice" {
		for _, k := range []kind{kString, kInteger, kDate, kTime, kReference} {
			if it.optionKinds[k] {
				add(k)
			}
		}
	}
	return strings.Join(names, " or ")
}

// Compile compiles a Questionnaire (the decoded JSON tree of a valid R4 Questionnaire). It
// returns the Checker and the problems of the Questionnaire itself: duplicate linkIds,
// enableWhen questions that do not exist or answers of the wrong type, options and bounds
// that do not fit their item's type, expressions that do not parse. Issues of severity
// error make the Questionnaire unusable for checking as it is; warnings name what cannot
// be checked here.
func Compile(tree map[string]any) (c *Checker, issues []fhir.Issue) {
	defer func() {
		if r := recover(); r != nil {
			// A Questionnaire this code cannot read is not the client's fault to pay for
			// with a 500: it compiles to a checker of no items, and says so.
			c = newChecker(tree)
			c.unusable = fmt.Sprint(r)
			issues = []fhir.Issue{{Severity: fhir.SeverityWarning, Code: fhir.IssueException,
				Diagnostics: fmt.Sprintf("The Questionnaire could not be compiled for checking responses (%v): its responses are not checked", r)}}
		}
	}()
	return compile(tree)
}

// newChecker returns the Checker of the Questionnaire tree with none of its items yet.
func newChecker(tree map[string]any) *Checker {
	return &Checker{
		URL: str(tree, "url"), Version: str(tree, "version"), Status: str(tree, "status"), ID: str(tree, "id"),
		byLink: map[string]*Item{}, ordinals: map[string]float64{}, ordinalsByCode: map[string][]float64{},
		contained: map[string]map[string]any{},
	}
}

func compile(tree map[string]any) (*Checker, []fhir.Issue) {
	c := newChecker(tree)
	cp := &compiler{c: c}
	for _, r := range objects(tree, "contained") {
		if str(r, "resourceType") == "ValueSet" && str(r, "id") != "" {
			c.contained[str(r, "id")] = r
		}
	}
	c.variables = cp.variables(tree, "Questionnaire")
	for i, m := range objects(tree, "item") {
		c.roots = append(c.roots, cp.item(m, nil, fmt.Sprintf("Questionnaire.item[%d]", i)))
	}
	cp.links()
	cp.findTotals()
	if c.expressions || len(c.variables) > 0 {
		c.json, _ = json.Marshal(tree)
	}
	return c, cp.issues
}

type compiler struct {
	c      *Checker
	issues []fhir.Issue
	// seen records the first path of each linkId.
	seen map[string]string
}

func (cp *compiler) errorf(code fhir.IssueType, path, format string, args ...any) {
	cp.issues = append(cp.issues, fhir.Issue{Severity: fhir.SeverityError, Code: code,
		Diagnostics: fmt.Sprintf(format, args...), Expression: []string{path}})
}

func (cp *compiler) warnf(code fhir.IssueType, path, format string, args ...any) {
	cp.issues = append(cp.issues, fhir.Issue{Severity: fhir.SeverityWarning, Code: code,
		Diagnostics: fmt.Sprintf(format, args...), Expression: []string{path}})
}

func (cp *compiler) item(m map[string]any, parent *Item, path string) *Item {
	it := &Item{
		LinkID: str(m, "linkId"), Type: str(m, "type"), Text: str(m, "text"), Required: boolean(m, "required"),
		Repeats: boolean(m, "repeats"), ReadOnly: boolean(m, "readOnly"), parent: parent, path: path,
		enableAll: str(m, "enableBehavior") == "all",
	}
	cp.c.all = append(cp.c.all, it)
	if cp.seen == nil {
		cp.seen = map[string]string{}
	}
	if first, dup := cp.seen[it.LinkID]; dup {
		cp.errorf(fhir.IssueInvariant, path+".linkId", "Item linkId %q is used twice (also at %s): every linkId of a Questionnaire must be unique (que-2)", it.LinkID, first)
	} else {
		cp.seen[it.LinkID] = path
		cp.c.byLink[it.LinkID] = it
	}
	for _, cd := range objects(m, "code") {
		if str(cd, "system") == "http://loinc.org" && totalScoreCodes[str(cd, "code")] {
			it.knownTotal = true
		}
	}
	cp.text(it, m)
	cp.limits(it, m, path)
	cp.answerOptions(it, m, path)
	cp.answerValueSet(it, m, path)
	for i, ew := range objects(m, "enableWhen") {
		cond := condition{question: str(ew, "question"), operator: str(ew, "operator"), path: fmt.Sprintf("%s.enableWhen[%d]", path, i)}
		if v, ok := readChoice(ew, "answer"); ok {
			cond.answer = v
		}
		it.enableWhen = append(it.enableWhen, cond)
	}
	it.variables = cp.variables(m, path)
	it.enableExpr = cp.expression(m, extEnableWhenExpr, path, "enableWhenExpression")
	it.calculated = cp.expression(m, extCalculated, path, "calculatedExpression")
	if e := cp.expression(m, extInitialExpr, path, "initialExpression"); e != nil {
		_ = e // parsed for the integrity check only: initial values are the form filler's business
	}
	if it.enableExpr != nil || it.calculated != nil {
		cp.c.expressions = true
	}
	if !it.isQuestion() && (it.Required || it.Repeats) && it.Type == "display" {
		cp.errorf(fhir.IssueInvariant, path, "Item %q is a display item: it cannot be required or repeat (que-6)", it.LinkID)
	}
	if it.Type == "display" && len(objects(m, "item")) > 0 {
		cp.errorf(fhir.IssueInvariant, path+".item", "Item %q is a display item: it cannot have nested items (que-1)", it.LinkID)
	}
	for i, child := range objects(m, "item") {
		it.children = append(it.children, cp.item(child, it, fmt.Sprintf("%s.item[%d]", path, i)))
	}
	return it
}

// text records the translations of the item's text, and whether it is computed.
func (cp *compiler) text(it *Item, m map[string]any) {
	ext := object(m, "_text")
	if ext == nil {
		return
	}
	for _, t := range extensions(ext, extTranslation) {
		for _, part := range objects(t, "extension") {
			if str(part, "url") == "content" {
				if s := str(part, "valueString"); s != "" {
					it.texts = append(it.texts, s)
				}
			}
		}
	}
	if extension(ext, extCQFExpression) != nil || hasExtensionPrefix(ext, extRendering) {
		it.textVaries = true
	}
}

// limits reads the cardinality and value constraints.
func (cp *compiler) limits(it *Item, m map[string]any, path string) {
	intExt := func(url string) *int {
		if e := extension(m, url); e != nil {
			if n, ok := integerValue(e); ok {
				return &n
			}
		}
		return nil
	}
	it.minOccurs, it.maxOccurs = intExt(extMinOccurs), intExt(extMaxOccurs)
	it.minLength, it.maxDecimals = intExt(extMinLength), intExt(extMaxDecimals)
	if n, ok := m["maxLength"].(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			l := int(i)
			it.maxLength = &l
		}
	}
	if e := extension(m, extRegex); e != nil {
		it.regexText = str(e, "valueString")
		re, err := regexp.Compile("^(?:" + it.regexText + ")$")
		if err != nil {
			cp.warnf(fhir.IssueNotSupported, path+".extension", "The regex of item %q, %q, is not one this server can run (%v): answers are not checked against it", it.LinkID, it.regexText, err)
		}
		it.regex = re
	}
	for _, b := range []struct {
		url string
		dst **value
	}{{extMinValue, &it.minValue}, {extMaxValue, &it.maxValue}} {
		e := extension(m, b.url)
		if e == nil {
			continue
		}
		v, ok := readChoice(e, "value")
		if !ok {
			continue
		}
		if !boundFits(it.Type, v.kind) {
			cp.errorf(fhir.IssueInvariant, path+".extension", "Item %q is of type %s, but its %s is a value%s: it must be of the item's type",
				it.LinkID, it.Type, b.url[strings.LastIndexByte(b.url, '/')+1:], v.kind.suffix())
			continue
		}
		*b.dst = &v
	}
	if (it.minOccurs != nil || it.maxOccurs != nil) && it.minOccurs != nil && it.maxOccurs != nil && *it.minOccurs > *it.maxOccurs {
		cp.errorf(fhir.IssueInvariant, path+".extension", "Item %q has minOccurs %d above its maxOccurs %d", it.LinkID, *it.minOccurs, *it.maxOccurs)
	}
}

// boundFits reports whether a minValue or maxValue of kind k fits an item of type t.
func boundFits(t string, k kind) bool {
	switch t {
	case "integer":
		return k == kInteger
	case "decimal":
		return k == kDecimal || k == kInteger
	case "quantity":
		return k == kQuantity || k == kDecimal || k == kInteger
	case "date":
		return k == kDate
	case "dateTime":
		return k == kDateTime || k == kDate
	case "time":
		return k == kTime
	case "string", "text", "url":
		return k == kString
	}
	return false
}

func (cp *compiler) answerOptions(it *Item, m map[string]any, path string) {
	opts := objects(m, "answerOption")
	if len(opts) == 0 {
		return
	}
	it.optionKinds = map[kind]bool{}
	allowed := map[kind]bool{}
	for _, k := range optionKindsByType[it.Type] {
		allowed[k] = true
	}
	for i, o := range opts {
		v, ok := readChoice(o, "value")
		if !ok {
			continue
		}
		if !allowed[v.kind] {
			if len(allowed) == 0 {
				cp.errorf(fhir.IssueInvariant, fmt.Sprintf("%s.answerOption[%d]", path, i), "Item %q is of type %s, which cannot have answerOptions (que-5)", it.LinkID, it.Type)
				return
			}
			cp.errorf(fhir.IssueInvariant, fmt.Sprintf("%s.answerOption[%d]", path, i), "Item %q is of type %s, but answerOption[%d] is a value%s: options must be answers of the item's type", it.LinkID, it.Type, i, v.kind.suffix())
			continue
		}
		opt := option{v: v}
		if ord, ok := ordinalOf(o); ok {
			opt.ordinal = &ord
		} else if c := object(o, "valueCoding"); c != nil {
			if ord, ok := ordinalOf(c); ok {
				opt.ordinal = &ord
			}
		}
		if opt.ordinal != nil && v.kind == kCoding {
			cp.c.addOrdinal(v.system, v.code, *opt.ordinal)
		}
		it.options = append(it.options, opt)
		it.optionKinds[v.kind] = true
	}
}

// ordinalOf reads the ordinalValue (or the older iso21090-CO-value) extension of m.
func ordinalOf(m map[string]any) (float64, bool) {
	for _, url := range []string{extOrdinalValue, extCOValue} {
		if e := extension(m, url); e != nil {
			if v, ok := readChoice(e, "value"); ok && v.hasNum {
				return v.num, true
			}
		}
	}
	return 0, false
}

func (c *Checker) addOrdinal(system, code string, ord float64) {
	c.ordinals[system+"|"+code] = ord
	for _, o := range c.ordinalsByCode[code] {
		if o == ord {
			return
		}
	}
	c.ordinalsByCode[code] = append(c.ordinalsByCode[code], ord)
}

// ordinal returns the ordinal value of a chosen coding: of the option with its system and
// code, or, for a coding without system, of the options with its code when they agree.
func (c *Checker) ordinal(system, code string) (float64, bool) {
	if o, ok := c.ordinals[system+"|"+code]; ok {
		return o, true
	}
	if system == "" {
		if os := c.ordinalsByCode[code]; len(os) == 1 {
			return os[0], true
		}
	}
	return 0, false
}

func (cp *compiler) answerValueSet(it *Item, m map[string]any, path string) {
	vs := str(m, "answerValueSet")
	if vs == "" {
		return
	}
	it.valueSet = vs
	if len(objects(m, "answerOption")) > 0 {
		cp.errorf(fhir.IssueInvariant, path, "Item %q has both answerOption and answerValueSet: a question takes one or the other (que-4)", it.LinkID)
	}
	if len(optionKindsByType[it.Type]) == 0 && it.Type != "quantity" {
		cp.errorf(fhir.IssueInvariant, path+".answerValueSet", "Item %q is of type %s, which cannot have an answerValueSet (que-5)", it.LinkID, it.Type)
		return
	}
	if !strings.HasPrefix(vs, "#") {
		return // an external value set: not checked here (see the check's warning)
	}
	r, ok := cp.c.contained[vs[1:]]
	if !ok {
		cp.errorf(fhir.IssueInvariant, path+".answerValueSet", "Item %q refers to the contained ValueSet %s, which the Questionnaire does not contain", it.LinkID, vs)
		return
	}
	it.vsCodes, it.vsSystem = map[string]bool{}, map[string]bool{}
	var walk func(list []map[string]any)
	walk = func(list []map[string]any) {
		for _, c := range list {
			if code := str(c, "code"); code != "" {
				it.vsCodes[str(c, "system")+"|"+code] = true
				if ord, ok := ordinalOf(c); ok {
					cp.c.addOrdinal(str(c, "system"), code, ord)
				}
			}
			walk(objects(c, "contains"))
		}
	}
	if exp := object(r, "expansion"); exp != nil {
		walk(objects(exp, "contains"))
		return
	}
	compose := object(r, "compose")
	for _, inc := range objects(compose, "include") {
		system := str(inc, "system")
		concepts := objects(inc, "concept")
		switch {
		case len(objects(inc, "filter")) > 0 || inc["valueSet"] != nil:
			it.vsOpen = true
		case len(concepts) == 0 && system != "":
			it.vsSystem[system] = true
		}
		for _, c := range concepts {
			if code := str(c, "code"); code != "" {
				it.vsCodes[system+"|"+code] = true
				if ord, ok := ordinalOf(c); ok {
					cp.c.addOrdinal(system, code, ord)
				}
			}
		}
	}
	if len(objects(compose, "exclude")) > 0 {
		it.vsOpen = true
	}
}

// links checks the enableWhen graph once every item is known.
func (cp *compiler) links() {
	for _, it := range cp.c.all {
		for _, cond := range it.enableWhen {
			q := cp.c.byLink[cond.question]
			switch {
			case cond.question == it.LinkID:
				cp.errorf(fhir.IssueInvariant, cond.path+".question", "Item %q is enabled by its own answer: an enableWhen question must be another item", it.LinkID)
				continue
			case q == nil:
				cp.errorf(fhir.IssueInvariant, cond.path+".question", "Item %q is enabled by question %q, which the Questionnaire does not have", it.LinkID, cond.question)
				continue
			case !q.isQuestion():
				cp.errorf(fhir.IssueInvariant, cond.path+".question", "Item %q is enabled by %q, a %s item, which has no answers", it.LinkID, cond.question, q.Type)
				continue
			}
			if cond.operator == "exists" {
				if cond.answer.kind != kBoolean {
					cp.errorf(fhir.IssueInvariant, cond.path, "The enableWhen of item %q uses operator exists, whose answer must be answerBoolean (que-7)", it.LinkID)
				}
				continue
			}
			if !enableAnswerFits(q, cond.answer.kind) {
				cp.errorf(fhir.IssueInvariant, cond.path, "The enableWhen of item %q compares question %q (type %s) with an answer%s: it must be an answer of the question's type (%s)",
					it.LinkID, q.LinkID, q.Type, cond.answer.kind.suffix(), strings.ReplaceAll(q.expected(), "value", "answer"))
				continue
			}
			if (cond.operator != "=" && cond.operator != "!=") && (cond.answer.kind == kCoding || cond.answer.kind == kBoolean || cond.answer.kind == kReference) {
				cp.errorf(fhir.IssueInvariant, cond.path+".operator", "The enableWhen of item %q uses operator %s on an answer%s, which has no order: use = or !=", it.LinkID, cond.operator, cond.answer.kind.suffix())
			}
			if cond.answer.bad != "" {
				cp.errorf(fhir.IssueInvariant, cond.path, "The enableWhen of item %q has an answer that cannot be read: %s", it.LinkID, cond.answer.bad)
			}
		}
	}
}

// enableAnswerFits reports whether an enableWhen answer of kind k can be compared with the
// answers of question q.
func enableAnswerFits(q *Item, k kind) bool {
	if q.accepts(k) {
		return true
	}
	switch q.Type {
	case "decimal", "quantity":
		return k == kDecimal || k == kInteger || k == kQuantity
	case "integer":
		return k == kDecimal
	case "dateTime":
		return k == kDate
	case "url":
		return k == kString
	}
	return false
}

// variables compiles the FHIRPath variable extensions of m.
func (cp *compiler) variables(m map[string]any, path string) []*expression {
	var out []*expression
	for _, e := range extensions(m, extVariable) {
		x := cp.compileExpression(e, path, "variable")
		if x != nil {
			out = append(out, x)
		}
	}
	return out
}

// expression compiles the Expression extension url of m, nil when there is none (or it is
// not FHIRPath).
func (cp *compiler) expression(m map[string]any, url, path, what string) *expression {
	e := extension(m, url)
	if e == nil {
		return nil
	}
	return cp.compileExpression(e, path, what)
}

func (cp *compiler) compileExpression(e map[string]any, path, what string) *expression {
	ve := object(e, "valueExpression")
	if ve == nil || str(ve, "language") != languageFHIRPath {
		return nil
	}
	x, err := compileFHIRPath(str(ve, "expression"), str(ve, "name"))
	if err != nil {
		cp.errorf(fhir.IssueInvariant, path+".extension", "The %s %q of %s does not parse as FHIRPath: %v", what, str(ve, "expression"), path, err)
		return nil
	}
	return x
}

// findTotals marks the score items summed from ordinal values: an integer, decimal or
// quantity item without an expression that is readOnly, or whose code is a known total
// score (LOINC 44261-6 PHQ-9, 70274-6 GAD-7, 55758-7 PHQ-2), in a Questionnaire whose
// options carry ordinal values. When two candidates share a scope, neither is computed:
// the server does not guess which answers each adds up.
func (cp *compiler) findTotals() {
	if len(cp.c.ordinals) == 0 {
		return
	}
	var cands []*Item
	for _, it := range cp.c.all {
		if it.calculated == nil && (it.Type == "integer" || it.Type == "decimal" || it.Type == "quantity") && (it.ReadOnly || it.knownTotal) {
			cands = append(cands, it)
		}
	}
	for _, a := range cands {
		shared := false
		for _, b := range cands {
			if a != b && (within(b, a.parent) || within(a, b.parent)) {
				shared = true
			}
		}
		if !shared {
			a.total = true
			cp.c.totals = append(cp.c.totals, a)
		}
	}
}

// totalScoreCodes are LOINC codes of total scores that are the sum of the item scores.
var totalScoreCodes = map[string]bool{"44261-6": true, "70274-6": true, "55758-7": true}

// within reports whether it lies under scope (nil: the whole Questionnaire).
func within(it, scope *Item) bool {
	if scope == nil {
		return true
	}
	for p := it.parent; p != nil; p = p.parent {
		if p == scope {
			return true
		}
	}
	return false
}
