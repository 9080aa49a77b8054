package search

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	models "github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// ExtractOptions are the server settings that extraction depends on.
type ExtractOptions struct {
	// BaseURL is the absolute base of the FHIR API (a trailing slash is ignored). An absolute
	// reference that starts with BaseURL+"/" is also indexed as the relative "Type/id" it
	// stands for. Empty means no absolute reference is taken for a local one.
	BaseURL string
	// Location is the zone of date values written without one (dates, and date-times
	// without an offset); nil means UTC. It must be the Options.Location searches are parsed
	// with, or the two sides of a comparison would disagree.
	Location *time.Location
}

// Extract computes the search values of a resource: for every search parameter defined on
// resourceType (the common _id, _lastUpdated, _tag, _profile, _security and _source
// included) the Values its FHIRPath expression yields, filled as the Values fields
// describe. tree is the decoded resource: objects as map[string]any, arrays as []any,
// numbers as json.Number (decode with UseNumber), strings and booleans as themselves.
//
// Parameters the resource has no value for are left out of the Index. The expressions are
// not evaluated by a FHIRPath engine at run time: each is compiled once, when the package is
// loaded, into the member paths it follows (see compileExpression), which costs a small
// fraction of a general evaluation.
//
// Composite parameters (context-type-value, context-type-quantity) get one K per
// combination of their components' keys, joined by "$": for each use context, every key of
// the code ("system|code", or "|code" when it has no system, and the bare code) combined with
// every key of each coding of the value. For token$quantity, each value is also kept whole
// in V ({K: code keys, QLo, QHi, QU, QC}) and K holds the code keys alone.
//
// A value that cannot be read (a malformed date or number, an object where a string belongs)
// is a fhir.Error of kind fhir.KindInvalid naming the element. An unknown resourceType gives
// an empty Index.
func Extract(resourceType string, tree map[string]any, opts ExtractOptions) (Index, error) {
	progs := programs[resourceType]
	idx := make(Index, len(progs))
	x := extractor{base: strings.TrimSuffix(opts.BaseURL, "/"), loc: opts.Location}
	if x.loc == nil {
		x.loc = time.UTC
	}
	for _, p := range progs {
		v, err := x.run(p, tree)
		if err != nil {
			return nil, err
		}
		if v != nil {
			idx[p.def.Name] = v
		}
	}
	return idx, nil
}

// CalendarKey returns the smallest calendar unit, in UTC, that wholly contains the range
// [lo, hi), among the year "Y2024", the month "M2024-05" and the day "D2024-05-03"; "" when
// the range fits in no year, and for an empty or inverted range. Values.D holds these keys
// for stored dates. A unit holds the ranges whose key is its own or a unit's within it,
// so that a date eq search for a UTC year, month or day is an equality or anchored prefix
// on D, and one for a smaller range within a day is narrowed to the values of that day.
func CalendarKey(lo, hi time.Time) string {
	lo, hi = lo.UTC(), hi.UTC()
	if !lo.Before(hi) {
		return ""
	}
	y, mo, d := lo.Date()
	var buf [11]byte
	key := append(buf[:0], 'Y')
	key = appendDigits(key, y, 4)
	if hi.After(time.Date(y+1, 1, 1, 0, 0, 0, 0, time.UTC)) {
		return ""
	}
	if hi.After(time.Date(y, mo+1, 1, 0, 0, 0, 0, time.UTC)) {
		return string(key)
	}
	key[0] = 'M'
	key = appendDigits(append(key, '-'), int(mo), 2)
	if hi.After(time.Date(y, mo, d+1, 0, 0, 0, 0, time.UTC)) {
		return string(key)
	}
	key[0] = 'D'
	return string(appendDigits(append(key, '-'), d, 2))
}

