package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// validateOperation is the OperationDefinition of $validate.
const validateOperation = "http://hl7.org/fhir/OperationDefinition/Resource-validate"

// NoIssues is the diagnostics of the one issue $validate answers when it finds nothing.
const NoIssues = "No issues found: the resource may be written as it is"

// validateType serves POST /fhir/{type}/$validate.
//
//	@Summary		Validate a {type} without storing it
//	@Description	Checks the body as a create would: against the FHIR R4 definition of {type} and, for a QuestionnaireResponse, against the rules of the Questionnaire it answers (for a Questionnaire, its own integrity and the uniqueness of its url and version).
//	@Description	The body is the {type} itself, or a Parameters resource with the {type} in its resource parameter and, optionally, a mode (create, the default; update and delete need the id in the URL).
//	@Description	The answer is 200 with an OperationOutcome listing every issue found, errors and warnings, or one information issue when there is none. Nothing is stored.
//	@ID				validate
//	@Tags			{type}
//	@Accept			application/fhir+json,application/json
//	@Produce		application/fhir+json,application/json
//	@Param			type			path		string		true	"Resource type"
//	@Param			resource		body		Resource	true	"The {type} to check, or a Parameters resource holding it"
//	@Param			_format			query		string	false	"Response format; overrides Accept. Only JSON is served."	Enums(json,application/fhir+json,application/json)
//	@Param			_pretty			query		boolean	false	"true indents the JSON body"
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response and the server log; the server makes one when absent or malformed"
//	@Success		200				{object}	fhir.OperationOutcome	"Every issue found, or one information issue when there is none"
//	@Failure		400				{object}	fhir.OperationOutcome	"A Parameters body without a resource parameter, or a mode that needs the id (update, delete); a body that is not a valid {type}, JSON or not, is a 200 listing why"
//	@Failure		404				{object}	fhir.OperationOutcome	"The type is not served"
//	@Failure		405				{object}	fhir.OperationOutcome	"The type is written by the server alone (AuditEvent)"
//	@Failure		413				{object}	fhir.OperationOutcome	"The body is larger than the server's limit"
//	@Failure		415				{object}	fhir.OperationOutcome	"Content-Type is not JSON"
//	@Failure		406				{object}	fhir.OperationOutcome	"Neither _format nor Accept names JSON"
//	@Failure		500				{object}	fhir.OperationOutcome	"The server failed; the detail is in its log under the request id"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Security		BearerAuth
//	@Router			/fhir/{type}/$validate [post]
func (s *Server) validateType(c *gin.Context) error { return s.validate(c, "") }

// validateInstance serves POST /fhir/{type}/{id}/$validate.
//
//	@Summary		Validate a change to a {type} without storing it
//	@Description	Checks the body as an update of this {type} would (mode update, the default here): its FHIR R4 definition, the id, the Questionnaire rules, and for a Questionnaire that an active version with responses keeps its items.
//	@Description	With mode delete (in a Parameters body) it checks that the {type} exists to be deleted. The answer is 200 with an OperationOutcome listing every issue; nothing is stored.
//	@ID				validate.instance
//	@Tags			{type}
//	@Accept			application/fhir+json,application/json
//	@Produce		application/fhir+json,application/json
//	@Param			type			path		string		true	"Resource type"
//	@Param			id				path		string		true	"Logical id"
//	@Param			resource		body		Resource	true	"The new version of the {type} to check, or a Parameters resource holding it and a mode"
//	@Param			_format			query		string	false	"Response format; overrides Accept. Only JSON is served."	Enums(json,application/fhir+json,application/json)
//	@Param			_pretty			query		boolean	false	"true indents the JSON body"
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response and the server log; the server makes one when absent or malformed"
//	@Success		200				{object}	fhir.OperationOutcome	"Every issue found, or one information issue when there is none"
//	@Failure		400				{object}	fhir.OperationOutcome	"A Parameters body without a resource parameter (but for mode delete), or an unknown mode; a body that is not a valid {type} is a 200 listing why"
//	@Failure		404				{object}	fhir.OperationOutcome	"The type is not served, or the id is not valid"
//	@Failure		405				{object}	fhir.OperationOutcome	"The type is written by the server alone (AuditEvent)"
//	@Failure		413				{object}	fhir.OperationOutcome	"The body is larger than the server's limit"
//	@Failure		415				{object}	fhir.OperationOutcome	"Content-Type is not JSON"
//	@Failure		406				{object}	fhir.OperationOutcome	"Neither _format nor Accept names JSON"
//	@Failure		500				{object}	fhir.OperationOutcome	"The server failed; the detail is in its log under the request id"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Security		BearerAuth
//	@Router			/fhir/{type}/{id}/$validate [post]
func (s *Server) validateInstance(c *gin.Context) error {
	if err := s.knowable(c, c.Param("type"), c.Param("id")); err != nil {
		return err
	}
	return s.validate(c, fhir.ValidateUpdate)
}

