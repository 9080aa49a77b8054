package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/patient-involvement/fhir-server/api"
	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/fhir"
)

const (
	// typeParam is the path parameter of the generic FHIR routes, as the annotations write it.
	typeParam = "{type}"
	// schemaRefPrefix starts every reference to a component schema.
	schemaRefPrefix = "#/components/schemas/"
	// resourceSchema is the schema of api.resourceDoc: a resource of any type.
	resourceSchema = "Resource"
	// requestIDHeader is the header that carries the request id.
	requestIDHeader = "X-Request-Id"
	// interactionKey names the FHIR interaction of an operation, for tools and tests.
	interactionKey = "x-fhir-interaction"
	// bearerScheme is the security scheme of api/docs.go: a bearer JWT.
	bearerScheme = "BearerAuth"
	// capabilitiesID is the @ID of GET /fhir/metadata, the one FHIR operation without a token.
	capabilitiesID = "capabilities"
	// The responses every secured operation shares, in components.responses.
	unauthorizedResponse = "Unauthorized"
	forbiddenResponse    = "Forbidden"
	tooManyResponse      = "TooManyRequests"
	unavailableResponse  = "Unavailable"
)

// operationAccess is, for the @ID of each secured operation, the SMART permission it needs
// (the one api/authz.go checks) and when it needs more.
var operationAccess = map[string]struct {
	action auth.Action
	also   string
}{
	"read":               {auth.ActionRead, ""},
	"vread":              {auth.ActionVRead, ""},
	"history-instance":   {auth.ActionHistoryInstance, ""},
	"history-type":       {auth.ActionHistoryType, ""},
	"search-type":        {auth.ActionSearch, ""},
	"search-type.post":   {auth.ActionSearch, ""},
	"create":             {auth.ActionCreate, "; with If-None-Exist also `s`"},
	"update":             {auth.ActionUpdate, "; also `c` when the update creates the resource"},
	"update.conditional": {auth.ActionConditionalUpdate, "; also `c` when nothing matches and the body is created"},
	"patch":              {auth.ActionUpdate, ""},
	"patch.conditional":  {auth.ActionConditionalUpdate, ""},
	"delete":             {auth.ActionDelete, ""},
	"delete.conditional": {auth.ActionConditionalDelete, ""},
	"validate":           {auth.ActionRead, "; nothing is stored"},
	"validate.instance":  {auth.ActionRead, "; nothing is stored"},
}

// typeNotes add to the description of a type's tag.
var typeNotes = map[string]string{
	"AuditEvent": "The server records one for every /fhir request, whatever its answer, refused ones and paths nothing " +
		"serves included (IHE Basic Audit Log Patterns), before the answer is complete; clients cannot write them. Only tokens with user/ or system/ scopes " +
		"on AuditEvent read them: patient/ scopes never do.",
}

// Media types of FHIR request and response bodies.
var bodyMediaTypes = []string{"application/fhir+json", "application/json"}