func appendDigits(b []byte, n, width int) []byte {
	var tmp [8]byte
	i := len(tmp)
	for n > 0 || i > len(tmp)-width {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
		if i == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// ---- compiled expressions ----

// elemType is the FHIR datatype an expression branch reaches, as far as extraction cares.
type elemType uint8

const (
	tOther           elemType = iota
	tString                   // string, code, id, uri, url, canonical, markdown, date, dateTime, instant
	tBoolean                  // boolean
	tNumber                   // decimal, integer
	tCoding                   // Coding
	tCodeableConcept          // CodeableConcept
	tIdentifier               // Identifier
	tContactPoint             // ContactPoint
	tReference                // Reference
	tPeriod                   // Period
	tTiming                   // Timing
	tQuantity                 // Quantity (and its profiles)
	tRange                    // Range
	tUsageContext             // UsageContext (the base of the composites)
	tNone                     // a branch that never gives a value of the parameter's type (scheduledString for a date)
)

var structTypes = map[string]elemType{
	"Coding": tCoding, "CodeableConcept": tCodeableConcept, "Identifier": tIdentifier,
	"ContactPoint": tContactPoint, "Reference": tReference, "Period": tPeriod, "Timing": tTiming,
	"Quantity": tQuantity, "Range": tRange, "UsageContext": tUsageContext,
}

// step is one move of a branch: into a member, or a filter on the references reached.
type step struct {
	member string // the JSON member to enter; "" for a filter
	isType string // for .where(resolve() is T): keep references whose target type is T
}

// branch is one alternative of a compiled expression: the steps from the resource (or from
// the composite's element) to the values, and the datatype reached.
type branch struct {
	steps []step
	typ   elemType
	path  string // the element reached, in FHIRPath, for error messages
	many  bool   // some member on the way may repeat (its model type is a slice)
}

// program is a compiled search parameter.
type program struct {
	def      *Definition
	branches []branch
	parts    [2][]branch // composite components, relative to the branches' elements
}

// programs holds the compiled parameters per resource type. Building it panics when an
// expression of the registry uses anything beyond the subset compileExpression knows, so a
// registry change that would be extracted wrongly cannot go unnoticed.
var programs = func() map[string][]*program {
	out := map[string][]*program{}
	for _, typ := range ResourceTypes() {
		rt, ok := resourceModels[typ]
		if !ok {
			panic("search: no model for " + typ)
		}
		for _, d := range Definitions(typ) {
			p, err := compileDefinition(typ, rt, d)
			if err != nil {
				panic(fmt.Sprintf("search: %s.%s: %v", typ, d.Name, err))
			}
			out[typ] = append(out[typ], p)
		}
	}
	return out
}()

var resourceModels = map[string]reflect.Type{
	"Questionnaire":         reflect.TypeFor[models.Questionnaire](),
	"QuestionnaireResponse": reflect.TypeFor[models.QuestionnaireResponse](),
	"CarePlan":              reflect.TypeFor[models.CarePlan](),
	"AuditEvent":            reflect.TypeFor[models.AuditEvent](),
	"Subscription":          reflect.TypeFor[models.Subscription](),
}

func compileDefinition(typ string, rt reflect.Type, d *Definition) (*program, error) {
	if d.extract != nil {
		return &program{def: d}, nil // extracted by its own function
	}
	brs, err := compileExpression(d.Expression, typ, rt, true)
	if err != nil {
		return nil, err
	}
	p := &program{def: d, branches: brs}
	if d.Type == TypeComposite {
		if len(d.Components) != 2 {
			return nil, fmt.Errorf("composite with %d components", len(d.Components))
		}
		for _, b := range brs {
			if b.typ != tUsageContext {
				return nil, fmt.Errorf("composite over %s: only UsageContext is supported", b.path)
			}
		}
		ut := reflect.TypeFor[models.UsageContext]()
		for i, c := range d.Components {
			cb, err := compileExpression(c.Expression, "UsageContext", ut, false)
			if err != nil {
				return nil, fmt.Errorf("component %d: %w", i, err)
			}
			want := []ParamType{TypeToken, TypeToken}
			if i == 1 && c.Def.Type == TypeQuantity {
				want[1] = TypeQuantity
			}
			if c.Def.Type != want[i] {
				return nil, fmt.Errorf("component %d is a %s: only token$token and token$quantity are supported", i, c.Def.Type)
			}
			for _, b := range cb {
				if err := checkType(c.Def.Type, false, &b); err != nil {
					return nil, fmt.Errorf("component %d: %w", i, err)
				}
			}
			p.parts[i] = cb
		}
		return p, nil
	}
	for i := range p.branches {
		if err := checkType(d.Type, d.Canonical, &p.branches[i]); err != nil {
			return nil, err
		}
	}
	sh := shapeOf(d, p.branches)
	if old, ok := shapes[d]; ok && old != sh {
		// A parameter common to several types must have one shape: a search compiles
		// without knowing which type's values it reads.
		return nil, fmt.Errorf("its values have another shape on %s than on other types", typ)
	}
	shapes[d] = sh
	return p, nil
}

// valueShape is what the elements a parameter's expression reaches say of its values.
type valueShape struct {
	// plainCodes: every value of a token parameter is a code without a system.
	plainCodes bool
	// single: a resource has at most one value of the parameter: the expression reaches
	// one element that does not repeat (stored resources are validated against the
	// element cardinalities), of a datatype that gives one value.
	single bool
}

// shapes holds the shape of every parameter's values; see compileDefinition.
var shapes = map[*Definition]valueShape{}

func shapeOf(d *Definition, branches []branch) valueShape {
	var sh valueShape
	var reached []branch
	for _, b := range branches {
		if b.typ != tNone {
			reached = append(reached, b)
		}
	}
	sh.single = len(reached) == 1 && !reached[0].many && givesOneValue(d, reached[0].typ)
	if d.Type == TypeToken {
		sh.plainCodes = true
		for _, b := range branches {
			if b.typ != tString && b.typ != tBoolean {
				sh.plainCodes = false
			}
		}
	}
	return sh
}

// givesOneValue reports whether one element of datatype t gives one value of parameter d
// (in the field Values.O would copy).
func givesOneValue(d *Definition, t elemType) bool {
	switch d.Type {
	case TypeToken:
		return t == tString || t == tBoolean || t == tCoding || t == tIdentifier || t == tContactPoint
	case TypeString, TypeURI:
		return t == tString
	case TypeDate:
		return t == tString || t == tPeriod || t == tTiming
	case TypeNumber:
		return t == tNumber
	case TypeQuantity:
		return t == tQuantity || t == tRange
	case TypeReference:
		// One key in R (an absolute URL to this server goes to A); a canonical gives its
		// URL and url|version.
		return t == tReference && !d.Canonical
	}
	return false // composites do not sort
}

// SingleValued reports whether a resource has at most one value of the parameter: its
// expression reaches one element that does not repeat, of a datatype that gives one value
// (stored resources are validated against the element cardinalities).
func (d *Definition) SingleValued() bool { return shapes[d].single }

// SortKey is the stored name of the field of Values that sorts resources by the parameter:
// "o", their smallest value (Values.O), or for a parameter of which a resource has at most
// one value, the field that holds it ("c" for a status, "lo" for a date), which O then
// does not repeat. Composites do not sort: "".
func (d *Definition) SortKey() string {
	switch {
	case d.Type == TypeComposite:
		return ""
	case !d.SingleValued():
		return "o"
	}
	switch d.Type {
	case TypeString:
		return "n"
	case TypeToken:
		return "c"
	case TypeReference:
		return "r"
	case TypeURI:
		return "u"
	case TypeDate:
		return "lo"
	}
	return "ql" // number, quantity
}

// SortValue returns the value that sorts the resource by parameter d (see SortKey), nil
// when it has none.
func (v *Values) SortValue(d *Definition) any {
	switch d.SortKey() {
	case "n":
		return firstOf(v.N)
	case "c":
		return firstOf(v.C)
	case "r":
		return firstOf(v.R)
	case "u":
		return firstOf(v.U)
	case "lo":
		return firstOf(v.Lo)
	case "ql":
		return firstOf(v.QLo)
	}
	return v.O
}

// firstOf returns the first of values, nil when there is none.
func firstOf[T any](values []T) any {
	if len(values) == 0 {
		return nil
	}
	return values[0]
}

// PlainCodes reports whether every value of a token parameter is a code without a system:
// the parameter's elements are code, string, id or boolean (status, intent, version).
// Their values have no token keys (Values.K): a search with a system finds none of them,
// and one with an empty system (|code) is a search for the code.
func (d *Definition) PlainCodes() bool { return shapes[d].plainCodes }

// checkType rejects a branch whose datatype extraction does not handle for the parameter
// type, and marks string-typed choices of date parameters as giving nothing.
func checkType(t ParamType, canonical bool, b *branch) error {
	ok := false
	switch t {
	case TypeToken:
		switch b.typ {
		case tString, tBoolean, tCoding, tCodeableConcept, tIdentifier, tContactPoint:
			ok = true
		}
	case TypeString, TypeURI:
		ok = b.typ == tString
	case TypeReference:
		ok = b.typ == tReference && !canonical || b.typ == tString && canonical
	case TypeDate:
		switch b.typ {
		case tString, tPeriod, tTiming:
			ok = true
			if strings.HasSuffix(b.path, "String") {
				// scheduledString: free text, never a date.
				b.typ = tNone
			}
		}
	case TypeNumber:
		ok = b.typ == tNumber
	case TypeQuantity:
		ok = b.typ == tQuantity || b.typ == tRange
	}
	if !ok {
		return fmt.Errorf("%s reaches a datatype a %s parameter is not extracted from", b.path, t)
	}
	return nil
}

// compileExpression compiles the FHIRPath subset the R4 search parameters of the served
// types use: dotted member paths from the resource type (or Resource/DomainResource), the
// type casts "(X as T)" and "X.as(T)" on choice elements, the filter
// ".where(resolve() is T)" on references, unions "|", and parentheses. Anything else is an
// error. Members are typed with the samply R4 models; a choice element named without a type
// (CarePlan.activity.detail.scheduled) becomes one branch per type it may take. When
// absolute is false (composite components) the expression starts at an element of type
// root instead of at the resource.
func compileExpression(expr, rootName string, root reflect.Type, absolute bool) ([]branch, error) {
	terms, err := splitTop(expr, '|')
	if err != nil {
		return nil, err
	}
	var out []branch
	for _, term := range terms {
		brs, err := compileTerm(strings.TrimSpace(term), rootName, root, absolute)
		if err != nil {
			return nil, err
		}
		out = append(out, brs...)
	}
	return out, nil
}

// cursor is a branch being compiled, with the model type it has reached.
type cursor struct {
	b      branch
	t      reflect.Type
	choice string // the type suffix when the last member was a choice element ("Period")
}

func compileTerm(term, rootName string, root reflect.Type, absolute bool) ([]branch, error) {
	if term == "" {
		return nil, fmt.Errorf("empty expression")
	}
	// "(X as T)"
	if term[0] == '(' {
		if closing(term, 0) != len(term)-1 {
			return nil, fmt.Errorf("unsupported expression %q", term)
		}
		inner := strings.TrimSpace(term[1 : len(term)-1])
		if x, t, ok := cutAs(inner); ok {
			// Compiled with the cast as a final .as(T), so that the branches keep
			// the model types the cast filters on.
			return compileTerm(x+".as("+t+")", rootName, root, absolute)
		}
		return compileExpression(inner, rootName, root, absolute)
	}
	segs, err := splitTop(term, '.')
	if err != nil {
		return nil, err
	}
	cur := []cursor{{t: root, b: branch{path: rootName}}}
	start := 0
	if absolute {
		switch segs[0] {
		case rootName, "Resource", "DomainResource":
		default:
			return nil, fmt.Errorf("%q does not start at %s", term, rootName)
		}
		start = 1
	}
	for _, seg := range segs[start:] {
		seg = strings.TrimSpace(seg)
		switch {
		case isIdent(seg):
			var next []cursor
			for _, c := range cur {
				n, err := member(c, seg)
				if err != nil {
					return nil, err
				}
				next = append(next, n...)
			}
			cur = next
		case strings.HasPrefix(seg, "as(") && strings.HasSuffix(seg, ")") && isIdent(seg[3:len(seg)-1]):
			t := seg[3 : len(seg)-1]
			kept := cur[:0]
			for _, c := range cur {
				if typeName(c) == t {
					kept = append(kept, c)
				}
			}
			if len(kept) == 0 {
				return nil, fmt.Errorf("%q: no element of type %s", term, t)
			}
			cur = kept
		case strings.HasPrefix(seg, "where(") && strings.HasSuffix(seg, ")"):
			t, ok := resolveIs(seg[len("where(") : len(seg)-1])
			if !ok {
				return nil, fmt.Errorf("unsupported filter %q", seg)
			}
			for i := range cur {
				if cur[i].t != reflect.TypeFor[models.Reference]() {
					return nil, fmt.Errorf("%q: resolve() on %s, not a Reference", term, cur[i].b.path)
				}
				cur[i].b.steps = append(cur[i].b.steps[:len(cur[i].b.steps):len(cur[i].b.steps)], step{isType: t})
			}
		default:
			return nil, fmt.Errorf("unsupported expression %q in %q", seg, term)
		}
	}
	out := make([]branch, len(cur))
	for i, c := range cur {
		c.b.typ = datatype(c)
		out[i] = c.b
	}
	return out, nil
}

// member moves a cursor into the member name, or into each typed variant of the choice
// element name[x].
func member(c cursor, name string) ([]cursor, error) {
	t := c.t
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%s has no member %s", c.b.path, name)
	}
	enter := func(f reflect.StructField, choice string) cursor {
		steps := append(c.b.steps[:len(c.b.steps):len(c.b.steps)], step{member: jsonName(f)})
		many := c.b.many || f.Type.Kind() == reflect.Slice
		return cursor{t: elem(f.Type), choice: choice, b: branch{steps: steps, path: c.b.path + "." + jsonName(f), many: many}}
	}
	var out []cursor
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		jn := jsonName(f)
		if jn == name {
			return []cursor{enter(f, "")}, nil
		}
		if len(jn) > len(name) && strings.HasPrefix(jn, name) && 'A' <= jn[len(name)] && jn[len(name)] <= 'Z' {
			out = append(out, enter(f, jn[len(name):]))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no member %s", c.b.path, name)
	}
	return out, nil
}

func jsonName(f reflect.StructField) string {
	n, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return n
}

func elem(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	return t
}

// typeName is the FHIR type name of what a cursor reached, as far as a cast needs it.
func typeName(c cursor) string {
	if c.choice != "" {
		return c.choice
	}
	return c.t.Name()
}

var numberType = reflect.TypeFor[json.Number]()

func datatype(c cursor) elemType {
	t := c.t
	switch {
	case t == numberType:
		return tNumber
	case t.Kind() == reflect.String:
		return tString
	case t.Kind() == reflect.Bool:
		return tBoolean
	case t.Kind() == reflect.Int:
		if t.PkgPath() != "" {
			return tString // a code: samply models codes as named integer enums
		}
		return tNumber
	case t.Kind() == reflect.Struct:
		if c.choice != "" {
			if et, ok := structTypes[c.choice]; ok {
				return et
			}
		}
		return structTypes[t.Name()]
	}
	return tOther
}

// resolveIs reads "resolve() is T".
func resolveIs(s string) (string, bool) {
	f := strings.Fields(s)
	if len(f) != 3 || f[0] != "resolve()" || f[1] != "is" || !isIdent(f[2]) {
		return "", false
	}
	return f[2], true
}

// cutAs splits "X as T" at its last top-level " as ".
func cutAs(s string) (string, string, bool) {
	i := strings.LastIndex(s, " as ")
	if i < 0 {
		return "", "", false
	}
	t := strings.TrimSpace(s[i+4:])
	if !isIdent(t) {
		return "", "", false
	}
	return strings.TrimSpace(s[:i]), t, true
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isLetter(c) || c == '_' || i > 0 && isDigit(c)) {
			return false
		}
	}
	return true
}

