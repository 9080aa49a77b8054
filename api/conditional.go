package api

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/conditional"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// ifNoneExist is the header of a conditional create, in canonical form.
const ifNoneExist = "If-None-Exist"

// condScope is where a conditional interaction of the request looks for its matches: the
// request's base URL and the compartment its token is limited to.
func (s *Server) condScope(c *gin.Context) conditional.Scope {
	return conditional.Scope{BaseURL: s.baseURL(c), Compartment: compartmentOf(c)}
}

// conditionalCreate answers POST /fhir/{type} with an If-None-Exist header (see create).
func (s *Server) conditionalCreate(c *gin.Context, header string, body []byte) error {
	typ := c.Param("type")
	if err := s.svc.Registry().CheckType(typ); err != nil {
		return err
	}
	q, err := conditional.ParseQuery(typ, header)
	if err != nil {
		return err
	}
	criteria, err := s.cond.Criteria(typ, q)
	if err != nil {
		return err
	}
	res, err := s.cond.Create(c.Request.Context(), criteria, s.condScope(c), body)
	if err != nil {
		return err
	}
	if res.Existing {
		s.writeVersion(c, http.StatusOK, res.Resource, "Nothing was written: If-None-Exist matches")
		return nil
	}
	s.writeWrite(c, &res.WriteResult)
	return nil
}

// conditionalUpdate serves PUT /fhir/{type}?criteria.
//
//	@Summary		Update (or create) the {type} that search criteria select
//	@Description	Conditional update: the query selects the {type} to write, as a search would. No match creates the body (under its id when it has one, as an update as create, else under a new id; 201);
//	@Description	one match updates that {type} (200; the body's id, when present, must be the match's); several matches answer 412.
//	@Description	The criteria need at least one search parameter; unknown parameters and result parameters (_count, _sort, …) are an error (400), never ignored.
//	@ID				update.conditional
//	@Tags			{type}
//	@Accept			application/fhir+json,application/json
//	@Produce		application/fhir+json,application/json
//	@Param			type			path		string		true	"Resource type"
//	@Param			resource		body		Resource	true	"The new version of the {type}; its id may be left out"
//	@Param			If-Match		header		string	false	"Only write when the current version of the match is this one: send the ETag received with it"
//	@Param			Prefer			header		string	false	"What a successful write returns: the resource (return=representation, the default), no body (return=minimal) or an OperationOutcome (return=OperationOutcome)"	Enums(return=representation,return=minimal,return=OperationOutcome)
//	@Param			_format			query		string	false	"Response format; overrides Accept. Only JSON is served."	Enums(json,application/fhir+json,application/json)
//	@Param			_pretty			query		boolean	false	"true indents the JSON body"
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response and the server log; the server makes one when absent or malformed"
//	@Success		200				{object}	Resource				"The match was updated; the body is what Prefer asks for"
//	@Success		201				{object}	Resource				"Nothing matched and the body was created; the body is what Prefer asks for"
//	@Failure		400				{object}	fhir.OperationOutcome	"No criteria, an unknown parameter or a bad value in them, invalid JSON or resource, or a body id that is not the match's"
//	@Failure		404				{object}	fhir.OperationOutcome	"The type is not served"
//	@Failure		409				{object}	fhir.OperationOutcome	"Too many concurrent writes to this resource (retry); or a Questionnaire that takes another's url and version, or changes the items of an active version that has responses (bump version)"
//	@Failure		412				{object}	fhir.OperationOutcome	"More than one {type} matches, or If-Match does not name the current version"
//	@Failure		422				{object}	fhir.OperationOutcome	"The resource breaks a rule of its content: a QuestionnaireResponse against the Questionnaire it answers, a Questionnaire against its own integrity; every problem is listed"
//	@Failure		413				{object}	fhir.OperationOutcome	"The body is larger than the server's limit"
//	@Failure		415				{object}	fhir.OperationOutcome	"Content-Type is not JSON"
//	@Failure		406				{object}	fhir.OperationOutcome	"Neither _format nor Accept names JSON"
//	@Failure		500				{object}	fhir.OperationOutcome	"The server failed; the detail is in its log under the request id"
//	@Header			200,201			{string}	Location		"URL of the version written: .../{type}/{id}/_history/{vid}"
//	@Header			200,201	{string}	ETag			"The version id as a weak entity tag"
//	@Header			200,201	{string}	Last-Modified	"When the version was written (HTTP date)"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Security		BearerAuth
//	@Router			/fhir/{type} [put]
func (s *Server) conditionalUpdate(c *gin.Context) error {
	criteria, err := s.urlCriteria(c)
	if err != nil {
		return err
	}
	ifMatch, err := parseIfMatch(c.GetHeader("If-Match"))
	if err != nil {
		return err
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		return err
	}
	res, err := s.cond.Update(c.Request.Context(), criteria, s.condScope(c), body, ifMatch)
	if err != nil {
		return limitedNotFound(c, err)
	}
	s.writeWrite(c, res)
	return nil
}

