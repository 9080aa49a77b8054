package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/patient-involvement/fhir-server/fixtures"
	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// swagOutput is a small document of the shape swag writes for a generic read.
const swagOutput = `{
  "openapi": "3.1.0",
  "info": {"title": "t", "version": "1"},
  "paths": {
    "/fhir/{type}/{id}": {"get": {
      "operationId": "read", "summary": "Read a {type}", "tags": ["{type}"],
      "security": [{"BearerAuth": []}],
      "parameters": [
        {"name": "type", "in": "path", "required": true, "schema": {"type": "string"}},
        {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}
      ],
      "responses": {
        "200": {"description": "ok", "content": {"application/fhir+json": {"schema": {"$ref": "#/components/schemas/Resource"}}},
                "headers": {"ETag": {"schema": {"type": "string"}}, "X-Request-Id": {"schema": {"type": "string"}}}},
        "404": {"description": "The type is not served", "content": {"application/fhir+json": {"schema": {"$ref": "#/components/schemas/fhir.OperationOutcome"}}}}
      }
    }}
  },
  "components": {"schemas": {
    "Resource": {"type": "object", "properties": {"resourceType": {"type": "string"}}},
    "fhir.OperationOutcome": {"type": "object", "properties": {"issue": {"type": "array", "uniqueItems": false, "items": {"$ref": "#/components/schemas/fhir.Issue"}}}},
    "fhir.Issue": {"type": "object", "x-enum-varnames": ["X"]}
  }}
}`

func TestFinishExpandsGenericPathsPerType(t *testing.T) {
	reg := fhir.DefaultRegistry()
	ex, err := newExamples(reg, fixtures.FS())
	if err != nil {
		t.Fatal(err)
	}
	doc, err := finish([]byte(swagOutput), reg, ex)
	if err != nil {
		t.Fatal(err)
	}
	out, err := encodeJSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Paths map[string]map[string]struct {
			OperationID string           `json:"operationId"`
			Interaction string           `json:"x-fhir-interaction"`
			Summary     string           `json:"summary"`
			Tags        []string         `json:"tags"`
			Description string           `json:"description"`
			Security    []map[string]any `json:"security"`
			Parameters  []struct {
				Name    string `json:"name"`
				Example string `json:"example"`
			} `json:"parameters"`
			Responses map[string]struct {
				Ref string `json:"$ref"`
			} `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas   map[string]json.RawMessage `json:"schemas"`
			Examples  map[string]json.RawMessage `json:"examples"`
			Responses map[string]struct {
				Headers map[string]json.RawMessage `json:"headers"`
				Content map[string]struct {
					Examples map[string]json.RawMessage `json:"examples"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"components"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Paths) != len(reg.Types()) {
		t.Errorf("got paths %v, want one per served type", got.Paths)
	}
	for _, rt := range reg.Types() {
		op, ok := got.Paths["/fhir/"+rt.Name+"/{id}"]["get"]
		if !ok {
			t.Errorf("no GET /fhir/%s/{id}", rt.Name)
			continue
		}
		if op.OperationID != "read"+rt.Name || op.Interaction != "read" || op.Summary != "Read a "+rt.Name ||
			len(op.Tags) != 1 || op.Tags[0] != rt.Name {
			t.Errorf("%s: operationId %q, interaction %q, summary %q, tags %v", rt.Name, op.OperationID, op.Interaction, op.Summary, op.Tags)
		}
		if len(op.Parameters) != 1 || op.Parameters[0].Name != "id" || op.Parameters[0].Example != ex.byType[rt.Name].id {
			t.Errorf("%s: parameters %+v, want only id with the example's id as example", rt.Name, op.Parameters)
		}
		if len(op.Security) != 1 || op.Security[0]["BearerAuth"] == nil {
			t.Errorf("%s: security %v, want the bearer scheme and no alternative", rt.Name, op.Security)
		}
		if op.Responses["401"].Ref != "#/components/responses/Unauthorized" || op.Responses["403"].Ref != "#/components/responses/Forbidden" {
			t.Errorf("%s: 401 and 403 are %+v %+v, want the shared responses", rt.Name, op.Responses["401"], op.Responses["403"])
		}
		if want := "grant `r` on " + rt.Name; !strings.Contains(op.Description, want) {
			t.Errorf("%s: description %q does not say the token needs %q", rt.Name, op.Description, want)
		}
		if _, ok := got.Components.Schemas[rt.Name]; !ok {
			t.Errorf("no schema %s", rt.Name)
		}
		if e := string(got.Components.Examples[rt.Name]); !strings.Contains(e, `"versionId":"1"`) {
			t.Errorf("example %s lacks the meta the server writes: %.200s", rt.Name, e)
		}
	}
	unauthorized := got.Components.Responses["Unauthorized"]
	if unauthorized.Headers["WWW-Authenticate"] == nil || len(unauthorized.Content["application/fhir+json"].Examples) != 2 {
		t.Errorf("the 401 response lacks WWW-Authenticate or its two examples: %+v", unauthorized)
	}
	if len(got.Components.Responses["Forbidden"].Content["application/fhir+json"].Examples) != 1 {
		t.Error("the 403 response has no example")
	}
	text := string(out)
	if !strings.Contains(text, `"code":"login"`) || !strings.Contains(text, `"code":"forbidden"`) {
		t.Error("the 401 and 403 examples are not the server's OperationOutcomes")
	}
	for _, gone := range []string{"fhir.OperationOutcome", "x-enum-varnames", "uniqueItems", "{type}"} {
		if strings.Contains(text, gone) {
			t.Errorf("the finished document still contains %q", gone)
		}
	}
	if !strings.Contains(text, `"code":"not-found"`) || !strings.Contains(text, `"#/components/headers/X-Request-Id"`) {
		t.Error("the 404 example or the shared X-Request-Id header is missing")
	}
}