// splitTop splits s at sep outside parentheses.
func splitTop(s string, sep byte) ([]string, error) {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced parentheses in %q", s)
			}
		case '\'', '"', '`', '[', ']', '{', '}':
			return nil, fmt.Errorf("unsupported character %q in %q", s[i], s)
		case sep:
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("unbalanced parentheses in %q", s)
	}
	return append(out, s[start:]), nil
}

// closing returns the index of the parenthesis closing the one at s[open].
func closing(s string, open int) int {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// ---- evaluation ----

// walk follows steps from v and calls fn with every value reached, arrays flattened.
func walk(v any, steps []step, fn func(any) error) error {
	if a, ok := v.([]any); ok {
		for _, e := range a {
			if err := walk(e, steps, fn); err != nil {
				return err
			}
		}
		return nil
	}
	if v == nil {
		return nil
	}
	if len(steps) == 0 {
		return fn(v)
	}
	s := steps[0]
	if s.member == "" {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		ref, _ := m["reference"].(string)
		if referenceType(ref) != s.isType {
			return nil
		}
		return walk(v, steps[1:], fn)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	return walk(m[s.member], steps[1:], fn)
}

// reached returns the elements the parameter's expression reaches in tree, for comparison
// with a FHIRPath engine. Composite parameters give their base elements.
func reached(resourceType, name string, tree map[string]any) ([]any, error) {
	for _, p := range programs[resourceType] {
		if p.def.Name != name {
			continue
		}
		var out []any
		for _, b := range p.branches {
			if err := walk(tree, b.steps, func(v any) error { out = append(out, v); return nil }); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("no parameter %s on %s", name, resourceType)
}

// referenceType is the resource type a literal reference points at: the type segment of
// "Type/id[/_history/v]" or of an absolute URL ending so; "" for contained ("#x"), URNs
// and anything else.
func referenceType(ref string) string {
	if ref == "" || ref[0] == '#' || strings.HasPrefix(ref, "urn:") {
		return ""
	}
	ref = stripHistory(ref)
	i := strings.LastIndexByte(ref, '/')
	if i <= 0 {
		return ""
	}
	typ := ref[:i]
	if j := strings.LastIndexByte(typ, '/'); j >= 0 {
		typ = typ[j+1:]
	}
	if typ == "" || typ[0] < 'A' || typ[0] > 'Z' || !isIdent(typ) {
		return ""
	}
	return typ
}

// stripHistory drops a trailing "/_history/version".
func stripHistory(ref string) string {
	if i := strings.LastIndex(ref, "/_history/"); i >= 0 && !strings.Contains(ref[i+len("/_history/"):], "/") {
		return ref[:i]
	}
	return ref
}

// extractor holds the settings of one Extract call, and the accumulator its parameters
// share in turn.
type extractor struct {
	base string
	loc  *time.Location
	acc  acc
}

// acc collects the values of one parameter.
type acc struct {
	x    *extractor
	def  *Definition
	prog *program
	v    Values
	path string   // the branch being read, for errors
	typ  elemType // the datatype the branch reaches
}

func (x *extractor) run(p *program, tree map[string]any) (*Values, error) {
	a := &x.acc
	*a = acc{x: x, def: p.def, prog: p}
	if p.def.extract != nil {
		if err := p.def.extract(a, tree); err != nil {
			return nil, err
		}
		return a.finish(), nil
	}
	for i := range p.branches {
		b := &p.branches[i]
		if b.typ == tNone {
			continue
		}
		a.path, a.typ = b.path, b.typ
		if err := a.walk(tree, b.steps); err != nil {
			return nil, err
		}
	}
	return a.finish(), nil
}

// walk is walk with acc.emit as the function, without a closure per branch.
func (a *acc) walk(v any, steps []step) error {
	if arr, ok := v.([]any); ok {
		for _, e := range arr {
			if err := a.walk(e, steps); err != nil {
				return err
			}
		}
		return nil
	}
	if v == nil {
		return nil
	}
	if len(steps) == 0 {
		return a.emit(v)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	s := steps[0]
	if s.member == "" {
		ref, _ := m["reference"].(string)
		if referenceType(ref) != s.isType {
			return nil
		}
		return a.walk(v, steps[1:])
	}
	return a.walk(m[s.member], steps[1:])
}

func (a *acc) invalid(format string, args ...any) error {
	return fhir.Errorf(fhir.KindInvalid, "%s: "+format, append([]any{a.path}, args...)...).At(a.path)
}

// emit reads one value of the branch's datatype for the parameter.
func (a *acc) emit(v any) error {
	t := a.typ
	switch a.def.Type {
	case TypeComposite:
		return a.composite(a.prog, v)
	case TypeToken:
		if a.def.Name == "_id" {
			s, err := a.str(v)
			if s != "" {
				a.v.C = appendUnique(a.v.C, s)
			}
			return err
		}
		return a.token(t, v)
	case TypeString:
		s, err := a.str(v)
		if err != nil || s == "" {
			return err
		}
		if n := Normalize(s); n != "" {
			a.v.N = appendUnique(a.v.N, n)
		}
		a.v.E = appendUnique(a.v.E, s)
		return nil
	case TypeURI:
		s, err := a.str(v)
		if s != "" {
			a.v.U = appendUnique(a.v.U, s)
		}
		return err
	case TypeReference:
		if a.def.Canonical {
			s, err := a.str(v)
			if s != "" {
				// url|version, or the url alone: a search for the url finds either.
				a.v.R = appendUnique(a.v.R, s)
			}
			return err
		}
		return a.reference(v)
	case TypeDate:
		return a.date(t, v)
	case TypeNumber:
		lo, hi, ok, err := a.number(v)
		if ok {
			a.addRange(lo, hi)
		}
		return err
	case TypeQuantity:
		return a.quantity(t, v)
	}
	return nil
}

// str reads a primitive string value.
func (a *acc) str(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", a.invalid("%s is not a string", describe(v))
	}
	return s, nil
}

func describe(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	}
	return fmt.Sprintf("%q", fmt.Sprint(v))
}

// obj reads a complex value.
func (a *acc) obj(v any) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, a.invalid("%s is not an object", describe(v))
	}
	return m, nil
}

// field reads an optional string member of a complex value.
func (a *acc) field(m map[string]any, name string) (string, error) {
	v, ok := m[name]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", a.invalid("%s is %s, not a string", name, describe(v))
	}
	return s, nil
}

