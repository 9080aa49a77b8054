package questionnaire

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofhir/fhirpath/types"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// maxIssues bounds the issues one check reports.
const maxIssues = 100

// Result is what checking one response found.
type Result struct {
	// Issues are every problem found, errors and warnings, in the order of the response.
	Issues []fhir.Issue
	// Scores are the values the server computed: total scores and numeric calculated items.
	Scores []Score
	// Derived are the numbers to store beside the response for search: the ordinal value of
	// every chosen option that has one, and the computed scores, each under its item's linkId.
	Derived []fhir.Derived
}

// Score is one value the server computed for a response.
type Score struct {
	LinkID string
	Value  float64
	// Stated is the value the response gives, nil when it gives none.
	Stated *float64
}

// HasErrors reports whether any issue is an error.
func (r *Result) HasErrors() bool {
	for _, is := range r.Issues {
		if is.Severity == fhir.SeverityError || is.Severity == fhir.SeverityFatal {
			return true
		}
	}
	return false
}

// The statuses of a QuestionnaireResponse and how much of the rules apply to each.
const (
	statusCompleted      = "completed"
	statusAmended        = "amended"
	statusEnteredInError = "entered-in-error"
)

// node is one item of the response, matched to its Questionnaire item.
type node struct {
	item    *Item // nil when the linkId is not the Questionnaire's
	m       map[string]any
	path    string
	parent  *node
	kids    []*node
	answers []answer
}

type answer struct {
	v    value
	has  bool // the answer has a value
	path string
}

// hasAnswers reports whether n or an item nested in it has an answer.
func (n *node) hasAnswers() bool {
	for _, a := range n.answers {
		if a.has {
			return true
		}
	}
	for _, k := range n.kids {
		if k.hasAnswers() {
			return true
		}
	}
	return false
}

// state is one check in progress.
type state struct {
	c      *Checker
	ctx    context.Context
	tree   map[string]any
	full   bool
	issues []fhir.Issue
	res    *Result
	root   *node
	ev     *evaluator
	// enabled memoizes enableWhen per item and context node.
	enabled map[enableKey]enableState
	// warnedVS records the items whose external value set was reported.
	warnedVS map[*Item]bool
	// evalFailed records the expressions whose failure was reported.
	evalFailed map[*expression]bool
}

type enableKey struct {
	it  *Item
	ctx *node
}

type enableState struct {
	on     bool
	reason string
}

// Check checks a QuestionnaireResponse (its decoded JSON tree) against the Questionnaire.
// Which rules apply depends on the response's status (see the package documentation); the
// scores are computed whatever the status. It never fails: what cannot be checked here is
// reported as a warning.
func (c *Checker) Check(ctx context.Context, qr map[string]any) (res *Result) {
	res = &Result{}
	if c.unusable != "" {
		res.Issues = []fhir.Issue{{Severity: fhir.SeverityWarning, Code: fhir.IssueException, Expression: []string{"QuestionnaireResponse.questionnaire"},
			Diagnostics: fmt.Sprintf("Questionnaire %s could not be compiled for checking (%s): the response is stored without being checked against it", c.Canonical(), c.unusable)}}
		return res
	}
	s := &state{c: c, ctx: ctx, tree: qr, res: res, enabled: map[enableKey]enableState{}, warnedVS: map[*Item]bool{}, evalFailed: map[*expression]bool{}}
	status := str(qr, "status")
	s.full = status == statusCompleted || status == statusAmended
	defer func() {
		if r := recover(); r != nil {
			s.issues = append(s.issues, fhir.Issue{Severity: fhir.SeverityWarning, Code: fhir.IssueException,
				Diagnostics: fmt.Sprintf("The response could not be checked completely against Questionnaire %s: the check failed (%v)", c.Canonical(), r)})
		}
		res.Issues = s.issues
		if status == statusEnteredInError {
			for i := range res.Issues {
				if res.Issues[i].Severity == fhir.SeverityError {
					res.Issues[i].Severity = fhir.SeverityWarning
				}
			}
		}
	}()
	s.root = &node{path: "QuestionnaireResponse"}
	s.root.kids = s.build(objects(qr, "item"), nil, s.root, "QuestionnaireResponse")
	if c.expressions {
		if data, err := json.Marshal(qr); err == nil {
			s.ev = newEvaluator(ctx, c, data)
		}
	}
	if s.full {
		s.context(c.roots, s.root)
	}
	s.scores()
	s.ordinals(s.root)
	return res
}

