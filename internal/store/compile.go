package store

import (
	"math"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// A compiled search: the database filter, which only uses operators that MongoDB and the
// embedded database both evaluate correctly ($eq, $in, $gt, $gte, $lt, $lte, $exists,
// $and, $or, $nor and anchored or unanchored $regex on flat fields; never $ne, $nin,
// $elemMatch or $all on arrays), and the checks that need two fields of one value of a
// multi-valued parameter, which the server applies in Go to the documents the filter
// returns. The filter alone is never narrower than the exact answer.
type compiled struct {
	filter bson.D
	checks []check
}

// check is a condition re-checked in Go on a candidate's stored search values.
type check func(ix search.Index) bool

// spField is the stored path of one field of a parameter's search values (see storedIndex).
func spField(param, field string) string { return "sp." + param + fieldSep + field }

// presenceFields are the fields of which a parameter's values have at least one whenever
// the resource has a value (see search.Values): a string's exact text, a token's code or
// text, a reference's key or identifier, and so on.
func presenceFields(d *search.Definition) []string {
	switch d.Type {
	case search.TypeString:
		return []string{"e"}
	case search.TypeToken:
		return []string{"c", "t"}
	case search.TypeReference:
		if d.Canonical {
			return []string{"r"}
		}
		return []string{"r", "c"}
	case search.TypeURI:
		return []string{"u"}
	case search.TypeDate:
		return []string{"lo"}
	case search.TypeNumber, search.TypeQuantity:
		return []string{"ql"}
	}
	return []string{"k"} // composite
}

// compileOptions carry what compilation needs besides the criteria.
type compileOptions struct {
	// base is the FHIR base URL the client used, to recognise absolute references to this server.
	base string
	// now anchors the tolerance of the ap prefix.
	now time.Time
}

// compileCriteria translates criteria into a filter on the current collection of their type.
// Deleted resources never match. compartment ("Patient/1") limits patient-data types.
func compileCriteria(c *search.Criteria, compartment string, o compileOptions) (*compiled, error) {
	out := &compiled{filter: bson.D{{Key: "del", Value: false}}}
	var and bson.A
	if compartment != "" {
		if p, ok := search.CompartmentParams[c.Type]; ok {
			and = append(and, bson.D{{Key: spField(p, "r"), Value: compartment}})
		}
	}
	for i := range c.Params {
		cond, chk, err := compileParam(&c.Params[i], o)
		if err != nil {
			return nil, err
		}
		and = append(and, cond)
		if chk != nil {
			out.checks = append(out.checks, chk)
		}
	}
	switch len(and) {
	case 0:
	case 1:
		// One condition needs no $and; its fields cannot clash with del.
		out.filter = append(out.filter, and[0].(bson.D)...)
	default:
		out.filter = append(out.filter, bson.E{Key: "$and", Value: and})
	}
	return out, nil
}

// unsupported is the error for a combination the parser lets through but search cannot serve.
func unsupported(p *search.Param, format string, args ...any) error {
	name := p.Def.Name
	if p.Modifier != search.ModifierNone {
		name += ":" + string(p.Modifier)
	}
	return fhir.Errorf(fhir.KindInvalid, "Search parameter %q: "+format, append([]any{name}, args...)...).At(name)
}

// documentFields are the parameters searched on fields of the stored document rather than
// on its search values: the resource id is the document's _id, and its last updated time
// the document's ts (one instant, in milliseconds). Every document has both.
var documentFields = map[string]string{"_id": "_id", "_lastUpdated": "ts"}

// never is a condition no document meets: every document has an _id.
var never = bson.D{{Key: "_id", Value: bson.D{{Key: "$exists", Value: false}}}}

// compileParam compiles one parameter: any of its values matches (OR).
func compileParam(p *search.Param, o compileOptions) (bson.D, check, error) {
	name := p.Def.Name
	if p.Modifier == search.ModifierMissing {
		v := p.Values[0].(search.Missing)
		for _, x := range p.Values[1:] {
			if x.(search.Missing) != v {
				// missing=true,false: every resource matches.
				return bson.D{}, nil, nil
			}
		}
		if f, ok := documentFields[name]; ok {
			return bson.D{{Key: f, Value: bson.D{{Key: "$exists", Value: !v.Missing}}}}, nil, nil
		}
		var has []bson.D
		for _, f := range presenceFields(p.Def) {
			has = append(has, bson.D{{Key: spField(name, f), Value: bson.D{{Key: "$exists", Value: true}}}})
		}
		if v.Missing {
			return bson.D{{Key: "$nor", Value: toA(has)}}, nil, nil
		}
		return orConds(has), nil, nil
	}
	var conds []bson.D
	var evals []check
	exact := true // every alternative's condition is exact
	for _, v := range p.Values {
		cond, ok, eval, err := compileValue(p, v, o)
		if err != nil {
			return nil, nil, err
		}
		conds = append(conds, cond)
		evals = append(evals, eval)
		exact = exact && ok
	}
	cond := orConds(conds)
	if p.Modifier == search.ModifierNot {
		// :not matches resources with no value equal to any given one, including those
		// with no value at all (search.html, token :not).
		return bson.D{{Key: "$nor", Value: bson.A{cond}}}, nil, nil
	}
	if exact {
		return cond, nil, nil
	}
	// Some alternative is only narrowed by the filter: decide every alternative in Go.
	// (Only date, number and quantity values are ever inexact, and they all evaluate in Go.)
	return cond, func(ix search.Index) bool {
		for _, eval := range evals {
			if eval(ix) {
				return true
			}
		}
		return false
	}, nil
}

// orConds merges alternatives: equalities on one field become one $in, and those that
// match nothing are left out.
func orConds(conds []bson.D) bson.D {
	some := conds[:0:0]
	for _, c := range conds {
		if !reflect.DeepEqual(c, never) {
			some = append(some, c) // an alternative that matches nothing adds nothing
		}
	}
	if len(some) > 0 {
		conds = some
	}
	if len(conds) == 1 {
		return conds[0]
	}
	field := ""
	var vals bson.A
	for _, c := range conds {
		if len(c) != 1 || strings.HasPrefix(c[0].Key, "$") || (field != "" && c[0].Key != field) {
			vals = nil
			break
		}
		if _, isDoc := c[0].Value.(bson.D); isDoc {
			vals = nil
			break
		}
		if _, isRe := c[0].Value.(bson.Regex); isRe {
			vals = nil
			break
		}
		field = c[0].Key
		vals = append(vals, c[0].Value)
	}
	if vals != nil {
		return bson.D{{Key: field, Value: bson.D{{Key: "$in", Value: vals}}}}
	}
	return bson.D{{Key: "$or", Value: toA(conds)}}
}

func eq(field string, v any) bson.D { return bson.D{{Key: field, Value: v}} }

func prefixRegex(field, prefix string) bson.D {
	return bson.D{{Key: field, Value: bson.Regex{Pattern: "^" + regexp.QuoteMeta(prefix)}}}
}

func containsRegex(field, part string) bson.D {
	return bson.D{{Key: field, Value: bson.Regex{Pattern: regexp.QuoteMeta(part)}}}
}

// compileValue compiles one alternative. exact reports whether the filter decides it alone;
// when it does not, eval decides it on the stored values.
func compileValue(p *search.Param, v search.Value, o compileOptions) (cond bson.D, exact bool, eval check, err error) {
	name := p.Def.Name
	switch p.Def.Type {
	case search.TypeString:
		s := v.(search.String)
		switch p.Modifier {
		case search.ModifierExact:
			return eq(spField(name, "e"), s.Text), true, nil, nil
		case search.ModifierContains:
			return containsRegex(spField(name, "n"), search.Normalize(s.Text)), true, nil, nil
		}
		return prefixRegex(spField(name, "n"), search.Normalize(s.Text)), true, nil, nil
	case search.TypeToken:
		if name == "_id" {
			cond, err := compileID(p, v)
			return cond, true, nil, err
		}
		cond, err := compileToken(p, name, v)
		return cond, true, nil, err
	case search.TypeURI:
		u := v.(search.URI)
		switch p.Modifier {
		case search.ModifierBelow:
			return prefixRegex(spField(name, "u"), u.URI), true, nil, nil
		case search.ModifierAbove:
			return bson.D{{Key: spField(name, "u"), Value: bson.D{{Key: "$in", Value: uriAbove(u.URI)}}}}, true, nil, nil
		}
		return eq(spField(name, "u"), u.URI), true, nil, nil
	case search.TypeReference:
		cond, err := compileReference(p, name, v, o)
		return cond, true, nil, err
	case search.TypeDate:
		if name == "_lastUpdated" {
			return compileInstant("ts", v.(search.Date), o), true, nil, nil
		}
		if p.Def.SingleValued() {
			return compileSingleDate(name, v.(search.Date), o), true, nil, nil
		}
		cond, exact, eval := compileDate(name, v.(search.Date), o)
		return cond, exact, eval, nil
	case search.TypeNumber:
		n := v.(search.Number)
		cond, eval := compileNumber(name, n.Prefix, n.Number, "", "")
		return cond, false, eval, nil
	case search.TypeQuantity:
		q := v.(search.Quantity)
		cond, eval := compileNumber(name, q.Prefix, q.Number, q.System, q.Code)
		return cond, false, eval, nil
	case search.TypeComposite:
		return compileComposite(p, name, v.(search.Composite), o)
	}
	return nil, false, nil, unsupported(p, "parameters of type %s are not supported", p.Def.Type)
}

// tokenCond is the condition for a token value on fields k (system|code) and c (code).
func tokenCond(k, c string, t search.Token) bson.D {
	switch {
	case !t.HasSystem:
		return eq(c, t.Code)
	case t.Code == "":
		return prefixRegex(k, t.System+"|")
	default:
		return eq(k, t.System+"|"+t.Code)
	}
}

func compileToken(p *search.Param, name string, v search.Value) (bson.D, error) {
	switch p.Modifier {
	case search.ModifierText:
		return prefixRegex(spField(name, "t"), search.Normalize(v.(search.String).Text)), nil
	case search.ModifierOfType:
		t := v.(search.Token)
		return eq(spField(name, "y"), t.System+"|"+t.Code+"|"+t.Value), nil
	case search.ModifierNone, search.ModifierNot:
		t := v.(search.Token)
		if p.Def.PlainCodes() && t.HasSystem {
			// Codes without a system, stored without token keys.
			if t.System != "" {
				return never, nil
			}
			t = search.Token{Code: t.Code}
		}
		return tokenCond(spField(name, "k"), spField(name, "c"), t), nil
	}
	return nil, unsupported(p, "the modifier :%s needs a terminology service, which this server does not have", p.Modifier)
}

// compileID compiles an _id value onto the document's _id. An id has no system, display
// or type, so a value with a system, :text and :of-type match nothing.
func compileID(p *search.Param, v search.Value) (bson.D, error) {
	switch p.Modifier {
	case search.ModifierNone, search.ModifierNot:
		if t := v.(search.Token); !t.HasSystem {
			return eq("_id", t.Code), nil
		}
		return never, nil
	case search.ModifierText, search.ModifierOfType:
		return never, nil
	}
	return compileToken(p, "_id", v)
}

func compileReference(p *search.Param, name string, v search.Value, o compileOptions) (bson.D, error) {
	if p.Modifier == search.ModifierIdentifier {
		return tokenCond(spField(name, "k"), spField(name, "c"), v.(search.Token)), nil
	}
	r := v.(search.Reference)
	field := spField(name, "r")
	switch {
	case p.Def.Canonical:
		key := r.URL
		if key == "" { // a canonical given as a bare value that is not a URL
			key = r.ID
			if r.Type != "" {
				key = r.Type + "/" + r.ID
			}
		}
		if r.Version != "" {
			return eq(field, key+"|"+r.Version), nil
		}
		// Any version: the key is stored as url|version when the reference names one.
		return bson.D{{Key: "$or", Value: bson.A{eq(field, key), prefixRegex(field, key+"|")}}}, nil
	case r.URL != "":
		url := strings.SplitN(r.URL, "/_history/", 2)[0]
		if o.base != "" && r.Type != "" && strings.HasPrefix(r.URL, o.base+"/") {
			return local(field, r.Type+"/"+r.ID, o.base), nil
		}
		// As written, or an absolute URL under the server's base URL (which is not the
		// one this client uses), kept apart from the Type/id it stands for.
		return bson.D{{Key: "$or", Value: bson.A{eq(field, url), eq(spField(name, "a"), url)}}}, nil
	case r.Type != "":
		return local(field, r.Type+"/"+r.ID, o.base), nil
	default:
		// A bare id where several types are allowed: a reference of any type with that
		// id, found by "Type/id" for the parameter's target types and by the id for others.
		types := p.Def.BareIDTypes()
		keys := make(bson.A, len(types))
		for i, t := range types {
			keys[i] = t + "/" + r.ID
		}
		return bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: field, Value: bson.D{{Key: "$in", Value: keys}}}},
			eq(spField(name, "i"), r.ID),
		}}}, nil
	}
}

