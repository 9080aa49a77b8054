package store

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/patient-involvement/fhir-server/internal/search"
)

// storedIndex is how a resource's search values are stored (the "sp" sub-document): one
// flat document with a field per field of each parameter's search.Values, named
// "param:field" by the field's bson name ("status:c", "authored:lo"), and a list of one
// value stored as that value alone rather than as an array of one.
//
// Both make the document smaller than one sub-document per parameter holding arrays, and a
// condition on a field means the same (on an array, MongoDB and the embedded database test
// each element). In the embedded database every sub-document, array and array element gets
// a type entry of its own in the row's schema, so most of the saving is there. Decoding
// gives back the search.Index, reading a single value where a list is expected as a list
// of one.
type storedIndex search.Index

// fieldSep separates a parameter's name from its field's in the stored search values.
// Parameter names have none.
const fieldSep = ":"

// MarshalBSON implements bson.Marshaler.
func (ix storedIndex) MarshalBSON() ([]byte, error) {
	names := make([]string, 0, len(ix))
	for name, v := range ix {
		if v != nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var d bson.D
	for _, name := range names {
		for _, e := range encodeStruct(reflect.ValueOf(ix[name]).Elem()) {
			d = append(d, bson.E{Key: name + fieldSep + e.Key, Value: e.Value})
		}
	}
	return bson.Marshal(d)
}

// UnmarshalBSON implements bson.Unmarshaler.
func (ix *storedIndex) UnmarshalBSON(data []byte) error {
	elems, err := bson.Raw(data).Elements()
	if err != nil {
		return err
	}
	out := storedIndex{}
	fields := storedFields[reflect.TypeFor[search.Values]()]
	for _, e := range elems {
		name, field, ok := strings.Cut(e.Key(), fieldSep)
		if !ok {
			return fmt.Errorf("search values: %q names no parameter and field", e.Key())
		}
		v := out[name]
		if v == nil {
			v = new(search.Values)
			out[name] = v
		}
		if err := decodeField(fields, reflect.ValueOf(v).Elem(), field, e.Value()); err != nil {
			return fmt.Errorf("search values %s: %w", e.Key(), err)
		}
	}
	*ix = out
	return nil
}

var timeType = reflect.TypeFor[time.Time]()

// structField is a field of a stored struct: its index and bson name.
type structField struct {
	index int
	name  string
}

// fieldsOf lists the fields of a struct type that have a bson name.
func fieldsOf(t reflect.Type) []structField {
	var out []structField
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("bson"), ",")
		if name != "" && name != "-" {
			out = append(out, structField{i, name})
		}
	}
	return out
}

// storedFields are the fields of the structs search values are made of, by type.
var storedFields = map[reflect.Type][]structField{
	reflect.TypeFor[search.Values]():  fieldsOf(reflect.TypeFor[search.Values]()),
	reflect.TypeFor[search.Element](): fieldsOf(reflect.TypeFor[search.Element]()),
}

// encodeStruct encodes a search.Values or search.Element, leaving out empty fields (as
// omitempty does, and zero times too).
func encodeStruct(v reflect.Value) bson.D {
	var d bson.D
	for _, f := range storedFields[v.Type()] {
		fv := v.Field(f.index)
		if isEmptyValue(fv) {
			continue
		}
		d = append(d, bson.E{Key: f.name, Value: encodeValue(fv)})
	}
	return d
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice:
		return v.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	}
	if v.Type() == timeType {
		return v.Interface().(time.Time).IsZero()
	}
	return v.IsZero()
}

// encodeValue encodes one field: a list of one as its value, longer lists as arrays.
func encodeValue(v reflect.Value) any {
	switch {
	case v.Kind() == reflect.Slice:
		if v.Len() == 1 {
			return encodeValue(v.Index(0))
		}
		a := make(bson.A, v.Len())
		for i := range a {
			a[i] = encodeValue(v.Index(i))
		}
		return a
	case v.Kind() == reflect.Struct && v.Type() != timeType:
		return encodeStruct(v)
	case v.Kind() == reflect.Pointer:
		return encodeValue(v.Elem())
	}
	return v.Interface()
}

