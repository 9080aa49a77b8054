package api

import (
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/audit"
	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// Every /fhir interaction but metadata is recorded as an AuditEvent once it has been
// answered, refused ones included: who (from the token), what (the resources the handler
// reports touching, or the query of a search), when and the outcome. Recording is
// asynchronous: the audit writer queues the record and writes it off the request path.

const (
	auditResourcesKey = "fhir.audit.resources"
	auditQueryKey     = "fhir.audit.query"
)

// noteResources records resources a request read or wrote, for its AuditEvent.
func noteResources(c *gin.Context, rs ...*fhir.Resource) {
	if len(rs) == 0 {
		return
	}
	list, _ := c.Get(auditResourcesKey)
	refs, _ := list.([]*fhir.Resource)
	c.Set(auditResourcesKey, append(refs, rs...))
}

// noteQuery records the query a search or history request ran (as the canonical query,
// which for POST _search includes the form body).
func noteQuery(c *gin.Context, q string) { c.Set(auditQueryKey, q) }

// record queues the AuditEvent of an answered request to a route offering interaction.
func (s *Server) record(c *gin.Context, interaction string) {
	rec := audit.Record{
		Interaction:  interaction,
		ResourceType: c.Param("type"),
		Outcome:      c.Writer.Status(),
		RemoteAddr:   c.ClientIP(),
		RequestID:    requestID(c),
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
			for _, p := range r.Compartments {
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
		if fhir.ErrorKind(e.(error)) != fhir.KindInternal {
			rec.Detail = fhir.OutcomeFor(e.(error)).Issue[0].Diagnostics
		}
	}
	if err := s.opts.Audit.Record(rec); err != nil {
		loggerFrom(c).Error("audit record lost", "err", err)
	}
}
