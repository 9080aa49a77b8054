package main

import (
	"context"
	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/config"
	"os"

	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"time"

	"github.com/patient-involvement/fhir-server/api"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// exampleFixtures names the fixture shown as the example of each resource type: small enough
// to read in Swagger UI, typical of the data. The file is fixtures/<type>/<id>.json.
var exampleFixtures = map[string]string{
	"CarePlan":              "careplan-heart-failure-anna-jensen-2025",
	"Questionnaire":         "recommend-nps",
	"QuestionnaireResponse": "qr-phq9-001",
}

// exampleBase and exampleTime stand in for the server's base URL and clock in examples.
const exampleBase = "http://localhost:8080/fhir"

var exampleTime = time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC)

// examples are the example bodies of the description, made by the server's own code from the
// fixtures, so that they show exactly what the server sends and accepts.
type examples struct {
	byType       map[string]*typeExamples
	capabilities json.RawMessage
	// searchParams are, per type, the search parameters the CapabilityStatement lists.
	searchParams map[string][]searchParam
	// components are the examples referred to by name, for components.examples: each large
	// body is written once however many operations show it.
	components map[string]any
	// headers are the response headers every operation shares, for components.headers.
	headers map[string]any
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
	// first identifier.
	criteria string
	// status is the fixture's status, for example searches.
	status string
}

// searchParam is a search parameter as the CapabilityStatement lists it.
type searchParam struct {
	Name          string `json:"name"`
	Definition    string `json:"definition"`
	Type          string `json:"type"`
	Documentation string `json:"documentation"`
}

// newExamples reads each served type's example fixture and runs it through the domain's
// parser, so a fixture the server would reject fails the generation.
func newExamples(reg *fhir.Registry, fixtures fs.FS) (*examples, error) {
	ex := &examples{byType: map[string]*typeExamples{}, components: map[string]any{}, headers: map[string]any{}}
	for _, t := range reg.Types() {
		id, ok := exampleFixtures[t.Name]
		if !ok {
			return nil, fmt.Errorf("no example fixture is chosen for %s: add one to exampleFixtures", t.Name)
		}
		data, err := fs.ReadFile(fixtures, t.Name+"/"+id+".json")
		if err != nil {
			return nil, fmt.Errorf("example of %s: %w", t.Name, err)
		}
		body, err := fhir.ParseBody(data, t.Name)
		if err != nil {
			return nil, fmt.Errorf("example fixture %s/%s is not accepted by the server: %w", t.Name, id, err)
		}
		stored, err := body.Version(id, 1, exampleTime, http.MethodPost)
		if err != nil {
			return nil, err
		}
		create, err := withoutFields(data, "id", "meta")
		if err != nil {
			return nil, fmt.Errorf("example fixture %s/%s: %w", t.Name, id, err)
		}
		update, err := withoutFields(data, "meta")
		if err != nil {
			return nil, fmt.Errorf("example fixture %s/%s: %w", t.Name, id, err)
		}
		te := &typeExamples{id: id, create: create, update: update, stored: stored}
		if err := te.readFixture(data); err != nil {
			return nil, fmt.Errorf("example fixture %s/%s: %w", t.Name, id, err)
		}
		ex.byType[t.Name] = te
	}
	caps, err := capabilityExample(reg)
	if err != nil {
		return nil, err
	}
	ex.capabilities = caps
	if ex.searchParams, err = capabilitySearchParams(caps); err != nil {
		return nil, err
	}
	return ex, nil
}

// readFixture takes the example criteria and status from the fixture.
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
	t.status = f.Status
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

// capabilitySearchParams reads the search parameters of each type from the
// CapabilityStatement, so that the description documents exactly what it lists, in its words.
func capabilitySearchParams(caps json.RawMessage) (map[string][]searchParam, error) {
	var cs struct {
		Rest []struct {
			Resource []struct {
				Type        string        `json:"type"`
				SearchParam []searchParam `json:"searchParam"`
			} `json:"resource"`
		} `json:"rest"`
	}
	if err := json.Unmarshal(caps, &cs); err != nil || len(cs.Rest) != 1 {
		return nil, fmt.Errorf("read the CapabilityStatement: %v", err)
	}
	out := map[string][]searchParam{}
	for _, r := range cs.Rest[0].Resource {
		out[r.Type] = r.SearchParam
	}
	return out, nil
}

// capabilityExample is the CapabilityStatement the server sends, taken from the real handler.
// GET /fhir/metadata reads no data, so the service stands on a store that is never called.
func capabilityExample(reg *fhir.Registry) (json.RawMessage, error) {
	svc, err := fhir.NewService(unusedStore{}, reg)
	if err != nil {
		return nil, err
	}
	// The server's default mode, dev, so that the example shows rest.security. Its key is
	// made in a directory removed at once; the statement names no key.
	dir, err := os.MkdirTemp("", "fhir-openapi-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	verifier, err := auth.NewVerifier(context.Background(), auth.Options{
		Mode: auth.ModeDev, Issuer: config.DevIssuer, Audience: exampleBase, DataDir: dir,
	})
	if err != nil {
		return nil, err
	}
	h, err := api.New(api.Options{
		Service: svc, Searcher: unusedSearcher{}, Logger: slog.New(slog.DiscardHandler), BaseURL: exampleBase,
		Version: "1.0.0", StartedAt: exampleTime, Auth: verifier,
	})
	if err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/fhir/metadata", nil))
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("GET /fhir/metadata answered %d: %s", rec.Code, rec.Body)
	}
	return json.RawMessage(rec.Body.Bytes()), nil
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
// handler writes it for GET /fhir/<type>?status=<its status>.
func (t *typeExamples) searchset() api.Bundle {
	r := t.stored
	query := url.Values{"status": {t.status}, "_count": {"20"}}.Encode()
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

// errorOutcome is the OperationOutcome the server's error writer sends with status, with
// diagnostics as the message. A 500 shows only the generic text clients see.
func errorOutcome(status int, diagnostics string) (*fhir.OperationOutcome, error) {
	for k := fhir.KindInternal; k <= fhir.KindTooManyMatches; k++ {
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
