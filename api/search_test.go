package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/patient-involvement/fhir-server/internal/search"
)

// searchBundle is what the tests read of a searchset Bundle.
type searchBundle struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Type         string `json:"type"`
	Total        *int   `json:"total"`
	Link         []struct {
		Relation string `json:"relation"`
		URL      string `json:"url"`
	} `json:"link"`
	Entry []searchEntry `json:"entry"`
}

type searchEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	Search   struct {
		Mode string `json:"mode"`
	} `json:"search"`
}

// bundle decodes a 200 searchset answer.
func (r *response) bundle(t testing.TB) *searchBundle {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	var b searchBundle
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("not a Bundle: %v\n%s", err, r.body)
	}
	if b.ResourceType != "Bundle" || b.Type != "searchset" {
		t.Fatalf("resourceType %q type %q, want a searchset Bundle", b.ResourceType, b.Type)
	}
	return &b
}

// link returns the URL of the link with the relation, "" when there is none.
func (b *searchBundle) link(rel string) string {
	for _, l := range b.Link {
		if l.Relation == rel {
			return l.URL
		}
	}
	return ""
}

// ids returns the ids of the entries with the search mode, in order.
func (b *searchBundle) ids(mode string) []string {
	var out []string
	for _, e := range b.Entry {
		if e.Search.Mode == mode {
			var r struct{ ID string }
			_ = json.Unmarshal(e.Resource, &r)
			out = append(out, r.ID)
		}
	}
	return out
}

// qrFor is a QuestionnaireResponse with the given status, patient and identifier value.
func qrFor(status, patient, ident string) string {
	return fmt.Sprintf(`{"resourceType":"QuestionnaireResponse","status":%q,"subject":{"reference":"Patient/%s"},
"identifier":{"system":"https://example.org/sid","value":%q},"authored":"2026-03-14T10:22:00+01:00",
"item":[{"linkId":"1","answer":[{"valueDecimal":1.10}]}]}`, status, patient, ident)
}

func (s *testServer) search(query string, headers ...string) *response {
	s.t.Helper()
	return s.do("GET", "/fhir/QuestionnaireResponse?"+query, nil, headers...)
}

func TestSearchGetAndPostGiveTheSameResults(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	for i, st := range []string{"completed", "completed", "in-progress", "completed"} {
		s.mustCreate("QuestionnaireResponse", qrFor(st, fmt.Sprintf("p%d", i%2), fmt.Sprintf("r-%d", i)))
	}
	tests := []struct {
		name string
		// url and body of the POST; the GET sends both in its query.
		inURL, inBody string
		matches       int
	}{
		{"one token", "", "status=completed", 3},
		{"two parameters", "", "status=completed&subject=Patient/p0", 1},
		{"or within a parameter", "", "status=completed,in-progress&_count=2", 2},
		{"url and body combined", "status=completed", "subject=Patient/p1", 2},
		{"sort and count", "", "_sort=-_lastUpdated&_count=3", 3},
		{"total only", "", "_summary=count", 0},
		{"nothing matches", "", "identifier=https://example.org/sid|none", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			getQuery := strings.TrimPrefix(tc.inURL+"&"+tc.inBody, "&")
			get := s.search(getQuery).bundle(t)
			postPath := "/fhir/QuestionnaireResponse/_search"
			if tc.inURL != "" {
				postPath += "?" + tc.inURL
			}
			post := s.do("POST", postPath, []byte(tc.inBody), "Content-Type", "application/x-www-form-urlencoded").bundle(t)
			get.ID, post.ID = "", ""
			if diff := cmp.Diff(get, post); diff != "" {
				t.Errorf("GET and POST _search differ (-GET +POST):\n%s", diff)
			}
			if got := len(get.ids("match")); got != tc.matches {
				t.Errorf("%d matches, want %d", got, tc.matches)
			}
			if self := get.link("self"); !strings.HasPrefix(self, s.base+"/QuestionnaireResponse?") {
				t.Errorf("self link %q is not a GET URL of the search", self)
			}
		})
	}
}

func TestSearchPostTakesOnlyForms(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	tests := []struct {
		name, contentType, body string
		status                  int
	}{
		{"form", "application/x-www-form-urlencoded", "status=completed", 200},
		{"form with charset", "application/x-www-form-urlencoded; charset=utf-8", "status=completed", 200},
		{"no body, no content type", "", "", 200},
		{"FHIR JSON", "application/fhir+json", `{"status":"completed"}`, 415},
		{"plain text", "text/plain", "status=completed", 415},
		{"no content type with a body", "", "status=completed", 415},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			r := s.do("POST", "/fhir/QuestionnaireResponse/_search", body, "Content-Type", tc.contentType)
			if tc.status != 200 {
				outcome(t, r, tc.status, "not accepted")
				return
			}
			r.bundle(t)
		})
	}
}

