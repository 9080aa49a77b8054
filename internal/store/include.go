package store

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// defaultMaxIncluded bounds the resources one page's _include and _revinclude may add when
// Options.MaxIncluded is zero.
const defaultMaxIncluded = 1000

// maxIterations bounds the rounds of :iterate.
const maxIterations = 5

// includeSet collects the resources of a page, matches and included, once each, and at
// most limit included ones.
type includeSet struct {
	seen map[string]bool
	// docs by type, in the order found
	all      []typedDoc
	included []*fhir.Resource
	limit    int
	// truncated: more resources would have been included than limit.
	truncated bool
}

type typedDoc struct {
	typ string
	doc *searchDoc
}

func (set *includeSet) add(typ string, d *searchDoc, included bool) bool {
	k := typ + "/" + d.ID()
	if set.seen[k] {
		return false
	}
	if included && len(set.included) >= set.limit {
		set.truncated = true
		return false
	}
	set.seen[k] = true
	set.all = append(set.all, typedDoc{typ, d})
	if included {
		set.included = append(set.included, d.resource(typ))
	}
	return true
}

// includes resolves the _include and _revinclude directives for a page of matches. Only
// resources this server stores can be included; references to other types are skipped.
// Included resources of patient-data types obey the request's compartment. At most
// Options.MaxIncluded are returned; truncated reports that there were more.
func (s *Store) includes(ctx context.Context, req *search.Request, matches []searchDoc) (included []*fhir.Resource, truncated bool, err error) {
	c := req.Criteria
	set := &includeSet{seen: map[string]bool{}, limit: s.maxIncluded}
	for i := range matches {
		set.add(c.Type, &matches[i], false)
	}
	// The first round works on the matches; :iterate rounds on everything found so far.
	round := set.all
	for iter := 0; iter <= maxIterations && len(round) > 0 && !set.truncated; iter++ {
		before := len(set.all)
		for _, inc := range c.Include {
			if iter > 0 && !inc.Iterate {
				continue
			}
			if err := s.include(ctx, req, inc, round, set); err != nil {
				return nil, false, err
			}
		}
		for _, inc := range c.RevInclude {
			if iter > 0 && !inc.Iterate {
				continue
			}
			if err := s.revinclude(ctx, req, inc, round, set); err != nil {
				return nil, false, err
			}
		}
		round = set.all[before:]
	}
	return set.included, set.truncated, nil
}

// refParams lists the reference parameters an include names on sourceType.
func refParams(inc search.Include, sourceType string) []*search.Definition {
	if inc.SourceType != "" && inc.SourceType != sourceType {
		return nil
	}
	if !inc.Wildcard {
		if d := search.Lookup(sourceType, inc.Param); d != nil {
			return []*search.Definition{d}
		}
		return nil
	}
	var out []*search.Definition
	for _, d := range search.Definitions(sourceType) {
		if d.Type == search.TypeReference {
			out = append(out, d)
		}
	}
	return out
}

// include adds the resources that the given resources refer to through inc.
func (s *Store) include(ctx context.Context, req *search.Request, inc search.Include, from []typedDoc, set *includeSet) error {
	ids := map[string][]string{}         // type → ids
	canon := map[string][]canonicalRef{} // type → canonical references
	for _, td := range from {
		for _, d := range refParams(inc, td.typ) {
			vals := td.doc.SP[d.Name]
			if vals == nil {
				continue
			}
			pinned := pinnedURLs(vals.R)
			for _, key := range vals.R {
				if d.Canonical {
					if pinned[key] {
						continue // the reference names a version: resolve that one, not the newest
					}
					for _, t := range d.Targets {
						if s.registry.Supports(t) && (inc.TargetType == "" || inc.TargetType == t) {
							if ref, ok := parseCanonical(key); ok {
								canon[t] = append(canon[t], ref)
							}
						}
					}
					continue
				}
				typ, id, ok := strings.Cut(key, "/")
				if !ok || strings.Contains(id, "/") || !s.registry.Supports(typ) || (inc.TargetType != "" && inc.TargetType != typ) {
					continue
				}
				ids[typ] = append(ids[typ], id)
			}
		}
	}
	for typ, list := range ids {
		docs, more, err := s.findIncludedByID(ctx, req, typ, dedupe(list), set.limit-len(set.included))
		if err != nil {
			return err
		}
		set.truncated = set.truncated || more
		for i := range docs {
			set.add(typ, &docs[i], true)
		}
	}
	for typ, refs := range canon {
		docs, more, err := s.resolveCanonicals(ctx, req, typ, refs, set.limit)
		if err != nil {
			return err
		}
		set.truncated = set.truncated || more
		for i := range docs {
			set.add(typ, &docs[i], true)
		}
	}
	return nil
}

