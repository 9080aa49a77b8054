package patch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/gofhir/fhirpath"
	"github.com/gofhir/fhirpath/types"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/pathexpr"
)

// locKey is the member added to every object of a copy of the resource before a path is
// evaluated on it: its JSON Pointer, by which the objects a path selects are found again
// in the stored bytes.
const locKey = "__patch_location"

// operation is one operation of a FHIRPath Patch.
type operation struct {
	n           int
	typ         string
	path        string
	compiled    *fhirpath.Expression // path, compiled
	name        string
	value       json.RawMessage
	index       *int
	source      *int
	destination *int
}

// FHIRPathPatch returns a Patcher applying the FHIRPath Patch in params, a Parameters
// resource with one "operation" parameter per operation (fhirpatch.html).
func FHIRPathPatch(params []byte) (fhir.Patcher, error) {
	ops, err := readOperations(params)
	if err != nil {
		return nil, err
	}
	return func(current []byte) ([]byte, error) {
		doc := current
		for _, o := range ops {
			var err error
			if doc, err = o.apply(doc); err != nil {
				return nil, err
			}
		}
		return doc, nil
	}, nil
}

func readOperations(body []byte) ([]operation, error) {
	var p struct {
		ResourceType string                       `json:"resourceType"`
		Parameter    []map[string]json.RawMessage `json:"parameter"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "The FHIRPath Patch body is not valid JSON: %v", err)
	}
	if p.ResourceType != "Parameters" {
		return nil, fhir.Errorf(fhir.KindInvalid, "A PATCH with a FHIR JSON body must send a Parameters resource (FHIRPath Patch), not %q; or send JSON Patch as %s", p.ResourceType, MediaJSONPatch)
	}
	if len(p.Parameter) == 0 {
		return nil, fhir.Errorf(fhir.KindInvalid, "The FHIRPath Patch holds no operation parameter")
	}
	var ops []operation
	for i, raw := range p.Parameter {
		at := fmt.Sprintf("Parameters.parameter[%d]", i)
		var name string
		_ = json.Unmarshal(raw["name"], &name)
		if name != "operation" {
			return nil, fhir.Errorf(fhir.KindInvalid, "Parameter %d is named %q: a FHIRPath Patch holds only parameters named \"operation\"", i, name).At(at)
		}
		var parts []map[string]json.RawMessage
		if err := json.Unmarshal(raw["part"], &parts); err != nil || len(parts) == 0 {
			return nil, fhir.Errorf(fhir.KindInvalid, "Operation %d has no parts: give its type, path and what else it needs", i).At(at)
		}
		o := operation{n: i}
		for _, part := range parts {
			var pn string
			_ = json.Unmarshal(part["name"], &pn)
			switch pn {
			case "type":
				_ = json.Unmarshal(part["valueCode"], &o.typ)
			case "path":
				_ = json.Unmarshal(part["valueString"], &o.path)
			case "name":
				_ = json.Unmarshal(part["valueString"], &o.name)
			case "index", "source", "destination":
				var n int
				if err := json.Unmarshal(part["valueInteger"], &n); err != nil || n < 0 {
					return nil, fhir.Errorf(fhir.KindInvalid, "Operation %d: %s must be a valueInteger of 0 or more", i, pn).At(at)
				}
				switch pn {
				case "index":
					o.index = &n
				case "source":
					o.source = &n
				default:
					o.destination = &n
				}
			case "value":
				v, err := partValue(part)
				if err != nil {
					return nil, fhir.Errorf(fhir.KindInvalid, "Operation %d: %v", i, err).At(at)
				}
				o.value = v
			default:
				return nil, fhir.Errorf(fhir.KindInvalid, "Operation %d has a part named %q: use type, path, name, value, index, source or destination", i, pn).At(at)
			}
		}
		if err := o.check(); err != nil {
			return nil, fhir.Errorf(fhir.KindInvalid, "Operation %d (%s): %v", i, o.typ, err).At(at)
		}
		compiled, err := pathexpr.Compile(o.path)
		if err != nil {
			return nil, fhir.Errorf(fhir.KindInvalid, "Operation %d: the path %q is not a FHIRPath expression: %v", i, o.path, err).At(at)
		}
		o.compiled = compiled
		ops = append(ops, o)
	}
	return ops, nil
}

// partValue is the JSON of a "value" part: its value[x], or an object made of its own parts
// (for elements with no datatype of their own, such as backbone elements).
func partValue(part map[string]json.RawMessage) (json.RawMessage, error) {
	for k, v := range part {
		if strings.HasPrefix(k, "value") && len(k) > len("value") {
			return v, nil
		}
	}
	var sub []map[string]json.RawMessage
	if err := json.Unmarshal(part["part"], &sub); err != nil || len(sub) == 0 {
		return nil, fmt.Errorf("the value part has neither a value[x] nor parts")
	}
	var out bytes.Buffer
	out.WriteByte('{')
	seen := map[string][]json.RawMessage{}
	var order []string
	for _, s := range sub {
		var name string
		_ = json.Unmarshal(s["name"], &name)
		if name == "" {
			return nil, fmt.Errorf("a part of the value has no name")
		}
		v, err := partValue(s)
		if err != nil {
			return nil, err
		}
		if _, ok := seen[name]; !ok {
			order = append(order, name)
		}
		seen[name] = append(seen[name], v)
	}
	for i, name := range order {
		if i > 0 {
			out.WriteByte(',')
		}
		k, _ := json.Marshal(name)
		out.Write(k)
		out.WriteByte(':')
		vs := seen[name]
		if len(vs) == 1 {
			out.Write(vs[0])
			continue
		}
		out.WriteByte('[')
		for j, v := range vs {
			if j > 0 {
				out.WriteByte(',')
			}
			out.Write(v)
		}
		out.WriteByte(']')
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

func (o *operation) check() error {
	if o.path == "" {
		return fmt.Errorf("no path")
	}
	need := func(what string, ok bool) error {
		if !ok {
			return fmt.Errorf("needs %s", what)
		}
		return nil
	}
	switch o.typ {
	case "add":
		if err := need("a name", o.name != ""); err != nil {
			return err
		}
		return need("a value", o.value != nil)
	case "insert":
		if err := need("an index", o.index != nil); err != nil {
			return err
		}
		return need("a value", o.value != nil)
	case "delete":
		return nil
	case "replace":
		return need("a value", o.value != nil)
	case "move":
		if err := need("a source", o.source != nil); err != nil {
			return err
		}
		return need("a destination", o.destination != nil)
	case "":
		return fmt.Errorf("no type: use add, insert, delete, replace or move")
	}
	return fmt.Errorf("the type %q is not one of add, insert, delete, replace, move", o.typ)
}

// place is an element a path selected: its JSON Pointer, and where it sits.
type place struct {
	ptr    string
	parent string // pointer of the object holding it
	name   string // its member name in parent
	index  int    // its position in the member's array, -1 when not in one
}

func (o *operation) failf(format string, args ...any) error {
	return fhir.Errorf(fhir.KindUnprocessable, "FHIRPath Patch operation %d (%s %s): %s", o.n, o.typ, o.path, fmt.Sprintf(format, args...))
}

func (o *operation) apply(doc []byte) ([]byte, error) {
	tree, err := decode(doc)
	if err != nil {
		return nil, err
	}
	root, _ := tree.(map[string]any)
	rtype, _ := root["resourceType"].(string)
	marked, err := json.Marshal(mark(tree, ""))
	if err != nil {
		return nil, fhir.Wrap(err, "mark resource")
	}
	var ops []op
	switch o.typ {
	case "add":
		ps, err := o.places(marked, tree)
		if err != nil {
			return nil, err
		}
		if len(ps) != 1 {
			return nil, o.failf("the path selects %d elements; add needs exactly one", len(ps))
		}
		target, ok := lookup(tree, ps[0].ptr).(map[string]any)
		if !ok {
			return nil, o.failf("the path selects a primitive value; add needs an element that holds others")
		}
		member := ps[0].ptr + "/" + pointerToken(o.name)
		switch existing := target[o.name].(type) {
		case []any:
			ops = append(ops, op{Op: "add", Path: member + "/-", Value: o.value})
		case nil:
			repeats, _ := fhir.ElementRepeats(rtype, schemaPath(member))
			v := o.value
			if repeats {
				v = append(append([]byte{'['}, v...), ']')
			}
			ops = append(ops, op{Op: "add", Path: member, Value: v})
		default:
			_ = existing
			return nil, o.failf("%s already has a %s, which does not repeat: use replace", o.path, o.name)
		}
	case "insert", "move":
		arr, n, err := o.list(marked, tree)
		if err != nil {
			return nil, err
		}
		if o.typ == "insert" {
			if *o.index > n {
				return nil, o.failf("index %d is past the end of the list (%d elements)", *o.index, n)
			}
			ops = append(ops, op{Op: "add", Path: arr + "/" + strconv.Itoa(*o.index), Value: o.value})
			ops = append(ops, o.siblingInsert(tree, arr, *o.index)...)
			break
		}
		if *o.source >= n || *o.destination >= n {
			return nil, o.failf("source %d and destination %d must both be within the list (%d elements)", *o.source, *o.destination, n)
		}
		from, to := arr+"/"+strconv.Itoa(*o.source), arr+"/"+strconv.Itoa(*o.destination)
		ops = append(ops, op{Op: "move", From: from, Path: to})
		if sib := siblingOf(arr); sib != "" {
			if _, ok := lookup(tree, sib).([]any); ok {
				ops = append(ops, op{Op: "move", From: sib + "/" + strconv.Itoa(*o.source), Path: sib + "/" + strconv.Itoa(*o.destination)})
			}
		}
	case "delete", "replace":
		ps, err := o.places(marked, tree)
		if err != nil {
			return nil, err
		}
		if len(ps) > 1 {
			return nil, o.failf("the path selects %d elements; %s changes exactly one", len(ps), o.typ)
		}
		if len(ps) == 0 {
			if o.typ == "delete" {
				return doc, nil // nothing to delete
			}
			return nil, o.failf("the path selects nothing to replace")
		}
		p := ps[0]
		if o.typ == "replace" {
			ops = append(ops, op{Op: "replace", Path: p.ptr, Value: o.value})
			break
		}
		ops = append(ops, op{Op: "remove", Path: p.ptr})
		// The primitive's extensions go with it.
		sib := p.parent + "/_" + pointerToken(p.name)
		if p.index < 0 {
			if lookup(tree, sib) != nil {
				ops = append(ops, op{Op: "remove", Path: sib})
			}
		} else if sa, ok := lookup(tree, sib).([]any); ok && p.index < len(sa) {
			ops = append(ops, op{Op: "remove", Path: sib + "/" + strconv.Itoa(p.index)})
		}
		// An array left empty is no valid FHIR: remove it.
		if p.index >= 0 {
			if a, ok := lookup(tree, p.parent+"/"+pointerToken(p.name)).([]any); ok && len(a) == 1 {
				ops = append(ops[:0], op{Op: "remove", Path: p.parent + "/" + pointerToken(p.name)})
				if lookup(tree, sib) != nil {
					ops = append(ops, op{Op: "remove", Path: sib})
				}
			}
		}
	}
	return applyOps(doc, ops)
}

// siblingInsert keeps a primitive array's extensions array (`_name`) in step with an insert.
func (o *operation) siblingInsert(tree any, arr string, at int) []op {
	sib := siblingOf(arr)
	if sib == "" {
		return nil
	}
	if _, ok := lookup(tree, sib).([]any); !ok {
		return nil
	}
	return []op{{Op: "add", Path: sib + "/" + strconv.Itoa(at), Value: json.RawMessage("null")}}
}

// siblingOf is the pointer of the `_name` member beside the member at ptr ("" at the root).
func siblingOf(ptr string) string {
	i := strings.LastIndexByte(ptr, '/')
	if i < 0 {
		return ""
	}
	return ptr[:i] + "/_" + ptr[i+1:]
}

// list resolves the path of insert and move to a list: the pointer of its array and its
// length. The path selects the list's elements (none, for an empty list of insert).
func (o *operation) list(marked []byte, tree any) (string, int, error) {
	ps, err := o.places(marked, tree)
	if err != nil {
		return "", 0, err
	}
	if len(ps) == 0 {
		return "", 0, o.failf("the path selects no list")
	}
	arr := ps[0].parent + "/" + pointerToken(ps[0].name)
	for _, p := range ps {
		if p.index < 0 || p.parent+"/"+pointerToken(p.name) != arr {
			return "", 0, o.failf("the path does not select the elements of one list")
		}
	}
	a, _ := lookup(tree, arr).([]any)
	return arr, len(a), nil
}

// memberPath splits an expression ending in a member name, optionally indexed: "X.name",
// "X.name[2]".
var memberPath = regexp.MustCompile(`^(.+)\.([A-Za-z][A-Za-z0-9_]*)(?:\[(\d+)\])?$`)

// places finds the elements the path selects. Objects carry their pointer; primitives are
// found through the object holding them.
func (o *operation) places(marked []byte, tree any) ([]place, error) {
	res, err := pathexpr.Evaluate(o.compiled, marked)
	if err != nil {
		return nil, o.failf("the path cannot be evaluated: %v", err)
	}
	var out []place
	allObjects := true
	for _, v := range res {
		ptr, ok := locationOf(v)
		if !ok {
			allObjects = false
			break
		}
		out = append(out, placeOf(ptr))
	}
	if allObjects {
		if len(out) > 0 || !memberPath.MatchString(o.path) {
			return out, nil
		}
	}
	m := memberPath.FindStringSubmatch(o.path)
	if m == nil {
		return nil, o.failf("the path selects primitive values; end it with the name of the element to change")
	}
	parent, err := pathexpr.Compile(m[1])
	if err != nil {
		return nil, o.failf("the path cannot be evaluated: %v", err)
	}
	parents, err := pathexpr.Evaluate(parent, marked)
	if err != nil {
		return nil, o.failf("the path cannot be evaluated: %v", err)
	}
	out = out[:0]
	for _, v := range parents {
		pptr, ok := locationOf(v)
		if !ok {
			return nil, o.failf("%s selects primitive values, which hold no %s", m[1], m[2])
		}
		obj, _ := lookup(tree, pptr).(map[string]any)
		name := memberName(obj, m[2])
		val, present := obj[name]
		if !present {
			continue
		}
		base := pptr + "/" + pointerToken(name)
		if arr, ok := val.([]any); ok {
			if m[3] != "" {
				i, _ := strconv.Atoi(m[3])
				if i < len(arr) {
					out = append(out, place{ptr: base + "/" + strconv.Itoa(i), parent: pptr, name: name, index: i})
				}
				continue
			}
			for i := range arr {
				out = append(out, place{ptr: base + "/" + strconv.Itoa(i), parent: pptr, name: name, index: i})
			}
			continue
		}
		if m[3] == "" || m[3] == "0" {
			out = append(out, place{ptr: base, parent: pptr, name: name, index: -1})
		}
	}
	return out, nil
}

// memberName is the member of obj that the FHIRPath name selects: the name itself, or a
// choice element's typed member (value → valueQuantity).
func memberName(obj map[string]any, name string) string {
	if _, ok := obj[name]; ok {
		return name
	}
	for k := range obj {
		if len(k) > len(name) && strings.HasPrefix(k, name) && k[len(name)] >= 'A' && k[len(name)] <= 'Z' {
			return k
		}
	}
	return name
}

func locationOf(v types.Value) (string, bool) {
	o, ok := v.(*types.ObjectValue)
	if !ok {
		return "", false
	}
	l, ok := o.Get(locKey)
	if !ok {
		return "", false
	}
	return l.String(), true
}

// placeOf describes the element at ptr.
func placeOf(ptr string) place {
	toks := strings.Split(ptr, "/")
	p := place{ptr: ptr, index: -1}
	if len(toks) < 2 {
		return p
	}
	last := toks[len(toks)-1]
	if i, err := strconv.Atoi(last); err == nil && len(toks) >= 3 {
		p.index = i
		p.name = unescape(toks[len(toks)-2])
		p.parent = strings.Join(toks[:len(toks)-2], "/")
		return p
	}
	p.name = unescape(last)
	p.parent = strings.Join(toks[:len(toks)-1], "/")
	return p
}

func unescape(tok string) string { return pointerUnescaper.Replace(tok) }

// schemaPath is the element path of a pointer: its member names without array positions.
func schemaPath(ptr string) []string {
	var out []string
	for _, t := range strings.Split(ptr, "/")[1:] {
		if _, err := strconv.Atoi(t); err == nil {
			continue
		}
		out = append(out, unescape(t))
	}
	return out
}

func decode(doc []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, fhir.Wrap(err, "decode stored resource")
	}
	return tree, nil
}

// mark returns a copy of v in which every object holds its JSON Pointer under locKey.
func mark(v any, ptr string) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t)+1)
		for k, c := range t {
			out[k] = mark(c, ptr+"/"+pointerToken(k))
		}
		out[locKey] = ptr
		return out
	case []any:
		out := make([]any, len(t))
		for i, c := range t {
			out[i] = mark(c, ptr+"/"+strconv.Itoa(i))
		}
		return out
	}
	return v
}

// lookup returns the value at a JSON Pointer in tree, nil when there is none.
func lookup(tree any, ptr string) any {
	if ptr == "" {
		return tree
	}
	cur := tree
	for _, t := range strings.Split(ptr, "/")[1:] {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[unescape(t)]
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}