// finish turns swag's document into the published one:
//   - schemas lose their Go package prefix (fhir.OperationOutcome becomes OperationOutcome);
//   - each /fhir/{type}/... path becomes one path per served type (/fhir/CarePlan/...), tagged
//     with the type, with "{type}" in its texts replaced and Resource narrowed to the type;
//   - operations keep the FHIR interaction of their swag @ID in x-fhir-interaction (the @ID
//     is the interaction code, followed by ".variant" where one interaction has several
//     operations: search-type.post, update.conditional) and get an operationId unique per type;
//   - the search and the conditional update and delete of a type take its search parameters,
//     as the CapabilityStatement lists them, in the query; POST _search takes them, and the
//     result parameters of the search, as form fields;
//   - a type gets only the operations of the interactions the CapabilityStatement lists for it
//     (AuditEvent: read and search);
//   - request and response bodies get examples made from the fixtures by the server's code;
//   - every operation that requires the bearer token says which SMART permission it needs and
//     answers 401 and 403 as components.responses describe.
func finish(raw []byte, reg *fhir.Registry, ex *examples) (map[string]any, error) {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("read swag's output: %w", err)
	}
	if err := renameSchemas(doc); err != nil {
		return nil, err
	}
	tidy(doc)
	schemas := object(object(doc, "components"), "schemas")
	resource := object(schemas, resourceSchema)
	if len(resource) == 0 {
		return nil, fmt.Errorf("swag made no %s schema: is api.resourceDoc named %s?", resourceSchema, resourceSchema)
	}

	paths := map[string]any{}
	for path, item := range object(doc, "paths") {
		if !strings.Contains(path, typeParam) {
			if err := finishPath(path, item.(map[string]any), "", ex); err != nil {
				return nil, err
			}
			paths[path] = item
			continue
		}
		if err := checkOffered(path, item.(map[string]any), ex.interactions); err != nil {
			return nil, err
		}
		for _, t := range reg.Types() {
			typed := offered(item.(map[string]any), ex.interactions[t.Name])
			if len(typed) == 0 {
				continue
			}
			replaceInStrings(typed, typeParam, t.Name)
			replaceInStrings(typed, schemaRefPrefix+resourceSchema, schemaRefPrefix+t.Name)
			p := strings.ReplaceAll(path, typeParam, t.Name)
			if err := finishPath(p, typed, t.Name, ex); err != nil {
				return nil, err
			}
			paths[p] = typed
		}
	}
	for _, t := range reg.Types() {
		if err := addSearchForm(paths, t.Name, ex.byType[t.Name]); err != nil {
			return nil, err
		}
	}
	doc["paths"] = paths

	var tags []any
	for _, t := range reg.Types() {
		schemas[t.Name] = typeSchema(resource, t.Name)
		desc := "FHIR R4 " + t.Name + " resources: " + interactionList(t.Interactions, ex.searchParams[t.Name]) + "."
		if note := typeNotes[t.Name]; note != "" {
			desc += " " + note
		}
		tags = append(tags, map[string]any{
			"name":         t.Name,
			"description":  desc,
			"externalDocs": map[string]any{"description": t.Name + " in the FHIR R4 specification", "url": specURL(t.Name)},
		})
	}
	if existing, ok := doc["tags"].([]any); ok {
		tags = append(tags, existing...)
	}
	doc["tags"] = tags
	object(doc, "components")["responses"] = securityResponses(ex)
	object(doc, "components")["examples"] = ex.components
	object(doc, "components")["headers"] = ex.headers
	return doc, check(doc)
}

// offered is a copy of the operations of a path item whose interaction (the @ID up to the
// first ".") is one of interactions.
func offered(item map[string]any, interactions map[string]bool) map[string]any {
	out := map[string]any{}
	for method, v := range item {
		op, ok := v.(map[string]any)
		if !ok {
			out[method] = deepCopy(v)
			continue
		}
		code, _ := op["operationId"].(string)
		if interaction, _, _ := strings.Cut(code, "."); interactions[interaction] {
			out[method] = deepCopy(op)
		}
	}
	for _, v := range out {
		if _, ok := v.(map[string]any); ok {
			return out
		}
	}
	return nil
}

// checkOffered rejects an operation of a generic path that no type would get: one without
// @ID, or of an interaction no type offers.
func checkOffered(path string, item map[string]any, interactions map[string]map[string]bool) error {
	for method, v := range item {
		op, ok := v.(map[string]any)
		if !ok {
			continue
		}
		code, _ := op["operationId"].(string)
		if code == "" {
			return fmt.Errorf("%s %s has no @ID", strings.ToUpper(method), path)
		}
		interaction, _, _ := strings.Cut(code, ".")
		offeredBySome := false
		for _, is := range interactions {
			offeredBySome = offeredBySome || is[interaction]
		}
		if !offeredBySome {
			return fmt.Errorf("%s %s: no served type offers the %s interaction", strings.ToUpper(method), path, interaction)
		}
	}
	return nil
}