func (s *state) add(sev fhir.IssueSeverity, code fhir.IssueType, path, format string, args ...any) {
	if len(s.issues) >= maxIssues {
		return
	}
	s.issues = append(s.issues, fhir.Issue{Severity: sev, Code: code, Diagnostics: fmt.Sprintf(format, args...), Expression: []string{path}})
}

func (s *state) errorf(code fhir.IssueType, path, format string, args ...any) {
	s.add(fhir.SeverityError, code, path, format, args...)
}

func (s *state) warnf(code fhir.IssueType, path, format string, args ...any) {
	s.add(fhir.SeverityWarning, code, path, format, args...)
}

// label names an item in messages: its linkId and text.
func label(it *Item) string {
	if it.Text == "" {
		return fmt.Sprintf("Item %q", it.LinkID)
	}
	t := it.Text
	if utf8.RuneCountInString(t) > 60 {
		t = string([]rune(t)[:57]) + "..."
	}
	return fmt.Sprintf("Item %q (%q)", it.LinkID, t)
}

// build matches the response items list, found under parentItem (nil: at the top), to the
// Questionnaire, and checks what holds whatever the status: every linkId exists and sits
// where the Questionnaire has it, answers have the item's type and are among its options.
func (s *state) build(list []map[string]any, parentItem *Item, parent *node, base string) []*node {
	var out []*node
	for i, m := range list {
		n := &node{m: m, path: base + ".item[" + strconv.Itoa(i) + "]", parent: parent}
		out = append(out, n)
		linkID := str(m, "linkId")
		it := s.c.byLink[linkID]
		switch {
		case it == nil:
			s.errorf(fhir.IssueStructure, n.path, "Item %q is not in Questionnaire %s: remove it, or answer the version of the Questionnaire that has it", linkID, s.c.Canonical())
			continue
		case it.parent != parentItem:
			where := "at the top level of the Questionnaire"
			if it.parent != nil {
				where = fmt.Sprintf("under item %q", it.parent.LinkID)
			}
			here := "at the top level"
			if parentItem != nil {
				here = fmt.Sprintf("under item %q", parentItem.LinkID)
			}
			s.errorf(fhir.IssueStructure, n.path, "%s is %s, not %s: nest the response's items as the Questionnaire nests them", label(it), where, here)
		}
		n.item = it
		s.text(n)
		for j, a := range objects(m, "answer") {
			path := n.path + ".answer[" + strconv.Itoa(j) + "]"
			n.answers = append(n.answers, s.answer(n, a, path))
			if _, nested := a["item"]; nested {
				n.kids = append(n.kids, s.build(objects(a, "item"), it, n, path)...)
			}
		}
		n.kids = append(n.kids, s.build(objects(m, "item"), it, n, n.path)...)
	}
	return out
}

// text warns when the item's text is neither the Questionnaire's nor a translation of it.
func (s *state) text(n *node) {
	t, ok := n.m["text"].(string)
	it := n.item
	if !ok || it.textVaries || sameText(t, it.Text) {
		return
	}
	for _, tr := range it.texts {
		if sameText(t, tr) {
			return
		}
	}
	if it.Text == "" {
		s.warnf(fhir.IssueValue, n.path+".text", "Item %q has no text in Questionnaire %s, but the response gives it the text %q", it.LinkID, s.c.Canonical(), t)
		return
	}
	s.warnf(fhir.IssueValue, n.path+".text", "%s: the response's text %q is not the Questionnaire's text nor one of its translations", label(it), t)
}