func tokenKey(system, code string) string { return system + "|" + code }

func (a *acc) token(t elemType, v any) error {
	switch t {
	case tString:
		s, err := a.str(v)
		if s != "" {
			a.code(s)
		}
		return err
	case tBoolean:
		b, ok := v.(bool)
		if !ok {
			return a.invalid("%s is not a boolean", describe(v))
		}
		a.code(strconv.FormatBool(b))
		return nil
	case tCoding:
		return a.coding(v)
	case tCodeableConcept:
		m, err := a.obj(v)
		if err != nil {
			return err
		}
		if err := a.text(m, "text"); err != nil {
			return err
		}
		return walk(m["coding"], nil, a.coding)
	case tIdentifier:
		return a.identifier(v)
	case tContactPoint:
		return a.systemValue(v)
	}
	return nil
}

// code adds a code without a system: its bare code, and its key "|code" unless every value
// of the parameter is such a code (Definition.PlainCodes).
func (a *acc) code(s string) {
	if !a.def.PlainCodes() {
		a.v.K = appendUnique(a.v.K, tokenKey("", s))
	}
	a.v.C = appendUnique(a.v.C, s)
}

// systemValue adds the K and C keys of an object with system and value (ContactPoint,
// Reference.identifier).
func (a *acc) systemValue(v any) error {
	m, err := a.obj(v)
	if err != nil {
		return err
	}
	sys, err := a.field(m, "system")
	if err != nil {
		return err
	}
	val, err := a.field(m, "value")
	if val != "" {
		a.v.K = appendUnique(a.v.K, tokenKey(sys, val))
		a.v.C = appendUnique(a.v.C, val)
	}
	return err
}

