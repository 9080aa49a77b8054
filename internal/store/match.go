package store

import (
	"reflect"
	"regexp"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// Matcher compiles criteria (their parameters; result parameters are ignored) into a
// search.Match: the database's own filter and checks, compiled once and decided in memory
// on the values extracted for a write, deciding exactly as a search would, on the version as it is written. Deleted
// versions never match. It returns the errors a search on the criteria would.
func (s *Store) Matcher(c *search.Criteria) (search.Match, error) {
	comp, err := compileCriteria(c, "", compileOptions{base: s.extract.BaseURL, now: time.Now()})
	if err != nil {
		return nil, err
	}
	return func(cand *search.Candidate) bool {
		r := cand.Resource
		if r.Deleted || r.Type != c.Type {
			return false
		}
		doc, ok := cand.Memo.(memDoc)
		if !ok {
			doc = newMemDoc(r, cand.Index)
			cand.Memo = doc
		}
		if !doc.matches(comp.filter) {
			return false
		}
		for _, chk := range comp.checks {
			if !chk(cand.Index) {
				return false
			}
		}
		return true
	}, nil
}

// memDoc is a stored current document as a filter sees it, made once per version however
// many filters are decided on it: each field a filter may name (_id, ts, del, and the
// search values as sp.param:field) with its values, an array field's elements or the one
// value.
type memDoc map[string][]any

func newMemDoc(r *fhir.Resource, ix search.Index) memDoc {
	d := memDoc{"_id": {r.ID}, "ts": {r.LastUpdated}, "del": {r.Deleted}}
	for name, v := range ix {
		if v == nil {
			continue
		}
		rv := reflect.ValueOf(v).Elem()
		for _, sf := range storedFields[rv.Type()] {
			fv := rv.Field(sf.index)
			if isEmptyValue(fv) {
				continue
			}
			key := "sp." + name + fieldSep + sf.name
			if fv.Kind() != reflect.Slice {
				d[key] = []any{fv.Interface()}
				continue
			}
			vals := make([]any, fv.Len())
			for i := range vals {
				vals[i] = fv.Index(i).Interface()
			}
			d[key] = vals
		}
	}
	return d
}

// matches evaluates a filter as MongoDB does, for the operators compiled filters use.
func (d memDoc) matches(filter bson.D) bool {
	for _, e := range filter {
		if !d.holds(e) {
			return false
		}
	}
	return true
}

func (d memDoc) holds(e bson.E) bool {
	switch e.Key {
	case "$and":
		for _, c := range e.Value.(bson.A) {
			if !d.matches(c.(bson.D)) {
				return false
			}
		}
		return true
	case "$or":
		for _, c := range e.Value.(bson.A) {
			if d.matches(c.(bson.D)) {
				return true
			}
		}
		return false
	case "$nor":
		for _, c := range e.Value.(bson.A) {
			if d.matches(c.(bson.D)) {
				return false
			}
		}
		return true
	}
	vals := d[e.Key]
	if ops, ok := e.Value.(bson.D); ok && len(ops) > 0 && strings.HasPrefix(ops[0].Key, "$") {
		// Each operator holds for some element, not necessarily the same one.
		for _, op := range ops {
			if !operatorHolds(op, vals) {
				return false
			}
		}
		return true
	}
	return anyValue(vals, func(v any) bool { return equalTo(v, e.Value) })
}

func operatorHolds(op bson.E, vals []any) bool {
	switch op.Key {
	case "$exists":
		return (len(vals) > 0) == op.Value.(bool)
	case "$in":
		return anyValue(vals, func(v any) bool {
			for _, x := range op.Value.(bson.A) {
				if equalTo(v, x) {
					return true
				}
			}
			return false
		})
	case "$gt":
		return anyValue(vals, func(v any) bool { c, ok := compare(v, op.Value); return ok && c > 0 })
	case "$gte":
		return anyValue(vals, func(v any) bool { c, ok := compare(v, op.Value); return ok && c >= 0 })
	case "$lt":
		return anyValue(vals, func(v any) bool { c, ok := compare(v, op.Value); return ok && c < 0 })
	case "$lte":
		return anyValue(vals, func(v any) bool { c, ok := compare(v, op.Value); return ok && c <= 0 })
	}
	// An operator compiled filters never use: no match, rather than a wrong one.
	return false
}

func anyValue(vals []any, f func(any) bool) bool {
	for _, v := range vals {
		if f(v) {
			return true
		}
	}
	return false
}

// equalTo reports whether a stored value equals a filter's value (or matches its regex).
func equalTo(v, want any) bool {
	if re, ok := want.(bson.Regex); ok {
		s, isString := v.(string)
		return isString && compiledRegex(re).MatchString(s)
	}
	c, ok := compare(v, want)
	return ok && c == 0
}

// compare orders two values of one kind (strings, numbers, times, booleans); ok is false
// when their kinds differ, as MongoDB's comparisons only match within a kind.
func compare(a, b any) (int, bool) {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return strings.Compare(x, y), ok
	case time.Time:
		y, ok := b.(time.Time)
		return x.Compare(y), ok
	case bool:
		y, ok := b.(bool)
		if !ok || x == y {
			return 0, ok
		}
		if !x {
			return -1, true
		}
		return 1, true
	}
	x, xok := number(a)
	y, yok := number(b)
	if !xok || !yok {
		return 0, false
	}
	switch {
	case x < y:
		return -1, true
	case x > y:
		return 1, true
	}
	return 0, true
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case int:
		return float64(n), true
	}
	return 0, false
}

var regexCache sync.Map // bson.Regex -> *regexp.Regexp

func compiledRegex(re bson.Regex) *regexp.Regexp {
	if c, ok := regexCache.Load(re); ok {
		return c.(*regexp.Regexp)
	}
	flags := ""
	if strings.Contains(re.Options, "i") {
		flags = "(?i)"
	}
	c, err := regexp.Compile(flags + re.Pattern)
	if err != nil {
		c = regexp.MustCompile(`\A\z.`) // matches nothing
	}
	regexCache.Store(re, c)
	return c
}