// securityResponses are the answers of the token checks, shared by every secured operation:
// 401 from authentication, 403 from the scope check, each with the server's own bodies.
func securityResponses(ex *examples) map[string]any {
	outcome := map[string]any{"$ref": schemaRefPrefix + "OperationOutcome"}
	headers := func(extra map[string]any) map[string]any {
		h := map[string]any{}
		if _, ok := ex.headers[requestIDHeader]; ok {
			h[requestIDHeader] = map[string]any{"$ref": "#/components/headers/" + requestIDHeader}
		}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	unauthorized := map[string]any{}
	for _, r := range ex.unauthorized {
		for k, v := range ex.ref(unauthorizedResponse+r.name, r.summary+" (WWW-Authenticate: "+r.challenge+")", r.outcome) {
			unauthorized[k] = v
		}
	}
	forbidden := ex.ref(forbiddenResponse+ex.forbidden.name, ex.forbidden.summary, ex.forbidden.outcome)
	return map[string]any{
		unauthorizedResponse: map[string]any{
			"description": "No valid bearer token: none was sent, or it is malformed, expired, not yet valid, signed by an " +
				"unknown key, or for another issuer or audience. The diagnostics do not say which; the server log does.",
			"headers": headers(map[string]any{"WWW-Authenticate": map[string]any{
				"description": "The challenge (RFC 6750): Bearer when no token was sent, Bearer error=\"invalid_token\" when it was refused",
				"schema":      map[string]any{"type": "string"},
				"example":     ex.unauthorized[0].challenge,
			}}),
			"content": bodyContent(outcome, unauthorized),
		},
		tooManyResponse: map[string]any{
			"description": "The caller (the token's issuer, subject and client) sent more requests than the server takes from " +
				"one caller (FHIR_RATE_LIMIT a second, a search counting 10, bursts up to FHIR_RATE_BURST). Retry after Retry-After.",
			"headers": headers(map[string]any{"Retry-After": retryAfterHeader}),
			"content": bodyContent(outcome, ex.ref(tooManyResponse, "Over the rate limit", json.RawMessage(fhir.OutcomeFor(
				fhir.TooManyRequests(2*time.Second, "This access token has sent more requests than the server takes from one caller (500 a second, a search counting 10, bursts up to 1000). Try again in 2 s.")).JSON()))),
		},
		unavailableResponse: map[string]any{
			"description": "The database did not answer in time or cannot be reached, or the server is serving as many requests " +
				"(or large bodies, or searches on the embedded database) as it takes at once. Nothing was written. Retry after Retry-After.",
			"headers": headers(map[string]any{"Retry-After": retryAfterHeader}),
			"content": bodyContent(outcome, ex.ref(unavailableResponse, "The database cannot be reached", json.RawMessage(fhir.OutcomeFor(
				fhir.Unavailable(nil, 2*time.Second, "The database cannot be reached. Try again shortly.")).JSON()))),
		},
		forbiddenResponse: map[string]any{
			"description": "The token is valid, but its scopes do not allow this interaction on this type, or a token limited " +
				"to one patient (patient/ scopes) writes a resource outside that patient's compartment. A resource of another " +
				"patient is not refused but reads as not found (404), so that its existence does not leak.",
			"headers": headers(nil),
			"content": bodyContent(outcome, forbidden),
		},
	}
}

// retryAfterHeader is the Retry-After header of 429 and 503 answers.
var retryAfterHeader = map[string]any{
	"description": "Seconds to wait before trying again",
	"schema":      map[string]any{"type": "integer"},
	"example":     2,
}

// secure completes an operation that requires the bearer token: its description says which
// SMART permission it needs, and it answers 401 and 403, and 429 and 503 as every /fhir
// request may.
func secure(op map[string]any, code, typ string) error {
	access, ok := operationAccess[code]
	if !ok {
		return fmt.Errorf("no SMART permission is known for operation %q: add it to operationAccess", code)
	}
	letters := access.action.Needs().String()
	note := fmt.Sprintf("**Access**: a token whose scopes grant `%s` on %s, such as `user/%s.%s` or `system/*.%s`%s "+
		"(SMART v2 letters; v1 `.read` grants `r` and `s`, `.write` grants `c`, `u` and `d`).",
		letters, typ, typ, letters, letters, access.also)
	if d, _ := op["description"].(string); d != "" {
		note = d + "\n\n" + note
	}
	op["description"] = note
	responses := object(op, "responses")
	for status, name := range map[string]string{"401": unauthorizedResponse, "403": forbiddenResponse, "429": tooManyResponse, "503": unavailableResponse} {
		if _, taken := responses[status]; taken {
			return fmt.Errorf("operation %q documents its own %s: the token checks answer it", code, status)
		}
		responses[status] = map[string]any{"$ref": "#/components/responses/" + name}
	}
	return nil
}

// finishPath completes the operations of one path; typ is "" for paths of no resource type.
func finishPath(path string, item map[string]any, typ string, ex *examples) error {
	for method, v := range item {
		op, ok := v.(map[string]any)
		if !ok {
			continue
		}
		code, _ := op["operationId"].(string)
		if code == "" {
			return fmt.Errorf("%s %s has no @ID", strings.ToUpper(method), path)
		}
		interaction, variant, _ := strings.Cut(code, ".")
		if path == "/fhir" || strings.HasPrefix(path, "/fhir/") {
			op[interactionKey] = interaction
		}
		var te *typeExamples
		if typ != "" {
			te = ex.byType[typ]
			op["operationId"] = lowerCamel(strings.ReplaceAll(code, ".", "-")) + typ
			params := withoutParam(op["parameters"], "type", "path")
			for _, p := range params {
				p := p.(map[string]any)
				switch {
				case p["in"] == "path" && p["name"] == "id":
					p["example"] = te.id
				case p["in"] == "header" && p["name"] == "If-None-Exist":
					// Described, never an example: Swagger UI fills examples into Try it out,
					// and a create must create unless the user asks for a condition.
					d, _ := p["description"].(string)
					p["description"] = d + ". For this type, e.g. " + te.criteria
				}
			}
			if code == string(fhir.InteractionSearchType) || variant == "conditional" {
				// The search parameters come first: they select; the others shape the answer.
				params = append(searchQueryParams(ex.searchParams[typ], variant == "conditional"), params...)
			}
			op["parameters"] = params
			if secured(op) {
				if err := secure(op, code, typ); err != nil {
					return fmt.Errorf("%s %s: %w", strings.ToUpper(method), path, err)
				}
			}
		}
		if body := object(op, "requestBody"); len(body) > 0 && code == "transaction" {
			examples, err := bundleExamples(ex)
			if err != nil {
				return err
			}
			body["content"] = bodyContent(map[string]any{"$ref": schemaRefPrefix + "Resource"}, examples)
		} else if body := object(op, "requestBody"); len(body) > 0 && interaction == string(fhir.InteractionPatch) && te != nil {
			body["content"] = patchContent(typ, te, ex)
		} else if len(body) > 0 {
			if te == nil {
				return fmt.Errorf("%s %s: a request body outside /fhir/{type}", method, path)
			}
			name, summary, example := typ+"Create", "A new "+typ+" (a fixture without id)", te.create
			switch code {
			case string(fhir.InteractionUpdate), "validate.instance":
				name, summary, example = typ+"Update", "A "+typ+" with the id of the URL (a fixture)", te.update
			case string(fhir.InteractionUpdate) + ".conditional":
				name, summary = typ+"ConditionalUpdate", "A "+typ+" without id, to write where the criteria select (a fixture)"
			}
			examples := ex.ref(name, summary, example)
			if interaction == "validate" {
				pname, psummary := typ+"ValidateParameters", "The same "+typ+" in a Parameters resource, with mode create"
				if variant == "instance" {
					pname, psummary = typ+"ValidateUpdateParameters", "The same "+typ+" in a Parameters resource, with mode update"
				}
				for k, v := range ex.ref(pname, psummary, te.validateParameters(variant == "instance")) {
					examples[k] = v
				}
			}
			body["content"] = bodyContent(map[string]any{"$ref": schemaRefPrefix + typ}, examples)
		}
		for status, r := range object(op, "responses") {
			r := r.(map[string]any)
			if _, shared := r["$ref"]; shared {
				continue
			}
			if err := finishResponse(r, status, interaction, typ, te, ex); err != nil {
				return fmt.Errorf("%s %s %s: %w", strings.ToUpper(method), path, status, err)
			}
		}
	}
	return nil
}

// finishResponse adds the examples of one response: of its body and of its headers.
func finishResponse(r map[string]any, status, code, typ string, te *typeExamples, ex *examples) error {
	n, err := strconv.Atoi(status)
	if err != nil {
		return err
	}
	headers := object(r, "headers")
	for name, h := range headers {
		if e := headerExample(name, te); e != "" {
			h.(map[string]any)["example"] = e
		}
		if name == requestIDHeader {
			// The same on every response: written once, in components.headers.
			ex.headers[name] = h
			headers[name] = map[string]any{"$ref": "#/components/headers/" + name}
		}
	}
	content := object(r, "content")
	if len(content) == 0 {
		return nil
	}
	switch {
	case code == "smart-configuration" && n == http.StatusOK:
		setExamples(content, ex.ref("SmartConfiguration", "The SMART configuration in dev mode (no OAuth endpoints configured)", ex.smart))
		return nil
	case code == "jwks" && n == http.StatusOK:
		setExamples(content, ex.ref("DevJWKS", "The public half of a dev signing key", json.RawMessage(devJWKSExample)))
		return nil
	}
	var schema map[string]any
	for _, mt := range content {
		schema = object(mt.(map[string]any), "schema")
		break
	}
	ref, _ := schema["$ref"].(string)
	var example map[string]any
	switch {
	case typ != "" && ref == schemaRefPrefix+typ:
		example = ex.ref(typ, "Version 1 of "+article(typ)+" "+typ+" as the server returns it ("+te.source+")", json.RawMessage(te.stored.Raw))
	case ref == schemaRefPrefix+"Bundle" && code == "transaction":
		example = ex.ref("TransactionResponse", "The answer to the transaction example", transactionResponse(ex))
	case ref == schemaRefPrefix+"Bundle" && code == string(fhir.InteractionHistoryInstance):
		example = ex.ref(typ+"InstanceHistory", "A page of the history of one "+typ, te.history(true))
	case ref == schemaRefPrefix+"Bundle" && code == string(fhir.InteractionSearchType):
		example = ex.ref(typ+"Searchset", "A page of "+typ+" search results", te.searchset())
	case ref == schemaRefPrefix+"Bundle":
		example = ex.ref(typ+"TypeHistory", "A page of the history of all "+typ+" resources", te.history(false))
	case ref == schemaRefPrefix+"CapabilityStatement":
		example = ex.ref("CapabilityStatement", "The CapabilityStatement of this server", ex.capabilities)
	case ref == schemaRefPrefix+"OperationOutcome" && n < 300 && code == "validate":
		example = ex.ref(typ+"Valid", "The fixture has no issues", te.valid())
		if te.invalid != nil {
			for k, v := range ex.ref(typ+"Invalid", te.invalidSummary, te.invalid) {
				example[k] = v
			}
		}
	case ref == schemaRefPrefix+"OperationOutcome" && n < 300:
		example = ex.ref(typ+"Deleted", "A delete answered with Prefer: return=OperationOutcome", te.deleted())
	case ref == schemaRefPrefix+"OperationOutcome":
		oo, err := errorOutcome(n, r["description"].(string))
		if err != nil {
			return err
		}
		example = map[string]any{"outcome": map[string]any{"value": oo}}
	default:
		return nil
	}
	r["content"] = bodyContent(schema, example)
	return nil
}

// setExamples sets the examples of every media type of a content.
func setExamples(content map[string]any, examples map[string]any) {
	for _, mt := range content {
		mt.(map[string]any)["examples"] = examples
	}
}

// devJWKSExample is a JWK Set as dev mode serves it, of a key made once for this example.
// (Each server's key is made on its first start, so no real one can be shown.)
const devJWKSExample = `{"keys":[{"kty":"EC","use":"sig","alg":"ES256","kid":"Q5_eGlc4Xo0aHb9kRZA1BioudOfspPZEDMbqSPu0WQI",` +
	`"crv":"P-256","x":"frMKh44urRpf079Bkumq6IgMW9qj1ypDQiWmVQZ5WRI","y":"EnSODD_pXBGMTUNOvLRH1U1AN1tBdNtjSfWmSKW4ZD4"}]}`

// bodyContent is the content of a FHIR body: the same schema and examples in each media type.
func bodyContent(schema map[string]any, examples map[string]any) map[string]any {
	content := map[string]any{}
	for _, mt := range bodyMediaTypes {
		content[mt] = map[string]any{"schema": schema, "examples": examples}
	}
	return content
}

// headerExample is an example value of a response header.
func headerExample(name string, te *typeExamples) string {
	switch name {
	case "ETag":
		return `W/"1"`
	case "Last-Modified":
		return exampleTime.Format(http.TimeFormat)
	case "Location":
		if te != nil {
			return te.location()
		}
	case requestIDHeader:
		return "7d1f0a3c9e4b2a6f1c8d5e07"
	}
	return ""
}

// typeSchema is the schema of one resource type: the Resource schema with resourceType fixed
// to the type, pointing to the type's definition in the FHIR specification.
func typeSchema(resource map[string]any, typ string) map[string]any {
	s := deepCopy(resource).(map[string]any)
	s["description"] = "A FHIR R4 " + typ + ". Only the elements every resource has are listed here; " +
		"the server validates the rest against the " + typ + " definition of FHIR R4 (4.0.1)."
	s["externalDocs"] = map[string]any{"description": typ + " in the FHIR R4 specification", "url": specURL(typ)}
	s["additionalProperties"] = true
	s["required"] = []any{"resourceType"}
	props := object(s, "properties")
	props["resourceType"] = map[string]any{
		"type": "string", "const": typ, "description": "Always " + typ + ": it must match the type in the URL.",
	}
	return s
}

// article is the indefinite article of a type name: a CarePlan, an AuditEvent.
func article(typ string) string {
	if strings.ContainsAny(typ[:1], "AEIOU") {
		return "an"
	}
	return "a"
}

// specURL is the page of a resource type in the FHIR R4 specification.
func specURL(typ string) string { return "https://hl7.org/fhir/R4/" + strings.ToLower(typ) + ".html" }

// interactionList names the interactions of a type: the registry's, and search-type when
// the type has search parameters.
func interactionList(is []fhir.Interaction, params []searchParam) string {
	var s []string
	for _, i := range is {
		s = append(s, string(i))
	}
	if len(params) > 0 && !slices.Contains(is, fhir.InteractionSearchType) {
		s = append(s, string(fhir.InteractionSearchType))
	}
	return strings.Join(s, ", ")
}

// searchQueryParams are the query parameters of a type's search parameters. The
// conditional operations say that the parameters select what is written.
func searchQueryParams(params []searchParam, conditional bool) []any {
	out := make([]any, 0, len(params))
	for _, p := range params {
		desc := "A " + p.Documentation + " Defined by " + p.Definition + "."
		if conditional {
			desc = "Criterion: a " + p.Documentation + " Defined by " + p.Definition + "."
		}
		out = append(out, map[string]any{
			"name": p.Name, "in": "query", "required": false, "description": desc,
			"schema": map[string]any{"type": "string"},
		})
	}
	return out
}

// addSearchForm gives POST /fhir/<typ>/_search its form body: a field for every query
// parameter of GET /fhir/<typ> that selects or shapes the answer.
func addSearchForm(paths map[string]any, typ string, te *typeExamples) error {
	item, _ := paths["/fhir/"+typ+"/_search"].(map[string]any)
	post, _ := item["post"].(map[string]any)
	if post == nil {
		return nil
	}
	getItem, _ := paths["/fhir/"+typ].(map[string]any)
	get, _ := getItem["get"].(map[string]any)
	if get == nil {
		return fmt.Errorf("POST /fhir/%s/_search has no GET /fhir/%s to take its parameters from", typ, typ)
	}
	props := map[string]any{}
	for _, p := range list(get["parameters"]) {
		p := p.(map[string]any)
		name, _ := p["name"].(string)
		if p["in"] != "query" || name == "_format" || name == "_pretty" || name == "_cursor" {
			continue
		}
		schema := deepCopy(object(p, "schema")).(map[string]any)
		if d, ok := p["description"].(string); ok {
			schema["description"] = d
		}
		props[name] = schema
	}
	post["requestBody"] = map[string]any{
		"required": false,
		"content": map[string]any{"application/x-www-form-urlencoded": map[string]any{
			"schema":  map[string]any{"type": "object", "properties": props},
			"example": formExample(te.query),
		}},
	}
	return nil
}

// formExample is the form body of an example search: the query, 20 to a page.
func formExample(query map[string][]string) map[string]any {
	out := map[string]any{"_count": 20}
	for k, v := range query {
		out[k] = strings.Join(v, ",")
	}
	return out
}

// secured reports whether an operation requires the bearer token.
func secured(op map[string]any) bool {
	for _, alt := range list(op["security"]) {
		if _, ok := alt.(map[string]any)[bearerScheme]; ok {
			return true
		}
	}
	return false
}

// renameSchemas drops the Go package prefix of schema names and follows the renames in
// every reference.
func renameSchemas(doc map[string]any) error {
	schemas := object(object(doc, "components"), "schemas")
	renames := map[string]string{}
	for name := range schemas {
		if i := strings.LastIndex(name, "."); i >= 0 {
			renames[name] = name[i+1:]
		}
	}
	for from, to := range renames {
		if _, taken := schemas[to]; taken {
			return fmt.Errorf("schemas %s and %s would both be named %s", from, to, to)
		}
		schemas[to] = schemas[from]
		delete(schemas, from)
	}
	walk(doc, func(m map[string]any) {
		if ref, ok := m["$ref"].(string); ok {
			if to, ok := renames[strings.TrimPrefix(ref, schemaRefPrefix)]; ok {
				m["$ref"] = schemaRefPrefix + to
			}
		}
	})
	return nil
}

// tidy removes what swag adds that means nothing to a client: Go names of enum values and
// uniqueItems: false.
func tidy(doc map[string]any) {
	walk(doc, func(m map[string]any) {
		delete(m, "x-enum-varnames")
		if u, ok := m["uniqueItems"].(bool); ok && !u {
			delete(m, "uniqueItems")
		}
	})
}

// check rejects a document with an unresolved reference, a "{type}" left in it, or two
// operations with one operationId.
func check(doc map[string]any) error {
	components := object(doc, "components")
	var errs []string
	walk(doc, func(m map[string]any) {
		if ref, ok := m["$ref"].(string); ok {
			kind, name, _ := strings.Cut(strings.TrimPrefix(ref, "#/components/"), "/")
			if _, ok := object(components, kind)[name]; !ok || !strings.HasPrefix(ref, "#/components/") {
				errs = append(errs, "unresolved reference "+ref)
			}
		}
	})
	ids := map[string]string{}
	for path, item := range object(doc, "paths") {
		if strings.Contains(path, typeParam) {
			errs = append(errs, "path "+path+" is left generic")
		}
		for method, op := range item.(map[string]any) {
			id, _ := op.(map[string]any)["operationId"].(string)
			where := strings.ToUpper(method) + " " + path
			interaction, _ := op.(map[string]any)[interactionKey].(string)
			fhirOp := (path == "/fhir" || strings.HasPrefix(path, "/fhir/")) && interaction != capabilitiesID
			if sec := secured(op.(map[string]any)); sec != fhirOp {
				errs = append(errs, fmt.Sprintf("%s requires the bearer token: %v, want %v (every /fhir operation but metadata, nothing else)", where, sec, fhirOp))
			}
			if sec := list(op.(map[string]any)["security"]); len(sec) > 1 {
				errs = append(errs, where+" has an alternative to the bearer token")
			}
			if prev, dup := ids[id]; dup {
				errs = append(errs, fmt.Sprintf("operationId %q of %s is also that of %s", id, where, prev))
			}
			ids[id] = where
		}
	}
	if bytes, _ := json.Marshal(doc); strings.Contains(string(bytes), typeParam) {
		errs = append(errs, typeParam+" is left in a text")
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return fmt.Errorf("the finished document is not sound:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}

// lowerCamel turns an interaction code into an identifier: history-instance -> historyInstance.
func lowerCamel(code string) string {
	parts := strings.Split(code, "-")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

func withoutParam(params any, name, in string) []any {
	var out []any
	for _, p := range list(params) {
		if m := p.(map[string]any); m["name"] == name && m["in"] == in {
			continue
		}
		out = append(out, p)
	}
	return out
}

// object returns m[key] as an object, or an empty one.
func object(m map[string]any, key string) map[string]any {
	if v, ok := m[key].(map[string]any); ok {
		return v
	}
	return map[string]any{}
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// walk calls fn on every object in v, depth first.
func walk(v any, fn func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		fn(v)
		for _, e := range v {
			walk(e, fn)
		}
	case []any:
		for _, e := range v {
			walk(e, fn)
		}
	}
}

// replaceInStrings replaces old with new in every string value of v.
func replaceInStrings(v any, old, new string) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if s, ok := e.(string); ok {
				v[k] = strings.ReplaceAll(s, old, new)
			} else {
				replaceInStrings(e, old, new)
			}
		}
	case []any:
		for i, e := range v {
			if s, ok := e.(string); ok {
				v[i] = strings.ReplaceAll(s, old, new)
			} else {
				replaceInStrings(e, old, new)
			}
		}
	}
}

// deepCopy copies a decoded JSON value.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return v
	}
}