// revinclude adds the resources of inc.SourceType that refer to the given resources: one
// query per source type, whatever the number of its reference parameters inc names (on the
// embedded database every such query reads the whole collection).
func (s *Store) revinclude(ctx context.Context, req *search.Request, inc search.Include, to []typedDoc, set *includeSet) error {
	sources := []string{inc.SourceType}
	if inc.SourceType == "" {
		sources = search.ResourceTypes()
	}
	type paramKeys struct {
		d    *search.Definition
		keys []string
	}
	for _, src := range sources {
		if !s.registry.Supports(src) {
			continue
		}
		var params []paramKeys
		var or []bson.D
		for _, d := range refParams(search.Include{SourceType: src, Param: inc.Param, Wildcard: inc.Wildcard}, src) {
			var keys []string
			for _, td := range to {
				if !targetsType(d, td.typ) || (inc.TargetType != "" && inc.TargetType != td.typ) {
					continue
				}
				if d.Canonical {
					if u := td.doc.SP["url"]; u != nil {
						for _, url := range u.U {
							keys = append(keys, url)
							if v := td.doc.SP["version"]; v != nil {
								for _, ver := range v.C {
									keys = append(keys, url+"|"+ver)
								}
							}
						}
					}
					continue
				}
				keys = append(keys, td.typ+"/"+td.doc.ID())
			}
			if len(keys) == 0 {
				continue
			}
			keys = dedupe(keys)
			params = append(params, paramKeys{d, keys})
			or = append(or, bson.D{{Key: spField(d.Name, "r"), Value: bson.D{{Key: "$in", Value: keys}}}})
		}
		if len(or) == 0 {
			continue
		}
		docs, more, err := s.findIncluded(ctx, req, src, orConds(or), set.limit-len(set.included))
		if err != nil {
			return err
		}
		set.truncated = set.truncated || more
		for i := range docs {
			for _, p := range params {
				if refersThrough(docs[i].SP[p.d.Name], p.d.Canonical, p.keys) {
					set.add(src, &docs[i], true)
					break
				}
			}
		}
	}
	return nil
}

// refersThrough reports whether the reference values of one parameter match keys: any of
// them for a plain reference; for a canonical one, respecting the version it names.
func refersThrough(vals *search.Values, canonical bool, keys []string) bool {
	if canonical {
		return refersToVersion(vals, keys)
	}
	if vals == nil {
		return false
	}
	for _, r := range vals.R {
		if _, ok := slices.BinarySearch(keys, r); ok {
			return true
		}
	}
	return false
}

// pinnedURLs returns the canonical URLs that the keys also name with a version ("url|v").
func pinnedURLs(keys []string) map[string]bool {
	out := map[string]bool{}
	for _, k := range keys {
		if u, _, ok := strings.Cut(k, "|"); ok {
			out[u] = true
		}
	}
	return out
}

// refersToVersion reports whether canonical reference values match one of keys (a url, or
// url|version): a reference that names a version matches only that version.
func refersToVersion(vals *search.Values, keys []string) bool {
	if vals == nil {
		return false
	}
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	pinned := pinnedURLs(vals.R)
	for _, r := range vals.R {
		if !want[r] {
			continue
		}
		if !strings.Contains(r, "|") && pinned[r] {
			continue // this reference names a version, which is not among keys
		}
		return true
	}
	return false
}

func targetsType(d *search.Definition, typ string) bool {
	for _, t := range d.Targets {
		if t == typ || t == "*" {
			return true
		}
	}
	return false
}

// findIncluded reads live resources of typ matching filter, within the request's compartment,
// at most limit of them (more reports that there were more); none when the request may not
// include that type.
func (s *Store) findIncluded(ctx context.Context, req *search.Request, typ string, filter bson.D, limit int) (docs []searchDoc, more bool, err error) {
	compartment, ok := includeCompartment(req, typ)
	if !ok {
		return nil, false, nil
	}
	if limit <= 0 {
		return nil, true, nil
	}
	if compartment != "" {
		// In an $and: the filter may test the same field (a _revinclude on subject).
		filter = bson.D{{Key: "$and", Value: bson.A{filter, bson.D{{Key: spField(search.CompartmentParams[typ], "r"), Value: compartment}}}}}
	}
	filter = append(bson.D{{Key: "del", Value: false}}, filter...)
	cur, err := s.current(typ).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)+1))
	if err != nil {
		return nil, false, s.wrap(err, "include %s", typ)
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, false, s.wrap(err, "include %s", typ)
	}
	if len(docs) > limit {
		return docs[:limit], true, nil
	}
	return docs, false, nil
}

