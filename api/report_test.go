package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/fhir"
)

const lupURL = "https://fhir.patient-involvement.example/Questionnaire/lup-outpatient"

// lupResponse is a response to LUP 2.0 at unit with overall.1 answered code and
// welcome.1 answered welcome.
func lupResponse(unit, authored string, overall, welcome int, comment string) string {
	item := fmt.Sprintf(`[{"linkId":"welcome","item":[{"linkId":"welcome.1","answer":[{"valueCoding":{"system":"https://fhir.patient-involvement.example/CodeSystem/likert-5","code":"%d"}}]}]},`+
		`{"linkId":"overall","item":[{"linkId":"overall.1","answer":[{"valueCoding":{"system":"https://fhir.patient-involvement.example/CodeSystem/likert-5","code":"%d"}}]}`, welcome, overall)
	if comment != "" {
		item += fmt.Sprintf(`,{"linkId":"overall.positive","answer":[{"valueString":%q}]}`, comment)
	}
	item += `]}]`
	return fmt.Sprintf(`{"resourceType":"QuestionnaireResponse","extension":[{"url":"https://fhir.patient-involvement.example/StructureDefinition/care-unit","valueReference":{"identifier":{"system":"urn:oid:1.2.208.176.1.1","value":%q},"display":"Unit %s"}}],`+
		`"questionnaire":"%s|2.0","status":"completed","subject":{"reference":"Patient/p1"},"authored":%q,"item":%s}`, unit, unit, lupURL, authored, item)
}

// reportServer stores LUP 1.0 and 2.0 and, in March 2026, units A (6 responses), B (5), C (3)
// and D (7); in February 2026 unit A has 5 more.
func reportServer(t *testing.T) *testServer {
	t.Helper()
	s := newTestServer(t)
	storeQuestionnaires(t, s, "lup-outpatient-v1.json", "lup-outpatient-v2.json")
	units := map[string][]int{"A": {5, 5, 4, 4, 3, 1}, "B": {5, 5, 5, 5, 5}, "C": {1, 1, 1}, "D": {2, 2, 3, 3, 3, 4, 5}}
	for unit, answers := range units {
		for i, a := range answers {
			comment := ""
			if i == 0 {
				comment = "Good care at unit " + unit
			}
			s.mustCreate("QuestionnaireResponse", lupResponse(unit, fmt.Sprintf("2026-03-%02dT10:00:00+01:00", i+2), a, 4, comment))
		}
	}
	for _, a := range []int{3, 3, 3, 2, 1} {
		s.mustCreate("QuestionnaireResponse", lupResponse("A", "2026-02-10T10:00:00+01:00", a, 4, ""))
	}
	return s
}

const march = "&periodStart=2026-03-01&periodEnd=2026-04-01"

