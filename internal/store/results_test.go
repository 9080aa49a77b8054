package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/fixtures"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/generate"
	"github.com/patient-involvement/fhir-server/internal/search"
	"github.com/patient-involvement/fhir-server/internal/store/storetest"
)

// resultsBase is the base URL the result tests configure and search with.
const resultsBase = "https://fhir.example.org/fhir"

// resultsData are hand-written resources with the shapes the fixtures and generated data
// lack: references of unusual types, absolute, contained and versioned references, codes
// without a system, several values of one parameter, open periods, timings, partial and
// fractional dates, quantities and ranges, and the audit events the server writes.
var resultsData = []struct{ typ, id, body string }{
	{"QuestionnaireResponse", "edge-qr-1", `{"resourceType":"QuestionnaireResponse","status":"amended",
		"identifier":{"value":"no-system"},"subject":{"reference":"Foo/p1"},"author":{"reference":"Group/p1"},
		"source":{"reference":"` + resultsBase + `/Patient/p1"},"encounter":{"reference":"https://other.example.org/Encounter/e1"},
		"basedOn":[{"reference":"CarePlan/cp1/_history/2"},{"reference":"ServiceRequest/p1"}],"partOf":[{"reference":"#x"}],
		"questionnaire":"http://example.org/Questionnaire/q|2.0","authored":"2025-02"}`},
	{"QuestionnaireResponse", "edge-qr-2", `{"resourceType":"QuestionnaireResponse","status":"completed",
		"subject":{"reference":"Patient/p1","identifier":{"system":"urn:oid:1.2.3","value":"0101"}},"author":{"reference":"Patient/p1"},
		"source":{"reference":"RelatedPerson/rp1"},"questionnaire":"http://example.org/Questionnaire/q",
		"authored":"2025-03-04T10:15:30.1234+01:00","meta":{"tag":[{"code":"bare"},{"system":"urn:s","code":"bare"}],
		"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}],"profile":["http://example.org/p/a"],
		"source":"urn:uuid:1"}}`},
	{"QuestionnaireResponse", "edge-qr-3", `{"resourceType":"QuestionnaireResponse","status":"in-progress",
		"subject":{"reference":"urn:uuid:8f3d"},"author":{"identifier":{"value":"only-identifier"}},"authored":"2025-03-04"}`},
	{"CarePlan", "edge-cp-1", `{"resourceType":"CarePlan","status":"active","intent":"plan",
		"subject":{"reference":"Group/g1"},"period":{"start":"2025-01-10"},
		"category":[{"coding":[{"code":"x"},{"system":"urn:c","code":"x","display":"Heart"}],"text":"Cardiac care"},{"text":"only text"}],
		"identifier":[{"system":"urn:i","value":"1","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]}},{"value":"2"}],
		"activity":[{"detail":{"status":"scheduled","code":{"coding":[{"system":"http://snomed.info/sct","code":"229065009"}]},
			"scheduledTiming":{"event":["2025-02-01T09:00:00Z","2025-02-03T09:00:00Z"]},"performer":[{"reference":"Device/d1"},{"reference":"Patient/g1"}]}},
			{"detail":{"status":"scheduled","scheduledPeriod":{"start":"2025-02-02","end":"2025-02-02"}}},
			{"detail":{"status":"scheduled","scheduledString":"every day"}},
			{"reference":{"reference":"Appointment/a1"}}],
		"instantiatesCanonical":["http://example.org/PlanDefinition/pd|1"],"instantiatesUri":["http://example.org/guide/a/b"],
		"addresses":[{"reference":"Condition/c1"}],"goal":[{"reference":"Goal/g1"}],"careTeam":[{"reference":"CareTeam/ct1"}],
		"partOf":[{"reference":"CarePlan/edge-cp-2"}],"replaces":[{"reference":"CarePlan/edge-cp-2"}],"basedOn":[{"reference":"CarePlan/edge-cp-2"}],
		"encounter":{"reference":"Encounter/e1"}}`},
	{"CarePlan", "edge-cp-2", `{"resourceType":"CarePlan","status":"completed","intent":"order",
		"subject":{"reference":"Patient/p1"},"period":{"end":"2025-06-30T12:00:00+02:00"},
		"activity":[{"detail":{"status":"completed","scheduledTiming":{"repeat":{"boundsPeriod":{"start":"2025-04-01","end":"2025-04-30"}}}}}]}`},
	{"Questionnaire", "edge-q-1", `{"resourceType":"Questionnaire","status":"active","url":"http://example.org/Questionnaire/q",
		"version":"2.0","name":"EdgeQ","title":"Édge Quéstionnaire","publisher":"Region North","description":"Tests the edges",
		"date":"2025-01","effectivePeriod":{"start":"2025-01-01","end":"2025-12-31"},"subjectType":["Patient","Group"],
		"identifier":[{"system":"urn:q","value":"q1"}],"jurisdiction":[{"coding":[{"system":"urn:iso:std:iso:3166","code":"DK"}]}],
		"code":[{"system":"http://loinc.org","code":"44249-1"},{"code":"local"}],
		"useContext":[{"code":{"system":"http://terminology.hl7.org/CodeSystem/usage-context-type","code":"age"},"valueRange":{"low":{"value":18,"unit":"a","system":"http://unitsofmeasure.org","code":"a"},"high":{"value":65,"unit":"a","system":"http://unitsofmeasure.org","code":"a"}}},
			{"code":{"system":"http://terminology.hl7.org/CodeSystem/usage-context-type","code":"focus"},"valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"49601007"}]}},
			{"code":{"code":"weight"},"valueQuantity":{"value":5.4,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}},
			{"code":{"code":"weight"},"valueQuantity":{"value":70,"unit":"kg"}}],
		"item":[{"linkId":"1","type":"string","definition":"http://example.org/def/a/b"}]}`},
	{"Questionnaire", "edge-q-2", `{"resourceType":"Questionnaire","status":"draft","url":"http://example.org/Questionnaire/q","version":"10.1","date":"2025-02-03T04:05:06Z"}`},
	{"AuditEvent", "edge-ae-1", `{"resourceType":"AuditEvent","type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},
		"subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":"read"}],"action":"R","recorded":"2025-03-04T10:15:30.123Z","outcome":"0",
		"agent":[{"type":{"coding":[{"code":"IRCP"}]},"role":[{"coding":[{"system":"urn:r","code":"doctor"}]}],"who":{"reference":"Practitioner/pr1","identifier":{"system":"urn:u","value":"alice"}},
			"altId":"alice-alt","name":"Alice Ärzt","requestor":true,"network":{"address":"10.0.0.1","type":"2"},"policy":["urn:policy:1"]},
			{"who":{"reference":"Patient/p1"},"requestor":false}],
		"source":{"site":"north","observer":{"reference":"Device/fhir-server"}},
		"entity":[{"what":{"reference":"QuestionnaireResponse/edge-qr-2"},"name":"qr","role":{"code":"4"},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"2"}},
			{"what":{"reference":"Patient/p1"}},{"what":{"reference":"Foo/e2"}}]}`},
	{"AuditEvent", "edge-ae-2", `{"resourceType":"AuditEvent","type":{"code":"rest"},"action":"C","recorded":"2025-03-05T00:00:00Z","outcome":"4",
		"agent":[{"who":{"reference":"` + resultsBase + `/Organization/o1"},"requestor":true}],"source":{"observer":{"display":"fhir-server"}},
		"entity":[{"what":{"reference":"https://other.example.org/Patient/p1"}}]}`},
}