// text adds the normalised string member name of m to T.
func (a *acc) text(m map[string]any, name string) error {
	s, err := a.field(m, name)
	if s != "" {
		if n := Normalize(s); n != "" {
			a.v.T = appendUnique(a.v.T, n)
		}
	}
	return err
}

func (a *acc) coding(v any) error {
	m, err := a.obj(v)
	if err != nil {
		return err
	}
	sys, err := a.field(m, "system")
	if err != nil {
		return err
	}
	code, err := a.field(m, "code")
	if err != nil {
		return err
	}
	if code != "" {
		a.v.K = appendUnique(a.v.K, tokenKey(sys, code))
		a.v.C = appendUnique(a.v.C, code)
	}
	return a.text(m, "display")
}

func (a *acc) identifier(v any) error {
	m, err := a.obj(v)
	if err != nil {
		return err
	}
	sys, err := a.field(m, "system")
	if err != nil {
		return err
	}
	val, err := a.field(m, "value")
	if err != nil {
		return err
	}
	if val != "" {
		a.v.K = appendUnique(a.v.K, tokenKey(sys, val))
		a.v.C = appendUnique(a.v.C, val)
	}
	typ, ok := m["type"]
	if !ok || typ == nil {
		return nil
	}
	tm, err := a.obj(typ)
	if err != nil {
		return err
	}
	if err := a.text(tm, "text"); err != nil {
		return err
	}
	if val == "" {
		return nil
	}
	return walk(tm["coding"], nil, func(c any) error {
		cm, err := a.obj(c)
		if err != nil {
			return err
		}
		tsys, err := a.field(cm, "system")
		if err != nil {
			return err
		}
		tcode, err := a.field(cm, "code")
		if tcode != "" {
			a.v.Y = appendUnique(a.v.Y, tsys+"|"+tcode+"|"+val)
		}
		return err
	})
}

func (a *acc) reference(v any) error {
	m, err := a.obj(v)
	if err != nil {
		return err
	}
	ref, err := a.field(m, "reference")
	if err != nil {
		return err
	}
	a.referenceKeys(ref)
	if id, ok := m["identifier"]; ok && id != nil {
		// Reference.identifier, for :identifier. Only K and C: T and Y would be
		// searched by no modifier of a reference parameter.
		return a.systemValue(id)
	}
	return nil
}

