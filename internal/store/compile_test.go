package store

import (
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
)

var update = flag.Bool("update", false, "rewrite the golden files of compiled searches")

// fixedNow anchors the ap tolerance so that golden files do not change with the clock.
var fixedNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func mustCompile(t *testing.T, typ, query string) (*search.Criteria, *compiled) {
	t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := search.Parse(typ, q, search.Options{Strict: true})
	if err != nil {
		t.Fatalf("parse %s?%s: %v", typ, query, err)
	}
	out, err := compileCriteria(c, "", compileOptions{base: "https://fhir.example.org/fhir", now: fixedNow})
	if err != nil {
		t.Fatalf("compile %s?%s: %v", typ, query, err)
	}
	return c, out
}

// TestCompileGolden pins the filter and sort each search compiles to. Run with -update to
// rewrite the files after a deliberate change, and read the diff.
func TestCompileGolden(t *testing.T) {
	cases := []struct{ name, typ, query string }{
		{"string-starts", "Questionnaire", "title=Pati%C3%ABnt+Survey"},
		{"string-exact", "Questionnaire", "name:exact=LUP"},
		{"string-contains", "Questionnaire", "publisher:contains=region"},
		{"string-or", "Questionnaire", "title=a,b"},
		{"token-code", "QuestionnaireResponse", "status=completed"},
		{"token-system-code", "QuestionnaireResponse", "identifier=urn:x|42"},
		{"token-no-system", "QuestionnaireResponse", "identifier=|42"},
		{"token-system-any", "QuestionnaireResponse", "identifier=urn:x|"},
		{"token-not", "QuestionnaireResponse", "status:not=completed,amended"},
		{"token-plain-code-system", "QuestionnaireResponse", "status=|completed,http://hl7.org/fhir/questionnaire-answers-status|amended"},
		{"token-text", "CarePlan", "category:text=heart"},
		{"token-of-type", "QuestionnaireResponse", "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|123"},
		{"token-missing", "CarePlan", "category:missing=true"},
		{"token-and", "CarePlan", "status=active&intent=plan"},
		{"id", "CarePlan", "_id=a,b"},
		{"date-day", "QuestionnaireResponse", "authored=2024-05-03"},
		{"date-year-ne", "QuestionnaireResponse", "authored=ne2024"},
		{"date-month", "QuestionnaireResponse", "authored=2024-05"},
		{"date-minute-ne", "QuestionnaireResponse", "authored=ne2024-05-03T10:15Z"},
		{"date-several-day", "CarePlan", "activity-date=2024-05-03"},
		{"date-several-month", "CarePlan", "activity-date=2024-05"},
		{"date-several-year-ne", "CarePlan", "activity-date=ne2024"},
		{"date-several-minute", "CarePlan", "activity-date=2024-05-03T10:15Z"},
		{"date-several-minute-ne", "CarePlan", "activity-date=ne2024-05-03T10:15Z"},
		{"date-fraction", "QuestionnaireResponse", "authored=2024-05-03T10:00:00.5Z"},
		{"date-gt", "QuestionnaireResponse", "authored=gt2024-05"},
		{"date-range", "QuestionnaireResponse", "authored=ge2024-01-01&authored=lt2025-01-01"},
		{"date-sa-eb", "CarePlan", "date=sa2024&activity-date=eb2025-06"},
		{"date-ap", "QuestionnaireResponse", "authored=ap2025-01-01"},
		{"date-period-eq-zone", "CarePlan", "date=2024-05-03T10:00:00%2B02:00"},
		{"lastupdated", "CarePlan", "_lastUpdated=gt2024-05-03T10:00:00Z"},
		{"lastupdated-day-or", "CarePlan", "_lastUpdated=2024-05-03,lt2024"},
		{"lastupdated-ne-fraction", "CarePlan", "_lastUpdated=ne2024-05-03T10:00:00.1234Z"},
		{"lastupdated-missing", "CarePlan", "_lastUpdated:missing=true"},
		{"id-not-system", "CarePlan", "_id:not=a,|b,urn:x|c"},
		{"reference-typed", "QuestionnaireResponse", "subject=Patient/p1"},
		{"reference-bare-single-target", "QuestionnaireResponse", "patient=p1"},
		{"reference-bare-any", "QuestionnaireResponse", "subject=p1"},
		{"reference-bare-several-targets", "QuestionnaireResponse", "author=p1"},
		{"reference-type-modifier", "QuestionnaireResponse", "subject:Patient=p1"},
		{"reference-absolute-here", "QuestionnaireResponse", "subject=https://fhir.example.org/fhir/Patient/p1"},
		{"reference-absolute-elsewhere", "QuestionnaireResponse", "subject=https://other.example.org/Patient/p1"},
		{"reference-identifier", "QuestionnaireResponse", "subject:identifier=urn:oid:1.2.208.176.1.2|0101011234"},
		{"canonical", "QuestionnaireResponse", "questionnaire=http://example.org/Questionnaire/lup"},
		{"canonical-version", "QuestionnaireResponse", "questionnaire=http://example.org/Questionnaire/lup|2.0"},
		{"uri", "Questionnaire", "url=http://example.org/Questionnaire/lup"},
		{"uri-below", "Questionnaire", "url:below=http://example.org/Questionnaire"},
		{"uri-above", "Questionnaire", "url:above=http://example.org/Questionnaire/lup/x"},
		{"quantity", "Questionnaire", "context-quantity=gt18|http://unitsofmeasure.org|a"},
		{"composite-token", "Questionnaire", "context-type-value=focus$http://snomed.info/sct|49601007"},
		{"composite-quantity", "Questionnaire", "context-type-quantity=age$ge18"},
		{"item-answer", "QuestionnaireResponse", "item-answer=overall.1$1,2"},
		{"item-answer-system", "QuestionnaireResponse", "item-answer=overall.1$https://fhir.patient-involvement.example/CodeSystem/likert-5|1"},
		{"item-answer-number", "QuestionnaireResponse", "item-answer-number=44261-6$ge15"},
		{"item-answer-date", "QuestionnaireResponse", "item-answer-date=visit$2026-03"},
		{"sort-desc", "QuestionnaireResponse", "_sort=-authored"},
		{"sort-multi", "CarePlan", "_sort=status,-date"},
		{"sort-lastupdated", "CarePlan", "_sort=-_lastUpdated"},
		{"sort-reference", "QuestionnaireResponse", "_sort=-subject,questionnaire"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, out := mustCompile(t, tc.typ, tc.query)
			doc := bson.D{
				{Key: "search", Value: tc.typ + "?" + tc.query},
				{Key: "filter", Value: out.filter},
				{Key: "sort", Value: sortDoc(sortFields(c), false)},
				{Key: "checkedInGo", Value: len(out.checks) > 0},
			}
			got, err := bson.MarshalExtJSONIndent(doc, false, false, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "compile", tc.name+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestCompileGolden -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s?%s compiles to\n%s\nwant (from %s)\n%s", tc.typ, tc.query, got, path, want)
			}
		})
	}
}