// resultsQuery is one search of the results golden file and what it returned.
type resultsQuery struct {
	Type        string `json:"type"`
	Query       string `json:"query"`
	Compartment string `json:"compartment,omitempty"`
	// N is how many resources matched or were included; IDs are their ids in order when
	// there are few, Hash the digest of the ordered list otherwise.
	N    int      `json:"n"`
	IDs  []string `json:"ids,omitempty"`
	Hash string   `json:"hash,omitempty"`
}

// TestSearchResults runs, over the fixtures, generated data and resultsData, searches made
// from the stored values themselves (every parameter with its modifiers, sorts and pages,
// and for dates every prefix at every precision, some four thousand in all), and compares
// what each returns with the file SEARCH_RESULTS names. It shows that a change to how search
// values are stored or compiled leaves the answers alone: run it with -update before the
// change, which makes the searches and writes them with their results, and without after.
// It takes a few minutes on the embedded database, and is skipped without SEARCH_RESULTS.
func TestSearchResults(t *testing.T) {
	path := os.Getenv("SEARCH_RESULTS")
	if path == "" {
		t.Skip("SEARCH_RESULTS names no file to write (-update) or compare the results with")
	}
	ctx := context.Background()
	s, err := New(storetest.NewDatabase(t), fhir.DefaultRegistry(), Options{BaseURL: resultsBase})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	stored := loadResultsData(t, s)
	var queries []resultsQuery
	if *update {
		queries = resultsQueries(t, stored)
	} else {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run the test with -update to write it)", err)
		}
		if err := json.Unmarshal(data, &queries); err != nil {
			t.Fatal(err)
		}
	}
	failures := 0
	for i := range queries {
		q := &queries[i]
		got := runResultsQuery(t, s, q)
		if *update {
			*q = got
			continue
		}
		if got.N != q.N || got.Hash != q.Hash || strings.Join(got.IDs, " ") != strings.Join(q.IDs, " ") {
			failures++
			if failures <= 50 {
				t.Errorf("%s?%s (compartment %q) gives %d %v %s, want %d %v %s", q.Type, q.Query, q.Compartment, got.N, got.IDs, got.Hash, q.N, q.IDs, q.Hash)
			}
		}
	}
	t.Logf("%d searches, %d differ", len(queries), failures)
	if *update {
		var buf bytes.Buffer
		buf.WriteString("[\n")
		for i, q := range queries {
			line, err := json.Marshal(q)
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(line)
			if i < len(queries)-1 {
				buf.WriteByte(',')
			}
			buf.WriteByte('\n')
		}
		buf.WriteString("]\n")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// storedResource is a resource as loaded, with the search values extracted from it.
type storedResource struct {
	r  *fhir.Resource
	ix search.Index
}

// loadResultsData stores the data of TestSearchResults, each resource with a last updated
// time of its own (spread over seconds, minutes, days and months, with milliseconds), and
// returns the resources by type in id order.
func loadResultsData(t *testing.T, s *Store) map[string][]storedResource {
	t.Helper()
	type item struct {
		typ, id string
		data    []byte
	}
	var items []item
	for _, typ := range []string{"Questionnaire", "QuestionnaireResponse", "CarePlan"} {
		names, err := fs.Glob(fixtures.FS(), typ+"/*.json")
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			data, err := fs.ReadFile(fixtures.FS(), n)
			if err != nil {
				t.Fatal(err)
			}
			var head struct{ ID string }
			if err := json.Unmarshal(data, &head); err != nil {
				t.Fatal(err)
			}
			items = append(items, item{typ, head.ID, data})
		}
	}
	var buf bytes.Buffer
	if _, err := generate.Write(&buf, fixtures.FS(), generate.Options{Patients: 12, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for n := 0; sc.Scan(); n++ {
		var head struct{ ResourceType, ID string }
		line := append([]byte(nil), sc.Bytes()...)
		if err := json.Unmarshal(line, &head); err != nil {
			t.Fatal(err)
		}
		if head.ID == "" {
			head.ID = fmt.Sprintf("gen-%03d", n)
		}
		items = append(items, item{head.ResourceType, head.ID, line})
	}
	for _, e := range resultsData {
		items = append(items, item{e.typ, e.id, []byte(e.body)})
	}
	out := map[string][]storedResource{}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	step := 26*time.Hour + 17*time.Minute + 3217*time.Millisecond
	for i, it := range items {
		b, err := fhir.ParseBody(it.data, it.typ)
		if err != nil {
			t.Fatalf("%s/%s: %v", it.typ, it.id, err)
		}
		ts := t0.Add(time.Duration(i) * step)
		if i%7 == 3 {
			ts = ts.Truncate(time.Second) // some on whole seconds, minutes, days
		}
		if i%11 == 5 {
			ts = ts.Truncate(24 * time.Hour)
		}
		r, err := b.Version(it.id, 1, ts, http.MethodPut)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Put(context.Background(), r, nil); err != nil {
			t.Fatalf("%s/%s: %v", it.typ, it.id, err)
		}
		ix, err := s.index(r)
		if err != nil {
			t.Fatal(err)
		}
		out[it.typ] = append(out[it.typ], storedResource{r, ix})
	}
	for _, list := range out {
		sort.Slice(list, func(i, j int) bool { return list[i].r.ID < list[j].r.ID })
	}
	return out
}

// resultsQueries makes the searches of TestSearchResults from the stored values: for each
// parameter, values taken from a few resources that have it, in every form the parameter
// takes.
func resultsQueries(t *testing.T, stored map[string][]storedResource) []resultsQuery {
	t.Helper()
	var out []resultsQuery
	add := func(typ, query string) { out = append(out, resultsQuery{Type: typ, Query: query}) }
	for _, typ := range search.ResourceTypes() {
		list := stored[typ]
		for _, d := range search.Definitions(typ) {
			name := d.Name
			var with []storedResource
			for _, sr := range list {
				if d.Name == "_id" || d.Name == "_lastUpdated" || sr.ix[name] != nil {
					with = append(with, sr)
				}
			}
			add(typ, name+":missing=true")
			add(typ, name+":missing=false")
			if d.Type != search.TypeComposite {
				add(typ, "_sort="+name)
				add(typ, "_sort=-"+name)
				add(typ, "_sort="+name+"&_count=7")
				second := "_lastUpdated"
				if name == second {
					second = "_id"
				}
				add(typ, "_sort=-"+name+","+second+"&_count=5")
			}
			picks := spread(with, 4)
			for _, sr := range picks {
				for _, q := range paramQueries(d, sr) {
					add(typ, q)
				}
			}
			if len(picks) >= 2 {
				// Two values as alternatives.
				a, b := paramQueries(d, picks[0]), paramQueries(d, picks[len(picks)-1])
				if len(a) > 0 && len(b) > 0 {
					if ka, va, ok := strings.Cut(a[0], "="); ok {
						if kb, vb, ok := strings.Cut(b[0], "="); ok && ka == kb {
							add(typ, ka+"="+va+","+vb)
						}
					}
				}
			}
		}
		// Searches of several parameters, sorts of several keys, totals and includes.
		add(typ, "_sort=_lastUpdated,_id")
		add(typ, "_total=accurate&_count=3")
	}
	add("QuestionnaireResponse", "status=completed&_sort=-authored,status")
	add("QuestionnaireResponse", "authored=ge2026-01&authored=lt2026-03-15T10:00:00Z&_sort=authored")
	add("QuestionnaireResponse", "_lastUpdated=ge2025-03&_lastUpdated=lt2025-06-10T10:00&_sort=-_lastUpdated")
	add("QuestionnaireResponse", "_include=QuestionnaireResponse:questionnaire")
	add("QuestionnaireResponse", "_include=*&_revinclude=*")
	add("CarePlan", "_revinclude=QuestionnaireResponse:based-on&_include=CarePlan:subject")
	add("Questionnaire", "_revinclude=QuestionnaireResponse:questionnaire")
	for _, typ := range []string{"QuestionnaireResponse", "CarePlan"} {
		for _, p := range []string{"Patient/p1", "Patient/pat-anna-jensen", "Patient/gen-7-p0004"} {
			out = append(out, resultsQuery{Type: typ, Query: "_sort=-_lastUpdated", Compartment: p})
			out = append(out, resultsQuery{Type: typ, Query: "status:not=completed&_revinclude=*&_include=*", Compartment: p})
		}
	}
	return out
}

// spread picks up to n resources from list, from its start, middle and end.
func spread(list []storedResource, n int) []storedResource {
	if len(list) <= n {
		return list
	}
	var out []storedResource
	for i := 0; i < n; i++ {
		out = append(out, list[i*(len(list)-1)/(n-1)])
	}
	return out
}

// paramQueries are the searches made from one resource's values of parameter d.
func paramQueries(d *search.Definition, sr storedResource) []string {
	name := d.Name
	v := sr.ix[name]
	var out []string
	q := func(key, value string) { out = append(out, key+"="+url.QueryEscape(value)) }
	last := func(s []string) string {
		if len(s) == 0 {
			return ""
		}
		return s[len(s)-1]
	}
	switch name {
	case "_id":
		q(name, sr.r.ID)
		q(name+":not", sr.r.ID)
		q(name, "|"+sr.r.ID)
		q(name, "urn:x|"+sr.r.ID)
		q(name+":text", sr.r.ID)
		return out
	case "_lastUpdated":
		ts := sr.r.LastUpdated.UTC()
		return dateQueries(name, ts, ts.Add(time.Millisecond))
	}
	if v == nil {
		return nil
	}
	switch d.Type {
	case search.TypeString:
		if e := last(v.E); e != "" {
			q(name+":exact", e)
			q(name+":exact", strings.ToUpper(e))
			q(name, e)
			r := []rune(e)
			q(name, string(r[:min(3, len(r))]))
			if len(r) > 4 {
				q(name+":contains", string(r[2:len(r)-1]))
			}
		}
	case search.TypeToken:
		if c := last(v.C); c != "" {
			q(name, c)
			q(name, "|"+c)
			q(name+":not", c)
		}
		for _, k := range v.K {
			if sys, code, _ := strings.Cut(k, "|"); sys != "" {
				q(name, k)
				q(name, sys+"|")
				q(name+":not", k)
				q(name, "urn:other|"+code)
				break
			}
		}
		if tx := last(v.T); tx != "" {
			q(name+":text", tx[:min(4, len(tx))])
		}
		if y := last(v.Y); y != "" {
			q(name+":of-type", y)
		}
	case search.TypeURI:
		if u := last(v.U); u != "" {
			q(name, u)
			if i := strings.LastIndex(u, "/"); i > 8 {
				q(name+":below", u[:i])
			}
			q(name+":above", u+"/x/y")
		}
	case search.TypeReference:
		for _, r := range v.R {
			q(name, r)
			if d.Canonical {
				continue
			}
			if typ, id, ok := strings.Cut(r, "/"); ok && !strings.Contains(r, ":") {
				q(name, id)
				if fhir.IsResourceType(typ) {
					q(name+":"+typ, id)
					q(name, resultsBase+"/"+r)
					q(name, "https://else.example.org/fhir/"+r+"/_history/3")
				}
			}
		}
		for _, k := range v.K {
			q(name+":identifier", k)
		}
		if c := last(v.C); c != "" {
			q(name+":identifier", c)
		}
	case search.TypeDate:
		for i := range v.Lo {
			out = append(out, dateQueries(name, v.Lo[i], v.Hi[i])...)
			if i == 1 {
				break
			}
		}
	case search.TypeNumber, search.TypeQuantity:
		for i := range v.QLo {
			x := (v.QLo[i] + v.QHi[i]) / 2
			if v.QLo[i] < -1e300 || v.QHi[i] > 1e300 {
				continue
			}
			for _, p := range search.AllPrefixes {
				q(name, fmt.Sprintf("%s%g", p, x))
			}
			for _, u := range v.QU {
				q(name, fmt.Sprintf("%g|%s", x, u))
			}
			for _, c := range v.QC {
				q(name, fmt.Sprintf("ge%g||%s", x, c))
			}
		}
	case search.TypeComposite:
		for _, k := range v.K {
			if strings.Contains(k, "$") {
				q(name, k)
			} else {
				q(name, k+"$ge1")
				q(name, k+"$lt1000|http://unitsofmeasure.org|a")
			}
		}
	}
	return out
}

// dateQueries are the date searches around one stored range [lo, hi), at its start (or
// just before its end, when it is open at the start): eq and ne at the year and month, and
// every prefix at the day, minute, second, millisecond and finer, in UTC, in another zone
// and in none.
func dateQueries(name string, lo, hi time.Time) []string {
	if lo.Equal(search.MinTime) {
		lo = hi.Add(-time.Millisecond)
	}
	lo = lo.UTC()
	forms := []string{
		lo.Format("2006"), lo.Format("2006-01"), lo.Format("2006-01-02"),
		lo.Format("2006-01-02T15:04Z"), lo.Format("2006-01-02T15:04:05Z"), lo.Format("2006-01-02T15:04:05.000Z"),
		lo.Format("2006-01-02T15:04:05.0000Z"),
		lo.In(time.FixedZone("", 2*3600)).Format("2006-01-02T15:04:05-07:00"),
		lo.Format("2006-01-02T15:04"),
	}
	var out []string
	for i, f := range forms {
		for _, p := range search.AllPrefixes {
			if i < 2 && p != search.PrefixEq && p != search.PrefixNe {
				continue
			}
			out = append(out, name+"="+url.QueryEscape(string(p)+f))
		}
	}
	return out
}

// runResultsQuery runs one search and records what it returned.
func runResultsQuery(t *testing.T, s *Store, q *resultsQuery) resultsQuery {
	t.Helper()
	vals, err := url.ParseQuery(q.Query)
	if err != nil {
		t.Fatal(err)
	}
	out := resultsQuery{Type: q.Type, Query: q.Query, Compartment: q.Compartment}
	c, _, err := search.Parse(q.Type, vals, search.Options{})
	if err == nil {
		// Every page, following the next links.
		var res *search.Result
		all := &search.Result{}
		req := &search.Request{Criteria: c, BaseURL: resultsBase, Compartment: q.Compartment}
		for page := 0; page < 100; page++ {
			if res, err = s.Search(context.Background(), req); err != nil {
				break
			}
			all.Matches = append(all.Matches, res.Matches...)
			all.Included = append(all.Included, res.Included...)
			if page == 0 {
				all.Total = res.Total
			}
			if res.Next == "" || c.Count == nil || *c.Count == 3 {
				break
			}
			req.Cursor = res.Next
		}
		if err == nil {
			return record(out, all)
		}
	}
	if !fhir.IsKind(err, fhir.KindInvalid) {
		t.Fatalf("%s?%s: %v", q.Type, q.Query, err)
	}
	out.IDs = []string{"invalid"}
	return out
}

// record sets what a search returned: the matches, the included resources and the total.
func record(out resultsQuery, res *search.Result) resultsQuery {
	var ids []string
	for _, r := range res.Matches {
		ids = append(ids, r.ID)
	}
	for _, r := range res.Included {
		ids = append(ids, "+"+r.Type+"/"+r.ID)
	}
	if res.Total != nil {
		ids = append(ids, fmt.Sprintf("total=%d", *res.Total))
	}
	out.N = len(ids)
	if len(ids) <= 8 {
		out.IDs = ids
	} else {
		h := sha256.Sum256([]byte(strings.Join(ids, " ")))
		out.Hash = hex.EncodeToString(h[:8])
	}
	return out
}
