package api

import (
	"io"
	"mime"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/patch"
)

// isJSONPatch reports whether a Content-Type names JSON Patch.
func isJSONPatch(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == patch.MediaJSONPatch
}

// patcher reads the body of a PATCH: JSON Patch for application/json-patch+json, else
// (FHIR JSON) a FHIRPath Patch Parameters resource.
func patcher(c *gin.Context) (fhir.Patcher, error) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		return nil, err
	}
	if isJSONPatch(c.GetHeader("Content-Type")) {
		return patch.JSONPatch(body)
	}
	if strings.TrimSpace(string(body)) == "" {
		return nil, fhir.Errorf(fhir.KindInvalid, "The PATCH body is empty: send JSON Patch as %s or a FHIRPath Patch (Parameters) as application/fhir+json", patch.MediaJSONPatch)
	}
	return patch.FHIRPathPatch(body)
}

// patch serves PATCH /fhir/{type}/{id}.
//
//	@Summary		Patch a {type}
//	@Description	Changes part of the current version of the {type} and stores the result as its next version, checked exactly as an update is.
//	@Description	The body is a JSON Patch (RFC 6902) sent as application/json-patch+json, or a FHIRPath Patch: a Parameters resource with one "operation" parameter per operation (add, insert, delete, replace, move), sent as application/fhir+json.
//	@Description	Everything the patch does not name stays exactly as stored, byte for byte, primitive extensions (_field) included.
//	@Description	The patch applies to the version read; a write by another request in between answers 412 rather than being overwritten. With If-Match the patch applies only to the version named.
//	@ID				patch
//	@Tags			{type}
//	@Accept			application/json-patch+json,application/fhir+json
//	@Produce		application/fhir+json,application/json
//	@Param			type			path		string		true	"Resource type"
//	@Param			id				path		string		true	"Logical id"
//	@Param			patch			body		Resource	true	"A JSON Patch array, or a FHIRPath Patch Parameters resource"
//	@Param			If-Match		header		string	false	"Only patch when the current version is this one: send the ETag received with it"
//	@Param			Prefer			header		string	false	"What a successful write returns: the resource (return=representation, the default), no body (return=minimal) or an OperationOutcome (return=OperationOutcome)"	Enums(return=representation,return=minimal,return=OperationOutcome)
//	@Param			_format			query		string	false	"Response format; overrides Accept. Only JSON is served."	Enums(json,application/fhir+json,application/json)
//	@Param			_pretty			query		boolean	false	"true indents the JSON body"
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response and the server log; the server makes one when absent or malformed"
//	@Success		200				{object}	Resource				"Patched; the body is what Prefer asks for"
//	@Failure		400				{object}	fhir.OperationOutcome	"The patch document is malformed, or the patched resource is not a valid {type}"
//	@Failure		404				{object}	fhir.OperationOutcome	"The type is not served or the id is not known"
//	@Failure		409				{object}	fhir.OperationOutcome	"Too many concurrent writes to this resource; retry"
//	@Failure		410				{object}	fhir.OperationOutcome	"The resource was deleted"
//	@Failure		412				{object}	fhir.OperationOutcome	"If-Match does not name the current version, or another request changed the resource while it was patched"
//	@Failure		422				{object}	fhir.OperationOutcome	"The patch cannot be applied (a path selects nothing, a test fails), or the result breaks a rule of its content"
//	@Failure		413				{object}	fhir.OperationOutcome	"The body is larger than the server's limit"
//	@Failure		415				{object}	fhir.OperationOutcome	"Content-Type is neither JSON Patch nor FHIR JSON"
//	@Failure		406				{object}	fhir.OperationOutcome	"Neither _format nor Accept names JSON"
//	@Failure		500				{object}	fhir.OperationOutcome	"The server failed; the detail is in its log under the request id"
//	@Header			200				{string}	Location		"URL of the version written: .../{type}/{id}/_history/{vid}"
//	@Header			200				{string}	ETag			"The version id as a weak entity tag"
//	@Header			200				{string}	Last-Modified	"When the version was written (HTTP date)"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Security		BearerAuth
//	@Router			/fhir/{type}/{id} [patch]
func (s *Server) patch(c *gin.Context) error {
	ifMatch, err := parseIfMatch(c.GetHeader("If-Match"))
	if err != nil {
		return err
	}
	p, err := patcher(c)
	if err != nil {
		return err
	}
	res, err := s.svc.Patch(c.Request.Context(), c.Param("type"), c.Param("id"), p, ifMatch)
	if err != nil {
		return limitedNotFound(c, err)
	}
	s.writeWrite(c, res)
	return nil
}

// conditionalPatch serves PATCH /fhir/{type}?criteria.
//
//	@Summary		Patch the {type} that search criteria select
//	@Description	Conditional patch: the query selects the {type} to patch, as a search would; exactly one must match (none: 404, several: 412). The body and the answer are those of a patch.
//	@Description	The criteria need at least one search parameter; unknown parameters and result parameters (_count, _sort, …) are an error (400), never ignored.
//	@ID				patch.conditional
//	@Tags			{type}
//	@Accept			application/json-patch+json,application/fhir+json
//	@Produce		application/fhir+json,application/json
//	@Param			type			path		string		true	"Resource type"
//	@Param			patch			body		Resource	true	"A JSON Patch array, or a FHIRPath Patch Parameters resource"
//	@Param			If-Match		header		string	false	"Only patch when the current version of the match is this one"
//	@Param			Prefer			header		string	false	"What a successful write returns: the resource (return=representation, the default), no body (return=minimal) or an OperationOutcome (return=OperationOutcome)"	Enums(return=representation,return=minimal,return=OperationOutcome)
//	@Param			_format			query		string	false	"Response format; overrides Accept. Only JSON is served."	Enums(json,application/fhir+json,application/json)
//	@Param			_pretty			query		boolean	false	"true indents the JSON body"
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response and the server log; the server makes one when absent or malformed"
//	@Success		200				{object}	Resource				"The match was patched; the body is what Prefer asks for"
//	@Failure		400				{object}	fhir.OperationOutcome	"No criteria, an unknown parameter or a bad value in them, a malformed patch, or an invalid result"
//	@Failure		404				{object}	fhir.OperationOutcome	"The type is not served, or nothing matches"
//	@Failure		412				{object}	fhir.OperationOutcome	"More than one {type} matches, or If-Match does not hold"
//	@Failure		422				{object}	fhir.OperationOutcome	"The patch cannot be applied, or the result breaks a rule of its content"
//	@Failure		415				{object}	fhir.OperationOutcome	"Content-Type is neither JSON Patch nor FHIR JSON"
//	@Failure		500				{object}	fhir.OperationOutcome	"The server failed; the detail is in its log under the request id"
//	@Header			200				{string}	Location		"URL of the version written"
//	@Header			200				{string}	ETag			"The version id as a weak entity tag"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Security		BearerAuth
//	@Router			/fhir/{type} [patch]
func (s *Server) conditionalPatch(c *gin.Context) error {
	criteria, err := s.urlCriteria(c)
	if err != nil {
		return err
	}
	ifMatch, err := parseIfMatch(c.GetHeader("If-Match"))
	if err != nil {
		return err
	}
	p, err := patcher(c)
	if err != nil {
		return err
	}
	res, err := s.cond.Patch(c.Request.Context(), criteria, s.condScope(c), p, ifMatch)
	if err != nil {
		return limitedNotFound(c, err)
	}
	s.writeWrite(c, res)
	return nil
}
