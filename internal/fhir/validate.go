package fhir

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxIssues bounds how many problems one validation reports.
const maxIssues = 50

// validator walks a decoded JSON resource against the schema of its model and collects issues.
type validator struct {
	issues []Issue
	// scope is the resource being walked (not a contained one: they share their container's).
	scope *resourceScope
}

// resourceScope is what the rules on contained resources and local references need to know
// of one resource (with its contained resources).
type resourceScope struct {
	// contained maps the ids of the contained resources to their index.
	contained map[string]int
	// localRefs are the "#id" values met anywhere in the resource, contained ones included.
	localRefs map[string]bool
	// inContained is the index of the contained resource being walked, -1 outside them;
	// refersToContainer marks those that refer to the container ("#").
	inContained       int
	refersToContainer map[int]bool
}

func (v *validator) add(code IssueType, path, format string, args ...any) {
	if len(v.issues) >= maxIssues {
		return
	}
	v.issues = append(v.issues, Issue{
		Severity: SeverityError, Code: code, Diagnostics: fmt.Sprintf(format, args...), Expression: []string{path},
	})
}

func (v *validator) full() bool { return len(v.issues) >= maxIssues }

// ValidateTree checks a decoded resource (objects as map[string]any, numbers as json.Number)
// against the FHIR R4 definition of resourceType: unknown elements, wrong JSON types, wrong
// cardinality, codes outside required bindings and missing required elements. It returns a
// KindInvalid *Error listing every problem (up to a bound), or nil.
func ValidateTree(resourceType string, tree map[string]any) error {
	t, ok := modelTypes[resourceType]
	if !ok {
		return Errorf(KindNotFound, "Resource type %q is not a FHIR R4 resource type", resourceType)
	}
	v := &validator{}
	v.resource(schemaFor(t), tree, resourceType, true)
	if len(v.issues) == 0 {
		return nil
	}
	sort.SliceStable(v.issues, func(i, j int) bool { return v.issues[i].Expression[0] < v.issues[j].Expression[0] })
	return &Error{Kind: KindInvalid, Issues: v.issues}
}

// resource validates a resource object whose resourceType has already been matched to s. A
// resource that may hold contained resources (not itself a contained one) is a scope of its
// own for the rules on them: dom-3 (each is referred to) and ref-1 (each "#id" names one).
func (v *validator) resource(s *schema, obj map[string]any, path string, allowContained bool) {
	if allowContained {
		saved := v.scope
		v.scope = newScope(obj)
		defer func() {
			v.checkContainedReferred(obj, path)
			v.scope = saved
		}()
	}
	for key, val := range obj {
		if key == "resourceType" {
			continue
		}
		if key == "contained" && s.domainResource {
			v.contained(obj, val, path+".contained", allowContained)
			continue
		}
		v.member(s, obj, key, val, path)
	}
	v.requireds(s, obj, path)
}

func (v *validator) contained(obj map[string]any, val any, path string, allowed bool) {
	if !allowed {
		v.add(IssueStructure, path, "A contained resource SHALL NOT contain other resources (%s)", path)
		return
	}
	arr, ok := val.([]any)
	if !ok {
		v.add(IssueStructure, path, "%s must be an array of resources", path)
		return
	}
	if len(arr) == 0 {
		v.add(IssueStructure, path, "%s must not be an empty array", path)
	}
	seen := map[string]bool{}
	for i, item := range arr {
		ip := fmt.Sprintf("%s[%d]", path, i)
		if m, ok := item.(map[string]any); ok {
			id, _ := m["id"].(string)
			switch {
			case id == "":
				v.add(IssueRequired, ip+".id", "The contained resource %s has no id: a contained resource is found by its id (\"reference\": \"#id\")", ip)
			case seen[id]:
				v.add(IssueInvariant, ip+".id", "Two contained resources have the id %q: each needs its own", id)
			}
			seen[id] = true
			if meta, ok := m["meta"].(map[string]any); ok {
				for _, k := range []string{"versionId", "lastUpdated"} {
					if _, has := meta[k]; has {
						v.add(IssueInvariant, ip+".meta."+k, "dom-4: a contained resource SHALL NOT have meta.%s: it has no version of its own", k)
					}
				}
				if _, has := meta["security"]; has {
					v.add(IssueInvariant, ip+".meta.security", "dom-5: a contained resource SHALL NOT have a security label: label the resource that contains it")
				}
			}
		}
		v.scope.inContained = i // the container's, set by resource since contained is allowed
		v.inlineResource(item, ip, false)
		v.scope.inContained = -1
	}
}