func TestReport(t *testing.T) {
	s := reportServer(t)
	r := s.do(http.MethodGet, "/fhir/Questionnaire/$report?url="+lupURL+"|2.0"+march+"&compare=previous&comments=true", nil)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
		t.Errorf("Content-Type %q", ct)
	}
	var tree map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		t.Fatal(err)
	}
	if err := fhir.ValidateTree("MeasureReport", tree); err != nil {
		t.Fatalf("not a valid R4 MeasureReport: %v", err)
	}
	if tree["type"] != "summary" || fmt.Sprint(tree["period"]) != "map[end:2026-03-31 start:2026-03-01]" {
		t.Errorf("type %v, period %v", tree["type"], tree["period"])
	}
	// overall.1: its populations (its mean is withheld, see below), the units in stratifier 0, the options overall in 1 (by
	// value), the units' options in 2 (by components, one code each).
	groups := map[string]map[string]any{}
	for _, g := range tree["group"].([]any) {
		g := g.(map[string]any)
		groups[fmt.Sprint(g["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"])] = g
	}
	overall := groups["overall.1"]
	if overall == nil {
		t.Fatal("no group for overall.1")
	}
	// welcome.1: all 21 answered "4": every count shown, the mean 4 is the score
	if got := fmt.Sprint(groups["welcome.1"]["measureScore"]); got != "map[value:4]" {
		t.Errorf("welcome.1 measureScore %s, want the mean 4", got)
	}
	if got := fmt.Sprint(overall["measureScore"], overall["population"]); got != "<nil> [map[code:map[coding:[map[code:initial-population system:http://terminology.hl7.org/CodeSystem/measure-population]]] count:21] map[code:map[coding:[map[code:denominator system:http://terminology.hl7.org/CodeSystem/measure-population]]] count:21]]" {
		t.Errorf("overall.1 score and populations: %s", got)
	}
	strs := overall["stratifier"].([]any)
	shape := func(st any) string {
		m := st.(map[string]any)
		var kinds []string
		for _, x := range m["stratum"].([]any) {
			x := x.(map[string]any)
			comps, _ := x["component"].([]any)
			_, value := x["value"]
			kinds = append(kinds, fmt.Sprintf("%v/%d", value, len(comps)))
		}
		slices.Sort(kinds)
		return fmt.Sprint(len(m["code"].([]any)), slices.Compact(kinds))
	}
	for i, want := range []string{"1 [true/0]", "1 [true/0]", "2 [false/2]"} {
		if i >= len(strs) {
			t.Errorf("overall.1 has %d stratifiers, want 3", len(strs))
			break
		}
		if got := shape(strs[i]); got != want {
			t.Errorf("stratifier %d: codes and strata (value/components) %s, want %s", i, got, want)
		}
	}
	fives := ""
	for _, x := range strs[1].(map[string]any)["stratum"].([]any) {
		x := x.(map[string]any)
		if c := x["value"].(map[string]any)["coding"].([]any)[0].(map[string]any); c["code"] == "5" {
			fives = fmt.Sprint(x["population"], x["measureScore"])
		}
	}
	if !strings.Contains(fives, "code:numerator") || !strings.Contains(fives, "count:8") || !strings.Contains(fives, "value:38.1") {
		t.Errorf("overall count of 5: %s, want numerator 8 and 38.1 %%", fives)
	}

	r = s.do(http.MethodGet, "/fhir/Questionnaire/$report?_format=csv&url="+lupURL+"|2.0"+march+"&compare=previous", nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	residuals(t, rows, "2026-03-01", "overall.1", 5)
	if got := strings.Join(rows[0], ","); got != "questionnaire,version,period_start,period_end,stratum,linkId,answer,count,n,percent,mean,suppressed" {
		t.Errorf("header %s", got)
	}

	// In a batch, the CSV is the entry's resource as a Binary.
	csvBody := r.body
	res := readBundleResponse(t, s.do(http.MethodPost, "/fhir", bundleOf("batch", entry{method: "GET", url: "Questionnaire/$report?_format=csv&url=" + url.QueryEscape(lupURL+"|2.0") + march + "&compare=previous"})), "batch-response")
	var bin struct{ ResourceType, ContentType, Data string }
	if err := json.Unmarshal(res.Entry[0].Resource, &bin); err != nil || res.Entry[0].Response.Status != "200 OK" || bin.ResourceType != "Binary" || !strings.HasPrefix(bin.ContentType, "text/csv") || bin.Data != base64Std(string(csvBody)) {
		t.Errorf("the CSV in a batch: %s %v %s %s", res.Entry[0].Response.Status, err, bin.ResourceType, bin.ContentType)
	}
	find := func(period, stratum, link, answer string) []string {
		for _, row := range rows[1:] {
			if row[2] == period && row[4] == stratum && row[5] == link && row[6] == answer {
				return row[7:]
			}
		}
		return nil
	}
	for _, c := range []struct {
		name, period, stratum, link, answer, want string
	}{
		// all: 21 responses: overall.1 = 1×4 (C 3, A 1), 2×2, 3×4, 4×3, 5×8. Only the 8 is
		// shown, so the mean (72/21) and share positive (11/21) go (rule 5): 11 minus the 8 of
		// "5" would be the 3 of "4".
		{"overall n, no mean nor share", "2026-03-01", "all", "overall.1", "", "[ 21   true]"},
		{"overall count of 5", "2026-03-01", "all", "overall.1", "5", "[8 21 38.1  false]"},
		// 3 of 21 is 14 %, and no other count of 21 rounds to 14 %: withheld
		{"overall count below 5 withheld", "2026-03-01", "all", "overall.1", "4", "[ 21   true]"},
		// A: 5,5,4,4,3,1: every count is below 5, so neither mean (22/6) nor share (4/6)
		{"unit A n alone", "2026-03-01", "Unit A", "overall.1", "", "[ 6   true]"},
		// 1 of 6 is 17 %, which only a count of 1 rounds to: withheld
		{"unit A count 1 of 6 withheld", "2026-03-01", "Unit A", "overall.1", "1", "[ 6   true]"},
		// C has 3 responses: suppressed, and B (5, the next smallest) with it
		{"unit C suppressed", "2026-03-01", "Unit C", "overall.1", "", "[    true]"},
		{"unit B suppressed with C", "2026-03-01", "Unit B", "overall.1", "", "[    true]"},
		{"unit D published, n alone", "2026-03-01", "Unit D", "overall.1", "", "[ 7   true]"},
		// dimension: welcome has one item, all 4
		{"dimension score", "2026-03-01", "all", "welcome", "", "[ 21  4 false]"},
		// February: A has 5: 3,3,3,2,1. The withheld are all not positive: share positive 0 %
		// follows from the shown 0s of "4" and "5"; the mean (12/5) does not.
		{"previous period unit A", "2026-02-01", "Unit A", "overall.1", "", "[ 5 0.0  true]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := fmt.Sprint(find(c.period, c.stratum, c.link, c.answer)); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}

	r = s.do(http.MethodGet, "/fhir/Questionnaire/$report?_format=html&lang=da&comments=true&url="+lupURL+march, nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("html: %d %s", r.status, r.body)
	}
	// "<td>–</td><td>–</td>": a mean and share positive withheld under rule 5 (unit A's)
	for _, want := range []string{"<svg", "Alle", "Good care at unit A", "Unit D", "<td>–</td><td>–</td>"} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("the page has no %q", want)
		}
	}
	if bytes.Contains(r.body, []byte("Good care at unit C")) {
		t.Error("the page shows a comment of a suppressed unit")
	}
}

