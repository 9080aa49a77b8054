package api

import (
	"github.com/patient-involvement/fhir-server/internal/auth"

	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/patch"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// CapabilityStatement is the JSON shape of the statement the server publishes.
type CapabilityStatement struct {
	ResourceType   string             `json:"resourceType"`
	Status         string             `json:"status"`
	Date           string             `json:"date"`
	Publisher      string             `json:"publisher"`
	Kind           string             `json:"kind"`
	Software       CapabilitySoftware `json:"software"`
	Implementation CapabilityImpl     `json:"implementation"`
	FHIRVersion    string             `json:"fhirVersion"`
	Format         []string           `json:"format"`
	// PatchFormat are the media types of the patch bodies taken: JSON Patch, and FHIR JSON
	// for FHIRPath Patch.
	PatchFormat []string         `json:"patchFormat,omitempty"`
	Rest        []CapabilityRest `json:"rest"`
}

// CapabilitySoftware is CapabilityStatement.software.
type CapabilitySoftware struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// CapabilityImpl is CapabilityStatement.implementation.
type CapabilityImpl struct {
	Description string `json:"description"`
	URL         string `json:"url"`
}

// CapabilityRest is CapabilityStatement.rest.
type CapabilityRest struct {
	Mode string `json:"mode"`
	// Security names SMART on FHIR and the OAuth endpoints (absent when authorization is off).
	Security    map[string]any          `json:"security,omitempty"`
	Resource    []CapabilityResource    `json:"resource"`
	Interaction []CapabilityInteraction `json:"interaction,omitempty"`
}

// CapabilityResource is CapabilityStatement.rest.resource.
type CapabilityResource struct {
	Type         string                  `json:"type"`
	Profile      string                  `json:"profile,omitempty"`
	Interaction  []CapabilityInteraction `json:"interaction"`
	Versioning   string                  `json:"versioning"`
	ReadHistory  bool                    `json:"readHistory"`
	UpdateCreate bool                    `json:"updateCreate"`
	// ConditionalRead is "full-support": a read answers 304 Not Modified to If-None-Match and
	// If-Modified-Since.
	ConditionalRead   string `json:"conditionalRead,omitempty" enums:"not-supported,modified-since,not-match,full-support"`
	ConditionalCreate bool   `json:"conditionalCreate,omitempty"`
	ConditionalUpdate bool   `json:"conditionalUpdate,omitempty"`
	// ConditionalDelete is "multiple": every match is deleted, up to the server's largest page.
	ConditionalDelete string                  `json:"conditionalDelete,omitempty" enums:"not-supported,single,multiple"`
	SearchInclude     []string                `json:"searchInclude,omitempty"`
	SearchRevInclude  []string                `json:"searchRevInclude,omitempty"`
	SearchParam       []CapabilitySearchParam `json:"searchParam,omitempty"`
	// Operation lists the operations offered on the type ($validate).
	Operation []CapabilityOperation `json:"operation,omitempty"`
}

// CapabilityOperation is CapabilityStatement.rest.resource.operation.
type CapabilityOperation struct {
	Name       string `json:"name" example:"validate"`
	Definition string `json:"definition" example:"http://hl7.org/fhir/OperationDefinition/Resource-validate"`
}

// CapabilityInteraction is an interaction entry.
type CapabilityInteraction struct {
	Code string `json:"code"`
}

// CapabilitySearchParam is CapabilityStatement.rest.resource.searchParam.
type CapabilitySearchParam struct {
	Name string `json:"name" example:"authored"`
	// Definition is the canonical URL of the SearchParameter that defines it.
	Definition string `json:"definition" example:"http://hl7.org/fhir/SearchParameter/QuestionnaireResponse-authored"`
	Type       string `json:"type" example:"date"`
	// Documentation names the modifiers and prefixes the server supports on it.
	Documentation string `json:"documentation,omitempty"`
}

// buildCapabilities generates the statement from the route table and the registry.
func (s *Server) buildCapabilities(base string) *CapabilityStatement {
	conditional := s.conditionals()
	rest := CapabilityRest{Mode: "server"}
	if s.opts.Auth.Mode() != auth.ModeOff {
		rest.Security = auth.CapabilitySecurity(s.discovery(base), s.cors.enabled())
	} else if s.cors.enabled() {
		rest.Security = map[string]any{"cors": true}
	}
	for _, t := range s.svc.Registry().Types() {
		res := CapabilityResource{Type: t.Name, Profile: t.Profile, Versioning: "versioned"}
		for _, i := range s.typeInteractions(t) {
			res.Interaction = append(res.Interaction, CapabilityInteraction{Code: string(i)})
			switch i {
			case fhir.InteractionRead:
				if conditional[i] {
					res.ConditionalRead = "full-support"
				}
			case fhir.InteractionVRead:
				res.ReadHistory = true
			case fhir.InteractionUpdate:
				res.UpdateCreate = true
				res.ConditionalUpdate = conditional[i]
			case fhir.InteractionCreate:
				res.ConditionalCreate = conditional[i]
			case fhir.InteractionDelete:
				if conditional[i] {
					res.ConditionalDelete = "multiple"
				}
			case fhir.InteractionSearchType:
				res.SearchInclude, res.SearchRevInclude = searchIncludes(t.Name, s.svc.Registry())
				for _, d := range search.Definitions(t.Name) {
					res.SearchParam = append(res.SearchParam, CapabilitySearchParam{
						Name: d.Name, Definition: d.URL, Type: string(d.Type), Documentation: describeParam(d),
					})
				}
			}
		}
		for _, op := range s.typeOperations(t) {
			res.Operation = append(res.Operation, CapabilityOperation{Name: op, Definition: operationDefinitions[op]})
		}
		rest.Resource = append(rest.Resource, res)
	}
	for _, r := range s.routes {
		if r.system != "" && r.system != "capabilities" {
			rest.Interaction = append(rest.Interaction, CapabilityInteraction{Code: r.system})
			if r.system == "transaction" {
				// POST /fhir serves both kinds of Bundle.
				rest.Interaction = append(rest.Interaction, CapabilityInteraction{Code: "batch"})
			}
		}
	}
	return &CapabilityStatement{
		ResourceType: "CapabilityStatement",
		Status:       "active",
		Date:         s.opts.StartedAt.UTC().Format("2006-01-02T15:04:05Z07:00"),
		Publisher:    "patient-involvement fhir-server",
		Kind:         "instance",
		Software:     CapabilitySoftware{Name: "fhir-server", Version: s.opts.Version},
		Implementation: CapabilityImpl{
			Description: "FHIR R4 server for patient-involvement data: Questionnaire, QuestionnaireResponse and CarePlan",
			URL:         base,
		},
		FHIRVersion: "4.0.1",
		Format:      []string{mediaFHIRJSON, mediaJSON},
		PatchFormat: []string{patch.MediaJSONPatch, mediaFHIRJSON},
		Rest:        []CapabilityRest{rest},
	}
}

// searchIncludes lists the _include values a search of typ takes (each reference parameter
// of typ, and *) and the _revinclude values (each reference parameter of a served type that
// may refer to typ, and *).
func searchIncludes(typ string, reg *fhir.Registry) (include, revinclude []string) {
	for _, d := range search.Definitions(typ) {
		if d.Type == search.TypeReference {
			include = append(include, typ+":"+d.Name)
		}
	}
	for _, src := range reg.Types() {
		for _, d := range search.Definitions(src.Name) {
			if d.Type == search.TypeReference && (slices.Contains(d.Targets, typ) || slices.Contains(d.Targets, "*")) {
				revinclude = append(revinclude, src.Name+":"+d.Name)
			}
		}
	}
	return append(include, "*"), append(revinclude, "*")
}

// describeParam is the documentation of a search parameter: what it searches, its
// modifiers and prefixes. The OpenAPI description takes its texts from here, through the
// CapabilityStatement.
func describeParam(d *search.Definition) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s parameter on %s.", d.Type, d.Expression)
	if d.Canonical {
		b.WriteString(" Values are canonical URLs, optionally url|version.")
	}
	if len(d.Components) > 0 {
		parts := make([]string, len(d.Components))
		for i, c := range d.Components {
			parts[i] = c.Def.Name + " (" + string(c.Def.Type) + ")"
		}
		b.WriteString(" Values join, with $, " + strings.Join(parts, " and ") + ".")
		for _, c := range d.Components {
			if len(c.Def.Comparators) > 0 {
				b.WriteString(" Prefixes on " + c.Def.Name + ": " + joinPrefixes(c.Def.Comparators) + " (none means eq).")
			}
		}
	}
	if len(d.Modifiers) > 0 {
		mods := make([]string, 0, len(d.Modifiers))
		for _, m := range d.Modifiers {
			if m == search.ModifierType {
				targets := "one of " + strings.Join(d.Targets, ", ")
				if slices.Contains(d.Targets, "*") {
					targets = "any resource type"
				}
				mods = append(mods, ":[type] ("+targets+")")
				continue
			}
			mods = append(mods, ":"+string(m))
		}
		b.WriteString(" Modifiers: " + strings.Join(mods, ", ") + ".")
	}
	if len(d.Comparators) > 0 {
		b.WriteString(" Prefixes: " + joinPrefixes(d.Comparators) + " (none means eq).")
	}
	return b.String()
}