// sampleValues gives, per parameter type and modifier, queries that reach every branch of
// the compiler for that type.
func sampleValues(d *search.Definition, m search.Modifier) []string {
	if m == search.ModifierMissing {
		return []string{"true", "false"}
	}
	switch d.Type {
	case search.TypeString:
		return []string{"abc"}
	case search.TypeToken:
		switch m {
		case search.ModifierText:
			return []string{"abc"}
		case search.ModifierOfType:
			return []string{"s|c|v"}
		}
		return []string{"c", "s|c", "|c", "s|"}
	case search.TypeURI:
		return []string{"http://x.org/a/b"}
	case search.TypeDate:
		var out []string
		for _, p := range search.AllPrefixes {
			out = append(out, string(p)+"2024-05", string(p)+"2024-05-03T10:00:00.25Z")
		}
		return out
	case search.TypeNumber, search.TypeQuantity:
		var out []string
		for _, p := range search.AllPrefixes {
			out = append(out, string(p)+"5.4", string(p)+"5.4|http://unitsofmeasure.org|a", string(p)+"5||a")
		}
		return out
	case search.TypeReference:
		switch m {
		case search.ModifierIdentifier:
			return []string{"s|v", "v"}
		case search.ModifierType:
			return []string{"x1"}
		}
		if d.Canonical {
			return []string{"http://x.org/Q/a", "http://x.org/Q/a|1.0"}
		}
		target := d.Targets[0]
		if target == "*" {
			target = "Patient"
		}
		return []string{"x1", target + "/x1", "https://fhir.example.org/fhir/" + target + "/x1", "https://else.org/" + target + "/x1"}
	case search.TypeComposite:
		switch d.Components[1].Def.Type {
		case search.TypeQuantity:
			return []string{"a$ge18", "s|a$5.4|http://unitsofmeasure.org|a", "a$ne5"}
		case search.TypeNumber:
			var out []string
			for _, p := range search.AllPrefixes {
				out = append(out, "a$"+string(p)+"5.4")
			}
			return append(out, "a$1,2")
		case search.TypeDate:
			var out []string
			for _, p := range search.AllPrefixes {
				out = append(out, "a$"+string(p)+"2024-05", "a$"+string(p)+"2024-05-03T10:00:00Z")
			}
			return out
		}
		return []string{"a$b", "s|a$s|b", "a$s|", "a$b,c"}
	}
	return nil
}

