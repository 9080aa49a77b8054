package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/fhir"
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
	Rest           []CapabilityRest   `json:"rest"`
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
	Mode        string                  `json:"mode"`
	Resource    []CapabilityResource    `json:"resource"`
	Interaction []CapabilityInteraction `json:"interaction,omitempty"`
}

// CapabilityResource is CapabilityStatement.rest.resource.
type CapabilityResource struct {
	Type              string                  `json:"type"`
	Profile           string                  `json:"profile,omitempty"`
	Interaction       []CapabilityInteraction `json:"interaction"`
	Versioning        string                  `json:"versioning"`
	ReadHistory       bool                    `json:"readHistory"`
	UpdateCreate      bool                    `json:"updateCreate"`
	ConditionalDelete string                  `json:"conditionalDelete,omitempty"`
}

// CapabilityInteraction is an interaction entry.
type CapabilityInteraction struct {
	Code string `json:"code"`
}

// buildCapabilities generates the statement from the route table and the registry.
func (s *Server) buildCapabilities(base string) *CapabilityStatement {
	offered := map[fhir.Interaction]bool{}
	for _, i := range s.interactions() {
		offered[i] = true
	}
	rest := CapabilityRest{Mode: "server"}
	for _, t := range s.svc.Registry().Types() {
		res := CapabilityResource{Type: t.Name, Profile: t.Profile, Versioning: "versioned", ReadHistory: offered[fhir.InteractionVRead]}
		for _, i := range t.Interactions {
			if offered[i] {
				res.Interaction = append(res.Interaction, CapabilityInteraction{Code: string(i)})
				if i == fhir.InteractionUpdate {
					res.UpdateCreate = true
				}
			}
		}
		rest.Resource = append(rest.Resource, res)
	}
	for _, r := range s.routes {
		if r.system != "" && r.system != "capabilities" {
			rest.Interaction = append(rest.Interaction, CapabilityInteraction{Code: r.system})
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
		Rest:        []CapabilityRest{rest},
	}
}

// capabilities serves GET /fhir/metadata.
//
//	@Summary		The CapabilityStatement
//	@Description	What this server offers: FHIR version, formats, and per resource type the interactions served.
//	@Description	It is built from the same route table that registers the handlers.
//	@ID				capabilities
//	@Tags			Server
//	@Produce		application/fhir+json,application/json
//	@Param			_format			query		string	false	"Response format; overrides Accept. Only JSON is served."	Enums(json,application/fhir+json,application/json)
//	@Param			_pretty			query		boolean	false	"true indents the JSON body"
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response and the server log; the server makes one when absent or malformed"
//	@Success		200				{object}	CapabilityStatement		"The CapabilityStatement"
//	@Failure		406				{object}	fhir.OperationOutcome	"Neither _format nor Accept names JSON"
//	@Failure		500				{object}	fhir.OperationOutcome	"The server failed; the detail is in its log under the request id"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Security		BearerAuth
//	@Router			/fhir/metadata [get]
func (s *Server) capabilities(c *gin.Context) error {
	writeValue(c, http.StatusOK, s.buildCapabilities(s.baseURL(c)))
	return nil
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
<li><a href="/fhir/metadata">CapabilityStatement</a> (<code>GET /fhir/metadata</code>)</li>
<li>OpenAPI 3.1 description: <a href="`+openAPIJSONPath+`">`+openAPIJSONPath+`</a> and <a href="`+openAPIYAMLPath+`">`+openAPIYAMLPath+`</a></li>
<li>Health: <a href="/healthz">/healthz</a> (process up) and <a href="/readyz">/readyz</a> (database answers)</li>
</ul>
</body></html>`)
}
