package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// cursorParam carries the position of a history or search page in next and previous links.
const cursorParam = "_cursor"

// instanceHistory serves GET /fhir/{type}/{id}/_history.
//
//	@Summary		History of one {type}
//	@Description	Every version of the {type}, newest first, as a Bundle of type history; deletes appear as entries without a resource.
//	@Description	Pages hold _count entries; the next link carries the _cursor of the following page.
//	@ID				history-instance
//	@Tags			{type}
//	@Produce		application/fhir+json,application/json
//	@Param			type			path		string	true	"Resource type"
//	@Param			id				path		string	true	"Logical id"
//	@Param			_count			query		integer	false	"Entries per page (default 20, capped at the server's maximum, 1000 unless configured)"	minimum(1)
//	@Param			_since			query		string	false	"Only versions written at or after this instant, e.g. 2026-01-31T12:00:00Z"	format(date-time)
//	@Param			_cursor			query		string	false	"Opaque position of the next page: copy it from the next link of the previous page"
//	@Param			_format			query		string	false	"Response format; overrides Accept. Only JSON is served."	Enums(json,application/fhir+json,application/json)
//	@Param			_pretty			query		boolean	false	"true indents the JSON body"
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response and the server log; the server makes one when absent or malformed"
//	@Success		200				{object}	Bundle					"A page of the history"
//	@Failure		400				{object}	fhir.OperationOutcome	"_count, _since or _cursor is malformed"
//	@Failure		404				{object}	fhir.OperationOutcome	"The type is not served or the id was never written"
//	@Failure		406				{object}	fhir.OperationOutcome	"Neither _format nor Accept names JSON"
//	@Failure		500				{object}	fhir.OperationOutcome	"The server failed; the detail is in its log under the request id"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Security		BearerAuth
//	@Router			/fhir/{type}/{id}/_history [get]
func (s *Server) instanceHistory(c *gin.Context) error {
	return s.history(c, c.Param("id"))
}

// typeHistory serves GET /fhir/{type}/_history.
//
//	@Summary		History of all {type} resources
//	@Description	Every version of every {type}, newest first, as a Bundle of type history.
//	@Description	Pages hold _count entries; the next link carries the _cursor of the following page.
//	@ID				history-type
//	@Tags			{type}
//	@Produce		application/fhir+json,application/json
//	@Param			type			path		string	true	"Resource type"
//	@Param			_count			query		integer	false	"Entries per page (default 20, capped at the server's maximum, 1000 unless configured)"	minimum(1)
//	@Param			_since			query		string	false	"Only versions written at or after this instant, e.g. 2026-01-31T12:00:00Z"	format(date-time)
//	@Param			_cursor			query		string	false	"Opaque position of the next page: copy it from the next link of the previous page"
//	@Param			_format			query		string	false	"Response format; overrides Accept. Only JSON is served."	Enums(json,application/fhir+json,application/json)
//	@Param			_pretty			query		boolean	false	"true indents the JSON body"
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response and the server log; the server makes one when absent or malformed"
//	@Success		200				{object}	Bundle					"A page of the history"
//	@Failure		400				{object}	fhir.OperationOutcome	"_count, _since or _cursor is malformed"
//	@Failure		404				{object}	fhir.OperationOutcome	"The type is not served"
//	@Failure		406				{object}	fhir.OperationOutcome	"Neither _format nor Accept names JSON"
//	@Failure		500				{object}	fhir.OperationOutcome	"The server failed; the detail is in its log under the request id"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Security		BearerAuth
//	@Router			/fhir/{type}/_history [get]
func (s *Server) typeHistory(c *gin.Context) error {
	return s.history(c, "")
}

func (s *Server) history(c *gin.Context, id string) error {
	q := fhir.HistoryQuery{Type: c.Param("type"), ID: id, Cursor: c.Query(cursorParam)}
	if isPatientData(q.Type) {
		q.Compartment = compartmentOf(c)
	}
	if id != "" {
		if err := s.knowable(c, q.Type, id); err != nil {
			return err
		}
	}
	count, err := s.pageSize(c.Query("_count"))
	if err != nil {
		return err
	}
	q.Count = count
	if v := c.Query("_since"); v != "" {
		t, err := parseInstant(v)
		if err != nil {
			return fhir.Errorf(fhir.KindInvalid, "_since=%s is not an instant such as 2026-01-31T12:00:00Z", v).At("_since")
		}
		q.Since = t
	}
	ctx, cancel := s.withSearchDeadline(c)
	defer cancel()
	page, err := s.svc.History(ctx, q)
	if err != nil {
		return err
	}
	noteResources(c, page.Versions...)
	base := s.baseURL(c)
	b := newBundle("history", time.Now())
	self := base + "/" + q.Type
	if id != "" {
		self += "/" + id
	}
	self += "/_history"
	params := url.Values{}
	params.Set("_count", strconv.Itoa(count))
	if v := c.Query("_since"); v != "" {
		params.Set("_since", v)
	}
	selfParams := cloneValues(params)
	if q.Cursor != "" {
		selfParams.Set(cursorParam, q.Cursor)
	}
	b.Link = append(b.Link, BundleLink{Relation: "self", URL: self + "?" + selfParams.Encode()})
	if page.Next != "" {
		next := cloneValues(params)
		next.Set(cursorParam, page.Next)
		b.Link = append(b.Link, BundleLink{Relation: "next", URL: self + "?" + next.Encode()})
	}
	for _, r := range page.Versions {
		e := BundleEntry{FullURL: base + "/" + r.Type + "/" + r.ID}
		e.Request = &EntryRequest{Method: r.Method, URL: r.Type + "/" + r.ID}
		e.Response = &EntryResponse{Etag: r.ETag(), LastModified: fhir.FormatInstant(r.LastUpdated)}
		switch {
		case r.Deleted:
			e.Request.Method = http.MethodDelete
			e.Response.Status = "204 No Content"
		case r.Method == http.MethodPost:
			e.Request.URL = r.Type
			e.Response.Status = "201 Created"
		default:
			if r.VersionID == 1 {
				e.Response.Status = "201 Created"
			} else {
				e.Response.Status = "200 OK"
			}
		}
		if r.Method == "" {
			e.Request.Method = http.MethodPut
		}
		if !r.Deleted {
			e.Resource = r.Raw
			e.Response.Location = base + "/" + r.Type + "/" + r.ID + "/_history/" + strconv.FormatInt(r.VersionID, 10)
		}
		b.Entry = append(b.Entry, e)
	}
	body, err := encodeBundle(b)
	if err != nil {
		return fhir.Wrap(err, "encode history")
	}
	writeJSON(c, http.StatusOK, body)
	return nil
}

// pageSize reads _count: default when absent, capped at the configured maximum.
func (s *Server) pageSize(v string) (int, error) {
	if v == "" {
		return s.opts.DefaultCount, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fhir.Errorf(fhir.KindInvalid, "_count=%s is not a positive whole number", v).At("_count")
	}
	return min(n, s.opts.MaxCount), nil
}

// parseInstant reads a FHIR instant (or a dateTime with at least a day), with a zone.
func parseInstant(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fhir.Errorf(fhir.KindInvalid, "not an instant")
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func newBundleID() string { return strings.ToLower(fhir.NewID()) }
