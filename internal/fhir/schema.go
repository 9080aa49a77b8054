package fhir

import (
	"encoding/json"
	"reflect"
	"strings"
	"sync"
)

// valueKind says what JSON a model field holds.
type valueKind uint8

const (
	kindString   valueKind = iota // FHIR string-like primitives: string, uri, code (unbound), date…
	kindBool                      // boolean
	kindInteger                   // integer, positiveInt, unsignedInt
	kindDecimal                   // decimal: any JSON number, kept literally
	kindCode                      // code with a required binding: one of codes
	kindComplex                   // a datatype or backbone element: object with its own fields
	kindResource                  // an inline resource (Bundle.entry.resource, Parameters…)
)

// field describes one element of a model type, derived once from the samply model by reflection.
type field struct {
	name     string
	kind     valueKind
	array    bool
	required bool
	codes    map[string]struct{} // kindCode: the allowed codes
	codeList string              // kindCode: the allowed codes for messages
	complex  *schema             // kindComplex
	// prim is the date or time type of a kindString element, primitiveNone for others.
	prim primitiveType
	// reference marks Reference.reference, whose value must be a reference.
	reference bool
}

// primitive reports whether the element is a FHIR primitive, which may carry `_name` extensions.
func (f *field) primitive() bool { return f.kind != kindComplex && f.kind != kindResource }

// schema is the set of elements a model type (resource, datatype or backbone element) defines.
type schema struct {
	name     string
	fields   map[string]*field
	required []*field
	// choices are the choice elements (value[x]) with two or more types: at most one member
	// may be present, and exactly one when the element is required.
	choices []*choice
	// domainResource is set for resources that may hold contained resources.
	domainResource bool
}

// choice is a choice element such as value[x], seen as its typed members.
type choice struct {
	base     string
	members  []string
	required bool
}

// choiceSuffixes are the FHIR R4 datatype names a choice element's members end in.
var choiceSuffixes = strings.Fields(`Base64Binary Boolean Canonical Code Date DateTime Decimal Id Instant
	Integer Markdown Oid PositiveInt String Time UnsignedInt Uri Url Uuid Address Age Annotation Attachment
	CodeableConcept Coding ContactPoint Count Distance Duration HumanName Identifier Money Period Quantity
	Range Ratio Reference SampledData Signature Timing ContactDetail Contributor DataRequirement Expression
	ParameterDefinition RelatedArtifact TriggerDefinition UsageContext Dosage Meta`)

// choiceBase returns the element name a typed choice member belongs to ("value" for
// "valueQuantity"), or "" when name does not end in a datatype name.
func choiceBase(name string) string {
	best := ""
	for _, suf := range choiceSuffixes {
		if len(name) > len(suf) && strings.HasSuffix(name, suf) && len(suf) > len(best) {
			best = suf
		}
	}
	if best == "" {
		return ""
	}
	return name[:len(name)-len(best)]
}

var (
	schemaMu    sync.Mutex
	schemaCache = map[reflect.Type]*schema{}

	typeRawMessage = reflect.TypeFor[json.RawMessage]()
	typeNumber     = reflect.TypeFor[json.Number]()
	typeCoder      = reflect.TypeFor[interface{ Code() string }]()
)

// schemaFor returns the schema of a samply model struct type, building and caching it.
func schemaFor(t reflect.Type) *schema {
	schemaMu.Lock()
	defer schemaMu.Unlock()
	return buildSchema(t)
}

func buildSchema(t reflect.Type) *schema {
	if s, ok := schemaCache[t]; ok {
		return s
	}
	s := &schema{name: t.Name(), fields: map[string]*field{}}
	schemaCache[t] = s // before recursing: the models are recursive (Extension, items)
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "" || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		f := &field{name: name}
		ft := sf.Type
		optional := strings.Contains(opts, "omitempty")
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
			optional = true
		}
		if ft.Kind() == reflect.Slice && ft != typeRawMessage {
			f.array = true
			ft = ft.Elem()
		}
		f.required = !optional
		switch {
		case ft == typeRawMessage:
			f.kind = kindResource
		case ft == typeNumber:
			f.kind = kindDecimal
		case ft.Kind() == reflect.Int && ft.Implements(typeCoder):
			f.kind = kindCode
			f.codes = map[string]struct{}{}
			var list []string
			for v := 0; v < 10000; v++ {
				c := reflect.ValueOf(v).Convert(ft).Interface().(interface{ Code() string }).Code()
				if c == "<unknown>" {
					break
				}
				f.codes[c] = struct{}{}
				list = append(list, c)
			}
			f.codeList = strings.Join(list, ", ")
		case ft.Kind() == reflect.String:
			f.kind = kindString
			f.prim = primitiveTypes[t.Name()][name]
			f.reference = t.Name() == "Reference" && name == "reference"
		case ft.Kind() == reflect.Bool:
			f.kind = kindBool
		case ft.Kind() == reflect.Int || ft.Kind() == reflect.Int64:
			f.kind = kindInteger
		case ft.Kind() == reflect.Struct:
			f.kind = kindComplex
			f.complex = buildSchema(ft)
		default:
			panic("fhir: model field " + t.Name() + "." + sf.Name + " has an unexpected type " + ft.String())
		}
		s.fields[name] = f
		if f.required {
			s.required = append(s.required, f)
		}
	}
	groups := map[string][]*field{}
	var bases []string
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		f := s.fields[name]
		if f == nil {
			continue
		}
		if base := choiceBase(name); base != "" && !f.array { // choice elements never repeat
			if groups[base] == nil {
				bases = append(bases, base)
			}
			groups[base] = append(groups[base], f)
		}
	}
	for _, base := range bases {
		members := groups[base]
		if len(members) < 2 {
			continue
		}
		c := &choice{base: base, required: true}
		for _, f := range members {
			c.members = append(c.members, f.name)
			c.required = c.required && f.required
			f.required = false
		}
		s.choices = append(s.choices, c)
	}
	s.required = s.required[:0]
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if f := s.fields[name]; f != nil && f.required {
			s.required = append(s.required, f)
		}
	}
	if text, ok := s.fields["text"]; ok && text.complex != nil && text.complex.name == "Narrative" {
		s.domainResource = true
	}
	return s
}

// elementSchema is what `_name` holds for a primitive: the Element base type (id, extension).
var elementSchema = &schema{name: "Element", fields: map[string]*field{
	"id":        {name: "id", kind: kindString},
	"extension": schemaFor(modelTypes["Basic"]).fields["extension"],
}}

// ElementRepeats reports whether the element that path names (member names from the
// resource's root, array positions left out) repeats in resources of type typ; known is
// false when typ or the path is not an element of its definition.
func ElementRepeats(typ string, path []string) (repeats, known bool) {
	t, ok := modelTypes[typ]
	if !ok || len(path) == 0 {
		return false, false
	}
	s := schemaFor(t)
	for i, name := range path {
		if s == nil {
			return false, false
		}
		f, ok := s.fields[name]
		if !ok {
			return false, false
		}
		if i == len(path)-1 {
			return f.array, true
		}
		s = f.complex
	}
	return false, false
}