// patchStatuses are the statuses the patch examples set, one each type may move to.
var patchStatuses = map[string]string{"CarePlan": "completed", "QuestionnaireResponse": "amended", "Questionnaire": "retired"}

// patchContent is the request body of a patch: a JSON Patch and a FHIRPath Patch that each
// set the status of the type's example.
func patchContent(typ string, te *typeExamples, ex *examples) map[string]any {
	status := patchStatuses[typ]
	if status == "" {
		status = "active"
	}
	jsonPatch := []map[string]any{{"op": "test", "path": "/id", "value": te.id}, {"op": "replace", "path": "/status", "value": status}}
	fhirPath := map[string]any{"resourceType": "Parameters", "parameter": []any{map[string]any{"name": "operation", "part": []any{
		map[string]any{"name": "type", "valueCode": "replace"},
		map[string]any{"name": "path", "valueString": typ + ".status"},
		map[string]any{"name": "value", "valueCode": status},
	}}}}
	return map[string]any{
		"application/json-patch+json": map[string]any{
			"schema":   map[string]any{"type": "array", "items": map[string]any{"type": "object"}},
			"examples": ex.ref(typ+"JSONPatch", "JSON Patch: set the status to "+status, jsonPatch),
		},
		"application/fhir+json": map[string]any{
			"schema":   map[string]any{"$ref": schemaRefPrefix + "Resource"},
			"examples": ex.ref(typ+"FHIRPathPatch", "FHIRPath Patch: set the status to "+status, fhirPath),
		},
	}
}