func TestFinishRejectsUnsoundDocuments(t *testing.T) {
	reg := fhir.DefaultRegistry()
	ex, err := newExamples(reg, fixtures.FS())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, from, to, want string
	}{
		{"unresolved reference", `"#/components/schemas/fhir.Issue"`, `"#/components/schemas/Nothing"`, "unresolved reference"},
		{"operation without @ID", `"operationId": "read", `, ``, "has no @ID"},
		{"FHIR operation without the bearer token", `"security": [{"BearerAuth": []}],`, ``, "requires the bearer token: false, want true"},
		{"operation of an interaction no type offers", `"operationId": "read"`, `"operationId": "history-system"`, "no served type offers the history-system interaction"},
		{"token on an operation of unknown access", `"operationId": "read"`, `"operationId": "read.sideways"`, "no SMART permission"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := finish([]byte(strings.Replace(swagOutput, tc.from, tc.to, 1)), reg, ex)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one about %q", err, tc.want)
			}
		})
	}
}

func TestWithoutFieldsKeepsOrder(t *testing.T) {
	got, err := withoutFields([]byte(`{"resourceType":"X","id":"a","meta":{"v":1},"b":1.10,"a":[1]}`), "id", "meta")
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"resourceType":"X","b":1.10,"a":[1]}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// swagSearchOutput is a small document of the shape swag writes for a search, its POST form
// and a conditional update.
const swagSearchOutput = `{
  "openapi": "3.1.0",
  "info": {"title": "t", "version": "1"},
  "paths": {
    "/fhir/{type}": {
      "get": {
        "operationId": "search-type", "summary": "Search {type}", "tags": ["{type}"],
        "security": [{"BearerAuth": []}],
        "parameters": [
          {"name": "type", "in": "path", "required": true, "schema": {"type": "string"}},
          {"name": "_count", "in": "query", "description": "page size", "schema": {"type": "integer", "minimum": 0}},
          {"name": "_cursor", "in": "query", "schema": {"type": "string"}},
          {"name": "_format", "in": "query", "schema": {"type": "string"}}
        ],
        "responses": {"200": {"description": "ok", "content": {"application/fhir+json": {"schema": {"$ref": "#/components/schemas/api.Bundle"}}}}}
      },
      "put": {
        "operationId": "update.conditional", "summary": "Update {type}", "tags": ["{type}"],
        "security": [{"BearerAuth": []}],
        "parameters": [{"name": "type", "in": "path", "required": true, "schema": {"type": "string"}}],
        "requestBody": {"content": {"application/fhir+json": {"schema": {"$ref": "#/components/schemas/Resource"}}}},
        "responses": {"200": {"description": "ok"}}
      }
    },
    "/fhir/{type}/_search": {"post": {
      "operationId": "search-type.post", "summary": "Search {type} by POST", "tags": ["{type}"], "security": [{"BearerAuth": []}],
      "parameters": [{"name": "type", "in": "path", "required": true, "schema": {"type": "string"}}],
      "responses": {"200": {"description": "ok", "content": {"application/fhir+json": {"schema": {"$ref": "#/components/schemas/api.Bundle"}}}}}
    }}
  },
  "components": {"schemas": {
    "Resource": {"type": "object", "properties": {"resourceType": {"type": "string"}}},
    "api.Bundle": {"type": "object"},
    "fhir.OperationOutcome": {"type": "object"}
  }}
}`

