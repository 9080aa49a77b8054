package api

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/audit"
	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/conditional"
	"github.com/patient-involvement/fhir-server/internal/fhir"
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
	// Audit records an AuditEvent for every /fhir interaction but metadata; nil records none.
	Audit *audit.Writer
}

// Server is the HTTP handler of the FHIR API.
type Server struct {
	opts   Options
	svc    *fhir.Service
	cond   *conditional.Service
	engine *gin.Engine
	routes []route
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
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	cond, err := conditional.New(opts.Service, opts.Searcher, conditional.Options{MaxDelete: opts.MaxCount, Location: opts.Location})
	if err != nil {
		return nil, err
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{opts: opts, svc: opts.Service, cond: cond, engine: gin.New()}
	s.engine.HandleMethodNotAllowed = true
	s.engine.RedirectTrailingSlash = false
	s.engine.RedirectFixedPath = false
	s.engine.Use(requestContext(opts.Logger), recoverPanics)
	s.routes = s.fhirRoutes()
	s.register()
	if err := s.registerDocs(); err != nil {
		return nil, err
	}
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

func (s *Server) register() {
	s.engine.GET("/healthz", s.healthz)
	s.engine.GET("/readyz", s.readyz)
	s.engine.GET("/", s.home)

	s.engine.GET("/.well-known/smart-configuration", s.smartConfiguration)
	if k := s.opts.Auth.DevKey(); k != nil {
		s.engine.GET(devJWKSPath, s.devJWKS)
	}

	fhirGroup := s.engine.Group("/fhir", limitBody(s.opts.MaxBodyBytes), negotiate)
	fhirGroup.GET("/.well-known/smart-configuration", s.smartConfiguration)
	for _, rt := range s.routes {
		if rt.system == "capabilities" {
			fhirGroup.Handle(rt.method, rt.path, handle(rt.handler))
			continue
		}
		fhirGroup.Handle(rt.method, rt.path, s.audited(string(rt.interaction)), s.authenticate, handle(s.authorize(rt.interaction, rt.handler)))
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

// readyz reports whether the database answers.
//
//	@Summary		Readiness
//	@Description	200 when the database answers a ping, 503 when it does not.
//	@ID				readyz
//	@Tags			Server
//	@Produce		json
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response"
//	@Success		200				{object}	healthStatus	"Ready to serve"
//	@Failure		503				{object}	healthStatus	"The database does not answer"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Router			/readyz [get]
func (s *Server) readyz(c *gin.Context) {
	if err := s.svc.Store().Ping(c.Request.Context()); err != nil {
		loggerFrom(c).Warn("not ready", "err", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "reason": "database does not answer"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// baseURL is the absolute base of the FHIR API for this request.
func (s *Server) baseURL(c *gin.Context) string {
	if s.opts.BaseURL != "" {
		return s.opts.BaseURL
	}
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host + "/fhir"
}