func newScope(obj map[string]any) *resourceScope {
	sc := &resourceScope{contained: map[string]int{}, localRefs: map[string]bool{}, inContained: -1, refersToContainer: map[int]bool{}}
	arr, _ := obj["contained"].([]any)
	for i, item := range arr {
		if m, ok := item.(map[string]any); ok {
			if id, ok := m["id"].(string); ok && id != "" {
				if _, dup := sc.contained[id]; !dup {
					sc.contained[id] = i
				}
			}
		}
	}
	return sc
}

// checkContainedReferred applies dom-3: a contained resource SHALL be referred to from
// elsewhere in the resource, or refer to the resource that contains it ("#").
func (v *validator) checkContainedReferred(obj map[string]any, path string) {
	sc := v.scope
	arr, _ := obj["contained"].([]any)
	for i, item := range arr {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		id, _ := m["id"].(string)
		if id == "" || sc.localRefs["#"+id] || sc.refersToContainer[i] {
			continue
		}
		v.add(IssueInvariant, fmt.Sprintf("%s.contained[%d]", path, i),
			"dom-3: the contained resource %q is not referred to from the resource (\"reference\": \"#%s\") and does not refer to it (\"#\"): a contained resource SHALL be part of what its container says", id, id)
	}
}

// checkReference reports what is wrong with the value of Reference.reference, "" when
// nothing is: a relative reference Type/id (or Type/id/_history/version) to an R4 resource
// type with a valid id, an absolute URL, urn:uuid: or urn:oid:, or "#id" naming a contained
// resource of the same resource (ref-1); "#" alone, from a contained resource, names its
// container.
func (v *validator) checkReference(ref string) string {
	if strings.HasPrefix(ref, "#") {
		sc := v.scope
		if ref == "#" {
			if sc != nil && sc.inContained >= 0 {
				sc.refersToContainer[sc.inContained] = true
				return ""
			}
			return `is "#", which only a contained resource may use (for the resource that contains it)`
		}
		if sc != nil {
			sc.localRefs[ref] = true
			if _, ok := sc.contained[ref[1:]]; ok {
				return ""
			}
		}
		return fmt.Sprintf("refers to the contained resource %q, but the resource contains none with the id %q (ref-1)", ref[1:], ref[1:])
	}
	return checkReferenceText(ref)
}

var (
	uuidPattern   = regexp.MustCompile(`^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	oidPattern    = regexp.MustCompile(`^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$`)
	schemePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.\-]*:`)
)

// ValidReference reports whether ref is a reference the server accepts in Reference.reference
// outside a resource's own contained resources: Type/id, Type/id/_history/version, an
// absolute URL, urn:uuid: or urn:oid:.
func ValidReference(ref string) bool {
	return !strings.HasPrefix(ref, "#") && checkReferenceText(ref) == ""
}