func TestSearchUnknownParameters(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.mustCreate("QuestionnaireResponse", qrFor("completed", "p1", "r-1"))
	tests := []struct {
		name   string
		prefer string
		status int
	}{
		{"lenient by default", "", 200},
		{"lenient when asked", "handling=lenient", 200},
		{"strict", "handling=strict", 400},
		{"strict beside another preference", "return=minimal; handling=strict", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := s.search("status=completed&colour=blue&subject.name=x", "Prefer", tc.prefer)
			if tc.status == 400 {
				outcome(t, r, 400, `\"colour\"`)
				if !strings.Contains(string(r.body), `"expression":["colour"]`) {
					t.Errorf("the issue does not name the parameter in its expression: %s", r.body)
				}
				return
			}
			b := r.bundle(t)
			if len(b.Entry) != 2 || b.Entry[0].Search.Mode != "outcome" || b.Entry[0].FullURL != "" {
				t.Fatalf("entries %+v, want the OperationOutcome (mode outcome) first, then the match", b.Entry)
			}
			var oo struct {
				ResourceType string
				Issue        []struct{ Severity, Code, Diagnostics string }
			}
			if err := json.Unmarshal(b.Entry[0].Resource, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) != 2 {
				t.Fatalf("outcome entry %s, want an OperationOutcome with two issues", b.Entry[0].Resource)
			}
			for _, is := range oo.Issue {
				if is.Severity != "warning" || !strings.Contains(is.Diagnostics, "ignored") {
					t.Errorf("issue %+v, want a warning that the parameter was ignored", is)
				}
			}
			if got := b.ids("match"); len(got) != 1 {
				t.Errorf("matches %v, want the one completed response", got)
			}
			self := b.link("self")
			if strings.Contains(self, "colour") || strings.Contains(self, "subject.name") || !strings.Contains(self, "status=completed") {
				t.Errorf("self link %q should show the criteria applied and only those", self)
			}
		})
	}
}

func TestSearchRejectsInvalidValues(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	tests := []struct {
		name, query, param, text string
	}{
		{"bad date", "authored=2024-13-01", "authored", "authored"},
		{"bad prefix", "authored=xx2024", "authored", "comparison prefix"},
		{"bad modifier", "status:exact=completed", "status:exact", "modifier"},
		{"negative _count", "_count=-1", "_count", "non-negative"},
		{"_count not a number", "_count=ten", "_count", "non-negative"},
		{"_sort on an unknown parameter", "_sort=colour", "_sort", "cannot sort"},
		{"_sort on one parameter twice", "_sort=-_lastUpdated,_lastUpdated", "_sort", "twice: a second key on the same parameter"},
		{"_summary unknown", "_summary=some", "_summary", "_summary"},
		{"_include of another type", "_include=CarePlan:subject", "_include", "source"},
		{"two cursors", "_cursor=a&_cursor=b", "_cursor", "only once"},
		{"malformed query", "status=%zz", "", "not a valid query string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := s.search(tc.query)
			outcome(t, r, http.StatusBadRequest, tc.text)
			if tc.param != "" && !strings.Contains(string(r.body), `"expression":[`+fmt.Sprintf("%q", tc.param)+`]`) {
				t.Errorf("the issue does not name %s in its expression: %s", tc.param, r.body)
			}
		})
	}
}

func TestSearchUnknownTypes(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	tests := []struct{ method, path, want string }{
		{"GET", "/fhir/Patient", "does not serve Patient"},
		{"GET", "/fhir/Questionaire", "not a FHIR R4 resource type"},
		{"POST", "/fhir/Patient/_search", "does not serve Patient"},
	}
	for _, tc := range tests {
		outcome(t, s.do(tc.method, tc.path, nil), http.StatusNotFound, tc.want)
	}
}