// joinPrefixes lists search prefixes, comma-separated.
func joinPrefixes(ps []search.Prefix) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return strings.Join(out, ", ")
}

// capabilities serves GET /fhir/metadata.
//
//	@Summary		The CapabilityStatement
//	@Description	What this server offers: FHIR version, formats, and per resource type the interactions served, the conditional interactions and the search parameters, includes and reverse includes.
//	@Description	It is built from the same route table that registers the handlers.
//	@ID				capabilities
//	@Tags			Server
//	@Produce		application/fhir+json,application/json
//	@Param			mode			query		string	false	"full (the default) and normative give the whole statement (all of it is normative in R4); terse leaves out the search parameters and includes"	Enums(full,normative,terse)
//	@Param			_format			query		string	false	"Response format; overrides Accept. Only JSON is served."	Enums(json,application/fhir+json,application/json)
//	@Param			_pretty			query		boolean	false	"true indents the JSON body"
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response and the server log; the server makes one when absent or malformed"
//	@Success		200				{object}	CapabilityStatement		"The CapabilityStatement"
//	@Failure		400				{object}	fhir.OperationOutcome	"mode is not full, normative or terse"
//	@Failure		406				{object}	fhir.OperationOutcome	"Neither _format nor Accept names JSON, or Accept asks for another fhirVersion than 4.0"
//	@Failure		500				{object}	fhir.OperationOutcome	"The server failed; the detail is in its log under the request id"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Router			/fhir/metadata [get]
func (s *Server) capabilities(c *gin.Context) error {
	cs := s.buildCapabilities(s.baseURL(c))
	switch mode := c.Query("mode"); mode {
	case "", "full", "normative":
	case "terse":
		cs.terse()
	default:
		return fhir.Errorf(fhir.KindInvalid, "mode=%s is not a mode of the CapabilityStatement: use full, normative or terse", mode).At("mode")
	}
	writeValue(c, http.StatusOK, cs)
	return nil
}