func TestReportRefusals(t *testing.T) {
	s := reportServer(t)
	for _, c := range []struct {
		name, path string
		status     int
		want       string
	}{
		{"no period", "/fhir/Questionnaire/$report?url=" + lupURL, 400, "needs a period"},
		{"unknown parameter", "/fhir/Questionnaire/$report?url=" + lupURL + march + "&unit=A", 400, "has no parameter unit"},
		{"min-count below the server's", "/fhir/Questionnaire/$report?url=" + lupURL + march + "&min-count=3", 422, "below this server's minimum"},
		{"unknown questionnaire", "/fhir/Questionnaire/$report?url=https://example.org/q" + march, 404, "No Questionnaire"},
		{"other type", "/fhir/CarePlan/$report?url=" + lupURL + march, 404, "Questionnaire only"},
		{"bad language", "/fhir/Questionnaire/$report?url=" + lupURL + march + "&lang=fr", 400, "lang"},
		{"bad format", "/fhir/Questionnaire/$report?url=" + lupURL + march + "&_format=xml", 406, "not served"},
		{"positive code of no option", "/fhir/Questionnaire/$report?url=" + lupURL + march + "&positive=zzz", 422, "positive=zzz names no answer option"},
	} {
		t.Run(c.name, func(t *testing.T) {
			outcome(t, s.do(http.MethodGet, c.path, nil), c.status, c.want)
		})
	}
}