// decodeStruct decodes doc into the search.Values or search.Element v, reading a single
// value where a list is expected as a list of one. Unknown fields are ignored.
func decodeStruct(doc bson.Raw, v reflect.Value) error {
	elems, err := doc.Elements()
	if err != nil {
		return err
	}
	fields := storedFields[v.Type()]
	for _, e := range elems {
		if err := decodeField(fields, v, e.Key(), e.Value()); err != nil {
			return fmt.Errorf("%s: %w", e.Key(), err)
		}
	}
	return nil
}

// decodeField decodes rv into the field of v named name among fields (v's storedFields);
// a name v has no field of is ignored.
func decodeField(fields []structField, v reflect.Value, name string, rv bson.RawValue) error {
	for _, f := range fields {
		if f.name == name {
			return decodeValue(rv, v.Field(f.index))
		}
	}
	return nil
}

func decodeValue(rv bson.RawValue, v reflect.Value) error {
	switch {
	case v.Kind() == reflect.Slice:
		if rv.Type != bson.TypeArray {
			s := reflect.MakeSlice(v.Type(), 1, 1)
			if err := decodeValue(rv, s.Index(0)); err != nil {
				return err
			}
			v.Set(s)
			return nil
		}
		vals, err := rv.Array().Values()
		if err != nil {
			return err
		}
		s := reflect.MakeSlice(v.Type(), len(vals), len(vals))
		for i, x := range vals {
			if err := decodeValue(x, s.Index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case v.Kind() == reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if err := decodeValue(rv, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case v.Type() == timeType:
		if t, ok := rv.TimeOK(); ok {
			v.Set(reflect.ValueOf(t.UTC()))
			return nil
		}
	case v.Kind() == reflect.String:
		if s, ok := rv.StringValueOK(); ok {
			v.SetString(s)
			return nil
		}
	case v.Kind() == reflect.Float64:
		if f, ok := rv.DoubleOK(); ok {
			v.SetFloat(f)
			return nil
		}
	case v.Kind() == reflect.Struct:
		doc, ok := rv.DocumentOK()
		if !ok {
			return fmt.Errorf("a %s where a document belongs", rv.Type)
		}
		return decodeStruct(doc, v)
	}
	return rv.Unmarshal(v.Addr().Interface())
}

// dropStaleSearchIndexes drops the indexes on search values that Indexes no longer
// declares: those made for an earlier shape of the stored values (sort keys that moved,
// fields stored under other names). MongoDB would otherwise keep them up to date on every
// write, for no search.
func (s *Store) dropStaleSearchIndexes(ctx context.Context) error {
	declared := map[string]bool{}
	for _, ix := range s.Indexes() {
		if ix.onSearchValues() {
			declared[ix.Collection+" "+indexKeyString(ix.Keys)] = true
		}
	}
	for _, t := range s.registry.Types() {
		coll := s.current(t.Name)
		cur, err := coll.Indexes().List(ctx)
		if err != nil {
			return fmt.Errorf("list the indexes of %s: %w", t.Name, err)
		}
		var specs []struct {
			Name string `bson:"name"`
			Key  bson.D `bson:"key"`
		}
		if err := cur.All(ctx, &specs); err != nil {
			return fmt.Errorf("list the indexes of %s: %w", t.Name, err)
		}
		for _, spec := range specs {
			if len(spec.Key) == 0 || !(Index{Keys: spec.Key}).onSearchValues() || declared[t.Name+" "+indexKeyString(spec.Key)] {
				continue
			}
			if err := coll.Indexes().DropOne(ctx, spec.Name); err != nil {
				return fmt.Errorf("drop the index %s of %s: %w", spec.Name, t.Name, err)
			}
		}
	}
	return nil
}

// indexKeyString writes index keys as "field:direction,…", whatever number type the
// database gives the directions in.
func indexKeyString(keys bson.D) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := k.Value
		switch n := v.(type) {
		case int32:
			v = int64(n)
		case int:
			v = int64(n)
		case float64:
			v = int64(n)
		}
		parts[i] = fmt.Sprintf("%s:%v", k.Key, v)
	}
	return strings.Join(parts, ",")
}
