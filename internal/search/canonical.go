package search

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Canonical returns the query the criteria stand for, for self links: only the parameters
// actually applied, every value in one normal form (no eq prefix, inferred reference types
// written out), values of a repeated parameter sorted. Its Encode is deterministic.
func (c *Criteria) Canonical() url.Values {
	q := url.Values{}
	for _, p := range c.Params {
		key := p.Def.Name
		switch p.Modifier {
		case ModifierNone:
		case ModifierType:
			key += ":" + p.TargetType
		default:
			key += ":" + string(p.Modifier)
		}
		vals := make([]string, len(p.Values))
		for i, v := range p.Values {
			if r, ok := v.(Reference); ok && p.Modifier == ModifierType {
				vals[i] = escape(r.ID)
			} else {
				vals[i] = v.encode()
			}
		}
		q.Add(key, strings.Join(vals, ","))
	}
	if c.Count != nil {
		q.Set("_count", strconv.Itoa(*c.Count))
	}
	if len(c.Sort) > 0 {
		keys := make([]string, len(c.Sort))
		for i, k := range c.Sort {
			keys[i] = k.Param.Name
			if k.Descending {
				keys[i] = "-" + keys[i]
			}
		}
		q.Set("_sort", strings.Join(keys, ","))
	}
	if c.Total != "" {
		q.Set("_total", string(c.Total))
	}
	if c.Summary != "" {
		q.Set("_summary", string(c.Summary))
	}
	if len(c.Elements) > 0 {
		q.Set("_elements", strings.Join(c.Elements, ","))
	}
	addIncludes(q, "_include", c.Include)
	addIncludes(q, "_revinclude", c.RevInclude)
	for _, vs := range q {
		sort.Strings(vs)
	}
	return q
}

func addIncludes(q url.Values, name string, incs []Include) {
	for _, inc := range incs {
		key := name
		if inc.Iterate {
			key += ":iterate"
		}
		v := "*"
		if inc.SourceType != "" {
			v = inc.SourceType + ":" + inc.Param
			if inc.TargetType != "" {
				v += ":" + inc.TargetType
			}
		}
		q.Add(key, v)
	}
}

// Encode is Canonical().Encode(): the canonical query string, keys sorted.
func (c *Criteria) Encode() string { return c.Canonical().Encode() }
