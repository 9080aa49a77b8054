package api

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// read serves GET /fhir/{type}/{id}.
//
//	@Summary		Read the current version of a {type}
//	@Description	Returns the newest version of the {type} with its version id as ETag and its time as Last-Modified.
//	@Description	A deleted resource answers 410 Gone with the ETag of the deleting version.
//	@Description	Conditional read: with If-None-Match naming the current ETag, or If-Modified-Since at or after its Last-Modified, the answer is 304 Not Modified without a body.
//	@Description	HEAD answers the same status and headers without the body.
//	@ID				read
//	@Tags			{type}
//	@Produce		application/fhir+json,application/json
//	@Param			type				path		string	true	"Resource type"
//	@Param			id					path		string	true	"Logical id"
//	@Param			If-None-Match		header		string	false	"Conditional read: the ETag of the version you have, as the ETag header gave it; 304 while it is the current one"
//	@Param			If-Modified-Since	header		string	false	"Conditional read: an HTTP date; 304 unless the resource changed after it (ignored with If-None-Match)"
//	@Param			_format				query		string	false	"Response format; overrides Accept. Only JSON is served."	Enums(json,application/fhir+json,application/json)
//	@Param			_pretty				query		boolean	false	"true indents the JSON body"
//	@Param			X-Request-Id		header		string	false	"Id for this request, echoed in the response and the server log; the server makes one when absent or malformed"
//	@Success		200				{object}	Resource				"The current version"
//	@Success		304				"Not Modified: the version named by If-None-Match or If-Modified-Since is the current one"
//	@Failure		404				{object}	fhir.OperationOutcome	"The type is not served or the id is not known"
//	@Failure		410				{object}	fhir.OperationOutcome	"The resource was deleted"
//	@Failure		406				{object}	fhir.OperationOutcome	"Neither _format nor Accept names JSON"
//	@Failure		500				{object}	fhir.OperationOutcome	"The server failed; the detail is in its log under the request id"
//	@Header			200,304,410	{string}	ETag			"The version id as a weak entity tag"
//	@Header			200,304,410	{string}	Last-Modified	"When the version was written (HTTP date)"
//	@Header			200,304			{string}	Cache-Control	"private, no-store: the caller's own, never kept by a cache"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Security		BearerAuth
//	@Router			/fhir/{type}/{id} [get]
func (s *Server) read(c *gin.Context) error {
	r, err := s.svc.Read(c.Request.Context(), c.Param("type"), c.Param("id"))
	if verr := visible(c, r); verr != nil {
		return verr
	}
	noteResources(c, r)
	if err != nil {
		if r != nil && r.Deleted {
			setVersionHeaders(c, r)
		}
		return err
	}
	if notModified(c.Request, r) {
		setVersionHeaders(c, r)
		c.Status(http.StatusNotModified)
		return nil
	}
	s.writeResource(c, http.StatusOK, r)
	return nil
}

// vread serves GET /fhir/{type}/{id}/_history/{vid}.
//
//	@Summary		Read one version of a {type}
//	@Description	Returns the version vid of the {type}, as it was written. The version written by a delete answers 410 Gone.
//	@ID				vread
//	@Tags			{type}
//	@Produce		application/fhir+json,application/json
//	@Param			type			path		string	true	"Resource type"
//	@Param			id				path		string	true	"Logical id"
//	@Param			vid				path		integer	true	"Version id: 1, 2, 3…"	minimum(1)
//	@Param			_format			query		string	false	"Response format; overrides Accept. Only JSON is served."	Enums(json,application/fhir+json,application/json)
//	@Param			_pretty			query		boolean	false	"true indents the JSON body"
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response and the server log; the server makes one when absent or malformed"
//	@Success		200				{object}	Resource				"The version"
//	@Failure		404				{object}	fhir.OperationOutcome	"The type is not served, or the id or the version is not known"
//	@Failure		410				{object}	fhir.OperationOutcome	"This version is the one written by a delete"
//	@Failure		406				{object}	fhir.OperationOutcome	"Neither _format nor Accept names JSON"
//	@Failure		500				{object}	fhir.OperationOutcome	"The server failed; the detail is in its log under the request id"
//	@Header			200,410	{string}	ETag			"The version id as a weak entity tag"
//	@Header			200,410	{string}	Last-Modified	"When the version was written (HTTP date)"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Security		BearerAuth
//	@Router			/fhir/{type}/{id}/_history/{vid} [get]
func (s *Server) vread(c *gin.Context) error {
	vid, err := strconv.ParseInt(c.Param("vid"), 10, 64)
	if err != nil || vid < 1 {
		return fhir.Errorf(fhir.KindNotFound, "%q is not a version id: versions are numbered 1, 2, 3…", c.Param("vid"))
	}
	if err := s.knowable(c, c.Param("type"), c.Param("id")); err != nil {
		return err
	}
	r, err := s.svc.VRead(c.Request.Context(), c.Param("type"), c.Param("id"), vid)
	if verr := visible(c, r); verr != nil {
		return verr
	}
	noteResources(c, r)
	if err != nil {
		if r != nil && r.Deleted {
			setVersionHeaders(c, r)
		}
		return err
	}
	s.writeResource(c, http.StatusOK, r)
	return nil
}

