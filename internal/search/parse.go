package search

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// Options tune Parse.
type Options struct {
	// Strict rejects unknown or unsupported parameters (handling=strict); otherwise they
	// are ignored and reported as warnings (handling=lenient, the default).
	Strict bool
	// DefaultCount is the page size when _count is absent; 0 leaves Criteria.Count nil.
	DefaultCount int
	// MaxCount caps _count (with a warning); 0 means no cap.
	MaxCount int
	// Location is the server's time zone, used for date values without one; UTC when nil.
	Location *time.Location
}

func (o *Options) location() *time.Location {
	if o.Location == nil {
		return time.UTC
	}
	return o.Location
}

// ignoredParams are request parameters that are not search criteria (they shape the HTTP
// response) and are accepted without a word.
var ignoredParams = map[string]bool{"_format": true, "_pretty": true}

// Parse turns the query of a search on resourceType into criteria.
//
// Repeated parameters are ANDed; comma-separated values within one are ORed (a comma
// escaped as \, is part of the value). Unknown or unsupported parameters are, when
// opts.Strict is false, left out of the criteria and reported as warning issues; when it is
// true they are a fhir.KindInvalid error. Invalid values, modifiers and result parameters
// are always a fhir.KindInvalid error whose issue names the parameter. A resourceType with
// no search parameters here is a fhir.KindNotFound error.
func Parse(resourceType string, query url.Values, opts Options) (*Criteria, []fhir.Issue, error) {
	defs := registry[resourceType]
	if defs == nil {
		return nil, nil, fhir.Errorf(fhir.KindNotFound, "This server does not search %s resources", resourceType)
	}
	p := parser{c: &Criteria{Type: resourceType}, opts: &opts}
	keys := make([]string, 0, len(query))
	for k := range query {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if err := p.param(key, query[key]); err != nil {
			return nil, nil, err
		}
	}
	if p.c.Count == nil && opts.DefaultCount > 0 {
		n := opts.DefaultCount
		p.c.Count = &n
	}
	return p.c, p.issues, nil
}

type parser struct {
	c      *Criteria
	opts   *Options
	issues []fhir.Issue
	seen   map[string]bool // result parameters already given
}

func invalid(param, format string, args ...any) *fhir.Error {
	return fhir.Errorf(fhir.KindInvalid, "Search parameter %q: "+format, append([]any{param}, args...)...).At(param)
}

func (p *parser) warn(param, format string, args ...any) {
	p.issues = append(p.issues, fhir.Issue{
		Severity: fhir.SeverityWarning, Code: fhir.IssueNotSupported,
		Diagnostics: "Search parameter " + strconv.Quote(param) + ": " + fmt.Sprintf(format, args...),
		Expression:  []string{param},
	})
}

// unknown handles a parameter the server does not know or support.
func (p *parser) unknown(key, why string) error {
	if p.opts.Strict {
		return fhir.Errorf(fhir.KindInvalid, "Search parameter %q %s", key, why).At(key)
	}
	p.issues = append(p.issues, fhir.Issue{
		Severity: fhir.SeverityWarning, Code: fhir.IssueNotSupported,
		Diagnostics: fmt.Sprintf("Search parameter %q %s, so it was ignored", key, why),
		Expression:  []string{key},
	})
	return nil
}

func (p *parser) param(key string, values []string) error {
	name, mod, _ := strings.Cut(key, ":")
	switch name {
	case "_count", "_sort", "_total", "_summary", "_elements", "_include", "_revinclude":
		return p.result(key, name, mod, values)
	}
	if ignoredParams[key] {
		return nil
	}
	def := registry[p.c.Type][name]
	if def == nil {
		why := "is not defined for " + p.c.Type
		switch {
		case strings.Contains(name, "."):
			why = "is chained, which this server does not support"
		case strings.HasPrefix(name, "_"):
			why = "is not supported by this server"
		}
		return p.unknown(key, why)
	}
	m, targetType, err := p.modifier(key, def, mod)
	if err != nil {
		return err
	}
	for _, raw := range values {
		if raw == "" {
			p.warn(key, "an empty value was ignored")
			continue
		}
		param := Param{Def: def, Modifier: m, TargetType: targetType}
		leading := ""
		for _, alt := range splitEscaped(raw, ',') {
			if alt == "" {
				return invalid(key, "empty value in the list %q", raw)
			}
			alt, leading = shareLeading(def, alt, leading)
			v, err := parseValue(def, m, targetType, alt, p.opts)
			if err != nil {
				var ve *valueError
				if errors.As(err, &ve) {
					return invalid(key, "%s", ve.msg)
				}
				return err
			}
			param.Values = append(param.Values, v)
		}
		p.c.Params = append(p.c.Params, param)
	}
	return nil
}

// shareLeading completes an alternative of a composite that gives only its last part with
// the leading parts of the alternative before it (item-answer=overall.1$1,2 is
// overall.1$1,overall.1$2), and returns the leading parts for the next alternative.
func shareLeading(def *Definition, alt, leading string) (string, string) {
	if def.Type != TypeComposite || len(def.Components) < 2 {
		return alt, ""
	}
	parts := splitEscaped(alt, '$')
	if len(parts) == 1 && leading != "" {
		return leading + "$" + alt, leading
	}
	if len(parts) == len(def.Components) {
		return alt, strings.Join(parts[:len(parts)-1], "$")
	}
	return alt, ""
}