// checkReferenceText checks a reference that is not local ("#…").
func checkReferenceText(ref string) string {
	if strings.ContainsFunc(ref, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "holds white space or a control character, which no reference may hold (percent-encode it in a URL)"
	}
	switch {
	case strings.HasPrefix(ref, "urn:uuid:"):
		if !uuidPattern.MatchString(ref) {
			return "is not a urn:uuid: followed by a UUID such as 3f2c8a4e-9d1b-4c6e-8f0a-2b7d5e9c1a43"
		}
		return ""
	case strings.HasPrefix(ref, "urn:oid:"):
		if !oidPattern.MatchString(ref) {
			return "is not a urn:oid: followed by an OID such as 2.16.840.1.113883"
		}
		return ""
	case schemePattern.MatchString(ref):
		u, err := url.Parse(ref)
		if err != nil {
			return "is not a valid absolute URL: " + err.Error()
		}
		if (u.Scheme == "http" || u.Scheme == "https") && u.Host == "" {
			return "is an http(s) URL without a host"
		}
		return ""
	}
	parts := strings.Split(ref, "/")
	if len(parts) != 2 && !(len(parts) == 4 && parts[2] == "_history") {
		return "is not a reference such as Patient/123, Patient/123/_history/2, an absolute URL, urn:uuid:…, or #id for a contained resource"
	}
	if _, ok := modelTypes[parts[0]]; !ok || parts[0] == "DomainResource" {
		return fmt.Sprintf("names %q, which is not a FHIR R4 resource type (references are Type/id, e.g. Patient/123)", parts[0])
	}
	if !ValidID(parts[1]) {
		return fmt.Sprintf("has the id %q, which is not a valid resource id: 1 to 64 letters, digits, '-' and '.', not only dots", parts[1])
	}
	if len(parts) == 4 && !ValidID(parts[3]) {
		return fmt.Sprintf("names the version %q, which is not a valid version id", parts[3])
	}
	return ""
}

// inlineResource validates a resource nested in another (contained, Bundle entry).
func (v *validator) inlineResource(val any, path string, allowContained bool) {
	m, ok := val.(map[string]any)
	if !ok {
		v.add(IssueStructure, path, "%s must be a resource (a JSON object with resourceType)", path)
		return
	}
	rt, _ := m["resourceType"].(string)
	t, ok := modelTypes[rt]
	if !ok {
		v.add(IssueStructure, path, "%s has no valid resourceType (got %q)", path, rt)
		return
	}
	v.resource(schemaFor(t), m, path, allowContained)
}

func (v *validator) requireds(s *schema, obj map[string]any, path string) {
	for _, f := range s.required {
		if _, ok := obj[f.name]; ok {
			continue
		}
		if _, ok := obj["_"+f.name]; ok && f.primitive() {
			continue // value absent, but explained by extensions (e.g. data-absent-reason)
		}
		v.add(IssueRequired, path+"."+f.name, "Missing required element %s.%s", path, f.name)
	}
	for _, c := range s.choices {
		var present []string
		for _, m := range c.members {
			if _, ok := obj[m]; ok {
				present = append(present, m)
			} else if _, ok := obj["_"+m]; ok {
				present = append(present, m)
			}
		}
		switch {
		case len(present) > 1:
			v.add(IssueStructure, path+"."+present[1], "%s.%s[x] may hold only one value, but %s are all present", path, c.base, strings.Join(present, ", "))
		case len(present) == 0 && c.required:
			v.add(IssueRequired, path+"."+c.base+"[x]", "Missing required element %s.%s[x] (one of %s)", path, c.base, strings.Join(c.members, ", "))
		}
	}
}

// member validates one key of an object of schema s.
func (v *validator) member(s *schema, obj map[string]any, key string, val any, path string) {
	if v.full() {
		return
	}
	p := path + "." + key
	if strings.HasPrefix(key, "_") {
		f, ok := s.fields[key[1:]]
		if !ok || !f.primitive() {
			v.add(IssueStructure, p, "Unknown element %q in %s: %s is not a primitive element of %s", key, path, key[1:], s.name)
			return
		}
		v.primitiveExtension(f, val, p, obj[key[1:]])
		return
	}
	f, ok := s.fields[key]
	if !ok {
		v.add(IssueStructure, p, "Unknown element %q in %s: FHIR R4 %s defines no such element%s", key, path, s.name, suggest(s, key))
		return
	}
	if val == nil {
		v.add(IssueStructure, p, "%s must not be null", p)
		return
	}
	if f.array {
		arr, ok := val.([]any)
		if !ok {
			v.add(IssueStructure, p, "%s must be an array (it may repeat)", p)
			return
		}
		if len(arr) == 0 {
			v.add(IssueStructure, p, "%s must not be an empty array: leave the element out instead", p)
			return
		}
		_, hasExt := obj["_"+key]
		for i, item := range arr {
			ip := fmt.Sprintf("%s[%d]", p, i)
			if item == nil {
				if !(f.primitive() && hasExt) {
					v.add(IssueStructure, ip, "%s must not be null", ip)
				}
				continue
			}
			v.value(f, item, ip)
		}
		return
	}
	if _, isArr := val.([]any); isArr {
		v.add(IssueStructure, p, "%s must be a single value, not an array (it does not repeat)", p)
		return
	}
	v.value(f, val, p)
}