func sameText(a, b string) bool {
	return a == b || strings.Join(strings.Fields(a), " ") == strings.Join(strings.Fields(b), " ")
}

// answer checks one answer of n: its type, its options and, for complete responses, the
// item's value constraints.
func (s *state) answer(n *node, m map[string]any, path string) answer {
	it := n.item
	v, has := readChoice(m, "value")
	a := answer{v: v, has: has, path: path}
	if !it.isQuestion() {
		s.errorf(fhir.IssueStructure, path, "%s is a %s item: it takes no answers (put them in the items nested in it)", label(it), it.Type)
		a.has = false
		return a
	}
	if !has {
		if len(objects(m, "item")) == 0 {
			s.errorf(fhir.IssueRequired, path, "%s: the answer has no value: give a value%s or leave the answer out", label(it), it.expected()[len("value"):])
		}
		return a
	}
	if !it.accepts(v.kind) {
		s.errorf(fhir.IssueStructure, path, "%s is of type %s: its answers are %s, not value%s", label(it), it.Type, it.expected(), v.kind.suffix())
		a.has = false
		return a
	}
	if v.bad != "" {
		s.errorf(fhir.IssueValue, path, "%s: the answer cannot be read: %s", label(it), v.bad)
		a.has = false
		return a
	}
	s.options(it, v, path)
	if s.full {
		s.constraints(it, v, path)
	}
	return a
}

// options checks that an answer is one of the item's answerOptions, or in its contained
// answerValueSet.
func (s *state) options(it *Item, v value, path string) {
	if it.Type == "open-choice" && v.kind == kString {
		return // free text beside the options
	}
	if len(it.options) > 0 {
		for _, o := range it.options {
			if v.kind == kCoding && o.v.kind == kCoding {
				if o.v.system == v.system && o.v.code == v.code {
					return
				}
				continue
			}
			if equal(v, o.v) {
				return
			}
		}
		if v.kind == kCoding && v.system == "" {
			for _, o := range it.options {
				if o.v.kind == kCoding && o.v.code == v.code {
					s.errorf(fhir.IssueCodeInvalid, path+".valueCoding", "%s: the answer's coding has no system: the option with code %q is %s|%s; send its system too", label(it), v.code, o.v.system, o.v.code)
					return
				}
			}
		}
		code := fhir.IssueValue
		if v.kind == kCoding {
			code = fhir.IssueCodeInvalid
		}
		s.errorf(code, path, "%s: the answer %s is not one of its options (%s)", label(it), v, optionList(it.options))
		return
	}
	if it.valueSet == "" || v.kind != kCoding {
		return
	}
	if it.vsCodes == nil {
		if !s.warnedVS[it] {
			s.warnedVS[it] = true
			s.warnf(fhir.IssueNotSupported, path, "%s draws its answers from the value set %s, which is not contained in the Questionnaire: this server cannot check that %s is in it", label(it), it.valueSet, v)
		}
		return
	}
	if it.vsCodes[v.system+"|"+v.code] || it.vsSystem[v.system] {
		return
	}
	if it.vsOpen {
		if !s.warnedVS[it] {
			s.warnedVS[it] = true
			s.warnf(fhir.IssueNotSupported, path, "%s draws its answers from the contained value set %s, whose filters this server cannot evaluate: %s is not checked", label(it), it.valueSet, v)
		}
		return
	}
	if v.system == "" {
		for k := range it.vsCodes {
			if strings.HasSuffix(k, "|"+v.code) {
				s.errorf(fhir.IssueCodeInvalid, path+".valueCoding", "%s: the answer's coding has no system: code %q of value set %s is %s; send its system too", label(it), v.code, it.valueSet, k)
				return
			}
		}
	}
	s.errorf(fhir.IssueCodeInvalid, path, "%s: the answer %s is not in its value set %s", label(it), v, it.valueSet)
}

