package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/audit"
	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/conditional"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/metrics"
	"github.com/patient-involvement/fhir-server/internal/report"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// Options are what the HTTP layer needs.
type Options struct {
	Service *fhir.Service
	// Searcher runs searches and matches the criteria of conditional interactions.
	Searcher search.Searcher
	Logger   *slog.Logger
	// BaseURL is the absolute base of the FHIR API for links; "" derives it from each request.
	BaseURL      string
	MaxBodyBytes int64
	// DefaultCount is the page size of history and search when _count is absent; MaxCount
	// caps _count and is the most resources one conditional delete deletes.
	DefaultCount int
	MaxCount     int
	// Location is the time zone of search dates given without one; UTC when nil.
	Location *time.Location
	// Version is the software version shown in the CapabilityStatement.
	Version string
	// StartedAt is shown as the CapabilityStatement date.
	StartedAt time.Time
	// Auth verifies the bearer token of every /fhir request but metadata. Required: auth
	// mode off is a Verifier too, so that turning authorization off is explicit.
	Auth *auth.Verifier
	// Discovery is what /.well-known/smart-configuration and the CapabilityStatement say
	// about the authorization server.
	Discovery auth.Discovery
	// Audit records an AuditEvent for every /fhir request but CORS preflights, whatever its
	// answer; nil records none.
	Audit *audit.Writer

	// CORS says which browser origins may call the API; none when its Origins are empty.
	CORS CORSOptions
	// AllowedHosts are the Host names (optionally host:port) links may be derived from when
	// BaseURL is empty; a request for another host is refused (400). nil: localhost,
	// 127.0.0.1 and ::1.
	AllowedHosts []string
	// TrustedProxies are the addresses and CIDR ranges of reverse proxies whose
	// X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host headers are read; nil trusts none.
	TrustedProxies []string
	// Metrics records request metrics; nil records none.
	Metrics *metrics.Metrics
	// ReadyTimeout bounds the database ping of /readyz; default 1.5s, so that it answers
	// within 2s.
	ReadyTimeout time.Duration

	// MaxInFlight caps the /fhir requests served at once, searches and type histories taking
	// at most a quarter of the turns; another waits up to InFlightWait (default 1s) for a
	// turn, then answers 503 with Retry-After. 0: no cap.
	MaxInFlight  int
	InFlightWait time.Duration
	// MaxLargeBodies caps the request bodies over LargeBodyBytes (default 1 MiB) read and
	// parsed at once; another waits up to LargeBodyWait (default 2s), then answers 503 with
	// Retry-After. 0: no cap.
	MaxLargeBodies int
	LargeBodyBytes int64
	LargeBodyWait  time.Duration
	// RateLimit is the requests per second one caller may make (the token's issuer, subject
	// and client), a search or type history counting 10, with bursts up to RateBurst; beyond
	// it the answer is 429 with Retry-After. 0: no limit.
	RateLimit float64
	RateBurst int
	// Reports makes the patient-experience reports of $report; nil serves none.
	Reports *report.Service
	// SearchTimeout bounds each search and history page, its includes and its count; past it
	// the answer is 503 with Retry-After. 0: no bound beyond the database's own.
	SearchTimeout time.Duration
	// MaxBundleEntries is the most entries a batch or transaction Bundle may hold (default
	// DefaultMaxBundleEntries); more is answered 413.
	MaxBundleEntries int
	// Subscriptions decides who reads a Subscription's channel.header values
	// (subscription.Manager); nil masks nothing (a server without subscriptions).
	Subscriptions HeaderSecrets
}

// HeaderSecrets masks the channel.header values of Subscriptions a caller may not read
// (subscription.Manager).
type HeaderSecrets interface {
	// MaskHeaders masks them in a decoded resource or Bundle, reporting whether it
	// changed anything.
	MaskHeaders(v any, p *auth.Principal) bool
}

