package store

import (
	"context"
	"encoding/json"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/patient-involvement/fhir-server/fixtures"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// TestStoredIndexRoundTrip checks that search values read back as they were written, in
// one flat document, with lists of one stored as their value alone and longer lists as
// arrays.
func TestStoredIndexRoundTrip(t *testing.T) {
	t0 := time.Date(2024, 5, 3, 10, 15, 30, 123_000_000, time.UTC)
	f := func(x float64) *float64 { return &x }
	ix := search.Index{
		"status":  {K: []string{"|completed"}, C: []string{"completed"}, O: "completed"},
		"subject": {R: []string{"Patient/1", "https://x.org/Patient/1"}, I: []string{"1"}, O: "Patient/1"},
		"title":   {N: []string{"a"}, E: []string{"A"}, O: "a"},
		"url":     {U: []string{"http://x.org/q"}, O: "http://x.org/q"},
		"code":    {K: []string{"s|c"}, C: []string{"c"}, T: []string{"text"}, Y: []string{"s|MR|1"}, O: "c"},
		"date": {Lo: []time.Time{t0, search.MinTime}, Hi: []time.Time{t0.Add(time.Second), search.MaxTime}, D: []string{"Y2024"},
			V: []search.Element{{Lo: t0, Hi: t0.Add(time.Second)}, {Lo: search.MinTime, Hi: search.MaxTime}}, O: t0},
		"authored": {Lo: []time.Time{t0}, Hi: []time.Time{t0.Add(time.Second)}, D: []string{"Y2024", "M2024-05"}, O: t0},
		"quantity": {QLo: []float64{5.35}, QHi: []float64{5.45}, QU: []string{"u|kg"}, QC: []string{"kg"},
			V: []search.Element{{QLo: f(5.35), QHi: f(5.45), XLo: f(5.4), XHi: f(5.4), QU: []string{"u|kg"}, QC: []string{"kg"}}}, O: 5.35},
		"composite": {K: []string{"a", "s|a"}, V: []search.Element{{K: []string{"a", "s|a"}, QLo: f(1), QHi: f(2)}}},
	}
	data, err := bson.Marshal(storedIndex(ix))
	if err != nil {
		t.Fatal(err)
	}
	raw := bson.Raw(data)
	for path, wantArray := range map[string]bool{
		"status:c": false, "subject:r": true, "subject:i": false, "date:lo": true, "authored:lo": false,
		"authored:d": true, "quantity:v": false, "quantity:v.qu": false, "composite:v.k": true,
	} {
		v, err := raw.LookupErr(strings.Split(path, ".")...)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if isArray := v.Type == bson.TypeArray; isArray != wantArray {
			t.Errorf("%s is stored as %s, want an array: %v", path, v.Type, wantArray)
		}
	}
	var got storedIndex
	if err := bson.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	// Sort keys read back as the driver gives them, dates as bson.DateTime.
	for _, v := range ix {
		if tm, ok := v.O.(time.Time); ok {
			v.O = bson.NewDateTimeFromTime(tm)
		}
	}
	if diff := cmp.Diff(ix, search.Index(got)); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
}

// TestStoredFieldsNamed checks that every field of the search values has a bson name, so
// that storedIndex stores it.
func TestStoredFieldsNamed(t *testing.T) {
	for typ, fields := range storedFields {
		if len(fields) != typ.NumField() {
			t.Errorf("%s has %d fields, %d with a bson name", typ, typ.NumField(), len(fields))
		}
	}
	if len(storedFields) != 2 || storedFields[reflect.TypeFor[search.Values]()] == nil {
		t.Error("storedFields does not describe search.Values and search.Element")
	}
}

// TestPresenceFields checks, on every fixture resource and on resultsData, that each
// parameter a resource has a value for has one of its presenceFields, which :missing tests.
func TestPresenceFields(t *testing.T) {
	var resources []struct{ typ, body string }
	for _, typ := range search.ResourceTypes() {
		names, _ := fs.Glob(fixtures.FS(), typ+"/*.json")
		for _, n := range names {
			data, err := fs.ReadFile(fixtures.FS(), n)
			if err != nil {
				t.Fatal(err)
			}
			resources = append(resources, struct{ typ, body string }{typ, string(data)})
		}
	}
	for _, e := range resultsData {
		resources = append(resources, struct{ typ, body string }{e.typ, e.body})
	}
	for _, r := range resources {
		var tree map[string]any
		dec := json.NewDecoder(strings.NewReader(r.body))
		dec.UseNumber()
		if err := dec.Decode(&tree); err != nil {
			t.Fatal(err)
		}
		ix, err := search.Extract(r.typ, tree, search.ExtractOptions{BaseURL: resultsBase})
		if err != nil {
			t.Fatal(err)
		}
		for name, v := range ix {
			d := search.Lookup(r.typ, name)
			raw, err := bson.Marshal(storedIndex{name: v})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, f := range presenceFields(d) {
				if _, err := bson.Raw(raw).LookupErr(name + fieldSep + f); err == nil {
					found = true
				}
			}
			if !found {
				t.Errorf("%s %s has values %+v but none in %v", r.typ, name, v, presenceFields(d))
			}
		}
	}
}

// TestDropStaleSearchIndexes checks that indexes on search values of an earlier stored
// shape are dropped, and that the declared ones and those on other fields are kept.
func TestDropStaleSearchIndexes(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	coll := s.current("QuestionnaireResponse")
	for _, keys := range []bson.D{
		{{Key: "sp.authored.o", Value: 1}, {Key: "_id", Value: 1}},           // stale
		{{Key: spField("authored", "lo"), Value: 1}, {Key: "_id", Value: 1}}, // declared
		{{Key: "del", Value: 1}, {Key: "_id", Value: 1}},                     // declared, not on search values
		{{Key: "other", Value: 1}},                                           // not the store's, not on search values
	} {
		if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: keys}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.dropStaleSearchIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	cur, err := coll.Indexes().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var specs []struct {
		Key bson.D `bson:"key"`
	}
	if err := cur.All(ctx, &specs); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, spec := range specs {
		got = append(got, indexKeyString(spec.Key))
	}
	if slices.Contains(got, "sp.authored.o:1,_id:1") {
		t.Errorf("the stale index is left: %v", got)
	}
	for _, want := range []string{spField("authored", "lo") + ":1,_id:1", "del:1,_id:1", "other:1"} {
		if !slices.Contains(got, want) {
			t.Errorf("index %s was dropped: %v", want, got)
		}
	}
}