// local is the condition for a reference to a resource of this server: written relative,
// or absolute with the base URL the client uses (stored as written when the server has no
// configured base URL to recognise it by).
func local(field, rel, base string) bson.D {
	if base == "" {
		return eq(field, rel)
	}
	return bson.D{{Key: field, Value: bson.D{{Key: "$in", Value: bson.A{rel, base + "/" + rel}}}}}
}

// uriAbove lists the uris that v is "below": v itself and every prefix of it that ends
// before a "/" (search.html, uri :above).
func uriAbove(v string) bson.A {
	out := bson.A{v}
	start := 0
	if i := strings.Index(v, "://"); i >= 0 {
		start = i + 3
	}
	for i := len(v) - 1; i > start; i-- {
		if v[i] == '/' {
			out = append(out, v[:i])
		}
	}
	return out
}

// Range comparisons (search.html, "Prefixes"): the search value covers [L, H), a stored
// value covers [lo, hi). eq: [L,H) contains [lo,hi); ne: it does not; gt: hi > H;
// lt: lo < L; ge: hi > L; le: lo < H; sa: lo >= H; eb: hi <= L; ap: [lo,hi) overlaps [L,H)
// widened by 10% of the distance from now (as HAPI FHIR does), at least the value's own width.

// rangeMatch decides one prefix for one stored range, in Go.
func rangeMatch[T time.Time | float64](prefix search.Prefix, lo, hi, L, H T, less func(a, b T) bool) bool {
	switch prefix {
	case search.PrefixEq:
		return !less(lo, L) && !less(H, hi)
	case search.PrefixNe:
		return less(lo, L) || less(H, hi)
	case search.PrefixGt:
		return less(H, hi)
	case search.PrefixLt:
		return less(lo, L)
	case search.PrefixGe:
		return less(L, hi)
	case search.PrefixLe:
		return less(lo, H)
	case search.PrefixSa:
		return !less(lo, H)
	case search.PrefixEb:
		return !less(L, hi)
	case search.PrefixAp:
		return less(lo, H) && less(L, hi)
	}
	return false
}