func TestSearchPagesWalkBothWays(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	const n = 25
	want := map[string]bool{}
	for i := range n {
		id, _ := s.mustCreate("QuestionnaireResponse", qrFor("completed", "p1", fmt.Sprintf("r-%d", i)))
		want[id] = true
	}
	s.mustCreate("QuestionnaireResponse", qrFor("in-progress", "p1", "other"))

	// Forward along the next links.
	var pages [][]string
	var bundles []*searchBundle
	next := s.base + "/QuestionnaireResponse?status=completed&_count=10"
	for next != "" {
		b := s.do("GET", next, nil).bundle(t)
		pages = append(pages, b.ids("match"))
		bundles = append(bundles, b)
		next = b.link("next")
		if len(pages) > n {
			t.Fatal("the next links do not end")
		}
	}
	if got := fmt.Sprint(len(pages[0]), len(pages[1]), len(pages[2])); len(pages) != 3 || got != "10 10 5" {
		t.Fatalf("pages of %v, want 10 10 5", pages)
	}
	seen := map[string]bool{}
	for _, p := range pages {
		for _, id := range p {
			if seen[id] || !want[id] {
				t.Errorf("%s came twice or does not match", id)
			}
			seen[id] = true
		}
	}
	if len(seen) != n {
		t.Errorf("walked %d resources, want %d", len(seen), n)
	}
	first := bundles[0]
	if first.link("previous") != "" || first.link("first") != first.link("self") || strings.Contains(first.link("self"), "_cursor") {
		t.Errorf("first page links %+v: want self = first without _cursor, and no previous", first.Link)
	}
	if first.Total == nil && bundles[2].Total != nil {
		t.Errorf("total on a later page but not the first")
	}
	for i, b := range bundles[1:] {
		if !strings.Contains(b.link("self"), "&_cursor=") || b.link("first") != first.link("self") {
			t.Errorf("page %d links %+v: want a self link with its _cursor and the first page's link", i+2, b.Link)
		}
	}

	// Back along the previous links, from the last page.
	prev := bundles[2].link("previous")
	for i := 1; i >= 0; i-- {
		if prev == "" {
			t.Fatalf("page %d has no previous link", i+2)
		}
		b := s.do("GET", prev, nil).bundle(t)
		if diff := cmp.Diff(pages[i], b.ids("match")); diff != "" {
			t.Errorf("page %d walked backwards differs (-forward +backward):\n%s", i+1, diff)
		}
		prev = b.link("previous")
	}
}

func TestSearchRejectsTamperedCursors(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	for i := range 3 {
		s.mustCreate("QuestionnaireResponse", qrFor("completed", "p1", fmt.Sprintf("r-%d", i)))
	}
	next := s.search("status=completed&_count=1").bundle(t).link("next")
	u, err := url.Parse(next)
	if err != nil || u.Query().Get("_cursor") == "" {
		t.Fatalf("next link %q has no _cursor", next)
	}
	cursor := u.Query().Get("_cursor")
	flipped := []byte(cursor)
	flipped[len(flipped)/2] ^= 1
	tests := []struct{ name, query string }{
		{"altered", "status=completed&_count=1&_cursor=" + url.QueryEscape(string(flipped))},
		{"garbage", "status=completed&_count=1&_cursor=not-a-cursor"},
		{"other criteria", "status=in-progress&_count=1&_cursor=" + url.QueryEscape(cursor)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			outcome(t, s.search(tc.query), http.StatusBadRequest, "")
		})
	}
}

func TestSearchCountOnly(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	for i := range 3 {
		s.mustCreate("QuestionnaireResponse", qrFor("completed", "p1", fmt.Sprintf("r-%d", i)))
	}
	for _, q := range []string{"_summary=count", "_count=0", "status=completed&_summary=count"} {
		t.Run(q, func(t *testing.T) {
			t.Parallel()
			b := s.search(q).bundle(t)
			if b.Total == nil || *b.Total != 3 || len(b.Entry) != 0 || b.link("next") != "" {
				t.Errorf("total %v, %d entries, next %q: want total 3 and nothing else", b.Total, len(b.Entry), b.link("next"))
			}
		})
	}
}

