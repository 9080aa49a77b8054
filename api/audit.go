package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/audit"
	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// Every /fhir request is recorded as an AuditEvent once it has been answered, whatever its
// status and whether or not a route serves it: who (from the token), what (the resources the
// handler reports touching, or the query of a search), when, from which address and the
// outcome. Only CORS preflights, which carry no token and ask for nothing, are not. The
// record is durable before the answer is complete: Writer.Record journals it first (see
// internal/audit), and a request whose record cannot be kept is not answered at all.

const (
	auditResourcesKey = "fhir.audit.resources"
	auditQueryKey     = "fhir.audit.query"
)

// noteResources records resources a request read or wrote, for its AuditEvent; nil ones
// (nothing was found) are skipped.
func noteResources(c *gin.Context, rs ...*fhir.Resource) {
	list, _ := c.Get(auditResourcesKey)
	refs, _ := list.([]*fhir.Resource)
	n := len(refs)
	for _, r := range rs {
		if r != nil {
			refs = append(refs, r)
		}
	}
	if len(refs) > n {
		c.Set(auditResourcesKey, refs)
	}
}

// noteQuery records the query a search or history request ran (as the canonical query,
// which for POST _search includes the form body).
func noteQuery(c *gin.Context, q string) { c.Set(auditQueryKey, q) }

// auditTrail records the AuditEvent of every /fhir request but CORS preflights once the rest
// of the chain has answered it. It runs before panic recovery, so that a request that
// panicked is recorded with the 500 it was answered with. When the record cannot be kept
// the request is aborted without an answer (the connection is closed), so that no client
// sees an answer the trail does not show.
func (s *Server) auditTrail(c *gin.Context) {
	path := c.Request.URL.Path
	if s.opts.Audit == nil || !isFHIRPath(path) || isPreflight(c.Request) {
		c.Next()
		return
	}
	c.Next()
	rec, ok := s.auditRecord(c)
	if !ok {
		return
	}
	if run := runOf(c); run != nil {
		// An entry of a Bundle: recorded once the Bundle's outcome is known.
		run.mu.Lock()
		run.audits = append(run.audits, rec)
		run.mu.Unlock()
		return
	}
	if err := s.opts.Audit.Record(rec); err != nil {
		loggerFrom(c).Error("audit record not kept: the request is aborted unanswered", "err", err)
		panic(http.ErrAbortHandler)
	}
}

// auditRecord builds the audit record of an answered request. It never panics: a failure to
// build one is logged, and ok is false.
func (s *Server) auditRecord(c *gin.Context) (rec audit.Record, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			loggerFrom(c).Error("audit record not built", "panic", p)
			ok = false
		}
	}()
	ep := s.endpointOf(c)
	interaction := string(ep.interaction)
	if interaction == "" && ep.name == "capabilities" {
		interaction = "capabilities"
	}
	if in := c.GetString(auditInteractionKey); in != "" {
		interaction = in
	}
	rec = audit.Record{
		Interaction:  interaction,
		Method:       c.Request.Method,
		ResourceType: c.Param("type"),
		Outcome:      c.Writer.Status(),
		RemoteAddr:   c.Request.RemoteAddr,
		RequestID:    requestID(c),
	}
	if s.hosts.fromProxy(c) {
		rec.ForwardedFor = strings.Join(c.Request.Header.Values("X-Forwarded-For"), ", ")
	}
	if q, ok := c.Get(auditQueryKey); ok {
		rec.Query, _ = q.(string)
	} else if interaction == "search-type" || interaction == "history-type" || interaction == "history-instance" {
		rec.Query = c.Request.URL.RawQuery
	}
	if p := principal(c); p != nil {
		rec.Issuer, rec.Subject, rec.FHIRUser, rec.ClientID, rec.TokenID = p.Issuer, p.Subject, p.FHIRUser, p.ClientID, p.TokenID
	}
	patients := map[string]bool{}
	if a := requestAccess(c); a.compartment != "" {
		patients[a.compartment] = true
	}
	if list, ok := c.Get(auditResourcesKey); ok {
		for _, r := range list.([]*fhir.Resource) {
			rec.Resources = append(rec.Resources, r.Type+"/"+r.ID+"/_history/"+strconv.FormatInt(r.VersionID, 10))
			cmp := r.Compartments
			if cmp == nil && !r.Deleted {
				// A version staged by a transaction: the store has not said yet.
				cmp, _ = s.compartmentsOf(r)
			}
			for _, p := range cmp {
				patients[p] = true
			}
		}
	}
	if len(patients) == 1 {
		for p := range patients {
			rec.Patient = p
		}
	}
	if e, ok := c.Get(errorKey); ok {
		if err, _ := e.(error); err != nil && fhir.ErrorKind(err) != fhir.KindInternal {
			if o := fhir.OutcomeFor(err); len(o.Issue) > 0 {
				rec.Detail = o.Issue[0].Diagnostics
			}
		}
	}
	return rec, true
}