// referenceKeys adds the R, A and I keys of a literal reference: one key in R.
func (a *acc) referenceKeys(ref string) {
	switch {
	case ref == "" || ref[0] == '#':
		return
	case strings.Contains(ref, "://") || strings.HasPrefix(ref, "urn:"):
		// A version in the URL is dropped, as in relative references.
		if a.x.base != "" && strings.HasPrefix(ref, a.x.base+"/") && a.relative(ref[len(a.x.base)+1:], false) {
			a.v.A = appendUnique(a.v.A, stripHistory(ref))
			return
		}
		a.v.R = appendUnique(a.v.R, stripHistory(ref))
	default:
		a.relative(ref, true)
	}
}

// relative adds a relative reference "Type/id[/_history/v]" as "Type/id", and its id when
// a bare id search reads it there (Definition.BareIDTypes), and reports whether it did.
// Other shapes are kept as written when keep is set.
func (a *acc) relative(ref string, keep bool) bool {
	r := stripHistory(ref)
	typ, id, ok := strings.Cut(r, "/")
	if ok && isIdent(typ) && typ[0] >= 'A' && typ[0] <= 'Z' && validID(id) {
		a.v.R = appendUnique(a.v.R, r)
		if a.def.keepsID(typ) {
			a.v.I = appendUnique(a.v.I, id)
		}
		return true
	}
	if keep {
		a.v.R = appendUnique(a.v.R, ref)
	}
	return false
}

// ---- dates ----

func (a *acc) date(t elemType, v any) error {
	switch t {
	case tString:
		lo, hi, err := a.dateValue(v)
		if err == nil {
			a.addDate(lo, hi)
		}
		return err
	case tPeriod:
		return a.period(v)
	case tTiming:
		return a.timing(v)
	}
	return nil
}

// dateValue reads a date, dateTime or instant into the range its precision covers.
func (a *acc) dateValue(v any) (lo, hi time.Time, err error) {
	s, err := a.str(v)
	if err != nil {
		return lo, hi, err
	}
	lo, hi, ok := dateRange(s, a.x.loc)
	if !ok {
		return lo, hi, a.invalid("%q is not a valid date, dateTime or instant", s)
	}
	return lo, hi, nil
}

// timing adds one range for a Timing: its outer limits, from the earliest event or bounds
// start to the latest event or bounds end (search.html: "the specified scheduling details
// are ignored and only the outer limits matter").
func (a *acc) timing(v any) error {
	m, err := a.obj(v)
	if err != nil {
		return err
	}
	path := a.path
	defer func() { a.path = path }()
	var lo, hi time.Time
	widen := func(l, h time.Time) {
		if lo.IsZero() || l.Before(lo) {
			lo = l
		}
		if hi.IsZero() || h.After(hi) {
			hi = h
		}
	}
	a.path = path + ".event"
	err = walk(m["event"], nil, func(e any) error {
		l, h, err := a.dateValue(e)
		if err == nil {
			widen(l, h)
		}
		return err
	})
	if err != nil {
		return err
	}
	if r, ok := m["repeat"].(map[string]any); ok && r["boundsPeriod"] != nil {
		a.path = path + ".repeat.boundsPeriod"
		l, h, ok, err := a.periodRange(r["boundsPeriod"])
		if err != nil {
			return err
		}
		if ok {
			widen(l, h)
		}
	}
	if !lo.IsZero() {
		a.addDate(lo, hi)
	}
	return nil
}

func (a *acc) period(v any) error {
	lo, hi, ok, err := a.periodRange(v)
	if ok {
		a.addDate(lo, hi)
	}
	return err
}

// periodRange reads a Period into [start.lo, end.hi), MinTime or MaxTime for an open end;
// ok is false when it has neither start nor end.
func (a *acc) periodRange(v any) (lo, hi time.Time, ok bool, err error) {
	m, err := a.obj(v)
	if err != nil {
		return lo, hi, false, err
	}
	start, err := a.field(m, "start")
	if err != nil {
		return lo, hi, false, err
	}
	end, err := a.field(m, "end")
	if err != nil {
		return lo, hi, false, err
	}
	if start == "" && end == "" {
		return lo, hi, false, nil
	}
	lo, hi = MinTime, MaxTime
	var valid bool
	if start != "" {
		if lo, _, valid = dateRange(start, a.x.loc); !valid {
			return lo, hi, false, a.invalid("start %q is not a valid dateTime", start)
		}
	}
	if end != "" {
		if _, hi, valid = dateRange(end, a.x.loc); !valid {
			return lo, hi, false, a.invalid("end %q is not a valid dateTime", end)
		}
	}
	return lo, hi, true, nil
}

func (a *acc) addDate(lo, hi time.Time) {
	for i := range a.v.Lo {
		if a.v.Lo[i].Equal(lo) && a.v.Hi[i].Equal(hi) {
			return
		}
	}
	a.v.Lo = append(a.v.Lo, lo)
	a.v.Hi = append(a.v.Hi, hi)
	if lo.Equal(MinTime) || hi.Equal(MaxTime) || a.def.SingleValued() {
		// An open period is in no calendar unit, and the one value of a single-valued
		// parameter is compared by its range alone.
		return
	}
	if k := CalendarKey(lo, hi); k != "" {
		a.v.D = appendUnique(a.v.D, k)
	}
}