func optionList(opts []option) string {
	var parts []string
	for i, o := range opts {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("and %d more", len(opts)-10))
			break
		}
		if o.v.kind == kCoding {
			parts = append(parts, o.v.system+"|"+o.v.code)
		} else {
			parts = append(parts, o.v.String())
		}
	}
	return strings.Join(parts, ", ")
}

// constraints checks an answer against the item's length, pattern and value limits.
func (s *state) constraints(it *Item, v value, path string) {
	if v.kind == kString || v.kind == kURI {
		n := utf8.RuneCountInString(v.text)
		if it.maxLength != nil && n > *it.maxLength {
			s.errorf(fhir.IssueValue, path, "%s: the answer is %d characters long, more than its maxLength %d", label(it), n, *it.maxLength)
		}
		if it.minLength != nil && n < *it.minLength {
			s.errorf(fhir.IssueValue, path, "%s: the answer is %d characters long, less than its minLength %d", label(it), n, *it.minLength)
		}
		if it.regex != nil && !it.regex.MatchString(v.text) {
			s.errorf(fhir.IssueValue, path, "%s: the answer %s does not match the pattern %s", label(it), v, it.regexText)
		}
	}
	if it.minValue != nil {
		if c, ok := compare(v, *it.minValue); ok && c < 0 {
			s.errorf(fhir.IssueValue, path, "%s: the answer %s is below its minValue %s", label(it), v, *it.minValue)
		}
	}
	if it.maxValue != nil {
		if c, ok := compare(v, *it.maxValue); ok && c > 0 {
			s.errorf(fhir.IssueValue, path, "%s: the answer %s is above its maxValue %s", label(it), v, *it.maxValue)
		}
	}
	if it.maxDecimals != nil && (v.kind == kDecimal || v.kind == kQuantity) {
		if d := decimalPlaces(v.text); d > *it.maxDecimals {
			s.errorf(fhir.IssueValue, path, "%s: the answer %s has %d decimal places, more than its maxDecimalPlaces %d", label(it), v.text, d, *it.maxDecimals)
		}
	}
}

// context checks the items expected under one context of a complete response (the top
// level, an occurrence of a group, a question with nested items): enableWhen, required,
// repeats, minOccurs and maxOccurs and unique answers; then the contexts within.
func (s *state) context(expected []*Item, ctx *node) {
	for _, e := range expected {
		var occ []*node
		for _, k := range ctx.kids {
			if k.item == e {
				occ = append(occ, k)
			}
		}
		en := s.enabledAt(e, ctx)
		if !en.on {
			for _, o := range occ {
				s.disabled(o, e, en.reason)
			}
			continue
		}
		answers := 0
		for _, o := range occ {
			for _, a := range o.answers {
				if a.has {
					answers++
				}
			}
		}
		where := ctx.path
		switch {
		case e.isQuestion() && len(occ) > 1:
			s.errorf(fhir.IssueStructure, occ[1].path, "%s appears %d times in one place: a question appears once, with all its answers in its answer list", label(e), len(occ))
		case !e.isQuestion() && !e.Repeats && len(occ) > 1:
			s.errorf(fhir.IssueStructure, occ[1].path, "%s does not repeat, but appears %d times", label(e), len(occ))
		}
		if e.isQuestion() && !e.Repeats && answers > 1 {
			s.errorf(fhir.IssueStructure, occ[0].path+".answer[1]", "%s does not repeat: it takes one answer, not %d", label(e), answers)
		}
		if e.isQuestion() && e.Repeats {
			s.unique(e, occ)
		}
		present := false
		for _, o := range occ {
			present = present || o.hasAnswers()
		}
		if e.Required && !present && e.Type != "display" {
			s.errorf(fhir.IssueRequired, where, "%s is required: answer it", label(e))
		}
		count, what := answers, "answers"
		if !e.isQuestion() {
			count, what = len(occ), "occurrences"
		}
		if e.minOccurs != nil && count > 0 && count < *e.minOccurs {
			s.errorf(fhir.IssueRequired, where, "%s needs at least %d %s (minOccurs), the response has %d", label(e), *e.minOccurs, what, count)
		}
		if e.maxOccurs != nil && count > *e.maxOccurs {
			s.errorf(fhir.IssueStructure, where, "%s allows at most %d %s (maxOccurs), the response has %d", label(e), *e.maxOccurs, what, count)
		}
		if len(e.children) > 0 {
			for _, o := range occ {
				if e.isQuestion() && !o.hasAnswers() {
					continue // nested items of a question belong to its answers
				}
				s.context(e.children, o)
			}
		}
	}
}