// create serves POST /fhir/{type}.
//
//	@Summary		Create a {type}
//	@Description	Stores the body as a new {type} with a server-assigned id (an id in the body is ignored) and version 1.
//	@Description	The body is validated against the FHIR R4 definition of {type}; every problem found is reported in one OperationOutcome.
//	@Description	Conditional create: with If-None-Exist the {type} is created only when no {type} matches those search criteria;
//	@Description	when one matches it is returned with 200 and nothing is written, when several match the answer is 412.
//	@Description	Unknown parameters in the criteria are an error (400), never ignored.
//	@ID				create
//	@Tags			{type}
//	@Accept			application/fhir+json,application/json
//	@Produce		application/fhir+json,application/json
//	@Param			type			path		string		true	"Resource type"
//	@Param			resource		body		Resource	true	"The {type} to create"
//	@Param			If-None-Exist	header		string		false	"Conditional create: search criteria as a query string, e.g. identifier=https://example.org/sid|123; create only when nothing matches"
//	@Param			Prefer			header		string	false	"What a successful write returns: the resource (return=representation, the default), no body (return=minimal) or an OperationOutcome (return=OperationOutcome)"	Enums(return=representation,return=minimal,return=OperationOutcome)
//	@Param			_format			query		string	false	"Response format; overrides Accept. Only JSON is served."	Enums(json,application/fhir+json,application/json)
//	@Param			_pretty			query		boolean	false	"true indents the JSON body"
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response and the server log; the server makes one when absent or malformed"
//	@Success		200				{object}	Resource				"Conditional create: one {type} matches If-None-Exist; it is returned as Prefer asks and nothing is written"
//	@Success		201				{object}	Resource				"Created; the body is what Prefer asks for (none for return=minimal)"
//	@Failure		400				{object}	fhir.OperationOutcome	"The body is not valid JSON or not a valid {type}, or If-None-Exist is empty, malformed or names an unknown parameter"
//	@Failure		404				{object}	fhir.OperationOutcome	"The type is not served"
//	@Failure		409				{object}	fhir.OperationOutcome	"A Questionnaire: another one with its url and version is stored"
//	@Failure		412				{object}	fhir.OperationOutcome	"Conditional create: more than one {type} matches If-None-Exist"
//	@Failure		422				{object}	fhir.OperationOutcome	"The resource breaks a rule of its content: a QuestionnaireResponse against the Questionnaire it answers, a Questionnaire against its own integrity; every problem is listed"
//	@Failure		413				{object}	fhir.OperationOutcome	"The body is larger than the server's limit"
//	@Failure		415				{object}	fhir.OperationOutcome	"Content-Type is not JSON"
//	@Failure		406				{object}	fhir.OperationOutcome	"Neither _format nor Accept names JSON"
//	@Failure		500				{object}	fhir.OperationOutcome	"The server failed; the detail is in its log under the request id"
//	@Header			200,201			{string}	Location		"URL of the new version: .../{type}/{id}/_history/1 (for a match: of its current version)"
//	@Header			200,201	{string}	ETag			"The version id as a weak entity tag"
//	@Header			200,201	{string}	Last-Modified	"When the version was written (HTTP date)"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Security		BearerAuth
//	@Router			/fhir/{type} [post]
func (s *Server) create(c *gin.Context) error {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		return err
	}
	if criteria, ok := c.Request.Header[ifNoneExist]; ok {
		return s.conditionalCreate(c, strings.Join(criteria, "&"), body)
	}
	res, err := s.svc.Create(c.Request.Context(), c.Param("type"), body)
	if err != nil {
		return err
	}
	s.writeWrite(c, res)
	return nil
}

