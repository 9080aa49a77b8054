package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// publicFHIRPaths are the /fhir paths that need no token, whatever the method: the
// CapabilityStatement and SMART discovery, which a client reads before it has a token.
var publicFHIRPaths = map[string]bool{
	"/fhir/metadata":          true,
	"/fhir" + smartConfigPath: true,
}

// isFHIRPath reports whether a request path is under the FHIR base, /fhir.
func isFHIRPath(path string) bool { return path == "/fhir" || strings.HasPrefix(path, "/fhir/") }

// guard authenticates every /fhir request but the public ones and CORS preflights, before
// any other check: a request without a valid token learns nothing else (401, never a 404,
// 405, 406, 413 or 415 first). Its answers are never stored by caches (Cache-Control:
// no-store). Every answer, a 401 included, is recorded by auditTrail, which runs before.
func (s *Server) guard(c *gin.Context) {
	path := c.Request.URL.Path
	if !isFHIRPath(path) || publicFHIRPaths[path] || isPreflight(c.Request) {
		c.Next()
		return
	}
	c.Header("Cache-Control", cacheNoStore)
	if err := s.authenticate(c); err != nil {
		writeError(c, err)
		c.Abort()
		return
	}
	if runOf(c) != nil {
		// An entry of a Bundle: the Bundle took the caller's turn and rate.
		c.Next()
		return
	}
	s.admit(c)
}

// Cache-Control values of /fhir answers: none is stored by a cache; one that carries a
// version (ETag) is, in addition, private to the caller, who may read it again
// conditionally (If-None-Match, If-Modified-Since).
const (
	cacheNoStore = "no-store"
	cachePrivate = "private, no-store"
)

// commonHeaders sets the headers every answer carries: browsers must not guess a media type
// other than the one given.
func commonHeaders(c *gin.Context) {
	c.Header("X-Content-Type-Options", "nosniff")
	c.Next()
}

// observe records the metrics of each request: in flight while served, then its endpoint,
// resource type, status and duration, and whether a create or update was refused as invalid.
func (s *Server) observe(c *gin.Context) {
	m := s.opts.Metrics
	if m == nil {
		c.Next()
		return
	}
	done := m.RequestStarted()
	defer done() // also when the request is aborted unanswered (a panic through here)
	start := time.Now()
	c.Next()
	ep := s.endpointOf(c)
	typ := ""
	if t := c.Param("type"); t != "" && s.svc.Registry().Supports(t) {
		typ = t // unknown types stay unlabelled: a client must not make new series at will
	}
	m.ObserveRequest(ep.name, typ, c.Writer.Status(), time.Since(start))
	// A patch's refusals are left out: its 400s and 422s are mostly about the patch itself.
	switch ep.interaction {
	case fhir.InteractionCreate, fhir.InteractionUpdate:
		e, ok := c.Get(errorKey)
		if !ok {
			break
		}
		switch status := c.Writer.Status(); {
		case status == http.StatusBadRequest && fhir.IsKind(e.(error), fhir.KindInvalid),
			status == http.StatusUnprocessableEntity && fhir.IsKind(e.(error), fhir.KindUnprocessable):
			m.ValidationRefused(typ, status)
		}
	}
}