// bundleExamples are a transaction and a batch made of the fixtures: a new response and its
// care plan's update, which refers to the response by its fullUrl.
func bundleExamples(ex *examples) (map[string]any, error) {
	qr, cp := ex.byType["QuestionnaireResponse"], ex.byType["CarePlan"]
	if qr == nil || cp == nil || qr.create == nil || cp.update == nil {
		return nil, fmt.Errorf("the Bundle examples need the QuestionnaireResponse and CarePlan fixtures")
	}
	const qrURL = "urn:uuid:5b7e0c4e-2a4b-4c43-9d1e-7f1f0f3e8a01"
	var plan map[string]any
	if err := json.Unmarshal(cp.update, &plan); err != nil {
		return nil, err
	}
	plan["supportingInfo"] = []any{map[string]any{"reference": qrURL}}
	transaction := map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []any{
		map[string]any{"fullUrl": qrURL, "resource": qr.create, "request": map[string]any{"method": "POST", "url": "QuestionnaireResponse"}},
		map[string]any{"resource": plan, "request": map[string]any{"method": "PUT", "url": "CarePlan/" + cp.id}},
	}}
	batch := map[string]any{"resourceType": "Bundle", "type": "batch", "entry": []any{
		map[string]any{"resource": qr.create, "request": map[string]any{"method": "POST", "url": "QuestionnaireResponse"}},
		map[string]any{"request": map[string]any{"method": "GET", "url": "CarePlan/" + cp.id}},
		map[string]any{"request": map[string]any{"method": "GET", "url": "QuestionnaireResponse?" + qr.query.Encode()}},
	}}
	out := ex.ref("TransactionBundle", "A transaction: a new response (fixture) and its care plan (fixture) referring to it by fullUrl", transaction)
	for k, v := range ex.ref("BatchBundle", "A batch: a new response, a read and a search", batch) {
		out[k] = v
	}
	return out, nil
}

// transactionResponse is the transaction-response to the transaction example (see
// bundleExamples), with Prefer: return=minimal.
func transactionResponse(ex *examples) api.Bundle {
	qr, cp := ex.byType["QuestionnaireResponse"], ex.byType["CarePlan"]
	ts := fhir.FormatInstant(exampleTime)
	b := api.Bundle{ResourceType: "Bundle", ID: "b8e5f6a1c2d34e5f8a9b0c1d2e3f4a5b", Meta: &api.BundleMeta{LastUpdated: ts}, Type: "transaction-response"}
	b.Entry = []api.BundleEntry{
		{FullURL: exampleBase + "/QuestionnaireResponse/" + qr.id, Response: &api.EntryResponse{Status: "201 Created", Location: "QuestionnaireResponse/" + qr.id + "/_history/1", Etag: `W/"1"`, LastModified: ts}},
		{FullURL: exampleBase + "/CarePlan/" + cp.id, Response: &api.EntryResponse{Status: "200 OK", Location: "CarePlan/" + cp.id + "/_history/2", Etag: `W/"2"`, LastModified: ts}},
	}
	return b
}