// conditionalDelete serves DELETE /fhir/{type}?criteria.
//
//	@Summary		Delete the {type} resources that search criteria select
//	@Description	Conditional delete: the query selects the {type} resources to delete, as a search would, and every one is deleted (a new version marks it deleted; its history is kept).
//	@Description	No match deletes nothing and succeeds. When more match than the server's largest page (_count maximum, 1000 unless configured) nothing is deleted and the answer is 412.
//	@Description	The criteria need at least one search parameter; unknown parameters and result parameters (_count, _sort, …) are an error (400), never ignored.
//	@ID				delete.conditional
//	@Tags			{type}
//	@Produce		application/fhir+json,application/json
//	@Param			type			path		string	true	"Resource type"
//	@Param			If-Match		header		string	false	"Only delete when exactly one {type} matches and this is its current version"
//	@Param			Prefer			header		string	false	"return=OperationOutcome answers 200 with an OperationOutcome listing what was deleted instead of 204"	Enums(return=minimal,return=OperationOutcome)
//	@Param			_format			query		string	false	"Response format; overrides Accept. Only JSON is served."	Enums(json,application/fhir+json,application/json)
//	@Param			_pretty			query		boolean	false	"true indents the JSON body"
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response and the server log; the server makes one when absent or malformed"
//	@Success		200				{object}	fhir.OperationOutcome	"Deleted, reported as Prefer: return=OperationOutcome asks"
//	@Success		204				"Deleted (or nothing matched)"
//	@Failure		400				{object}	fhir.OperationOutcome	"No criteria, an unknown parameter or a bad value in them, or a malformed If-Match"
//	@Failure		404				{object}	fhir.OperationOutcome	"The type is not served"
//	@Failure		409				{object}	fhir.OperationOutcome	"Too many concurrent writes to a matching resource; retry"
//	@Failure		412				{object}	fhir.OperationOutcome	"More {type} resources match than the server deletes at once, or If-Match does not hold"
//	@Failure		406				{object}	fhir.OperationOutcome	"Neither _format nor Accept names JSON"
//	@Failure		500				{object}	fhir.OperationOutcome	"The server failed; the detail is in its log under the request id"
//	@Header			200,204			{string}	ETag			"When exactly one {type} was deleted: the version id of its deleting version as a weak entity tag"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Security		BearerAuth
//	@Router			/fhir/{type} [delete]
func (s *Server) conditionalDelete(c *gin.Context) error {
	criteria, err := s.urlCriteria(c)
	if err != nil {
		return err
	}
	ifMatch, err := parseIfMatch(c.GetHeader("If-Match"))
	if err != nil {
		return err
	}
	deleted, err := s.cond.Delete(c.Request.Context(), criteria, s.condScope(c), ifMatch)
	if err != nil {
		return err
	}
	noteResources(c, deleted...)
	if len(deleted) == 1 {
		c.Header("ETag", deleted[0].ETag())
	}
	if preferReturn(c) == "OperationOutcome" {
		names := make([]string, len(deleted))
		for i, r := range deleted {
			names[i] = r.Type + "/" + r.ID + " (version " + strconv.FormatInt(r.VersionID, 10) + ")"
		}
		msg := "Nothing matches " + criteria.Encode() + ": nothing was deleted"
		if len(deleted) > 0 {
			msg = "Deleted " + strings.Join(names, ", ")
		}
		writeValue(c, http.StatusOK, fhir.NewOperationOutcome(fhir.Issue{
			Severity: fhir.SeverityInformation, Code: fhir.IssueInformational, Diagnostics: msg,
		}))
		return nil
	}
	c.Status(http.StatusNoContent)
	return nil
}

// urlCriteria reads the conditional criteria of a PUT or DELETE on /fhir/{type} from its query.
func (s *Server) urlCriteria(c *gin.Context) (*search.Criteria, error) {
	typ := c.Param("type")
	if err := s.svc.Registry().CheckType(typ); err != nil {
		return nil, err
	}
	q, err := url.ParseQuery(c.Request.URL.RawQuery)
	if err != nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "The query is not a valid query string: %v", err)
	}
	return s.cond.Criteria(typ, q)
}