// dateRange reads a FHIR date, dateTime or instant (yyyy, yyyy-mm, yyyy-mm-dd, or
// yyyy-mm-ddThh:mm[:ss[.fff…]] with Z, ±hh:mm or no zone) into the range [lo, hi) its
// precision covers, in UTC. Values without a zone are read in loc.
func dateRange(s string, loc *time.Location) (lo, hi time.Time, ok bool) {
	n := len(s)
	num := func(i, w int) (int, bool) {
		if i+w > n {
			return 0, false
		}
		v := 0
		for j := i; j < i+w; j++ {
			if !isDigit(s[j]) {
				return 0, false
			}
			v = v*10 + int(s[j]-'0')
		}
		return v, true
	}
	y, ok := num(0, 4)
	if !ok {
		return lo, hi, false
	}
	mo, d := 1, 1
	switch {
	case n == 4:
		t := time.Date(y, 1, 1, 0, 0, 0, 0, loc)
		return t.UTC(), t.AddDate(1, 0, 0).UTC(), y > 0
	case n == 7 && s[4] == '-':
		if mo, ok = num(5, 2); !ok || mo < 1 || mo > 12 {
			return lo, hi, false
		}
		t := time.Date(y, time.Month(mo), 1, 0, 0, 0, 0, loc)
		return t.UTC(), t.AddDate(0, 1, 0).UTC(), y > 0
	case n >= 10 && s[4] == '-' && s[7] == '-':
		if mo, ok = num(5, 2); !ok || mo < 1 || mo > 12 {
			return lo, hi, false
		}
		if d, ok = num(8, 2); !ok || d < 1 || d > daysIn(y, mo) {
			return lo, hi, false
		}
	default:
		return lo, hi, false
	}
	if n == 10 {
		t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, loc)
		return t.UTC(), time.Date(y, time.Month(mo), d+1, 0, 0, 0, 0, loc).UTC(), y > 0
	}
	if s[10] != 'T' {
		return lo, hi, false
	}
	h, ok1 := num(11, 2)
	if n < 16 || s[13] != ':' {
		return lo, hi, false
	}
	mi, ok2 := num(14, 2)
	if !ok1 || !ok2 || h > 23 || mi > 59 {
		return lo, hi, false
	}
	i := 16
	sec, nanos := 0, 0
	unit := time.Minute
	if i < n && s[i] == ':' {
		if sec, ok = num(i+1, 2); !ok || sec > 60 {
			return lo, hi, false
		}
		i += 3
		unit = time.Second
		if i < n && s[i] == '.' {
			j := i + 1
			scale := int(time.Second)
			for j < n && isDigit(s[j]) {
				if scale > 1 {
					scale /= 10
					nanos += int(s[j]-'0') * scale
				}
				j++
			}
			if j == i+1 {
				return lo, hi, false
			}
			unit = time.Duration(max(scale, 1))
			i = j
		}
	}
	zone, offset := loc, 0
	switch {
	case i == n:
	case s[i] == 'Z' && i+1 == n:
		zone = time.UTC
	case (s[i] == '+' || s[i] == '-') && i+6 == n && s[i+3] == ':':
		oh, ok1 := num(i+1, 2)
		om, ok2 := num(i+4, 2)
		if !ok1 || !ok2 || oh > 14 || om > 59 {
			return lo, hi, false
		}
		offset = oh*3600 + om*60
		if s[i] == '-' {
			offset = -offset
		}
		zone = time.UTC
	default:
		return lo, hi, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, nanos, zone).Add(-time.Duration(offset) * time.Second).UTC()
	return t, t.Add(unit), y > 0
}