// unique reports repeated answers of a repeating question.
func (s *state) unique(e *Item, occ []*node) {
	seen := map[string]bool{}
	for _, o := range occ {
		for _, a := range o.answers {
			if !a.has {
				continue
			}
			k := a.v.key()
			if seen[k] {
				s.errorf(fhir.IssueBusinessRule, a.path, "%s: the answer %s is given twice: the answers of a repeating item must differ", label(e), a.v)
			}
			seen[k] = true
		}
	}
}

// disabled reports the answers of a disabled item and of the items nested in it.
func (s *state) disabled(n *node, e *Item, reason string) {
	for _, a := range n.answers {
		if a.has {
			s.errorf(fhir.IssueBusinessRule, a.path, "%s is not enabled (%s), so it must not have answers: leave it out of the response", label(n.item), reason)
		}
	}
	for _, k := range n.kids {
		if k.item != nil {
			s.disabled(k, e, reason)
		}
	}
}

// enabledAt decides whether item e is enabled in the context node ctx.
func (s *state) enabledAt(e *Item, ctx *node) enableState {
	if len(e.enableWhen) == 0 && e.enableExpr == nil {
		return enableState{on: true}
	}
	key := enableKey{e, ctx}
	if st, ok := s.enabled[key]; ok {
		return st
	}
	st := enableState{on: true}
	if len(e.enableWhen) > 0 {
		var failed []string
		met := 0
		for _, c := range e.enableWhen {
			if s.condition(c, ctx) {
				met++
			} else {
				failed = append(failed, describe(c))
			}
		}
		if e.enableAll {
			st.on = met == len(e.enableWhen)
		} else {
			st.on = met > 0
		}
		if !st.on {
			joiner := " or "
			if e.enableAll {
				joiner = " and "
			}
			st.reason = "it is enabled when " + strings.Join(failed, joiner) + ", which does not hold"
		}
	}
	if st.on && e.enableExpr != nil && s.ev != nil {
		col, err := s.ev.eval(e.enableExpr, e)
		b, ok := truth(col)
		switch {
		case err != nil || !ok:
			if !s.evalFailed[e.enableExpr] {
				s.evalFailed[e.enableExpr] = true
				why := "it does not give a boolean"
				if err != nil {
					why = err.Error()
				}
				s.warnf(fhir.IssueNotSupported, ctx.path, "%s: its enableWhenExpression %q cannot be evaluated on this server (%s): the item is taken as enabled", label(e), e.enableExpr.text, why)
			}
		case !b:
			st = enableState{on: false, reason: fmt.Sprintf("its enableWhenExpression %s is false", e.enableExpr.text)}
		}
	}
	s.enabled[key] = st
	return st
}

func describe(c condition) string {
	if c.operator == "exists" {
		if c.answer.b {
			return fmt.Sprintf("%q is answered", c.question)
		}
		return fmt.Sprintf("%q is not answered", c.question)
	}
	return fmt.Sprintf("%q %s %s", c.question, c.operator, c.answer)
}