// update serves PUT /fhir/{type}/{id}.
//
//	@Summary		Update (or create) a {type}
//	@Description	Stores the body as the newest version of the {type}. The body's id must equal the id in the URL.
//	@Description	An id that does not exist yet, or a deleted resource, is created (201); an existing one gets a new version (200).
//	@Description	With If-Match the write only happens while the current version is the one named (optimistic locking).
//	@ID				update
//	@Tags			{type}
//	@Accept			application/fhir+json,application/json
//	@Produce		application/fhir+json,application/json
//	@Param			type			path		string		true	"Resource type"
//	@Param			id				path		string		true	"Logical id: 1 to 64 letters, digits, '-' and '.'"
//	@Param			resource		body		Resource	true	"The new version of the {type}, with the id of the URL"
//	@Param			If-Match		header		string	false	"Only write when the current version is this one: send the ETag received with it"
//	@Param			Prefer			header		string	false	"What a successful write returns: the resource (return=representation, the default), no body (return=minimal) or an OperationOutcome (return=OperationOutcome)"	Enums(return=representation,return=minimal,return=OperationOutcome)
//	@Param			_format			query		string	false	"Response format; overrides Accept. Only JSON is served."	Enums(json,application/fhir+json,application/json)
//	@Param			_pretty			query		boolean	false	"true indents the JSON body"
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response and the server log; the server makes one when absent or malformed"
//	@Success		200				{object}	Resource				"Updated; the body is what Prefer asks for"
//	@Success		201				{object}	Resource				"Created; the body is what Prefer asks for"
//	@Failure		400				{object}	fhir.OperationOutcome	"Invalid JSON or resource, an id that differs from the URL or is malformed, or a malformed If-Match"
//	@Failure		404				{object}	fhir.OperationOutcome	"The type is not served"
//	@Failure		409				{object}	fhir.OperationOutcome	"Too many concurrent writes to this resource (retry); or a Questionnaire that takes another's url and version, or changes the items of an active version that has responses (bump version)"
//	@Failure		412				{object}	fhir.OperationOutcome	"If-Match does not name the current version"
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
//	@Router			/fhir/{type}/{id} [put]
func (s *Server) update(c *gin.Context) error {
	ifMatch, err := parseIfMatch(c.GetHeader("If-Match"))
	if err != nil {
		return err
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		return err
	}
	res, err := s.svc.Update(c.Request.Context(), c.Param("type"), c.Param("id"), body, ifMatch)
	if err != nil {
		return limitedNotFound(c, err)
	}
	s.writeWrite(c, res)
	return nil
}

// limitedNotFound adds to a not-found answer of a write by a patient-limited token what such a
// token may do instead. It says the same whether the id was never written or belongs to
// another patient, so that it tells nothing about which.
func limitedNotFound(c *gin.Context, err error) error {
	if compartmentOf(c) == "" || !fhir.IsKind(err, fhir.KindNotFound) {
		return err
	}
	return fhir.Errorf(fhir.KindNotFound, "%s. A token limited to one patient updates only resources of that patient that exist, and creates new ones with POST", strings.TrimSuffix(err.Error(), "."))
}

// delete serves DELETE /fhir/{type}/{id}.
//
//	@Summary		Delete a {type}
//	@Description	Writes a new version that marks the {type} deleted; its history is kept and a later update brings it back.
//	@Description	Deleting a resource that is already deleted succeeds and writes nothing.
//	@ID				delete
//	@Tags			{type}
//	@Produce		application/fhir+json,application/json
//	@Param			type			path		string	true	"Resource type"
//	@Param			id				path		string	true	"Logical id"
//	@Param			If-Match		header		string	false	"Only write when the current version is this one: send the ETag received with it"
//	@Param			Prefer			header		string	false	"return=OperationOutcome answers 200 with an OperationOutcome instead of 204"	Enums(return=minimal,return=OperationOutcome)
//	@Param			_format			query		string	false	"Response format; overrides Accept. Only JSON is served."	Enums(json,application/fhir+json,application/json)
//	@Param			_pretty			query		boolean	false	"true indents the JSON body"
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response and the server log; the server makes one when absent or malformed"
//	@Success		200				{object}	fhir.OperationOutcome	"Deleted, reported as Prefer: return=OperationOutcome asks"
//	@Success		204				"Deleted"
//	@Failure		400				{object}	fhir.OperationOutcome	"A malformed If-Match"
//	@Failure		404				{object}	fhir.OperationOutcome	"The type is not served or the id was never written"
//	@Failure		409				{object}	fhir.OperationOutcome	"Too many concurrent writes to this resource; retry"
//	@Failure		412				{object}	fhir.OperationOutcome	"If-Match does not name the current version"
//	@Failure		406				{object}	fhir.OperationOutcome	"Neither _format nor Accept names JSON"
//	@Failure		500				{object}	fhir.OperationOutcome	"The server failed; the detail is in its log under the request id"
//	@Header			200,204			{string}	ETag			"The version id of the deleting version as a weak entity tag"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Security		BearerAuth
//	@Router			/fhir/{type}/{id} [delete]
func (s *Server) delete(c *gin.Context) error {
	ifMatch, err := parseIfMatch(c.GetHeader("If-Match"))
	if err != nil {
		return err
	}
	r, err := s.svc.Delete(c.Request.Context(), c.Param("type"), c.Param("id"), ifMatch)
	if err != nil {
		return err
	}
	noteResources(c, r)
	c.Header("ETag", r.ETag())
	if preferReturn(c) == "OperationOutcome" {
		writeValue(c, http.StatusOK, fhir.NewOperationOutcome(fhir.Issue{
			Severity: fhir.SeverityInformation, Code: fhir.IssueInformational,
			Diagnostics: "Deleted " + r.Type + "/" + r.ID + " (version " + strconv.FormatInt(r.VersionID, 10) + ")",
		}))
		return nil
	}
	c.Status(http.StatusNoContent)
	return nil
}