// validate answers $validate: the body read as a resource or a Parameters, checked by the
// service, every issue in a 200 OperationOutcome.
func (s *Server) validate(c *gin.Context, mode fhir.ValidateMode) error {
	typ := c.Param("type")
	if rt := s.svc.Registry().Type(typ); rt != nil && !rt.Offers(fhir.InteractionCreate) {
		return fhir.Errorf(fhir.KindMethodNotAllowed, "%s resources are written by the server alone: there is nothing to validate", typ)
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		return err
	}
	in, err := readValidateInput(body)
	if err != nil {
		return err
	}
	if in.mode != "" {
		mode = in.mode
	}
	issues, err := s.svc.Validate(c.Request.Context(), typ, c.Param("id"), in.resource, mode)
	if err != nil {
		return err
	}
	if in.profile != "" {
		if rt := s.svc.Registry().Type(typ); rt == nil || in.profile != rt.Profile {
			issues = append(issues, fhir.Issue{Severity: fhir.SeverityWarning, Code: fhir.IssueNotSupported, Expression: []string{"Parameters.parameter"},
				Diagnostics: "The profile " + in.profile + " is not one this server validates against: the resource was checked against the FHIR R4 definition of " + typ})
		}
	}
	if len(issues) == 0 {
		issues = []fhir.Issue{{Severity: fhir.SeverityInformation, Code: fhir.IssueInformational, Diagnostics: NoIssues}}
	}
	writeValue(c, http.StatusOK, fhir.NewOperationOutcome(issues...))
	return nil
}

// validateInput is what a $validate request asks: the resource, and from a Parameters
// body the mode and profile.
type validateInput struct {
	resource []byte
	mode     fhir.ValidateMode
	profile  string
}

// readValidateInput reads a $validate body: a resource, or a Parameters resource with the
// parameters resource, mode and profile. The resource is returned as sent.
func readValidateInput(body []byte) (*validateInput, error) {
	var head struct {
		ResourceType string `json:"resourceType"`
		Parameter    []struct {
			Name           string          `json:"name"`
			Resource       json.RawMessage `json:"resource"`
			ValueCode      string          `json:"valueCode"`
			ValueURI       string          `json:"valueUri"`
			ValueCanonical string          `json:"valueCanonical"`
		} `json:"parameter"`
	}
	if err := json.Unmarshal(body, &head); err != nil || head.ResourceType != "Parameters" {
		return &validateInput{resource: body}, nil // the service reports what is wrong with it
	}
	in := &validateInput{}
	for _, p := range head.Parameter {
		switch p.Name {
		case "resource":
			in.resource = bytes.TrimSpace(p.Resource)
		case "mode":
			in.mode = fhir.ValidateMode(p.ValueCode)
		case "profile":
			in.profile = p.ValueURI + p.ValueCanonical
		}
	}
	if len(in.resource) == 0 && in.mode != fhir.ValidateDelete {
		return nil, fhir.Errorf(fhir.KindInvalid, "The Parameters of $validate have no resource parameter: put the resource to check in parameter[name=resource].resource").At("Parameters.parameter")
	}
	return in, nil
}