// condition evaluates one enableWhen in the context ctx, on the nearest occurrence of its
// question (the ancestors' subtrees first, as R4 asks). Every operator but exists and !=
// holds when at least one answer satisfies it; != holds when no answer equals the value.
func (s *state) condition(c condition, ctx *node) bool {
	q := s.find(c.question, ctx)
	var answers []value
	if q != nil {
		for _, a := range q.answers {
			if a.has {
				answers = append(answers, a.v)
			}
		}
	}
	switch c.operator {
	case "exists":
		return (len(answers) > 0) == c.answer.b
	case "=":
		for _, a := range answers {
			if equal(a, c.answer) {
				return true
			}
		}
		return false
	case "!=":
		for _, a := range answers {
			if equal(a, c.answer) {
				return false
			}
		}
		return true
	}
	for _, a := range answers {
		cmp, ok := compare(a, c.answer)
		if !ok {
			continue
		}
		switch c.operator {
		case ">":
			if cmp > 0 {
				return true
			}
		case "<":
			if cmp < 0 {
				return true
			}
		case ">=":
			if cmp >= 0 {
				return true
			}
		case "<=":
			if cmp <= 0 {
				return true
			}
		}
	}
	return false
}

// find returns the nearest occurrence of linkID seen from ctx: within ctx, then within each
// ancestor in turn.
func (s *state) find(linkID string, ctx *node) *node {
	for n := ctx; n != nil; n = n.parent {
		if f := searchNode(n, linkID); f != nil {
			return f
		}
	}
	return nil
}

func searchNode(n *node, linkID string) *node {
	for _, k := range n.kids {
		if k.item != nil && k.item.LinkID == linkID {
			return k
		}
	}
	for _, k := range n.kids {
		if f := searchNode(k, linkID); f != nil {
			return f
		}
	}
	return nil
}

// scores computes the total scores and the calculated items, and, for complete responses,
// refuses a stated value that differs.
func (s *state) scores() {
	for _, t := range s.c.totals {
		for _, scope := range s.scopes(t.parent) {
			sum, unknown := 0.0, 0
			s.sumOrdinals(scope, t, &sum, &unknown)
			stated := s.first(scope, t)
			s.score(t, stated, sum, unknown, "the answers sum to")
		}
	}
	if s.ev == nil {
		return
	}
	for _, it := range s.c.all {
		if it.calculated == nil {
			continue
		}
		scopes := s.scopes(it.parent)
		if len(scopes) == 0 {
			continue
		}
		before := s.ev.stats.unknownCodings
		col, err := s.ev.eval(it.calculated, it)
		unknown := s.ev.stats.unknownCodings - before
		if err != nil {
			if !s.evalFailed[it.calculated] {
				s.evalFailed[it.calculated] = true
				s.warnf(fhir.IssueNotSupported, "QuestionnaireResponse", "%s: its calculatedExpression %q cannot be evaluated on this server (%s): its answer is not checked", label(it), it.calculated.text, err)
			}
			continue
		}
		for _, scope := range scopes {
			stated := s.first(scope, it)
			if f, ok := number(col); ok {
				s.score(it, stated, f, unknown, "its calculatedExpression gives")
				continue
			}
			if stated == nil || len(col) == 0 {
				continue
			}
			if got := collectionText(col); got != "" && got != valueText(stated.v) && s.full {
				s.errorf(fhir.IssueBusinessRule, stated.path, "%s: its calculatedExpression gives %s, the response says %s", label(it), got, valueText(stated.v))
			}
		}
	}
}

// scopes returns the occurrences of parent in the response (the root for nil): where an
// item under parent is computed.
func (s *state) scopes(parent *Item) []*node {
	if parent == nil {
		return []*node{s.root}
	}
	var out []*node
	var walk func(n *node)
	walk = func(n *node) {
		for _, k := range n.kids {
			if k.item == parent {
				out = append(out, k)
			}
			walk(k)
		}
	}
	walk(s.root)
	return out
}