// indexCovers reports whether a declared index of coll serves a condition on field: the
// field leads a declared index, or a wildcard index covers its path.
func indexCovers(indexes []Index, coll, field string) bool {
	if field == "_id" {
		return true // every collection has its _id index
	}
	for _, ix := range indexes {
		if ix.Collection != coll {
			continue
		}
		if ix.Keys[0].Key == field {
			return true
		}
		if ix.Wildcard() && strings.HasPrefix(field, strings.TrimSuffix(ix.Keys[0].Key, "$**")) {
			return true
		}
	}
	return false
}

// indexSorts reports whether a declared index of coll gives documents in the order sort
// asks for, read forwards or backwards.
func indexSorts(indexes []Index, coll string, sort bson.D) bool {
	if len(sort) == 1 && sort[0].Key == "_id" {
		return true
	}
	for _, ix := range indexes {
		if ix.Collection != coll || len(ix.Keys) != len(sort) {
			continue
		}
		fwd, back := true, true
		for i, k := range ix.Keys {
			if k.Key != sort[i].Key {
				fwd, back = false, false
				break
			}
			d := k.Value.(int)
			s := sort[i].Value.(int)
			fwd = fwd && d == s
			back = back && d == -s
		}
		if fwd || back {
			return true
		}
	}
	return false
}

// TestIndexesServeEverySearch proves that every condition any parameter compiles to, with
// every modifier and prefix, tests only fields a declared index serves, and that every
// single-key _sort (both directions), the default order and the compartment condition are
// served by a declared index. It compares the compiled queries' fields with Indexes().
func TestIndexesServeEverySearch(t *testing.T) {
	st := &Store{registry: fhir.DefaultRegistry()}
	indexes := st.Indexes()
	perColl := map[string]int{}
	for _, ix := range indexes {
		perColl[ix.Collection]++
	}
	for coll, n := range perColl {
		if n > 63 { // MongoDB allows 64 per collection, _id's included
			t.Errorf("%s declares %d indexes; MongoDB allows 63 besides _id", coll, n)
		}
	}
	for _, typ := range search.ResourceTypes() {
		for _, d := range search.Definitions(typ) {
			mods := append([]search.Modifier{search.ModifierNone}, d.Modifiers...)
			for _, m := range mods {
				key := d.Name
				switch m {
				case search.ModifierNone:
				case search.ModifierType:
					if len(d.Targets) == 0 || d.Targets[0] == "*" {
						key += ":Patient"
					} else {
						key += ":" + d.Targets[0]
					}
				default:
					key += ":" + string(m)
				}
				for _, v := range sampleValues(d, m) {
					q := url.Values{key: {v}}
					c, _, err := search.Parse(typ, q, search.Options{Strict: true})
					if err != nil {
						if fhir.IsKind(err, fhir.KindInvalid) && isTerminologyModifier(m) {
							continue
						}
						t.Errorf("%s?%s: parse: %v", typ, q.Encode(), err)
						continue
					}
					out, err := compileCriteria(c, "Patient/p1", compileOptions{now: fixedNow})
					if err != nil {
						if isTerminologyModifier(m) {
							continue
						}
						t.Errorf("%s?%s: compile: %v", typ, q.Encode(), err)
						continue
					}
					if k := duplicateKey(out.filter); k != "" {
						t.Errorf("%s?%s repeats the key %s in one document, which the embedded database cannot take", typ, q.Encode(), k)
					}
					for _, f := range filterFields(out.filter) {
						if !indexCovers(indexes, typ, f) {
							t.Errorf("%s?%s tests %s, which no declared index serves", typ, q.Encode(), f)
						}
					}
				}
			}
			if d.Type == search.TypeComposite {
				continue
			}
			for _, dir := range []string{"", "-"} {
				c, _, err := search.Parse(typ, url.Values{"_sort": {dir + d.Name}}, search.Options{})
				if err != nil {
					t.Fatal(err)
				}
				if s := sortDoc(sortFields(c), false); !indexSorts(indexes, typ, s) {
					t.Errorf("%s?_sort=%s%s sorts by %v, which no declared index serves", typ, dir, d.Name, s)
				}
				if s := sortDoc(sortFields(c), true); !indexSorts(indexes, typ, s) {
					t.Errorf("%s?_sort=%s%s read backwards sorts by %v, which no declared index serves", typ, dir, d.Name, s)
				}
			}
		}
		c, _, _ := search.Parse(typ, url.Values{}, search.Options{})
		if s := sortDoc(sortFields(c), false); !indexSorts(indexes, typ, s) {
			t.Errorf("the default order of %s, %v, is served by no declared index", typ, s)
		}
	}
}

