package api

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// mediaForm is the media type of a POST _search body.
const mediaForm = "application/x-www-form-urlencoded"

// search serves GET /fhir/{type}.
//
//	@Summary		Search {type} resources
//	@Description	Returns the {type} resources that match every search parameter given (a comma within one parameter means or), as a Bundle of type searchset, a page at a time.
//	@Description	Unknown or unsupported parameters are ignored and reported in an OperationOutcome entry (search.mode outcome), and left out of the self link; with Prefer: handling=strict they are an error (400).
//	@Description	A value the parameter cannot take (a bad date, prefix, modifier, _count or _sort) is always an error (400) naming the parameter.
//	@Description	_summary=count or _count=0 returns only the total. The next and previous links carry a _cursor; follow them as they are.
//	@ID				search-type
//	@Tags			{type}
//	@Produce		application/fhir+json,application/json
//	@Param			type			path		string	true	"Resource type"
//	@Param			_count			query		integer	false	"Matches per page (default 20, capped at the server's maximum, 1000 unless configured); 0 returns only the total"	minimum(0)
//	@Param			_sort			query		string	false	"Comma-separated search parameters to sort by, each with - for descending, e.g. -_lastUpdated"
//	@Param			_total			query		string	false	"Whether to count all matches in Bundle.total"	Enums(none,estimate,accurate)
//	@Param			_summary		query		string	false	"Return only part of each resource (SUBSETTED), or count for the total only"	Enums(true,text,data,count,false)
//	@Param			_elements		query		string	false	"Comma-separated top-level elements to return of each match (SUBSETTED)"
//	@Param			_include		query		string	false	"Add the resources a match refers to: SourceType:parameter[:TargetType], or * (search.mode include)"
//	@Param			_revinclude		query		string	false	"Add the resources that refer to a match: SourceType:parameter[:TargetType] (search.mode include)"
//	@Param			_cursor			query		string	false	"Opaque position of a page: copy it from a next or previous link"
//	@Param			Prefer			header		string	false	"handling=strict rejects unknown parameters (400); handling=lenient (the default) ignores them with a warning"	Enums(handling=lenient,handling=strict)
//	@Param			_format			query		string	false	"Response format; overrides Accept. Only JSON is served."	Enums(json,application/fhir+json,application/json)
//	@Param			_pretty			query		boolean	false	"true indents the JSON body"
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response and the server log; the server makes one when absent or malformed"
//	@Success		200				{object}	Bundle					"A page of matches"
//	@Failure		400				{object}	fhir.OperationOutcome	"A parameter's value, modifier or prefix is invalid, an unknown parameter with handling=strict, or a _cursor this server did not issue for this search"
//	@Failure		404				{object}	fhir.OperationOutcome	"The type is not served"
//	@Failure		406				{object}	fhir.OperationOutcome	"Neither _format nor Accept names JSON"
//	@Failure		500				{object}	fhir.OperationOutcome	"The server failed; the detail is in its log under the request id"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Security		BearerAuth
//	@Router			/fhir/{type} [get]
func (s *Server) search(c *gin.Context) error {
	if err := s.svc.Registry().CheckType(c.Param("type")); err != nil {
		return err
	}
	q, err := url.ParseQuery(c.Request.URL.RawQuery)
	if err != nil {
		return fhir.Errorf(fhir.KindInvalid, "The query is not a valid query string: %v", err)
	}
	return s.runSearch(c, q)
}