// modifier checks mod against what def allows; a resource type is a type modifier.
func (p *parser) modifier(key string, def *Definition, mod string) (Modifier, string, error) {
	if mod == "" {
		return ModifierNone, "", nil
	}
	if def.Type == TypeReference && fhir.IsResourceType(mod) {
		if !def.targets(mod) {
			return "", "", invalid(key, "%s cannot refer to %s (allowed: %s)", def.Name, mod, strings.Join(def.Targets, ", "))
		}
		return ModifierType, mod, nil
	}
	m := Modifier(mod)
	if def.Type == TypeToken && (m == ModifierIn || m == ModifierNotIn || m == ModifierAbove || m == ModifierBelow) {
		return "", "", invalid(key, "the modifier :%s needs a terminology service, which this server does not have", mod)
	}
	if m == ModifierType || !def.Allows(m) {
		return "", "", invalid(key, "the modifier :%s is not allowed on %s parameters", mod, def.Type)
	}
	return m, "", nil
}

// result handles the result parameters.
func (p *parser) result(key, name, mod string, values []string) error {
	switch {
	case name == "_include" || name == "_revinclude":
		if mod != "" && mod != "iterate" && mod != "recurse" {
			return invalid(key, "the modifier :%s is not allowed; use :iterate", mod)
		}
		for _, v := range values {
			inc, err := p.include(key, name, v, mod != "")
			if err != nil {
				return err
			}
			if name == "_include" {
				p.c.Include = append(p.c.Include, inc)
			} else {
				p.c.RevInclude = append(p.c.RevInclude, inc)
			}
		}
		return nil
	case mod != "":
		return invalid(key, "%s takes no modifier", name)
	}
	// Empty values are ignored, as for every parameter (search.html: "Empty parameters are
	// not an error"), and repeated _sort keys follow one another.
	var given []string
	for _, v := range values {
		if v != "" {
			given = append(given, v)
		}
	}
	if len(given) < len(values) {
		p.warn(key, "an empty value was ignored")
	}
	if len(given) == 0 {
		return nil
	}
	if name == "_sort" {
		given = []string{strings.Join(given, ",")}
	}
	values = given
	if len(values) != 1 {
		return invalid(key, "may be given only once")
	}
	v := values[0]
	switch name {
	case "_count":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return invalid(key, "%q is not a non-negative whole number", v)
		}
		if p.opts.MaxCount > 0 && n > p.opts.MaxCount {
			p.warn(key, "%d is more than this server returns in one page; %d is used", n, p.opts.MaxCount)
			n = p.opts.MaxCount
		}
		p.c.Count = &n
	case "_sort":
		for _, k := range strings.Split(v, ",") {
			desc := strings.HasPrefix(k, "-")
			k = strings.TrimPrefix(k, "-")
			d := registry[p.c.Type][k]
			if d == nil {
				return invalid(key, "cannot sort on %q: it is not a search parameter of %s", k, p.c.Type)
			}
			if d.Type == TypeComposite {
				return invalid(key, "cannot sort on the composite parameter %q", k)
			}
			for _, prev := range p.c.Sort {
				if prev.Param == d {
					return invalid(key, "sorts on %q twice: a second key on the same parameter could never change the order; name it once", k)
				}
			}
			p.c.Sort = append(p.c.Sort, SortKey{Param: d, Descending: desc})
		}
	case "_total":
		switch t := Total(v); t {
		case TotalNone, TotalEstimate, TotalAccurate:
			p.c.Total = t
		default:
			return invalid(key, "%q is not one of none, estimate, accurate", v)
		}
	case "_summary":
		switch s := Summary(v); s {
		case SummaryTrue, SummaryText, SummaryData, SummaryCount, SummaryFalse:
			p.c.Summary = s
		default:
			return invalid(key, "%q is not one of true, text, data, count, false", v)
		}
	case "_elements":
		for _, e := range strings.Split(v, ",") {
			if !validElement(e) {
				return invalid(key, "%q is not an element name", e)
			}
			p.c.Elements = append(p.c.Elements, e)
		}
	}
	return nil
}

func validElement(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isLetter(s[i]) && !isDigit(s[i]) && s[i] != '_' && s[i] != '-' {
			return false
		}
	}
	return true
}

// include parses SourceType:param[:TargetType], SourceType:* or *.
func (p *parser) include(key, name, v string, iterate bool) (Include, error) {
	inc := Include{Iterate: iterate}
	if v == "*" {
		inc.Wildcard = true
		return inc, nil
	}
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return inc, invalid(key, "%q is not SourceType:parameter[:TargetType]", v)
	}
	inc.SourceType, inc.Param = parts[0], parts[1]
	if len(parts) == 3 {
		inc.TargetType = parts[2]
		if !fhir.IsResourceType(inc.TargetType) {
			return inc, invalid(key, "%q is not a FHIR resource type", inc.TargetType)
		}
	}
	if registry[inc.SourceType] == nil {
		return inc, invalid(key, "%s resources are not searched by this server", inc.SourceType)
	}
	if name == "_include" && !iterate && inc.SourceType != p.c.Type {
		return inc, invalid(key, "the source of an _include must be the type searched, %s", p.c.Type)
	}
	if inc.Param == "*" {
		inc.Wildcard = true
		if inc.TargetType != "" {
			return inc, invalid(key, "a wildcard include takes no target type")
		}
		return inc, nil
	}
	d := registry[inc.SourceType][inc.Param]
	if d == nil || d.Type != TypeReference {
		return inc, invalid(key, "%q is not a reference parameter of %s", inc.Param, inc.SourceType)
	}
	if inc.TargetType != "" && !d.targets(inc.TargetType) {
		return inc, invalid(key, "%s:%s cannot refer to %s", inc.SourceType, inc.Param, inc.TargetType)
	}
	if name == "_revinclude" && !iterate && !d.targets(p.c.Type) {
		return inc, invalid(key, "%s:%s cannot refer to %s, the type searched", inc.SourceType, inc.Param, p.c.Type)
	}
	return inc, nil
}