// extJSONWrapper lists extended JSON type wrappers, which are not query operators.
var extJSONWrapper = map[string]bool{"$regularExpression": true, "$date": true, "$numberDouble": true,
	"$numberLong": true, "$numberInt": true, "$options": true, "$pattern": true}

// duplicateKey returns a key that occurs twice in one document of a filter, "" if none.
// (The embedded database drops the connection on such a query.)
func duplicateKey(v any) string {
	switch x := v.(type) {
	case bson.D:
		seen := map[string]bool{}
		for _, e := range x {
			if seen[e.Key] {
				return e.Key
			}
			seen[e.Key] = true
			if k := duplicateKey(e.Value); k != "" {
				return k
			}
		}
	case bson.A:
		for _, y := range x {
			if k := duplicateKey(y); k != "" {
				return k
			}
		}
	}
	return ""
}

func isTerminologyModifier(m search.Modifier) bool {
	switch m {
	case search.ModifierIn, search.ModifierNotIn, search.ModifierAbove, search.ModifierBelow:
		return true
	}
	return false
}

// TestCompileOperators checks that compiled filters use only the operators MongoDB and the
// embedded database both evaluate correctly on the stored shape (see docs on mongo-compat).
func TestCompileOperators(t *testing.T) {
	allowed := map[string]bool{"$eq": true, "$in": true, "$gt": true, "$gte": true, "$lt": true, "$lte": true,
		"$exists": true, "$and": true, "$or": true, "$nor": true}
	opPattern := regexp.MustCompile(`"(\$[a-zA-Z]+)"`)
	for _, typ := range search.ResourceTypes() {
		for _, d := range search.Definitions(typ) {
			for _, m := range append([]search.Modifier{search.ModifierNone}, d.Modifiers...) {
				if m == search.ModifierType || isTerminologyModifier(m) {
					continue
				}
				key := d.Name
				if m != search.ModifierNone {
					key += ":" + string(m)
				}
				for _, v := range sampleValues(d, m) {
					c, _, err := search.Parse(typ, url.Values{key: {v}}, search.Options{Strict: true})
					if err != nil {
						continue
					}
					out, err := compileCriteria(c, "", compileOptions{now: fixedNow})
					if err != nil {
						continue
					}
					js, err := bson.MarshalExtJSON(out.filter, true, false)
					if err != nil {
						t.Fatal(err)
					}
					for _, op := range opPattern.FindAllStringSubmatch(string(js), -1) {
						// $regularExpression and $date are extended JSON type wrappers, not operators.
						if !allowed[op[1]] && !extJSONWrapper[op[1]] {
							t.Errorf("%s?%s=%s uses %s", typ, key, v, op[1])
						}
					}
				}
			}
		}
	}
}