func TestFinishAddsSearchParameters(t *testing.T) {
	reg := fhir.DefaultRegistry()
	ex, err := newExamples(reg, fixtures.FS())
	if err != nil {
		t.Fatal(err)
	}
	doc, err := finish([]byte(swagSearchOutput), reg, ex)
	if err != nil {
		t.Fatal(err)
	}
	out, err := encodeJSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	type param struct {
		Name, In, Description string
	}
	var got struct {
		Tags  []struct{ Name, Description string } `json:"tags"`
		Paths map[string]map[string]struct {
			OperationID string  `json:"operationId"`
			Interaction string  `json:"x-fhir-interaction"`
			Parameters  []param `json:"parameters"`
			RequestBody struct {
				Content map[string]struct {
					Schema struct {
						Properties map[string]json.RawMessage `json:"properties"`
					} `json:"schema"`
					Examples map[string]json.RawMessage `json:"examples"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
		Components struct {
			Examples map[string]struct {
				Value struct {
					Type  string `json:"type"`
					Total int    `json:"total"`
					Entry []struct {
						Search struct{ Mode string } `json:"search"`
					} `json:"entry"`
				} `json:"value"`
			} `json:"examples"`
		} `json:"components"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	for _, rt := range reg.Types() {
		params := ex.searchParams[rt.Name]
		if len(params) == 0 {
			t.Fatalf("%s: the CapabilityStatement lists no search parameters", rt.Name)
		}
		get := got.Paths["/fhir/"+rt.Name]["get"]
		post := got.Paths["/fhir/"+rt.Name+"/_search"]["post"]
		put, updates := got.Paths["/fhir/"+rt.Name]["put"]
		if updates != rt.Offers(fhir.InteractionUpdate) {
			t.Errorf("%s: PUT /fhir/%s documented: %v, but the type offers update: %v", rt.Name, rt.Name, updates, !updates)
		}
		ops := []struct {
			name, id, interaction, gotID, gotInteraction string
		}{
			{"GET", "searchType" + rt.Name, "search-type", get.OperationID, get.Interaction},
			{"POST _search", "searchTypePost" + rt.Name, "search-type", post.OperationID, post.Interaction},
		}
		withCriteria := [][]param{get.Parameters}
		if updates {
			ops = append(ops, struct{ name, id, interaction, gotID, gotInteraction string }{
				"PUT", "updateConditional" + rt.Name, "update", put.OperationID, put.Interaction})
			withCriteria = append(withCriteria, put.Parameters)
		}
		for _, op := range ops {
			if op.gotID != op.id || op.gotInteraction != op.interaction {
				t.Errorf("%s %s: operationId %q interaction %q, want %q %q", op.name, rt.Name, op.gotID, op.gotInteraction, op.id, op.interaction)
			}
		}
		// The search parameters come first, in the CapabilityStatement's order and words.
		for i, p := range params {
			for _, op := range withCriteria {
				if i >= len(op) || op[i].Name != p.Name || op[i].In != "query" || !strings.Contains(op[i].Description, p.Documentation) {
					t.Fatalf("%s: parameter %d is %+v, want %s with its documentation", rt.Name, i, op[min(i, len(op)-1)], p.Name)
				}
			}
		}
		if last := get.Parameters[len(params)]; last.Name != "_count" {
			t.Errorf("%s: after the search parameters comes %s, want _count", rt.Name, last.Name)
		}
		form := post.RequestBody.Content["application/x-www-form-urlencoded"].Schema.Properties
		if len(form) != len(params)+1 || form["_count"] == nil || form["_cursor"] != nil || form["_format"] != nil {
			t.Errorf("%s: form fields %v, want the search parameters and _count", rt.Name, keys(form))
		}
		if e := got.Components.Examples[rt.Name+"Searchset"].Value; e.Type != "searchset" || e.Total != 1 || len(e.Entry) != 1 || e.Entry[0].Search.Mode != "match" {
			t.Errorf("%s: searchset example %+v", rt.Name, e)
		}
		if _, ok := put.RequestBody.Content["application/fhir+json"].Examples[rt.Name+"ConditionalUpdate"]; updates && !ok {
			t.Errorf("%s: the conditional update has no example body", rt.Name)
		}
	}
	for _, tag := range got.Tags {
		if !strings.Contains(tag.Description, "search-type") {
			t.Errorf("tag %s: %q does not name search-type", tag.Name, tag.Description)
		}
	}
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