// rangeCond is the database condition for one prefix on fields lo and hi. For prefixes
// that compare one end it is exact; for eq, ne and ap, which compare both ends of one
// value, it is exact only when the parameter has one value, so documents with several
// (those with a v field) are passed on to a check.
func rangeCond(prefix search.Prefix, loF, hiF, vF string, L, H any) (cond bson.D, needsCheck bool) {
	single := bson.E{Key: vF, Value: bson.D{{Key: "$exists", Value: false}}}
	op := func(f, o string, x any) bson.E { return bson.E{Key: f, Value: bson.D{{Key: o, Value: x}}} }
	switch prefix {
	case search.PrefixGt:
		return bson.D{op(hiF, "$gt", H)}, false
	case search.PrefixLt:
		return bson.D{op(loF, "$lt", L)}, false
	case search.PrefixGe:
		return bson.D{op(hiF, "$gt", L)}, false
	case search.PrefixLe:
		return bson.D{op(loF, "$lt", H)}, false
	case search.PrefixSa:
		return bson.D{op(loF, "$gte", H)}, false
	case search.PrefixEb:
		return bson.D{op(hiF, "$lte", L)}, false
	case search.PrefixEq:
		// Some value starts in range and some value ends in range: exact for one value.
		return bson.D{op(loF, "$gte", L), op(hiF, "$lte", H)}, true
	case search.PrefixAp:
		return bson.D{op(loF, "$lt", H), op(hiF, "$gt", L)}, true
	case search.PrefixNe:
		// Not (one value, within the range): resources without the element match, as
		// they do when ne is decided by calendar unit; several values are checked in Go.
		return bson.D{{Key: "$nor", Value: bson.A{bson.D{single, op(loF, "$gte", L), op(hiF, "$lte", H)}}}}, true
	}
	return nil, false
}