// writeWrite answers a successful create or update as the Prefer header asks.
func (s *Server) writeWrite(c *gin.Context, res *fhir.WriteResult) {
	verb := "Updated"
	if res.Created {
		verb = "Created"
	}
	s.writeVersion(c, res.Status(), res.Resource, verb, res.Issues...)
}

// writeVersion answers a request that wrote version r (or, for a conditional create that
// matched, found it) as the Prefer header asks; verb says what happened to it, and issues
// (warnings about the resource written) follow it in an OperationOutcome.
func (s *Server) writeVersion(c *gin.Context, status int, r *fhir.Resource, verb string, issues ...fhir.Issue) {
	noteResources(c, r)
	c.Header("Location", s.baseURL(c)+"/"+r.Type+"/"+r.ID+"/_history/"+strconv.FormatInt(r.VersionID, 10))
	switch preferReturn(c) {
	case "minimal":
		setVersionHeaders(c, r)
		c.Status(status)
	case "OperationOutcome":
		setVersionHeaders(c, r)
		writeValue(c, status, fhir.NewOperationOutcome(append([]fhir.Issue{{
			Severity: fhir.SeverityInformation, Code: fhir.IssueInformational,
			Diagnostics: verb + " " + r.Type + "/" + r.ID + " (version " + strconv.FormatInt(r.VersionID, 10) + ")",
		}}, issues...)...))
	default:
		s.writeResource(c, status, r)
	}
}

func (s *Server) writeResource(c *gin.Context, status int, r *fhir.Resource) {
	setVersionHeaders(c, r)
	writeJSON(c, status, r.Raw)
}

// setVersionHeaders names the version an answer is about (ETag, Last-Modified): an answer a
// client may later read again conditionally, so it is marked private to the caller as well
// as never stored (Cache-Control: private, no-store).
func setVersionHeaders(c *gin.Context, r *fhir.Resource) {
	c.Header("ETag", r.ETag())
	c.Header("Last-Modified", r.LastUpdated.UTC().Format(http.TimeFormat))
	if c.Writer.Header().Get("Cache-Control") == cacheNoStore {
		c.Header("Cache-Control", cachePrivate)
	}
}

// notModified reports whether a conditional read of r may answer 304 Not Modified:
// If-None-Match names r's version (or is *), or, without If-None-Match, If-Modified-Since is
// at or after r was written (to the second, as HTTP dates go). A malformed date is ignored.
func notModified(req *http.Request, r *fhir.Resource) bool {
	if inm := req.Header.Values("If-None-Match"); len(inm) > 0 {
		want := strconv.FormatInt(r.VersionID, 10)
		for _, h := range inm {
			for _, tag := range strings.Split(h, ",") {
				tag = strings.TrimSpace(tag)
				if tag == "*" || strings.Trim(strings.TrimPrefix(tag, "W/"), `"`) == want {
					return true
				}
			}
		}
		return false
	}
	if ims := req.Header.Get("If-Modified-Since"); ims != "" {
		t, err := http.ParseTime(ims)
		return err == nil && !r.LastUpdated.Truncate(time.Second).After(t)
	}
	return false
}

// preferReturn is the return preference of the Prefer header: minimal, representation
// (the default) or OperationOutcome.
func preferReturn(c *gin.Context) string {
	switch v := preference(c, "return"); v {
	case "minimal", "OperationOutcome":
		return v
	}
	return "representation"
}

// preference is the value of the named preference in the Prefer headers (RFC 7240), "" when
// it is not given: preference(c, "handling") is "strict" for Prefer: handling=strict.
func preference(c *gin.Context, name string) string {
	for _, h := range c.Request.Header.Values("Prefer") {
		for _, part := range strings.Split(h, ";") {
			for _, p := range strings.Split(part, ",") {
				k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), name) {
					return strings.Trim(strings.TrimSpace(v), `"`)
				}
			}
		}
	}
	return ""
}

// parseIfMatch reads an If-Match header: W/"3", "3" or 3. Empty gives nil.
func parseIfMatch(h string) (*int64, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return nil, nil
	}
	v := strings.TrimPrefix(h, "W/")
	v = strings.Trim(v, `"`)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return nil, fhir.Errorf(fhir.KindInvalid, `If-Match %q is not a version tag: send the ETag you received, e.g. W/"3"`, h)
	}
	return &n, nil
}