func TestReportAuthorization(t *testing.T) {
	s := newAuthServer(t)
	admin := s.mint(auth.TokenOptions{Scope: "system/*.*"})
	raw, err := os.ReadFile("../fixtures/Questionnaire/lup-outpatient-v2.json")
	if err != nil {
		t.Fatal(err)
	}
	if r := s.do(http.MethodPost, "/fhir/Questionnaire", raw, "Authorization", "Bearer "+admin); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	path := "/fhir/Questionnaire/$report?url=" + lupURL + march
	for _, c := range []struct {
		name, scope, patient string
		status               int
		want                 string
	}{
		{"patient token", "patient/*.rs", "p1", 403, "patient/ scopes never get reports"},
		{"user token that may read Questionnaires only", "user/Questionnaire.rs", "", 403, "user/QuestionnaireResponse.s"},
		{"user token that may search responses", "user/Questionnaire.r user/QuestionnaireResponse.s", "", 200, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok := s.mint(auth.TokenOptions{Scope: c.scope, Patient: c.patient})
			r := s.do(http.MethodGet, path, nil, "Authorization", "Bearer "+tok)
			if c.status != 200 {
				outcome(t, r, c.status, c.want)
				return
			}
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
		})
	}
	if r := s.do(http.MethodGet, path, nil); r.status != http.StatusUnauthorized {
		t.Errorf("without a token: %d", r.status)
	}
	// Each report is in the audit trail, with the parameters it was made with.
	if err := s.audit.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := s.do(http.MethodGet, "/fhir/AuditEvent?subtype=operation&_count=100", nil, "Authorization", "Bearer "+admin)
	if r.status != http.StatusOK {
		t.Fatalf("audit search: %d %s", r.status, r.body)
	}
	var bundle struct {
		Entry []struct {
			Resource struct {
				Entity []struct {
					Query string `json:"query"`
				} `json:"entity"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(r.body, &bundle); err != nil {
		t.Fatal(err)
	}
	var queries []string
	for _, e := range bundle.Entry {
		for _, en := range e.Resource.Entity {
			if q, err := base64.StdEncoding.DecodeString(en.Query); err == nil && len(q) > 0 {
				queries = append(queries, string(q))
			}
		}
	}
	if got := strings.Join(queries, "\n"); strings.Count(got, "periodStart=2026-03-01") != 1 || !strings.Contains(got, "stratifier=care-unit") {
		t.Errorf("the audit trail has these report queries, want the one report made, with its parameters:\n%s", got)
	}
}

func TestReportStratifiersAndPost(t *testing.T) {
	s := reportServer(t)
	csvRows := func(r *response) [][]string {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
		rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	strata := func(rows [][]string) string {
		seen := map[string]bool{}
		var out []string
		for _, row := range rows[1:] {
			if !seen[row[4]] {
				seen[row[4]] = true
				out = append(out, row[4])
			}
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct{ name, query, want string }{
		{"none: the overall alone", "&stratifier=none", "all"},
		{"FHIRPath on the response", "&stratifier=" + url.QueryEscape("QuestionnaireResponse.status"), "all,completed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows := csvRows(s.do(http.MethodGet, "/fhir/Questionnaire/$report?_format=csv&url="+lupURL+march+c.query, nil))
			if got := strata(rows); got != c.want {
				t.Errorf("strata %s, want %s", got, c.want)
			}
		})
	}
	// positive=5: only "5" is positive, not the top two. Overall, 8 of the 21 answers to
	// overall.1 (the top two: 11 of 21, withheld as it would give the 3 of "4" away).
	for _, c := range []struct{ name, query, want string }{
		{"the top two by default", "", ""},
		{"positive=5", "&positive=5", "38.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := overallShare(t, csvRows(s.do(http.MethodGet, "/fhir/Questionnaire/$report?_format=csv&stratifier=none&url="+lupURL+march+c.query, nil))); got != c.want {
				t.Errorf("share positive %q, want %q", got, c.want)
			}
		})
	}
	outcome(t, s.do(http.MethodGet, "/fhir/Questionnaire/$report?url="+lupURL+march+"&stratifier="+url.QueryEscape("QuestionnaireResponse.item.where("), nil),
		http.StatusBadRequest, "neither care-unit, none nor a FHIRPath expression")

	body := `{"resourceType":"Parameters","parameter":[{"name":"url","valueUri":"` + lupURL + `|2.0"},` +
		`{"name":"periodStart","valueDate":"2026-03-01"},{"name":"periodEnd","valueDate":"2026-04-01"},{"name":"stratifier","valueString":"none"}]}`
	rows := csvRows(s.do(http.MethodPost, "/fhir/Questionnaire/$report?_format=csv", []byte(body), "Content-Type", "application/fhir+json"))
	if got := strata(rows); got != "all" {
		t.Errorf("POST strata %s, want all", got)
	}
	outcome(t, s.do(http.MethodPost, "/fhir/Questionnaire/$report", []byte(`{"resourceType":"Patient"}`), "Content-Type", "application/fhir+json"),
		http.StatusBadRequest, "takes a Parameters resource")
	// By id: the Questionnaire stored under lup-outpatient-v2 when the server made its id.
	id := ""
	if r := s.do(http.MethodGet, "/fhir/Questionnaire?url="+lupURL+"&version=2.0", nil); r.status == http.StatusOK {
		entries, _ := r.json(t)["entry"].([]any)
		if len(entries) == 1 {
			id, _ = entries[0].(map[string]any)["resource"].(map[string]any)["id"].(string)
		}
	}
	if id == "" {
		t.Fatal("LUP 2.0 not found by search")
	}
	rows = csvRows(s.do(http.MethodGet, "/fhir/Questionnaire/"+id+"/$report?_format=csv"+march, nil))
	if rows[1][1] != "2.0" {
		t.Errorf("by id: version %s, want 2.0", rows[1][1])
	}
	byID := `{"resourceType":"Parameters","parameter":[{"name":"periodStart","valueDate":"2026-03-01"},` +
		`{"name":"periodEnd","valueDate":"2026-04-01"},{"name":"stratifier","valueString":"none"}]}`
	rows = csvRows(s.do(http.MethodPost, "/fhir/Questionnaire/"+id+"/$report?_format=csv", []byte(byID), "Content-Type", "application/fhir+json"))
	if rows[1][1] != "2.0" || strata(rows) != "all" {
		t.Errorf("POST by id: version %s, strata %s, want 2.0 and all", rows[1][1], strata(rows))
	}

	// A report-positive extension on overall.1 naming "5": 8 of 21. positive=4 overrides it:
	// the 3 of "4", withheld.
	r := s.do(http.MethodGet, "/fhir/Questionnaire/"+id, nil)
	q := string(r.body)
	const link = `"linkId":"overall.1",`
	if !strings.Contains(q, link) {
		t.Fatalf("no overall.1 in %s", id)
	}
	q = strings.Replace(q, link, link+`"extension":[{"url":"https://fhir.patient-involvement.example/StructureDefinition/report-positive","valueCoding":{"system":"https://fhir.patient-involvement.example/CodeSystem/likert-5","code":"5"}}],`, 1)
	if r := s.do(http.MethodPut, "/fhir/Questionnaire/"+id, []byte(q)); r.status != http.StatusOK {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	for _, c := range []struct{ name, query, want string }{
		{"the extension", "", "38.1"},
		{"positive= before the extension", "&positive=4", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := overallShare(t, csvRows(s.do(http.MethodGet, "/fhir/Questionnaire/$report?_format=csv&stratifier=none&url="+lupURL+march+c.query, nil))); got != c.want {
				t.Errorf("share positive %q, want %q", got, c.want)
			}
		})
	}
}

// overallShare is the overall share positive of overall.1 in a report's CSV.
func overallShare(t *testing.T, rows [][]string) string {
	t.Helper()
	for _, row := range rows[1:] {
		if row[4] == "all" && row[5] == "overall.1" && row[6] == "" {
			return row[9]
		}
	}
	t.Error("no overall.1 row")
	return ""
}

func TestReportVersions(t *testing.T) {
	s := reportServer(t)
	// 1.0 has overall.1 with the same options as 2.0: merged with version=*, so the
	// responses of both count in one item.
	v1 := strings.ReplaceAll(lupResponse("A", "2026-03-20T10:00:00+01:00", 5, 4, ""), "|2.0", "|1.0")
	s.mustCreate("QuestionnaireResponse", v1)
	for _, c := range []struct {
		name, query, version, n string
	}{
		{"one version", "&url=" + lupURL + "|2.0", "2.0", "21"},
		{"every version merged", "&url=" + lupURL + "&version=*", "1.0+2.0", "22"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := s.do(http.MethodGet, "/fhir/Questionnaire/$report?_format=csv"+march+c.query, nil)
			if r.status != http.StatusOK {
				t.Fatalf("%d %s", r.status, r.body)
			}
			rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			for _, row := range rows[1:] {
				if row[4] == "all" && row[5] == "overall.1" && row[6] == "" {
					if row[1] != c.version || row[8] != c.n {
						t.Errorf("version %s n %s, want %s and %s", row[1], row[8], c.version, c.n)
					}
					return
				}
			}
			t.Error("no overall.1 row")
		})
	}
}

// storeQuestionnaires stores fixture Questionnaires.
func storeQuestionnaires(t *testing.T, s *testServer, files ...string) {
	t.Helper()
	for _, f := range files {
		raw, err := os.ReadFile("../fixtures/Questionnaire/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if r := s.do(http.MethodPost, "/fhir/Questionnaire", raw); r.status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", f, r.status, r.body)
		}
	}
}

// createAll creates resources in one transaction.
func createAll(t *testing.T, s *testServer, typ string, resources []string) {
	t.Helper()
	entries := make([]entry, len(resources))
	for i, res := range resources {
		entries[i] = entry{resource: res, method: "POST", url: typ}
	}
	if r := s.do(http.MethodPost, "/fhir", bundleOf("transaction", entries...)); r.status != http.StatusOK {
		t.Fatalf("transaction: %d %.300s", r.status, r.body)
	}
}

// reportCSV asks for a report as CSV and parses it.
func reportCSV(t *testing.T, s *testServer, query string) [][]string {
	t.Helper()
	r := s.do(http.MethodGet, "/fhir/Questionnaire/$report?_format=csv&"+query, nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("%d %s %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// residuals checks, on a report's CSV for one period, what the overall minus the shown
// strata leaves for item link: n and each option's count must leave 0 or at least min.
func residuals(t *testing.T, rows [][]string, period, link string, min int) {
	t.Helper()
	all := map[string]string{}
	shown := map[string]int{}
	for _, row := range rows[1:] {
		if row[2] != period || row[5] != link {
			continue
		}
		v := row[7] // an option's count
		if row[6] == "" {
			v = row[8] // the item's n
		}
		if row[4] == "all" {
			all[row[6]] = v
			continue
		}
		if v != "" {
			var k int
			fmt.Sscan(v, &k)
			shown[row[6]] += k
		}
	}
	for answer, v := range all {
		if v == "" {
			continue
		}
		var total int
		fmt.Sscan(v, &total)
		if left := total - shown[answer]; left > 0 && left < min {
			t.Errorf("%s answer %q: the overall %d minus the shown strata leaves %d, below %d", link, answer, total, left, min)
		}
	}
}

// TestReportSuppressedPair: two units under the threshold are suppressed together, and
// since their sum is under it as well, the next smallest goes with them.
func TestReportSuppressedPair(t *testing.T) {
	s := newTestServer(t)
	storeQuestionnaires(t, s, "lup-outpatient-v2.json")
	units := map[string][]int{"P": {5, 1}, "Q": {4, 2}, "R": {5, 5, 4, 4, 3, 3}, "S": {5, 5, 5, 4, 4, 4, 3, 2}}
	for unit, answers := range units {
		for i, a := range answers {
			s.mustCreate("QuestionnaireResponse", lupResponse(unit, fmt.Sprintf("2026-03-%02dT10:00:00+01:00", i+2), a, 4, ""))
		}
	}
	rows := reportCSV(t, s, "url="+lupURL+march)
	ns := map[string]string{}
	for _, row := range rows[1:] {
		if row[5] == "overall.1" && row[6] == "" {
			ns[row[4]] = row[8]
		}
	}
	// P and Q (2 each) add up to 4: the overall 18 minus R and S would say so. R (6)
	// goes with them.
	want := map[string]string{"all": "18", "Unit P": "", "Unit Q": "", "Unit R": "", "Unit S": "8"}
	if fmt.Sprint(ns) != fmt.Sprint(want) {
		t.Errorf("n per stratum %v, want %v", ns, want)
	}
	residuals(t, rows, "2026-03-01", "overall.1", 5)
}

// TestReportWithheldShareBase: a withheld count's whole percent is of all the item's answers,
// not of those left shown after other cells were withheld.
func TestReportWithheldShareBase(t *testing.T) {
	s := newTestServer(t)
	storeQuestionnaires(t, s, "lup-outpatient-v2.json")
	// overall.1 of 212: 1×2, 2×60, 3×70, 4×80. The 2 is withheld and the 60 with it.
	var responses []string
	for code, k := range map[int]int{1: 2, 2: 60, 3: 70, 4: 80} {
		for range k {
			responses = append(responses, lupResponse("A", "2026-03-05T10:00:00+01:00", code, 4, ""))
		}
	}
	createAll(t, s, "QuestionnaireResponse", responses)
	rows := reportCSV(t, s, "stratifier=none&url="+lupURL+march)
	got := map[string]string{}
	for _, row := range rows[1:] {
		if row[4] == "all" && row[5] == "overall.1" {
			got[row[6]] = strings.Join(row[7:], " ")
		}
	}
	for _, c := range []struct{ name, answer, want string }{
		// 2 of 212 is 0.9 %: 1 %, which 1, 2 and 3 of 212 round to
		{"the small count as a whole percent", "1", " 212 1  true"},
		// 60 of 212 is 28.3 %: 28 % (of the 210 left shown it would be 29 %)
		{"its complement as a whole percent of all", "2", " 212 28  true"},
		{"a shown count", "3", "70 212 33.0  false"},
		// the mean would tell the 2 and the 60 apart (x1 + 2 x2 = 122, x1 + x2 = 62); share
		// positive (80 of 212) holds neither and stays
		{"no mean, share positive kept", "", " 212 37.7  true"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got[c.answer] != c.want {
				t.Errorf("answer %s: %q, want %q", c.answer, got[c.answer], c.want)
			}
		})
	}
}

// TestReportVersionCounts: with version=*, a unit's responses minus the n of an item only
// one version has would be the unit's responses to the other versions. Unit A has 2 to 1.0:
// the 2.0-only item is withheld in A, and in B with it (the overall minus B would be A).
func TestReportVersionCounts(t *testing.T) {
	s := newTestServer(t)
	storeQuestionnaires(t, s, "lup-outpatient-v1.json", "lup-outpatient-v2.json")
	v2 := func(unit string) string { // answers coordination.2 (2.0 only) as well
		return strings.Replace(lupResponse(unit, "2026-03-05T10:00:00+01:00", 4, 4, ""), `"item":[`,
			`"item":[{"linkId":"coordination","item":[{"linkId":"coordination.2","answer":[{"valueBoolean":true}]}]},`, 1)
	}
	v1 := func(unit string) string {
		return strings.ReplaceAll(lupResponse(unit, "2026-03-06T10:00:00+01:00", 5, 4, ""), "|2.0", "|1.0")
	}
	var responses []string
	for unit, k := range map[string][2]int{"A": {6, 2}, "B": {7, 5}} {
		for range k[0] {
			responses = append(responses, v2(unit))
		}
		for range k[1] {
			responses = append(responses, v1(unit))
		}
	}
	createAll(t, s, "QuestionnaireResponse", responses)
	rows := reportCSV(t, s, "version=*&url="+lupURL+march)
	got := map[string]string{}
	for _, row := range rows[1:] {
		if row[6] == "" {
			got[row[4]+" "+row[5]] = row[8] + " " + row[11]
		}
	}
	for _, c := range []struct{ name, key, want string }{
		{"the item of both versions in A", "Unit A overall.1", "8 true"},
		{"the 2.0 item withheld in A", "Unit A coordination.2", " true"},
		{"and in B, or the overall minus B gives A's", "Unit B coordination.2", " true"},
		{"the 2.0 item overall", "all coordination.2", "13 false"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got[c.key] != c.want {
				t.Errorf("%s: %q, want %q", c.key, got[c.key], c.want)
			}
		})
	}
	// The MeasureReport says A had 8 responses; with the 2.0 item's 6 that would be 2 to 1.0.
	r := s.do(http.MethodGet, "/fhir/Questionnaire/$report?version=*&url="+lupURL+march, nil)
	if r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`"count":8`)) {
		t.Fatalf("MeasureReport: %d, want A's 8 responses in it", r.status)
	}
}

// TestReportCSVFormulas: a unit's name comes from the responses; in the CSV a name a
// spreadsheet would run as a formula is kept as text.
func TestReportCSVFormulas(t *testing.T) {
	s := newTestServer(t)
	storeQuestionnaires(t, s, "lup-outpatient-v2.json")
	var responses []string
	for range 5 {
		responses = append(responses, strings.Replace(lupResponse("F", "2026-03-05T10:00:00+01:00", 4, 4, ""),
			`"display":"Unit F"`, `"display":"=HYPERLINK(\"http://evil.example\")"`, 1))
	}
	createAll(t, s, "QuestionnaireResponse", responses)
	rows := reportCSV(t, s, "url="+lupURL+march)
	strata := map[string]bool{}
	for _, row := range rows[1:] {
		strata[row[4]] = true
	}
	if want := `map['=HYPERLINK("http://evil.example"):true all:true]`; fmt.Sprint(strata) != want {
		t.Errorf("strata %v, want %s", strata, want)
	}
}