func daysIn(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// ---- numbers and quantities ----

// number reads a decimal and the range its precision covers.
func (a *acc) number(v any) (lo, hi float64, ok bool, err error) {
	d, ok, err := a.decimal(v)
	return d.Low, d.High, ok, err
}

// decimal reads a number with the range its precision implies.
func (a *acc) decimal(v any) (Decimal, bool, error) {
	var text string
	switch n := v.(type) {
	case json.Number:
		text = string(n)
	case float64:
		text = strconv.FormatFloat(n, 'g', -1, 64)
	default:
		return Decimal{}, false, a.invalid("%s is not a number", describe(v))
	}
	d, perr := parseDecimal(text)
	if perr != nil {
		return Decimal{}, false, a.invalid("%v", perr)
	}
	return d, true, nil
}

func (a *acc) addRange(lo, hi float64) bool {
	for i := range a.v.QLo {
		if a.v.QLo[i] == lo && a.v.QHi[i] == hi {
			return false
		}
	}
	a.v.QLo = append(a.v.QLo, lo)
	a.v.QHi = append(a.v.QHi, hi)
	return true
}

// qty is one quantity value read: the range its precision implies, its exact bounds (the
// value twice for a Quantity, low and high for a Range) and its units.
type qty struct {
	lo, hi   float64
	xlo, xhi float64
	qu, qc   []string
}

// numberQty is the qty of the number d, without a unit: the range d's precision covers and
// its exact value.
func numberQty(d Decimal) qty {
	return qty{lo: d.Low, hi: d.High, xlo: d.Value, xhi: d.Value}
}

func (a *acc) quantity(t elemType, v any) error {
	q, ok, err := a.readQuantity(t, v)
	if err != nil || !ok {
		return err
	}
	a.addQuantity(q, nil)
	return nil
}

func (a *acc) addQuantity(q qty, keys []string) {
	a.addRange(q.lo, q.hi)
	for _, u := range q.qu {
		a.v.QU = appendUnique(a.v.QU, u)
	}
	for _, c := range q.qc {
		a.v.QC = appendUnique(a.v.QC, c)
	}
	a.addQuantityElement(q, keys)
}

// readQuantity reads a Quantity or a Range; ok is false when it has no value.
func (a *acc) readQuantity(t elemType, v any) (q qty, ok bool, err error) {
	m, err := a.obj(v)
	if err != nil {
		return q, false, err
	}
	if t == tQuantity {
		val, has := m["value"]
		if !has || val == nil {
			return q, false, nil
		}
		d, _, err := a.decimal(val)
		if err != nil {
			return q, false, err
		}
		q = numberQty(d)
		err = a.units(m, &q)
		return q, err == nil, err
	}
	// Range: [low.lo, high.hi), an open end unbounded.
	q.lo, q.hi = -math.MaxFloat64, math.MaxFloat64
	q.xlo, q.xhi = q.lo, q.hi
	for _, end := range [2]string{"low", "high"} {
		e, has := m[end]
		if !has || e == nil {
			continue
		}
		em, err := a.obj(e)
		if err != nil {
			return q, false, err
		}
		val, has := em["value"]
		if !has || val == nil {
			continue
		}
		d, _, err := a.decimal(val)
		if err != nil {
			return q, false, err
		}
		if end == "low" {
			q.lo, q.xlo = d.Low, d.Value
		} else {
			q.hi, q.xhi = d.High, d.Value
		}
		ok = true
		if err := a.units(em, &q); err != nil {
			return q, false, err
		}
	}
	return q, ok, nil
}

// units adds a quantity's "system|code" and its code (or unit when it has no code).
func (a *acc) units(m map[string]any, q *qty) error {
	sys, err := a.field(m, "system")
	if err != nil {
		return err
	}
	code, err := a.field(m, "code")
	if err != nil {
		return err
	}
	unit, err := a.field(m, "unit")
	if err != nil {
		return err
	}
	if sys != "" && code != "" {
		q.qu = appendUnique(q.qu, tokenKey(sys, code))
	}
	switch {
	case code != "":
		q.qc = appendUnique(q.qc, code)
	case unit != "":
		q.qc = appendUnique(q.qc, unit)
	}
	return nil
}

func sameElement(a, b Element) bool {
	eqf := func(x, y *float64) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
	eqs := func(x, y []string) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	return a.Lo.Equal(b.Lo) && a.Hi.Equal(b.Hi) && eqf(a.QLo, b.QLo) && eqf(a.QHi, b.QHi) && eqf(a.XLo, b.XLo) && eqf(a.XHi, b.XHi) &&
		eqs(a.QU, b.QU) && eqs(a.QC, b.QC) && eqs(a.K, b.K)
}

// ---- composites ----

// codingKeys are the keys a token component of a composite contributes for one Coding:
// "system|code" ("|code" without a system) and the bare code.
func (a *acc) codingKeys(v any, keys []string) ([]string, error) {
	m, err := a.obj(v)
	if err != nil {
		return keys, err
	}
	sys, err := a.field(m, "system")
	if err != nil {
		return keys, err
	}
	code, err := a.field(m, "code")
	if code != "" {
		keys = appendUnique(keys, tokenKey(sys, code))
		keys = appendUnique(keys, code)
	}
	return keys, err
}

// tokenKeys are the composite keys of a token component's value.
func (a *acc) tokenKeys(t elemType, v any, keys []string) ([]string, error) {
	switch t {
	case tCoding:
		return a.codingKeys(v, keys)
	case tCodeableConcept:
		m, err := a.obj(v)
		if err != nil {
			return keys, err
		}
		err = walk(m["coding"], nil, func(c any) error {
			var err error
			keys, err = a.codingKeys(c, keys)
			return err
		})
		return keys, err
	case tString:
		s, err := a.str(v)
		if s != "" {
			keys = appendUnique(keys, tokenKey("", s))
			keys = appendUnique(keys, s)
		}
		return keys, err
	}
	return keys, nil
}

// composite adds the values of one element of a composite parameter.
func (a *acc) composite(p *program, v any) error {
	var first []string
	for _, b := range p.parts[0] {
		if err := walk(v, b.steps, func(x any) error {
			var err error
			first, err = a.tokenKeys(b.typ, x, first)
			return err
		}); err != nil {
			return err
		}
	}
	if len(first) == 0 {
		return nil
	}
	second := p.def.Components[1].Def
	for _, b := range p.parts[1] {
		err := walk(v, b.steps, func(x any) error {
			if second.Type == TypeQuantity {
				q, ok, err := a.readQuantity(b.typ, x)
				if err != nil || !ok {
					return err
				}
				for _, k := range first {
					a.v.K = appendUnique(a.v.K, k)
				}
				a.addQuantityElement(q, first)
				return nil
			}
			keys, err := a.tokenKeys(b.typ, x, nil)
			for _, k1 := range first {
				for _, k2 := range keys {
					a.v.K = appendUnique(a.v.K, k1+"$"+k2)
				}
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// addQuantityElement keeps one token$quantity value whole in V.
func (a *acc) addQuantityElement(q qty, keys []string) {
	lo, hi, xlo, xhi := q.lo, q.hi, q.xlo, q.xhi
	a.addElement(Element{QLo: &lo, QHi: &hi, XLo: &xlo, XHi: &xhi, QU: q.qu, QC: q.qc, K: keys})
}

// addElement keeps one whole value (token$quantity, token$date) in V, unless V has it.
func (a *acc) addElement(e Element) {
	for _, o := range a.v.V {
		if sameElement(o, e) {
			return
		}
	}
	a.v.V = append(a.v.V, e)
}

// finish sets the sort key (when O holds it) and the whole values, and returns nil when
// nothing was found.
func (a *acc) finish() *Values {
	v := &a.v
	if len(v.N)+len(v.E)+len(v.K)+len(v.C)+len(v.T)+len(v.Y)+len(v.R)+len(v.A)+len(v.I)+len(v.U)+
		len(v.Lo)+len(v.QLo)+len(v.V) == 0 {
		return nil
	}
	v = new(Values)
	*v = a.v
	switch a.def.Type {
	case TypeString:
		v.O = minString(v.N)
	case TypeToken:
		v.O = minString(v.C)
	case TypeReference:
		v.O = minString(v.R)
		if a.def.Canonical {
			urls := make([]string, len(v.R))
			for i, r := range v.R {
				urls[i], _, _ = strings.Cut(r, "|")
			}
			v.O = minString(urls) // the URL without its version
		}
	case TypeURI:
		v.O = minString(v.U)
	case TypeDate:
		if len(v.Lo) > 0 {
			m := v.Lo[0]
			for _, t := range v.Lo[1:] {
				if t.Before(m) {
					m = t
				}
			}
			v.O = m
		}
		if len(v.Lo) > 1 {
			v.V = make([]Element, len(v.Lo))
			for i := range v.Lo {
				v.V[i] = Element{Lo: v.Lo[i], Hi: v.Hi[i]}
			}
		}
	case TypeNumber, TypeQuantity:
		if len(v.QLo) > 0 {
			m := v.QLo[0]
			for _, f := range v.QLo[1:] {
				m = math.Min(m, f)
			}
			v.O = m
		}
	}
	if a.def.SortKey() != "o" {
		v.O = nil // the value's own field is the sort key
	}
	return v
}

// minString returns the smallest string, or nil (no sort key) when there is none.
func minString(s []string) any {
	if len(s) == 0 {
		return nil
	}
	m := s[0]
	for _, x := range s[1:] {
		if x < m {
			m = x
		}
	}
	return m
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}