func TestSearchEntries(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	planID, _ := s.mustCreate("CarePlan", `{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/p1"}}`)
	qr := strings.Replace(qrFor("completed", "p1", "r-1"), `"status"`, `"basedOn":[{"reference":"CarePlan/`+planID+`"}],"status"`, 1)
	qrID, _ := s.mustCreate("QuestionnaireResponse", qr)
	read := s.do("GET", "/fhir/QuestionnaireResponse/"+qrID, nil).body
	plan := s.do("GET", "/fhir/CarePlan/"+planID, nil).body

	b := s.search("_id=" + qrID + "&_include=QuestionnaireResponse:based-on").bundle(t)
	if len(b.Entry) != 2 {
		t.Fatalf("%d entries, want the match and the included plan: %+v", len(b.Entry), b.Entry)
	}
	tests := []struct {
		entry   searchEntry
		mode    string
		fullURL string
		body    []byte
	}{
		{b.Entry[0], "match", s.base + "/QuestionnaireResponse/" + qrID, read},
		{b.Entry[1], "include", s.base + "/CarePlan/" + planID, plan},
	}
	for _, tc := range tests {
		if tc.entry.Search.Mode != tc.mode || tc.entry.FullURL != tc.fullURL {
			t.Errorf("entry mode %q fullUrl %q, want %q %q", tc.entry.Search.Mode, tc.entry.FullURL, tc.mode, tc.fullURL)
		}
		if !bytes.Equal(tc.entry.Resource, tc.body) {
			t.Errorf("entry resource is not byte for byte what a read returns:\n got %s\nwant %s", tc.entry.Resource, tc.body)
		}
	}
	if !bytes.Contains(b.Entry[0].Resource, []byte(`"valueDecimal":1.10`)) {
		t.Error("the decimal 1.10 lost its trailing zero")
	}
	if b.Total == nil || *b.Total != 1 {
		t.Errorf("total %v, want 1 (matches only)", b.Total)
	}
}

