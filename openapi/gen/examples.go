package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/patient-involvement/fhir-server/api"
	"github.com/patient-involvement/fhir-server/internal/audit"
	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/config"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/questionnaire"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// exampleFixtures names the fixture shown as the example of each resource type clients
// write: small enough to read in Swagger UI, typical of the data. The file is
// fixtures/<type>/<id>.json.
var exampleFixtures = map[string]string{
	"CarePlan":              "careplan-heart-failure-anna-jensen-2025",
	"Questionnaire":         "recommend-nps",
	"QuestionnaireResponse": "qr-phq9-001",
}

// builtExamples make the example of each type that has no fixture (those only the server
// writes, and Subscriptions, which the demo data must not hold) in code: its JSON, its id,
// and a search that finds it.
var builtExamples = map[string]func() (data []byte, id string, query url.Values, err error){
	"AuditEvent":   auditEventExample,
	"Subscription": subscriptionExample,
}

// exampleBase and exampleTime stand in for the server's base URL and clock in examples.
const exampleBase = "http://localhost:8080/fhir"

var exampleTime = time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC)

// examples are the example bodies of the description, made by the server's own code from the
// fixtures, so that they show exactly what the server sends and accepts.
type examples struct {
	byType       map[string]*typeExamples
	capabilities json.RawMessage
	// interactions are, per type, the interactions the CapabilityStatement lists.
	interactions map[string]map[string]bool
	// searchParams are, per type, the search parameters the CapabilityStatement lists.
	searchParams map[string][]searchParam
	// smart is the SMART configuration the server serves in dev mode.
	smart json.RawMessage
	// unauthorized and forbidden are the answers of the token checks, as the server sends them.
	unauthorized []refusal
	forbidden    refusal
	// components are the examples referred to by name, for components.examples: each large
	// body is written once however many operations show it.
	components map[string]any
	// headers are the response headers every operation shares, for components.headers.
	headers map[string]any
}

// refusal is an answer of the server's token checks: its OperationOutcome and, for a 401, its
// WWW-Authenticate challenge.
type refusal struct {
	name, summary string
	challenge     string
	outcome       json.RawMessage
}

// ref records value as the component example name and returns the examples field of a media
// type that refers to it.
func (ex *examples) ref(name, summary string, value any) map[string]any {
	ex.components[name] = map[string]any{"summary": summary, "value": value}
	return map[string]any{name: map[string]any{"$ref": "#/components/examples/" + name}}
}

// typeExamples are the examples of one resource type.
type typeExamples struct {
	id string
	// create is the fixture without id and meta: what a client POSTs.
	create json.RawMessage
	// update is the fixture with its id: what a client PUTs to /fhir/<type>/<id>.
	update json.RawMessage
	// stored is version 1 as the server returns it, with meta written by the server.
	stored *fhir.Resource
	// criteria select the fixture as a conditional create would: url and version, or its
	// first identifier. Empty for types clients do not write.
	criteria string
	// query is an example search that finds the example, such as status=completed.
	query url.Values
	// source says where the example comes from: a fixture, or the server's own code.
	source string
	// invalid is what $validate answers for a broken copy of the fixture, made by the
	// server's checks (nil when none is shown), with its summary.
	invalid        *fhir.OperationOutcome
	invalidSummary string
}

// searchParam is a search parameter as the CapabilityStatement lists it.
type searchParam struct {
	Name          string `json:"name"`
	Definition    string `json:"definition"`
	Type          string `json:"type"`
	Documentation string `json:"documentation"`
}

// newExamples makes the example of each served type, runs it through the domain's parser, so
// that an example the server would reject fails the generation, and asks the server's handler
// for the CapabilityStatement, the SMART configuration and its refusals.
func newExamples(reg *fhir.Registry, fixtures fs.FS) (*examples, error) {
	ex := &examples{byType: map[string]*typeExamples{}, components: map[string]any{}, headers: map[string]any{}}
	for _, t := range reg.Types() {
		te, err := newTypeExamples(t, fixtures)
		if err != nil {
			return nil, err
		}
		ex.byType[t.Name] = te
	}
	if err := invalidExamples(ex.byType, fixtures); err != nil {
		return nil, err
	}
	if err := ex.askServer(reg); err != nil {
		return nil, err
	}
	var err error
	if ex.interactions, ex.searchParams, err = capabilityResources(ex.capabilities); err != nil {
		return nil, err
	}
	return ex, nil
}