// searchPost serves POST /fhir/{type}/_search.
//
//	@Summary		Search {type} resources, parameters in the body
//	@Description	The same search as GET /fhir/{type}, with the parameters sent as an application/x-www-form-urlencoded body (and any in the URL query, combined with them).
//	@Description	Use it when the parameters should not appear in URLs and logs. The links of the answer are GET URLs.
//	@Description	The body takes every parameter GET /fhir/{type} takes in its query, except _cursor (which stays in the URL of a next or previous link).
//	@ID				search-type.post
//	@Tags			{type}
//	@Accept			x-www-form-urlencoded
//	@Produce		application/fhir+json,application/json
//	@Param			type			path		string	true	"Resource type"
//	@Param			Prefer			header		string	false	"handling=strict rejects unknown parameters (400); handling=lenient (the default) ignores them with a warning"	Enums(handling=lenient,handling=strict)
//	@Param			_format			query		string	false	"Response format; overrides Accept. Only JSON is served."	Enums(json,application/fhir+json,application/json)
//	@Param			_pretty			query		boolean	false	"true indents the JSON body"
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response and the server log; the server makes one when absent or malformed"
//	@Success		200				{object}	Bundle					"A page of matches"
//	@Failure		400				{object}	fhir.OperationOutcome	"A parameter's value, modifier or prefix is invalid, an unknown parameter with handling=strict, or a _cursor this server did not issue for this search"
//	@Failure		404				{object}	fhir.OperationOutcome	"The type is not served"
//	@Failure		413				{object}	fhir.OperationOutcome	"The body is larger than the server's limit"
//	@Failure		415				{object}	fhir.OperationOutcome	"Content-Type is not application/x-www-form-urlencoded"
//	@Failure		406				{object}	fhir.OperationOutcome	"Neither _format nor Accept names JSON"
//	@Failure		500				{object}	fhir.OperationOutcome	"The server failed; the detail is in its log under the request id"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Security		BearerAuth
//	@Router			/fhir/{type}/_search [post]
func (s *Server) searchPost(c *gin.Context) error {
	if err := s.svc.Registry().CheckType(c.Param("type")); err != nil {
		return err
	}
	q, err := formQuery(c)
	if err != nil {
		return err
	}
	return s.runSearch(c, q)
}

// formQuery reads the parameters of POST _search: the form body and the URL query, combined.
func formQuery(c *gin.Context) (url.Values, error) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		return nil, err
	}
	ct := c.GetHeader("Content-Type")
	if ct != "" || len(body) > 0 {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != mediaForm {
			return nil, fhir.Errorf(fhir.KindUnsupportedMedia,
				"Content-Type %q is not accepted: send the search parameters as %s", ct, mediaForm)
		}
	}
	q, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "The body is not a valid %s form: %v", mediaForm, err)
	}
	inURL, err := url.ParseQuery(c.Request.URL.RawQuery)
	if err != nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "The query is not a valid query string: %v", err)
	}
	for k, vs := range inURL {
		q[k] = append(q[k], vs...)
	}
	return q, nil
}

// runSearch parses q as a search on the request's type, runs it and answers the page as a
// searchset Bundle.
func (s *Server) runSearch(c *gin.Context, q url.Values) error {
	typ := c.Param("type")
	if err := search.CheckText(q); err != nil {
		return err
	}
	cursor, err := takeCursor(q)
	if err != nil {
		return err
	}
	criteria, warnings, err := search.Parse(typ, q, search.Options{
		Strict:       preference(c, "handling") == "strict",
		DefaultCount: s.opts.DefaultCount,
		MaxCount:     s.opts.MaxCount,
		Location:     s.opts.Location,
	})
	if err != nil {
		return err
	}
	base := s.baseURL(c)
	noteQuery(c, criteria.Encode())
	ctx, cancel := s.withSearchDeadline(c)
	defer cancel()
	res, err := s.opts.Searcher.Search(ctx, &search.Request{
		Criteria: criteria, Cursor: cursor, BaseURL: base, Compartment: compartmentOf(c), MayInclude: s.mayInclude(c),
	})
	if err != nil {
		return err
	}
	noteResources(c, res.Matches...)
	noteResources(c, res.Included...)
	if res.IncludesTruncated {
		warnings = append(warnings, fhir.Issue{
			Severity: fhir.SeverityWarning, Code: fhir.IssueIncomplete,
			Diagnostics: fmt.Sprintf("This page is incomplete: _include and _revinclude found more resources than the %d this server adds to one page, and only %d are included. Ask for fewer matches per page (_count) or fewer includes to get them all.",
				len(res.Included), len(res.Included)),
		})
	}
	body, err := searchBundle(base, criteria, cursor, res, warnings, time.Now())
	if err != nil {
		return err
	}
	writeJSON(c, http.StatusOK, body)
	return nil
}

// takeCursor removes _cursor from q and returns it: it is the position of a page, not a
// search parameter.
func takeCursor(q url.Values) (string, error) {
	vs := q[cursorParam]
	delete(q, cursorParam)
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	}
	return "", fhir.Errorf(fhir.KindInvalid, "Search parameter %q may be given only once", cursorParam).At(cursorParam)
}
