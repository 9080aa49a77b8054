package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/rs/cors"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// CORSOptions say which web apps on other origins may call the API from a browser.
type CORSOptions struct {
	// Origins are the allowed origins (https://app.example.org), or the one entry "*" for
	// every origin. Empty: cross-origin calls are refused (no CORS headers are sent).
	Origins []string
	// Credentials lets browsers send cookies and TLS client certificates; never with "*".
	// Bearer tokens need no credentials: they are a request header like any other.
	Credentials bool
	// MaxAge is how long a browser may reuse a preflight's answer; default 10 minutes.
	MaxAge time.Duration
}

// The request headers a browser app may send, and the response headers it may read.
var (
	corsAllowedHeaders = []string{"Authorization", "Content-Type", "If-Match", "If-None-Exist", "If-None-Match",
		"If-Modified-Since", "Prefer", "X-Request-Id"}
	corsExposedHeaders = []string{"ETag", "Location", "Content-Location", "Last-Modified", "X-Request-Id"}
)

// corsPolicy applies CORSOptions with rs/cors: one handler for actual requests, and one per
// route for its preflights, since each route serves its own methods.
type corsPolicy struct {
	o      CORSOptions
	actual *cors.Cors // nil when no origin is allowed
}

func newCORSPolicy(o CORSOptions) *corsPolicy {
	if o.MaxAge <= 0 {
		o.MaxAge = 10 * time.Minute
	}
	p := &corsPolicy{o: o}
	if p.enabled() {
		p.actual = cors.New(p.options([]string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}))
	}
	return p
}

// enabled reports whether any origin may call the API.
func (p *corsPolicy) enabled() bool { return len(p.o.Origins) > 0 }

func (p *corsPolicy) options(methods []string) cors.Options {
	return cors.Options{
		AllowedOrigins:     p.o.Origins,
		AllowedMethods:     methods,
		AllowedHeaders:     corsAllowedHeaders,
		ExposedHeaders:     corsExposedHeaders,
		MaxAge:             int(p.o.MaxAge / time.Second),
		AllowCredentials:   p.o.Credentials,
		OptionsPassthrough: true,
	}
}

// isPreflight reports whether r is a CORS preflight: OPTIONS naming the method to come.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
}

// corsHeaders adds the CORS headers to the answer of an actual (not preflight) request from
// an allowed origin, before anything can refuse it: a browser app must be able to read a 401
// too.
func (s *Server) corsHeaders(c *gin.Context) {
	if s.cors.actual != nil && !isPreflight(c.Request) {
		s.cors.actual.HandlerFunc(c.Writer, c.Request)
		exactExposedHeaders(c.Writer.Header())
	}
	c.Next()
}

// exactExposedHeaders writes Access-Control-Expose-Headers as listed, where rs/cors has set
// it (in Go's canonical form, Etag for ETag).
func exactExposedHeaders(h http.Header) {
	if h.Get("Access-Control-Expose-Headers") != "" {
		h.Set("Access-Control-Expose-Headers", strings.Join(corsExposedHeaders, ", "))
	}
}

// preflights registers the OPTIONS route of path, which serves methods. It answers a CORS
// preflight with 204, without a token: from an allowed origin, asking for one of methods and
// only allowed headers, with the route's methods, every allowed header and the max age; else
// without CORS headers, which the browser takes as a refusal. A plain OPTIONS request (no
// Access-Control-Request-Method) has passed the guard like any other and is answered 405.
func (s *Server) preflights(r gin.IRoutes, path string, methods []string) {
	var route *cors.Cors
	if s.cors.enabled() {
		route = cors.New(s.cors.options(methods))
	}
	allowMethods := strings.Join(methods, ", ")
	allowHeaders := strings.Join(corsAllowedHeaders, ", ")
	s.endpoints[http.MethodOptions+" "+path] = endpoint{name: "preflight"}
	r.OPTIONS(path, func(c *gin.Context) {
		if !isPreflight(c.Request) {
			c.Set(formatKey, mediaFHIRJSON)
			c.Header("Allow", allowMethods)
			writeError(c, fhir.Errorf(fhir.KindMethodNotAllowed, "OPTIONS is not a FHIR interaction: %s serves %s", c.Request.URL.Path, allowMethods))
			return
		}
		if route != nil {
			route.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				h := w.Header()
				if h.Get("Access-Control-Allow-Origin") == "" {
					return // refused: the browser gets no permission
				}
				h.Set("Access-Control-Allow-Methods", allowMethods)
				h.Set("Access-Control-Allow-Headers", allowHeaders)
				h.Set("Access-Control-Max-Age", strconv.Itoa(int(s.cors.o.MaxAge/time.Second)))
			})).ServeHTTP(c.Writer, c.Request)
		}
		c.Status(http.StatusNoContent)
	})
}