// terse cuts the statement down for mode=terse: each type keeps its interactions and the
// flags that qualify them, and loses its search parameters and includes, most of the
// statement's size.
func (cs *CapabilityStatement) terse() {
	for i := range cs.Rest {
		for j := range cs.Rest[i].Resource {
			r := &cs.Rest[i].Resource[j]
			r.SearchParam, r.SearchInclude, r.SearchRevInclude = nil, nil, nil
		}
	}
}

// home serves GET /: where to go next.
func (s *Server) home(c *gin.Context) {
	base := s.baseURL(c)
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.String(http.StatusOK, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>FHIR server</title></head>
<body>
<h1>Patient-involvement FHIR R4 server</h1>
<p>FHIR base URL: <code>`+htmlEscape(base)+`</code></p>
<ul>
<li><a href="`+docsPath+`">API documentation</a> (Swagger UI: try every interaction from the browser)</li>
<li><a href="`+reportsPath+`">Patient-experience reports</a> (per care unit and period, printable, with charts)</li>
<li><a href="/fhir/metadata">CapabilityStatement</a> (<code>GET /fhir/metadata</code>)</li>
<li>OpenAPI 3.1 description: <a href="`+openAPIJSONPath+`">`+openAPIJSONPath+`</a> and <a href="`+openAPIYAMLPath+`">`+openAPIYAMLPath+`</a></li>
<li>Health: <a href="/healthz">/healthz</a> (process up) and <a href="/readyz">/readyz</a> (database answers)</li>
</ul>
</body></html>`)
}