// newTypeExamples makes the examples of type t: from its fixture, or built by the server's
// code for a type only the server writes.
func newTypeExamples(t *fhir.ResourceType, fixtures fs.FS) (*typeExamples, error) {
	var (
		data  []byte
		query url.Values
		err   error
	)
	build, built := builtExamples[t.Name]
	id, fixed := exampleFixtures[t.Name]
	switch {
	case built:
		if data, id, query, err = build(); err != nil {
			return nil, fmt.Errorf("example of %s: %w", t.Name, err)
		}
	case fixed:
		if data, err = fs.ReadFile(fixtures, t.Name+"/"+id+".json"); err != nil {
			return nil, fmt.Errorf("example of %s: %w", t.Name, err)
		}
	default:
		return nil, fmt.Errorf("no example fixture is chosen for %s: add one to exampleFixtures", t.Name)
	}
	body, err := fhir.ParseBody(data, t.Name)
	if err != nil {
		return nil, fmt.Errorf("example %s/%s is not accepted by the server: %w", t.Name, id, err)
	}
	stored, err := body.Version(id, 1, exampleTime, http.MethodPost)
	if err != nil {
		return nil, err
	}
	te := &typeExamples{id: id, stored: stored, query: query, source: "a fixture"}
	if built {
		te.source = "made by the server's code"
		if t.Offers(fhir.InteractionCreate) {
			// A type clients write (Subscription): its create and update examples, and its
			// search as the conditional criteria.
			if te.create, err = withoutFields(data, "id", "meta"); err != nil {
				return nil, err
			}
			if te.update, err = withoutFields(data, "meta"); err != nil {
				return nil, err
			}
			for k, v := range query {
				te.criteria = k + "=" + v[0]
			}
		}
		return te, nil
	}
	if te.create, err = withoutFields(data, "id", "meta"); err != nil {
		return nil, fmt.Errorf("example fixture %s/%s: %w", t.Name, id, err)
	}
	if te.update, err = withoutFields(data, "meta"); err != nil {
		return nil, fmt.Errorf("example fixture %s/%s: %w", t.Name, id, err)
	}
	if err := te.readFixture(data); err != nil {
		return nil, fmt.Errorf("example fixture %s/%s: %w", t.Name, id, err)
	}
	return te, nil
}