// calendarConds returns the conditions on the calendar keys field (Values.D, the smallest
// UTC year, month or day holding each stored value) that hold for the values within
// [L, H), when [L, H) lies within one UTC year: the key of the smallest unit holding
// [L, H), or the key of a unit within it. exact reports whether [L, H) is that unit
// itself, when they hold for exactly those values; otherwise they only narrow.
func calendarConds(field string, L, H time.Time) (alts []bson.D, exact bool) {
	k := search.CalendarKey(L, H)
	if k == "" {
		return nil, false
	}
	alts = []bson.D{eq(field, k)}
	lo := L.UTC()
	var hi time.Time
	switch k[0] {
	case 'Y':
		lo = time.Date(lo.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		hi = lo.AddDate(1, 0, 0)
		alts = append(alts, prefixRegex(field, "M"+k[1:]+"-"), prefixRegex(field, "D"+k[1:]+"-"))
	case 'M':
		lo = time.Date(lo.Year(), lo.Month(), 1, 0, 0, 0, 0, time.UTC)
		hi = lo.AddDate(0, 1, 0)
		alts = append(alts, prefixRegex(field, "D"+k[1:]+"-"))
	default:
		lo = time.Date(lo.Year(), lo.Month(), lo.Day(), 0, 0, 0, 0, time.UTC)
		hi = lo.AddDate(0, 0, 1)
	}
	return alts, lo.Equal(L) && hi.Equal(H)
}

func apTolerance[T time.Time | float64](now, L, H T, dist func(a, b T) float64) float64 {
	tol := math.Abs(dist(now, L)) * 0.1
	if w := dist(H, L); tol < w {
		tol = w
	}
	return tol
}

// dateRange is the range [L, H) a date search value compares with: the range it covers,
// widened for ap.
func dateRange(d search.Date, o compileOptions) (L, H time.Time) {
	L, H = d.Low, d.High
	if d.Prefix == search.PrefixAp {
		tol := time.Duration(apTolerance(o.now, L, H, func(a, b time.Time) float64 { return float64(a.Sub(b)) }))
		L, H = L.Add(-tol), H.Add(tol)
	}
	return L, H
}

// compileInstant compiles a date value onto field, a stored instant in milliseconds (as
// BSON dates are) that stands for the range [t, t+1ms). With one value every prefix is one
// range on field, and exact: the bounds are rounded to whole milliseconds here, in the
// direction that keeps each comparison exact (BSON would round them down).
func compileInstant(field string, d search.Date, o compileOptions) bson.D {
	L, H := dateRange(d, o)
	floor, ceil := floorMs, ceilMs
	last := func(t time.Time) time.Time { return floor(t.Add(-time.Millisecond)) } // t+1ms <= x is t <= last(x)
	cmp := func(ops ...bson.E) bson.D { return bson.D{{Key: field, Value: bson.D(ops)}} }
	switch d.Prefix {
	case search.PrefixGt: // hi > H
		return cmp(bson.E{Key: "$gt", Value: last(H)})
	case search.PrefixLt: // lo < L
		return cmp(bson.E{Key: "$lt", Value: ceil(L)})
	case search.PrefixGe: // hi > L
		return cmp(bson.E{Key: "$gt", Value: last(L)})
	case search.PrefixLe: // lo < H
		return cmp(bson.E{Key: "$lt", Value: ceil(H)})
	case search.PrefixSa: // lo >= H
		return cmp(bson.E{Key: "$gte", Value: ceil(H)})
	case search.PrefixEb: // hi <= L
		return cmp(bson.E{Key: "$lte", Value: last(L)})
	case search.PrefixAp: // lo < H and hi > L
		return cmp(bson.E{Key: "$gt", Value: last(L)}, bson.E{Key: "$lt", Value: ceil(H)})
	}
	within := cmp(bson.E{Key: "$gte", Value: ceil(L)}, bson.E{Key: "$lte", Value: last(H)}) // L <= lo, hi <= H
	if d.Prefix == search.PrefixNe {
		return bson.D{{Key: "$nor", Value: bson.A{within}}}
	}
	return within
}

// floorMs and ceilMs round an instant down and up to a whole millisecond, as stored (BSON
// rounds down).
func floorMs(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

func ceilMs(t time.Time) time.Time {
	if f := floorMs(t); f.Before(t) {
		return f.Add(time.Millisecond)
	}
	return t
}

// compileSingleDate compiles a date value of a parameter of which a resource has at most
// one value: every prefix is then a condition on one stored range [lo, hi), and exact.
// eq, ne and ap compare the stored bounds (whole milliseconds) with the value's exact
// bounds, as a check in Go would; the other prefixes are as for several values.
func compileSingleDate(name string, d search.Date, o compileOptions) bson.D {
	L, H := dateRange(d, o)
	loF, hiF := spField(name, "lo"), spField(name, "hi")
	cmp := func(f string, ops ...bson.E) bson.E { return bson.E{Key: f, Value: bson.D(ops)} }
	// lo >= L and hi <= H, with lo <= hi <= H made explicit to bound lo in an index.
	within := bson.D{cmp(loF, bson.E{Key: "$gte", Value: ceilMs(L)}, bson.E{Key: "$lte", Value: floorMs(H)}),
		cmp(hiF, bson.E{Key: "$lte", Value: floorMs(H)})}
	switch d.Prefix {
	case search.PrefixEq:
		return within
	case search.PrefixNe:
		return bson.D{{Key: "$nor", Value: bson.A{within}}}
	case search.PrefixAp: // lo < H and hi > L
		return bson.D{cmp(loF, bson.E{Key: "$lt", Value: ceilMs(H)}), cmp(hiF, bson.E{Key: "$gt", Value: floorMs(L)})}
	}
	cond, _ := rangeCond(d.Prefix, loF, hiF, spField(name, "v"), L, H)
	return cond
}

func compileDate(name string, d search.Date, o compileOptions) (bson.D, bool, check) {
	L, H := dateRange(d, o)
	prefix := d.Prefix
	less := func(a, b time.Time) bool { return a.Before(b) }
	eval := func(ix search.Index) bool {
		vals := ix[name]
		if vals == nil {
			return prefix == search.PrefixNe
		}
		var elems []search.Element
		if len(vals.V) > 0 {
			elems = vals.V
		} else {
			for i := range vals.Lo {
				if i < len(vals.Hi) {
					elems = append(elems, search.Element{Lo: vals.Lo[i], Hi: vals.Hi[i]})
				}
			}
		}
		if prefix == search.PrefixNe {
			// ne: no value lies within the range.
			for _, e := range elems {
				if rangeMatch(search.PrefixEq, e.Lo, e.Hi, L, H, less) {
					return false
				}
			}
			return true
		}
		for _, e := range elems {
			if rangeMatch(prefix, e.Lo, e.Hi, L, H, less) {
				return true
			}
		}
		return false
	}
	cond, needsCheck := rangeCond(prefix, spField(name, "lo"), spField(name, "hi"), spField(name, "v"), L, H)
	if prefix == search.PrefixEq || prefix == search.PrefixNe {
		alts, exact := calendarConds(spField(name, "d"), L, H)
		switch {
		case exact && prefix == search.PrefixNe:
			return bson.D{{Key: "$nor", Value: toA(alts)}}, true, eval
		case exact:
			return orConds(alts), true, eval
		case alts != nil && prefix == search.PrefixEq:
			// Within a unit: the unit's values, narrowed by range and decided in Go.
			return append(orConds(alts), cond...), false, eval
		}
	}
	return cond, !needsCheck, eval
}

// toA makes documents the elements of an array.
func toA(ds []bson.D) bson.A {
	a := make(bson.A, len(ds))
	for i, d := range ds {
		a[i] = d
	}
	return a
}

// compileNumber compiles number and quantity values. Quantities are always checked in Go
// (their unit and value belong together); the filter narrows by unit and value range.
func compileNumber(name string, prefix search.Prefix, n search.Decimal, system, code string) (bson.D, check) {
	L, H := numberRange(prefix, n)
	var cond bson.D
	switch prefix {
	case search.PrefixEq, search.PrefixAp:
		cond, _ = rangeCond(prefix, spField(name, "ql"), spField(name, "qh"), spField(name, "v"), L, H)
	case search.PrefixNe:
		// The filter cannot narrow ne by value when units matter; the check decides.
		cond = bson.D{}
	default:
		cond = bson.D{orderedPrefilter(prefix, spField(name, "ql"), spField(name, "qh"), n.Value)}
	}
	switch {
	case system != "" && code != "":
		cond = append(cond, bson.E{Key: spField(name, "qu"), Value: system + "|" + code})
	case code != "":
		cond = append(cond, bson.E{Key: spField(name, "qc"), Value: code})
	}
	unitOK := func(e search.Element) bool {
		switch {
		case system != "" && code != "":
			return slices.Contains(e.QU, system+"|"+code)
		case code != "":
			return slices.Contains(e.QC, code)
		}
		return true
	}
	less := func(a, b float64) bool { return a < b }
	return cond, func(ix search.Index) bool {
		vals := ix[name]
		if vals == nil {
			return prefix == search.PrefixNe // no value is within the range
		}
		elems := vals.V
		if len(elems) == 0 {
			for i := range vals.QLo {
				lo, hi := vals.QLo[i], vals.QHi[i]
				elems = append(elems, search.Element{QLo: &lo, QHi: &hi, QU: vals.QU, QC: vals.QC})
			}
		}
		if prefix == search.PrefixNe {
			for _, e := range elems {
				if e.QLo != nil && e.QHi != nil && unitOK(e) && rangeMatch(search.PrefixEq, *e.QLo, *e.QHi, L, H, less) {
					return false
				}
			}
			return true
		}
		for _, e := range elems {
			if unitOK(e) && quantityMatch(prefix, e, L, H) {
				return true
			}
		}
		return false
	}
}

// orderedPrefilter narrows gt, ge, sa (something above v) and lt, le, eb (something below
// v) on the stored ranges, which contain the exact values the check then compares.
func orderedPrefilter(prefix search.Prefix, loF, hiF string, v float64) bson.E {
	switch prefix {
	case search.PrefixGt, search.PrefixGe, search.PrefixSa:
		return bson.E{Key: hiF, Value: bson.D{{Key: "$gt", Value: v}}}
	}
	return bson.E{Key: loF, Value: bson.D{{Key: "$lt", Value: v}}}
}

// quantityMatch decides one prefix for one stored quantity: eq, ne and ap by ranges as
// dates are; the others exactly, both values taken as written (search.html: the implicit
// precision is ignored for gt, lt, ge, le, sa and eb).
func quantityMatch(prefix search.Prefix, e search.Element, L, H float64) bool {
	lo, hi, ok := quantityBounds(e, prefix)
	if !ok {
		return false
	}
	v := L // L == H for these prefixes (numberRange)
	switch prefix {
	case search.PrefixGt:
		return hi > v
	case search.PrefixGe:
		return hi >= v
	case search.PrefixLt:
		return lo < v
	case search.PrefixLe:
		return lo <= v
	case search.PrefixSa:
		return lo > v
	case search.PrefixEb:
		return hi < v
	}
	return rangeMatch(prefix, lo, hi, L, H, func(a, b float64) bool { return a < b })
}

// quantityBounds are the bounds of a stored quantity a prefix compares with: the range its
// precision implies for eq, ne and ap, its exact bounds for the others (as for search values,
// see numberRange). ok is false when the element has no value.
func quantityBounds(e search.Element, prefix search.Prefix) (lo, hi float64, ok bool) {
	switch prefix {
	case search.PrefixEq, search.PrefixNe, search.PrefixAp:
	default:
		if e.XLo != nil && e.XHi != nil {
			return *e.XLo, *e.XHi, true
		}
	}
	if e.QLo == nil || e.QHi == nil {
		return 0, 0, false
	}
	return *e.QLo, *e.QHi, true
}

// numberRange is the range a number search value stands for: the range its precision
// implies for eq, ne and ap (widened for ap), and the exact value for the other prefixes
// (search.html: "the implicit precision of the number is ignored, and they are treated as
// if they have arbitrarily high precision").
func numberRange(prefix search.Prefix, n search.Decimal) (float64, float64) {
	switch prefix {
	case search.PrefixEq, search.PrefixNe:
		return n.Low, n.High
	case search.PrefixAp:
		tol := apTolerance(0, n.Low, n.High, func(a, b float64) float64 { return a - b })
		return n.Low - tol, n.High + tol
	}
	return n.Value, n.Value
}

// tokenKey is the stored key of a token component: "system|code", "|code" or "code";
// empty for "system|" (any code), which has no single key.
func tokenKey(t search.Token) string {
	if !t.HasSystem {
		return t.Code
	}
	if t.Code == "" {
		return ""
	}
	return t.System + "|" + t.Code
}

func compileComposite(p *search.Param, name string, v search.Composite, o compileOptions) (bson.D, bool, check, error) {
	if len(v.Components) != 2 {
		return nil, false, nil, unsupported(p, "composites of %d parts are not supported", len(v.Components))
	}
	first, ok := v.Components[0].(search.Token)
	if !ok {
		return nil, false, nil, unsupported(p, "the first part must be a token")
	}
	k1 := tokenKey(first)
	if k1 == "" {
		return nil, false, nil, unsupported(p, "the first part needs a code")
	}
	switch second := v.Components[1].(type) {
	case search.Token:
		k2 := tokenKey(second)
		if k2 == "" {
			return prefixRegex(spField(name, "k"), k1+"$"+second.System+"|"), true, nil, nil
		}
		return eq(spField(name, "k"), k1+"$"+k2), true, nil, nil
	case search.Quantity:
		q := second
		L, H := numberRange(q.Prefix, q.Number)
		// Some value of the first part matches, for ne too.
		return eq(spField(name, "k"), k1), false, elementCheck(name, k1, false, func(e search.Element) bool {
			if q.System != "" && q.Code != "" && !slices.Contains(e.QU, q.System+"|"+q.Code) {
				return false
			}
			if q.System == "" && q.Code != "" && !slices.Contains(e.QC, q.Code) {
				return false
			}
			return quantityMatch(q.Prefix, e, L, H)
		}), nil
	case search.Number:
		// linkId$number (item-answer-number): narrowed to the resources with a value of the
		// first part, decided on that part's values in Go.
		n := second
		L, H := numberRange(n.Prefix, n.Number)
		return eq(spField(name, "k"), k1), false, elementCheck(name, k1, n.Prefix == search.PrefixNe, func(e search.Element) bool {
			return quantityMatch(n.Prefix, e, L, H)
		}), nil
	case search.Date:
		// linkId$date (item-answer-date), as linkId$number.
		d := second
		L, H := dateRange(d, o)
		less := func(a, b time.Time) bool { return a.Before(b) }
		return eq(spField(name, "k"), k1), false, elementCheck(name, k1, d.Prefix == search.PrefixNe, func(e search.Element) bool {
			return !e.Lo.IsZero() && rangeMatch(d.Prefix, e.Lo, e.Hi, L, H, less)
		}), nil
	}
	return nil, false, nil, unsupported(p, "unsupported composite value")
}

// elementCheck is the Go check of a composite whose second part is decided on the values
// kept whole (Values.V): some value of the first part's key k1 matches. For ne
// (anyNot), every value of k1 must match, as for the other parameters no value may equal.
func elementCheck(name, k1 string, anyNot bool, match func(search.Element) bool) check {
	return func(ix search.Index) bool {
		vals := ix[name]
		if vals == nil {
			return false
		}
		found := false
		for _, e := range vals.V {
			if !slices.Contains(e.K, k1) {
				continue
			}
			if anyNot && !match(e) {
				return false
			}
			if !anyNot && match(e) {
				return true
			}
			found = true
		}
		return anyNot && found
	}
}

// sortFields returns the stored field of each sort key, with _id added as the final
// tie-break in the direction of the last key, so that a one-key sort in either direction is
// served by the index {key: 1, _id: 1} read forwards or backwards.
func sortFields(c *search.Criteria) []sortField {
	var out []sortField
	last := 1
	for _, k := range c.Sort {
		dir := 1
		if k.Descending {
			dir = -1
		}
		f, ok := documentFields[k.Param.Name]
		if !ok {
			f = spField(k.Param.Name, k.Param.SortKey())
		}
		out = append(out, sortField{field: f, dir: dir, param: k.Param})
		if f == "_id" {
			return out
		}
		last = dir
	}
	return append(out, sortField{field: "_id", dir: last})
}

type sortField struct {
	field string
	dir   int
	param *search.Definition // nil for the final _id
}

func sortDoc(fields []sortField, reverse bool) bson.D {
	d := make(bson.D, len(fields))
	for i, f := range fields {
		dir := f.dir
		if reverse {
			dir = -dir
		}
		d[i] = bson.E{Key: f.field, Value: dir}
	}
	return d
}

// filterFields lists every field a filter tests, for the index coverage test.
func filterFields(d bson.D) []string {
	set := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case bson.D:
			for _, e := range x {
				if strings.HasPrefix(e.Key, "$") {
					walk(e.Value)
				} else {
					set[e.Key] = true
				}
			}
		case bson.A:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(d)
	out := make([]string, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}