// includeCompartment is the patient compartment resources of typ included by req must be in
// ("" for no limit, and for types outside every patient compartment), and whether req may
// include typ at all.
func includeCompartment(req *search.Request, typ string) (string, bool) {
	compartment := req.Compartment
	if req.MayInclude != nil {
		ok, c := req.MayInclude(typ)
		if !ok {
			return "", false
		}
		compartment = c
	}
	if _, ok := search.CompartmentParams[typ]; !ok {
		compartment = ""
	}
	return compartment, true
}

// findIncludedByID reads the live resources of typ with the given ids, within the request's
// compartment, in id order, at most limit of them (more reports that there were more); none
// when the request may not include that type.
func (s *Store) findIncludedByID(ctx context.Context, req *search.Request, typ string, ids []string, limit int) (docs []searchDoc, more bool, err error) {
	if !s.idFiltersOnly {
		return s.findIncluded(ctx, req, typ, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, limit)
	}
	compartment, ok := includeCompartment(req, typ)
	if !ok {
		return nil, false, nil
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	for _, id := range ids {
		var d searchDoc
		err := s.current(typ).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue
		}
		if err != nil {
			return nil, false, s.wrap(err, "include %s", typ)
		}
		// The same conditions as findIncluded's filter: live, and in the compartment
		// (whose members are exactly the documents whose cmp lists it).
		if d.Doc.Deleted || (compartment != "" && !slices.Contains(d.Doc.Cmp, compartment)) {
			continue
		}
		if len(docs) == limit {
			return docs, true, nil
		}
		docs = append(docs, d)
	}
	return docs, false, nil
}

// canonicalRef is a canonical reference: a URL and, optionally, a version.
type canonicalRef struct{ url, version string }

func parseCanonical(key string) (canonicalRef, bool) {
	u, v, _ := strings.Cut(key, "|")
	return canonicalRef{u, v}, u != ""
}

// resolveCanonicals finds, for each canonical reference, the stored resource with that url
// and version, or the newest version when the reference names none: the highest version
// (compared number by number where the parts are numbers), then the latest written.
func (s *Store) resolveCanonicals(ctx context.Context, req *search.Request, typ string, refs []canonicalRef, limit int) ([]searchDoc, bool, error) {
	var urls []string
	for _, r := range refs {
		urls = append(urls, r.url)
	}
	// Every version of each url is read to find the newest: the bound is on what is read.
	docs, more, err := s.findIncluded(ctx, req, typ, bson.D{{Key: spField("url", "u"), Value: bson.D{{Key: "$in", Value: dedupe(urls)}}}}, limit)
	if err != nil {
		return nil, false, err
	}
	var out []searchDoc
	for _, r := range dedupeRefs(refs) {
		var best *searchDoc
		for i := range docs {
			d := &docs[i]
			if u := d.SP["url"]; u == nil || !slices.Contains(u.U, r.url) {
				continue
			}
			ver := firstValue(d.SP["version"])
			if r.version != "" {
				if ver == r.version {
					best = d
					break
				}
				continue
			}
			if best == nil || newerVersion(ver, firstValue(best.SP["version"]), d, best) {
				best = d
			}
		}
		if best != nil {
			out = append(out, *best)
		}
	}
	return out, more, nil
}

func firstValue(v *search.Values) string {
	if v == nil || len(v.C) == 0 {
		return ""
	}
	return v.C[0]
}

// newerVersion reports whether version a (of document da) is newer than b (of db).
func newerVersion(a, b string, da, db *searchDoc) bool {
	if c := fhir.CompareVersions(a, b); c != 0 {
		return c > 0
	}
	return da.Doc.TS.After(db.Doc.TS)
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	out := list[:0:0]
	for _, x := range list {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

func dedupeRefs(list []canonicalRef) []canonicalRef {
	seen := map[canonicalRef]bool{}
	var out []canonicalRef
	for _, x := range list {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