// readFixture takes the example criteria and search from the fixture.
func (t *typeExamples) readFixture(data []byte) error {
	var f struct {
		URL        string          `json:"url"`
		Version    string          `json:"version"`
		Status     string          `json:"status"`
		Identifier json.RawMessage `json:"identifier"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	if f.Status == "" {
		return fmt.Errorf("no status to show in an example search")
	}
	t.query = url.Values{"status": {f.Status}}
	// Written as a person would type them: the server reads them as a query string.
	if f.URL != "" && f.Version != "" {
		t.criteria = "url=" + f.URL + "&version=" + f.Version
		return nil
	}
	var ids []struct{ System, Value string }
	raw := bytes.TrimSpace(f.Identifier)
	if len(raw) > 0 && raw[0] == '{' {
		raw = append(append([]byte{'['}, raw...), ']')
	}
	if err := json.Unmarshal(raw, &ids); err != nil || len(ids) == 0 || ids[0].Value == "" {
		return fmt.Errorf("no url and version, nor an identifier, to show as conditional criteria")
	}
	t.criteria = "identifier=" + ids[0].System + "|" + ids[0].Value
	return nil
}

// auditRecord is what the example AuditEvent records: a practitioner's app read the
// QuestionnaireResponse example with a token from the organisation's login service.
var auditRecord = audit.Record{
	Time:         exampleTime,
	Interaction:  string(fhir.InteractionRead),
	ResourceType: "QuestionnaireResponse",
	Resources:    []string{"QuestionnaireResponse/" + exampleFixtures["QuestionnaireResponse"] + "/_history/1"},
	Patient:      "Patient/pat-mette-christensen", // the subject of that fixture
	Outcome:      http.StatusOK,
	Issuer:       "https://login.example.org/realms/health",
	Subject:      "3f6c2a1e-8b4d-4e7f-9a0c-5d1b2e3f4a6b",
	FHIRUser:     "Practitioner/pr-ida-holm",
	ClientID:     "ehr-viewer",
	TokenID:      "b7e4c2a9d1f03e5a6c8b0d2f4e6a8c0e",
	ID:           "3f9c1e7a5b2d4c6e8a0b1c3d5e7f9a2b",
	RemoteAddr:   "192.0.2.10:51234",
	RequestID:    "7d1f0a3c9e4b2a6f1c8d5e07",
}

// auditEventExample is the AuditEvent the server records for auditRecord, with the id the
// server gave the record when it took it, and a search by its patient.
func auditEventExample() ([]byte, string, url.Values, error) {
	data, err := audit.Build(auditRecord, audit.Source{Observer: "fhir-server"})
	if err != nil {
		return nil, "", nil, err
	}
	return data, auditRecord.ID, url.Values{"patient": {auditRecord.Patient}}, nil
}

// subscriptionExample is a care team's subscription to severe PHQ-9 answers (README).
func subscriptionExample() ([]byte, string, url.Values, error) {
	const id = "severe-phq9"
	data := []byte(`{"resourceType":"Subscription","id":"` + id + `","status":"requested",` +
		`"reason":"Tell the care contact of PHQ-9 responses with item 9 (thoughts of self-harm) above 0",` +
		`"criteria":"QuestionnaireResponse?questionnaire=https://fhir.patient-involvement.example/Questionnaire/phq-9|1.0&item-answer-number=44260-8$gt0",` +
		`"channel":{"type":"rest-hook","endpoint":"https://care-team.example.org/fhir-notifications","payload":"application/fhir+json",` +
		`"header":["Authorization: Bearer <the receiver's own secret>"]}}`)
	return data, id, url.Values{"status": {"requested"}}, nil
}

// capabilityResources reads the interactions and search parameters of each type from the
// CapabilityStatement, so that the description documents exactly what it lists, in its words.
func capabilityResources(caps json.RawMessage) (map[string]map[string]bool, map[string][]searchParam, error) {
	var cs struct {
		Rest []struct {
			Resource []struct {
				Type        string `json:"type"`
				Interaction []struct {
					Code string `json:"code"`
				} `json:"interaction"`
				SearchParam []searchParam `json:"searchParam"`
				Operation   []struct {
					Name string `json:"name"`
				} `json:"operation"`
			} `json:"resource"`
		} `json:"rest"`
	}
	if err := json.Unmarshal(caps, &cs); err != nil || len(cs.Rest) != 1 {
		return nil, nil, fmt.Errorf("read the CapabilityStatement: %v", err)
	}
	interactions := map[string]map[string]bool{}
	params := map[string][]searchParam{}
	for _, r := range cs.Rest[0].Resource {
		interactions[r.Type] = map[string]bool{}
		for _, i := range r.Interaction {
			interactions[r.Type][i.Code] = true
		}
		for _, op := range r.Operation {
			interactions[r.Type][op.Name] = true
		}
		params[r.Type] = r.SearchParam
	}
	return interactions, params, nil
}

// askServer takes from the real handler, in the server's default mode (dev), what it answers
// without touching data: the CapabilityStatement, the SMART configuration, and the refusals
// of a request without a token, with an invalid one and with one whose scopes do not allow
// it. The dev key is made in a directory removed at once; no answer shows it.
func (ex *examples) askServer(reg *fhir.Registry) error {
	svc, err := fhir.NewService(unusedStore{}, reg)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "fhir-openapi-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	verifier, err := auth.NewVerifier(context.Background(), auth.Options{
		Mode: auth.ModeDev, Issuer: config.DevIssuer, Audience: exampleBase, DataDir: dir,
	})
	if err != nil {
		return err
	}
	h, err := api.New(api.Options{
		Service: svc, Searcher: unusedSearcher{}, Logger: slog.New(slog.DiscardHandler), BaseURL: exampleBase,
		Version: "1.0.0", StartedAt: exampleTime, Auth: verifier, Discovery: auth.Discovery{Issuer: config.DevIssuer},
	})
	if err != nil {
		return err
	}
	// A patient's token: it may read questionnaires, not delete them.
	patient, err := verifier.DevKey().Mint(auth.TokenOptions{
		Scope: "patient/Questionnaire.rs", Patient: "pat-anna-jensen", Issuer: config.DevIssuer, Audience: exampleBase,
	})
	if err != nil {
		return err
	}
	ask := func(method, target, token string, status int) (json.RawMessage, http.Header, error) {
		req := httptest.NewRequest(method, target, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != status {
			return nil, nil, fmt.Errorf("%s %s answered %d, want %d: %s", method, target, rec.Code, status, rec.Body)
		}
		return json.RawMessage(rec.Body.Bytes()), rec.Header(), nil
	}
	if ex.capabilities, _, err = ask(http.MethodGet, "/fhir/metadata", "", http.StatusOK); err != nil {
		return err
	}
	if ex.smart, _, err = ask(http.MethodGet, "/.well-known/smart-configuration", "", http.StatusOK); err != nil {
		return err
	}
	for _, r := range []struct{ name, summary, token string }{
		{"NoToken", "No Authorization header", ""},
		{"InvalidToken", "A token that is malformed, expired, or not signed by a trusted key", "not-a-valid-token"},
	} {
		body, header, err := ask(http.MethodGet, "/fhir/Questionnaire", r.token, http.StatusUnauthorized)
		if err != nil {
			return err
		}
		ex.unauthorized = append(ex.unauthorized, refusal{name: r.name, summary: r.summary, challenge: header.Get("WWW-Authenticate"), outcome: body})
	}
	body, _, err := ask(http.MethodDelete, "/fhir/Questionnaire/"+exampleFixtures["Questionnaire"], patient, http.StatusForbidden)
	if err != nil {
		return err
	}
	ex.forbidden = refusal{name: "ScopeDoesNotAllow", summary: "A patient/Questionnaire.rs token tries a delete", outcome: body}
	return nil
}

// unusedStore is a store for a handler that reads no data: any call fails the generation.
type unusedStore struct{ fhir.Store }

// unusedSearcher is the searcher beside unusedStore: never called either.
type unusedSearcher struct{ search.Searcher }

// history is a page of history holding version 1 of the example, as the history handler
// writes it. instance selects /fhir/<type>/<id>/_history over /fhir/<type>/_history.
func (t *typeExamples) history(instance bool) api.Bundle {
	r := t.stored
	self := exampleBase + "/" + r.Type
	if instance {
		self += "/" + r.ID
	}
	self += "/_history?_count=20"
	return api.Bundle{
		ResourceType: "Bundle",
		ID:           "5f0c7e1a9b2d4c6e8f1a3b5c7d9e0f21",
		Meta:         &api.BundleMeta{LastUpdated: fhir.FormatInstant(exampleTime.Add(time.Hour))},
		Type:         "history",
		Link:         []api.BundleLink{{Relation: "self", URL: self}},
		Entry: []api.BundleEntry{{
			FullURL:  exampleBase + "/" + r.Type + "/" + r.ID,
			Resource: r.Raw,
			Request:  &api.EntryRequest{Method: http.MethodPost, URL: r.Type},
			Response: &api.EntryResponse{
				Status:       "201 Created",
				Location:     t.location(),
				Etag:         r.ETag(),
				LastModified: fhir.FormatInstant(r.LastUpdated),
			},
		}},
	}
}

// searchset is a page of search results holding version 1 of the example, as the search
// handler writes it for GET /fhir/<type>?<its query>.
func (t *typeExamples) searchset() api.Bundle {
	r := t.stored
	q := url.Values{"_count": {"20"}}
	for k, v := range t.query {
		q[k] = v
	}
	query := q.Encode()
	total := int64(1)
	return api.Bundle{
		ResourceType: "Bundle",
		ID:           "a3c5e7f9b1d24f6081a3c5e7f9b1d240",
		Meta:         &api.BundleMeta{LastUpdated: fhir.FormatInstant(exampleTime.Add(time.Hour))},
		Type:         "searchset",
		Total:        &total,
		Link: []api.BundleLink{
			{Relation: "self", URL: exampleBase + "/" + r.Type + "?" + query},
			{Relation: "first", URL: exampleBase + "/" + r.Type + "?" + query},
		},
		Entry: []api.BundleEntry{{
			FullURL:  exampleBase + "/" + r.Type + "/" + r.ID,
			Resource: r.Raw,
			Search:   &api.EntrySearch{Mode: "match"},
		}},
	}
}

// location is the Location header of a write of the example.
func (t *typeExamples) location() string {
	r := t.stored
	return exampleBase + "/" + r.Type + "/" + r.ID + "/_history/" + strconv.FormatInt(r.VersionID, 10)
}

// deleted is the OperationOutcome of a delete answered with Prefer: return=OperationOutcome.
func (t *typeExamples) deleted() *fhir.OperationOutcome {
	r := t.stored
	return fhir.NewOperationOutcome(fhir.Issue{
		Severity: fhir.SeverityInformation, Code: fhir.IssueInformational,
		Diagnostics: "Deleted " + r.Type + "/" + r.ID + " (version 2)",
	})
}

// valid is the OperationOutcome of $validate when the resource has no issues.
func (t *typeExamples) valid() *fhir.OperationOutcome {
	return fhir.NewOperationOutcome(fhir.Issue{Severity: fhir.SeverityInformation, Code: fhir.IssueInformational, Diagnostics: api.NoIssues})
}

// validateParameters is the example body of $validate as a Parameters resource: the
// fixture (with its id for an instance) and the mode.
func (t *typeExamples) validateParameters(instance bool) json.RawMessage {
	res, mode := t.create, "create"
	if instance {
		res, mode = t.update, "update"
	}
	return json.RawMessage(`{"resourceType":"Parameters","parameter":[{"name":"resource","resource":` + string(res) +
		`},{"name":"mode","valueCode":"` + mode + `"}]}`)
}

// errorOutcome is the OperationOutcome the server's error writer sends with status, with
// diagnostics as the message. A 500 shows only the generic text clients see.
func errorOutcome(status int, diagnostics string) (*fhir.OperationOutcome, error) {
	for k := fhir.KindInternal; k <= fhir.KindUnprocessable; k++ {
		if k.Status() != status {
			continue
		}
		if k == fhir.KindInternal {
			return fhir.OutcomeFor(fhir.Wrap(fmt.Errorf("example"), "example")), nil
		}
		return fhir.OutcomeFor(fhir.Errorf(k, "%s", diagnostics)), nil
	}
	return nil, fmt.Errorf("no error kind has the status %d", status)
}

// withoutFields returns the JSON object data without the named top-level fields, keeping the
// order of the others.
func withoutFields(data []byte, drop ...string) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	var out bytes.Buffer
	out.WriteByte('{')
	n := 0
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, err
		}
		skip := false
		for _, d := range drop {
			skip = skip || key == d
		}
		if skip {
			continue
		}
		if n > 0 {
			out.WriteByte(',')
		}
		n++
		k, _ := json.Marshal(key)
		out.Write(k)
		out.WriteByte(':')
		out.Write(value)
	}
	out.WriteByte('}')
	var compact bytes.Buffer
	if err := json.Compact(&compact, out.Bytes()); err != nil {
		return nil, err
	}
	return compact.Bytes(), nil
}

// invalidExamples make what $validate answers for broken copies of two fixtures, with the
// server's own checks: a PHQ-9 response whose total does not add up, and a Questionnaire
// with a linkId used twice.
func invalidExamples(byType map[string]*typeExamples, fixtures fs.FS) error {
	read := func(name string) (map[string]any, error) {
		data, err := fs.ReadFile(fixtures, name)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var tree map[string]any
		return tree, dec.Decode(&tree)
	}
	q, err := read("Questionnaire/phq-9.json")
	if err != nil {
		return err
	}
	checker, issues := questionnaire.Compile(q)
	if len(issues) > 0 {
		return fmt.Errorf("the PHQ-9 fixture does not compile: %v", issues)
	}
	qr, err := read("QuestionnaireResponse/" + exampleFixtures["QuestionnaireResponse"] + ".json")
	if err != nil {
		return err
	}
	items, _ := qr["item"].([]any)
	last, _ := items[len(items)-1].(map[string]any)
	last["answer"] = []any{map[string]any{"valueInteger": json.Number("12")}}
	res := checker.Check(context.Background(), qr)
	if len(res.Issues) == 0 {
		return fmt.Errorf("a PHQ-9 response with a wrong total has no issues")
	}
	if te := byType["QuestionnaireResponse"]; te != nil {
		te.invalid, te.invalidSummary = fhir.NewOperationOutcome(res.Issues...), "The fixture with its total score changed to 12"
	}
	nps, err := read("Questionnaire/" + exampleFixtures["Questionnaire"] + ".json")
	if err != nil {
		return err
	}
	qitems, _ := nps["item"].([]any)
	second, _ := qitems[1].(map[string]any)
	first, _ := qitems[0].(map[string]any)
	second["linkId"] = first["linkId"]
	if _, issues := questionnaire.Compile(nps); len(issues) == 0 {
		return fmt.Errorf("a Questionnaire with a duplicate linkId has no issues")
	} else if te := byType["Questionnaire"]; te != nil {
		te.invalid, te.invalidSummary = fhir.NewOperationOutcome(issues...), "The fixture with its second item given the linkId of the first"
	}
	return nil
}