func (v *validator) primitiveExtension(f *field, val any, path string, sibling any) {
	if f.array {
		arr, ok := val.([]any)
		if !ok {
			v.add(IssueStructure, path, "%s must be an array, matching %s", path, strings.TrimPrefix(path, "_"))
			return
		}
		if sib, ok := sibling.([]any); ok && len(sib) != len(arr) {
			v.add(IssueStructure, path, "%s must have as many entries as the primitive array it extends", path)
		}
		for i, item := range arr {
			if item == nil {
				continue
			}
			v.element(item, fmt.Sprintf("%s[%d]", path, i))
		}
		return
	}
	v.element(val, path)
}

func (v *validator) element(val any, path string) {
	m, ok := val.(map[string]any)
	if !ok {
		v.add(IssueStructure, path, "%s must be an object holding id and/or extension", path)
		return
	}
	for key, item := range m {
		v.member(elementSchema, m, key, item, path)
	}
}

// value validates one (non-array) value of field f.
func (v *validator) value(f *field, val any, path string) {
	switch f.kind {
	case kindString:
		s, ok := val.(string)
		if !ok {
			v.add(IssueStructure, path, "%s must be a JSON string, got %s", path, jsonType(val))
			return
		}
		switch {
		case strings.TrimSpace(s) == "":
			v.add(IssueValue, path, "%s must not be empty or only whitespace: leave the element out instead", path)
		case !utf8.ValidString(s):
			v.add(IssueValue, path, "%s is not valid UTF-8", path)
		case f.prim != primitiveNone:
			if msg := checkPrimitive(f.prim, s); msg != "" {
				v.add(IssueValue, path, "%s %q %s", path, s, msg)
			}
		case f.reference:
			if msg := v.checkReference(s); msg != "" {
				v.add(IssueValue, path, "%s %q %s", path, s, msg)
			}
		case strings.HasPrefix(s, "#") && v.scope != nil:
			v.scope.localRefs[s] = true // a canonical or uri may refer to a contained resource too
		}
	case kindCode:
		s, ok := val.(string)
		if !ok {
			v.add(IssueStructure, path, "%s must be a JSON string holding a code, got %s", path, jsonType(val))
			return
		}
		if _, ok := f.codes[s]; !ok {
			v.add(IssueCodeInvalid, path, "%s has the code %q, which is not in its required value set (allowed: %s)", path, s, f.codeList)
		}
	case kindBool:
		if _, ok := val.(bool); !ok {
			v.add(IssueStructure, path, "%s must be a JSON boolean (true or false), got %s", path, jsonType(val))
		}
	case kindInteger:
		n, ok := val.(json.Number)
		if !ok {
			v.add(IssueStructure, path, "%s must be a JSON number (an integer), got %s", path, jsonType(val))
			return
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil || i > math.MaxInt32 || i < math.MinInt32 {
			v.add(IssueValue, path, "%s must be a 32-bit integer, got %s", path, n)
		}
	case kindDecimal:
		if _, ok := val.(json.Number); !ok {
			v.add(IssueStructure, path, "%s must be a JSON number, got %s", path, jsonType(val))
		}
	case kindComplex:
		m, ok := val.(map[string]any)
		if !ok {
			v.add(IssueStructure, path, "%s must be a JSON object (%s), got %s", path, f.complex.name, jsonType(val))
			return
		}
		if len(m) == 0 {
			v.add(IssueStructure, path, "%s must not be an empty object: leave the element out instead", path)
			return
		}
		for key, item := range m {
			v.member(f.complex, m, key, item, path)
		}
		v.requireds(f.complex, m, path)
	case kindResource:
		v.inlineResource(val, path, true)
	}
}

func jsonType(val any) string {
	switch val.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", val)
}

// suggest names the defined element closest to a misspelt one.
func suggest(s *schema, key string) string {
	best, bestD := "", 3
	names := make([]string, 0, len(s.fields))
	for n := range s.fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if d := editDistance(strings.ToLower(key), strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