func TestSearchShapesResources(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.mustCreate("QuestionnaireResponse", qrFor("completed", "p1", "r-1"))
	tests := []struct {
		name, query string
		has, lacks  []string
	}{
		{"_elements", "_elements=status", []string{`"status":"completed"`, `"SUBSETTED"`}, []string{`"item"`, `"subject"`}},
		{"_summary=true", "_summary=true", []string{`"SUBSETTED"`}, []string{`"item"`}},
		{"_summary=false", "_summary=false", []string{`"item"`}, []string{`"SUBSETTED"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := s.search(tc.query).bundle(t)
			if len(b.Entry) != 1 {
				t.Fatalf("%d entries, want 1", len(b.Entry))
			}
			res := string(b.Entry[0].Resource)
			for _, h := range tc.has {
				if !strings.Contains(res, h) {
					t.Errorf("resource lacks %s: %s", h, res)
				}
			}
			for _, l := range tc.lacks {
				if strings.Contains(res, l) {
					t.Errorf("resource has %s: %s", l, res)
				}
			}
			if !strings.Contains(b.link("self"), tc.query) {
				t.Errorf("self link %q lacks %s", b.link("self"), tc.query)
			}
		})
	}
}

func TestCapabilityStatementListsSearch(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	var cs struct {
		Rest []struct {
			Resource []struct {
				Type              string
				ConditionalCreate bool
				ConditionalUpdate bool
				ConditionalDelete string
				SearchInclude     []string
				SearchRevInclude  []string
				SearchParam       []struct{ Name, Definition, Type, Documentation string }
			}
		}
	}
	if err := json.Unmarshal(s.do("GET", "/fhir/metadata", nil).body, &cs); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		params     []string // a few that must be there
		include    string
		revinclude string
	}{
		"QuestionnaireResponse": {[]string{"_id", "_lastUpdated", "authored", "questionnaire", "subject", "status"}, "QuestionnaireResponse:based-on", "QuestionnaireResponse:subject"},
		"CarePlan":              {[]string{"_id", "date", "subject", "patient", "category"}, "CarePlan:subject", "QuestionnaireResponse:based-on"},
		"Questionnaire":         {[]string{"_id", "url", "version", "context-type-value"}, "*", "QuestionnaireResponse:questionnaire"},
		"AuditEvent":            {[]string{"_id", "date", "entity", "agent", "outcome", "patient"}, "AuditEvent:entity", "AuditEvent:entity"},
		"Subscription":          {[]string{"_id", "status", "url", "criteria", "payload", "type"}, "*", "AuditEvent:entity"},
	}
	for _, res := range cs.Rest[0].Resource {
		w := want[res.Type]
		if res.Type == "AuditEvent" {
			if res.ConditionalCreate || res.ConditionalUpdate || res.ConditionalDelete != "" {
				t.Errorf("AuditEvent offers conditional writes: %v %v %q", res.ConditionalCreate, res.ConditionalUpdate, res.ConditionalDelete)
			}
		} else if !res.ConditionalCreate || !res.ConditionalUpdate || res.ConditionalDelete != "multiple" {
			t.Errorf("%s: conditional create %v update %v delete %q, want true true multiple", res.Type, res.ConditionalCreate, res.ConditionalUpdate, res.ConditionalDelete)
		}
		var names []string
		for _, p := range res.SearchParam {
			names = append(names, p.Name)
			defined := strings.HasPrefix(p.Definition, "http://hl7.org/fhir/SearchParameter/") ||
				strings.HasPrefix(p.Definition, search.AnswerParamBase) // those this server defines
			if !defined || p.Type == "" ||
				!strings.Contains(p.Documentation, p.Type+" parameter on ") || (p.Type != "composite" && !strings.Contains(p.Documentation, "Modifiers:")) {
				t.Errorf("%s %s: definition %q type %q documentation %q", res.Type, p.Name, p.Definition, p.Type, p.Documentation)
			}
			if p.Type == "date" && !strings.Contains(p.Documentation, "Prefixes: eq, ne, gt, lt, ge, le, sa, eb, ap") {
				t.Errorf("%s %s: documentation %q does not name the prefixes", res.Type, p.Name, p.Documentation)
			}
		}
		for _, p := range w.params {
			if !slices.Contains(names, p) {
				t.Errorf("%s does not list the search parameter %s: %v", res.Type, p, names)
			}
		}
		if !slices.Contains(res.SearchInclude, w.include) || !slices.Contains(res.SearchInclude, "*") {
			t.Errorf("%s searchInclude %v lacks %s or *", res.Type, res.SearchInclude, w.include)
		}
		if !slices.Contains(res.SearchRevInclude, w.revinclude) {
			t.Errorf("%s searchRevInclude %v lacks %s", res.Type, res.SearchRevInclude, w.revinclude)
		}
		// Every listed parameter, with every modifier its documentation names, is searched.
		for _, p := range res.SearchParam {
			d := search.Lookup(res.Type, p.Name)
			if d == nil {
				t.Errorf("%s %s is listed but the parser does not know it", res.Type, p.Name)
				continue
			}
			queries := []string{p.Name + "=" + url.QueryEscape(sampleValue(d))}
			for _, m := range d.Modifiers {
				key, value := p.Name+":"+string(m), sampleValue(d)
				switch m {
				case search.ModifierType:
					if !strings.Contains(p.Documentation, ":[type]") {
						continue
					}
					key, value = p.Name+":"+target(d), "1"
				case search.ModifierMissing:
					value = "true"
				case search.ModifierIdentifier:
					value = "https://example.org/sid|x"
				case search.ModifierOfType:
					value = "https://example.org/cs|MR|x"
				}
				if !strings.Contains(p.Documentation, ":"+string(m)) && m != search.ModifierType {
					continue // not offered
				}
				queries = append(queries, key+"="+url.QueryEscape(value))
			}
			for _, pre := range d.Comparators {
				if !strings.Contains(p.Documentation, "Prefixes: ") {
					t.Errorf("%s %s takes prefixes but its documentation does not name them", res.Type, p.Name)
					break
				}
				value := strings.TrimPrefix(sampleValue(d), "ge")
				queries = append(queries, p.Name+"="+string(pre)+url.QueryEscape(value))
			}
			for _, q := range queries {
				if r := s.do("GET", "/fhir/"+res.Type+"?"+q, nil, "Prefer", "handling=strict"); r.status != http.StatusOK {
					t.Errorf("%s?%s is offered by the CapabilityStatement but answers %d: %s", res.Type, q, r.status, r.body)
				}
			}
		}
	}
}

// sampleValue is a valid search value of the parameter.
func sampleValue(d *search.Definition) string {
	switch {
	case d.Canonical:
		return "https://example.org/" + target(d) + "/x|1"
	case d.Type == search.TypeReference:
		return target(d) + "/1"
	case d.Type == search.TypeComposite && d.Components[1].Def.Type == search.TypeDate:
		return "x$ge2024-01-01"
	case d.Type == search.TypeComposite && d.Components[1].Def.Type == search.TypeNumber:
		return "x$ge5"
	}
	return map[search.ParamType]string{
		search.TypeToken: "x", search.TypeString: "x", search.TypeURI: "https://example.org/x",
		search.TypeDate: "ge2024-01-01", search.TypeQuantity: "5", search.TypeNumber: "5",
		search.TypeComposite: "https://example.org/cs|c$5",
	}[d.Type]
}

// target is a type a reference parameter may point to.
func target(d *search.Definition) string {
	if d.Targets[0] == "*" {
		return "Patient"
	}
	return d.Targets[0]
}