// Server is the HTTP handler of the FHIR API.
type Server struct {
	opts   Options
	svc    *fhir.Service
	cond   *conditional.Service
	engine *gin.Engine
	// handler is the engine behind response compression.
	handler http.Handler
	routes  []route
	// endpoints names what each registered route serves, by "METHOD /full/path".
	endpoints map[string]endpoint
	cors      *corsPolicy
	hosts     hostPolicy
	limits    *limits
	// txMu serves one transaction Bundle at a time.
	txMu sync.Mutex
}

// New builds the HTTP handler.
func New(opts Options) (*Server, error) {
	if opts.Service == nil {
		return nil, errors.New("api: New needs a service")
	}
	if opts.Searcher == nil {
		return nil, errors.New("api: New needs a searcher")
	}
	if opts.Logger == nil {
		return nil, errors.New("api: New needs a logger")
	}
	if opts.Auth == nil {
		return nil, errors.New("api: New needs a token verifier (auth mode off included)")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 8 << 20
	}
	if opts.DefaultCount <= 0 {
		opts.DefaultCount = 20
	}
	if opts.MaxCount < opts.DefaultCount {
		opts.MaxCount = max(1000, opts.DefaultCount)
	}
	if opts.StartedAt.IsZero() {
		opts.StartedAt = time.Now()
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 1500 * time.Millisecond
	}
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	cond, err := conditional.New(opts.Service, opts.Searcher, conditional.Options{MaxDelete: opts.MaxCount, Location: opts.Location})
	if err != nil {
		return nil, err
	}
	hosts, err := newHostPolicy(opts.AllowedHosts, opts.TrustedProxies)
	if err != nil {
		return nil, err
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{opts: opts, svc: opts.Service, cond: cond, engine: gin.New(), cors: newCORSPolicy(opts.CORS), hosts: hosts, limits: newLimits(opts)}
	s.engine.HandleMethodNotAllowed = true
	s.engine.RedirectTrailingSlash = false
	s.engine.RedirectFixedPath = false
	// Gin trusts every proxy unless told otherwise: only the configured ones may say who the
	// client is (X-Forwarded-For), nil trusting none.
	if err := s.engine.SetTrustedProxies(opts.TrustedProxies); err != nil {
		return nil, fmt.Errorf("api: trusted proxies: %w", err)
	}
	if s.handler, err = compressResponses(s.engine); err != nil {
		return nil, err
	}
	s.routes = s.fhirRoutes()
	s.register()
	if err := s.registerDocs(); err != nil {
		return nil, err
	}
	s.registerReportsPage()
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// register wires the middleware and the routes. Every request passes, in order: the request
// id and log line, the metrics, for /fhir the AuditEvent (recorded once the request is
// answered, whatever the answer), panic recovery, the headers every answer carries, CORS (a
// preflight is answered by its OPTIONS route, without a token), then for /fhir the guard:
// authentication (401 before any other check, only metadata and SMART discovery being
// public), the caller's rate limit (429) and a turn among the requests served at once (503).
// Only then is the request looked at: the host, the body's size
// and coding (413, 415), the media types (406, 415), the route (404, 405) and the handler.
// Around it all, in ServeHTTP, answers are compressed (compressResponses).
func (s *Server) register() {
	s.engine.Use(requestContext(s.opts.Logger), s.observe, s.auditTrail, recoverPanics, commonHeaders, s.corsHeaders, s.guard)
	s.endpoints = map[string]endpoint{}

	s.serveGET(s.engine, "/healthz", endpoint{name: "healthz"}, s.healthz)
	s.serveGET(s.engine, "/readyz", endpoint{name: "readyz"}, s.readyz)
	s.serveGET(s.engine, "/", endpoint{name: "home"}, s.checkHost, s.home)
	s.serveGET(s.engine, smartConfigPath, endpoint{name: "smart-configuration"}, s.checkHost, s.smartConfiguration)
	s.preflights(s.engine, smartConfigPath, []string{http.MethodGet, http.MethodHead})
	if k := s.opts.Auth.DevKey(); k != nil {
		s.serveGET(s.engine, devJWKSPath, endpoint{name: "jwks"}, s.devJWKS)
		s.preflights(s.engine, devJWKSPath, []string{http.MethodGet, http.MethodHead})
	}

	fhirGroup := s.engine.Group("/fhir", s.checkHost, s.limitBody, negotiate)
	s.serveGET(fhirGroup, smartConfigPath, endpoint{name: "smart-configuration"}, s.smartConfiguration)
	s.preflights(s.engine, "/fhir"+smartConfigPath, []string{http.MethodGet, http.MethodHead})
	methods := map[string][]string{}
	var paths []string
	for _, rt := range s.routes {
		ep := endpoint{name: rt.system, interaction: rt.interaction}
		if rt.system == "" {
			ep.name = string(rt.interaction)
		}
		if rt.operation != "" {
			ep = endpoint{name: rt.operation, interaction: fhir.InteractionOperation}
		}
		h := handle(s.authorize(rt.authorizes(), rt.handler))
		if rt.method == http.MethodGet {
			s.serveGET(fhirGroup, rt.path, ep, h)
		} else {
			s.endpoints[rt.method+" /fhir"+rt.path] = ep
			fhirGroup.Handle(rt.method, rt.path, h)
		}
		if methods[rt.path] == nil {
			paths = append(paths, rt.path)
		}
		methods[rt.path] = append(methods[rt.path], rt.method)
		if rt.method == http.MethodGet {
			methods[rt.path] = append(methods[rt.path], http.MethodHead)
		}
	}
	for _, p := range paths {
		s.preflights(s.engine, "/fhir"+p, methods[p])
	}
	s.engine.NoRoute(func(c *gin.Context) {
		c.Set(formatKey, mediaFHIRJSON)
		writeError(c, fhir.Errorf(fhir.KindNotFound, "Nothing is served at %s %s", c.Request.Method, c.Request.URL.Path))
	})
	s.engine.NoMethod(func(c *gin.Context) {
		c.Set(formatKey, mediaFHIRJSON)
		writeError(c, fhir.Errorf(fhir.KindMethodNotAllowed, "%s is not allowed on %s", c.Request.Method, c.Request.URL.Path))
	})
}

// healthz reports that the process is up.
//
//	@Summary		Liveness
//	@Description	200 while the process serves HTTP; it does not look at the database.
//	@ID				healthz
//	@Tags			Server
//	@Produce		json
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response"
//	@Success		200				{object}	healthStatus	"The process is up"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Router			/healthz [get]
func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz reports whether the database answers, within ReadyTimeout.
//
//	@Summary		Readiness
//	@Description	200 when the database answers a ping, 503 (with Retry-After) when it does not answer within 1.5 s: the answer comes within 2 s either way.
//	@ID				readyz
//	@Tags			Server
//	@Produce		json
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response"
//	@Success		200				{object}	healthStatus	"Ready to serve"
//	@Failure		503				{object}	healthStatus	"The database does not answer"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Header			503				{integer}	Retry-After		"Seconds to wait before asking again"
//	@Router			/readyz [get]
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.opts.ReadyTimeout)
	defer cancel()
	if err := s.svc.Store().Ping(ctx); err != nil {
		loggerFrom(c).Warn("not ready", "err", err)
		c.Header("Retry-After", "5")
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "reason": "database does not answer"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// serveGET registers a GET route and the HEAD route that answers it without a body, both
// named ep.
func (s *Server) serveGET(r gin.IRoutes, path string, ep endpoint, handlers ...gin.HandlerFunc) {
	full := path
	if g, ok := r.(*gin.RouterGroup); ok {
		full = strings.TrimRight(g.BasePath(), "/") + path
	}
	s.endpoints[http.MethodGet+" "+full] = ep
	s.endpoints[http.MethodHead+" "+full] = ep
	r.GET(path, handlers...)
	r.HEAD(path, handlers...)
}

// endpoint is what a route serves: the FHIR interaction of /fhir routes, and the name of
// every route in metrics.
type endpoint struct {
	name        string
	interaction fhir.Interaction
}

// endpointOf is the endpoint of the route a request was routed to; unmatched requests are
// "unmatched".
func (s *Server) endpointOf(c *gin.Context) endpoint {
	if ep, ok := s.endpoints[c.Request.Method+" "+c.FullPath()]; ok {
		return ep
	}
	return endpoint{name: "unmatched"}
}