// first returns the first answer of item it directly within scope, nil when none.
func (s *state) first(scope *node, it *Item) *answer {
	var found *answer
	var walk func(n *node)
	walk = func(n *node) {
		for _, k := range n.kids {
			if found != nil {
				return
			}
			if k.item == it {
				for i := range k.answers {
					if k.answers[i].has {
						found = &k.answers[i]
						return
					}
				}
			}
			walk(k)
		}
	}
	walk(scope)
	return found
}

// sumOrdinals adds the ordinal values of the answers within n, the total t excepted.
func (s *state) sumOrdinals(n *node, t *Item, sum *float64, unknown *int) {
	for _, k := range n.kids {
		if k.item != nil && k.item != t && (k.item.Type == "choice" || k.item.Type == "open-choice") {
			for _, a := range k.answers {
				if !a.has || a.v.kind != kCoding {
					continue
				}
				if o, ok := s.c.ordinal(a.v.system, a.v.code); ok {
					*sum += o
				} else if k.item.hasOrdinals(s.c) {
					*unknown++
				}
			}
		}
		s.sumOrdinals(k, t, sum, unknown)
	}
}

// hasOrdinals reports whether any of the item's options carries an ordinal value.
func (it *Item) hasOrdinals(c *Checker) bool {
	for _, o := range it.options {
		if o.ordinal != nil {
			return true
		}
	}
	for k := range it.vsCodes {
		sys, code, _ := strings.Cut(k, "|")
		if _, ok := c.ordinal(sys, code); ok {
			return true
		}
	}
	return false
}

// score records a computed score and compares it with the stated one.
func (s *state) score(it *Item, stated *answer, computed float64, unknown int, says string) {
	sc := Score{LinkID: it.LinkID, Value: computed}
	if stated != nil && stated.v.hasNum {
		f := stated.v.num
		sc.Stated = &f
	}
	s.res.Scores = append(s.res.Scores, sc)
	if unknown == 0 {
		s.res.Derived = append(s.res.Derived, fhir.Derived{Param: search.ParamItemAnswerNumber, Key: it.LinkID, Number: computed})
	}
	if sc.Stated == nil || !s.full {
		return
	}
	if unknown > 0 {
		verb := "are"
		if unknown == 1 {
			verb = "is"
		}
		s.warnf(fhir.IssueBusinessRule, stated.path, "%s is not checked: %d of the answers it adds up %s not among the options", label(it), unknown, verb)
		return
	}
	if math.Abs(*sc.Stated-computed) > 1e-9 {
		s.errorf(fhir.IssueBusinessRule, stated.path, "%s: %s %s, the response says %s", label(it), says, formatNumber(computed), formatNumber(*sc.Stated))
	}
}

// ordinals derives the ordinal value of every chosen option, for search.
func (s *state) ordinals(n *node) {
	for _, k := range n.kids {
		if k.item != nil && !k.item.total {
			for _, a := range k.answers {
				if a.has && a.v.kind == kCoding {
					if o, ok := s.c.ordinal(a.v.system, a.v.code); ok {
						s.res.Derived = append(s.res.Derived, fhir.Derived{Param: search.ParamItemAnswerNumber, Key: k.item.LinkID, Number: o})
					}
				}
			}
		}
		s.ordinals(k)
	}
}

func formatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// valueText renders an answer as a calculated result is rendered, for comparing the two.
func valueText(v value) string {
	if v.kind == kCoding {
		return v.system + "|" + v.code
	}
	return v.text
}

func collectionText(col types.Collection) string {
	if len(col) != 1 {
		return ""
	}
	if o, ok := col[0].(*types.ObjectValue); ok {
		code, ok := o.Get("code")
		if !ok {
			return ""
		}
		sys := ""
		if x, ok := o.Get("system"); ok {
			sys = x.String()
		}
		return sys + "|" + code.String()
	}
	return col[0].String()
}
