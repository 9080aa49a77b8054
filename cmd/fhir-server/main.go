// Command fhir-server is a FHIR R4 server for patient-involvement data: questionnaires,
// questionnaire responses and shared care plans.
//
// With no MONGODB_URI it starts an embedded database under FHIR_DATA_DIR, so
// `go run ./cmd/fhir-server` serves at once. See README.md for every setting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // FHIR_TIMEZONE works without the host's zone files (distroless image)

	"github.com/patient-involvement/fhir-server/api"
	"github.com/patient-involvement/fhir-server/internal/audit"
	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/config"
	"github.com/patient-involvement/fhir-server/internal/loader"
	"github.com/patient-involvement/fhir-server/internal/metrics"
)

// auditJournalDir is the audit journal's directory in the data directory.
const auditJournalDir = "audit-journal"

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "fhir-server:", err)
		os.Exit(exitCode(err))
	}
}

// run is the whole program: it parses args and env, then runs the chosen command until ctx ends.
func run(ctx context.Context, args []string, env config.Lookup, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		cfg, err := config.Parse("fhir-server serve", args, env)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stdout, stderr)
	case "load":
		return runLoad(ctx, args, env, stdout, stderr)
	case "generate":
		return runGenerate(args, stdout, stderr)
	case "token":
		return runToken(args, env, stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, args, env, stdout, stderr)
	case "report":
		return runReport(ctx, args, env, stdout, stderr)
	case "help":
		fmt.Fprintln(stdout, "usage: fhir-server [serve] [flags]   (fhir-server serve -h lists the flags)")
		fmt.Fprintln(stdout, "       fhir-server load [flags] PATH…   load FHIR JSON, Bundles and NDJSON (load -h)")
		fmt.Fprintln(stdout, "       fhir-server generate [flags]     write example responses and care plans as NDJSON (generate -h)")
		fmt.Fprintln(stdout, "       fhir-server token --scope S …    print a dev mode access token (token -h)")
		fmt.Fprintln(stdout, "       fhir-server healthcheck          exit 0 when the server at FHIR_ADDR (--addr) is ready")
		fmt.Fprintln(stdout, "       fhir-server report --url Q --period 2026-Q1 [--format html|csv|json]   write a patient-experience report (report -h)")
		return nil
	default:
		return fmt.Errorf("unknown command %q (try: serve, load, generate, token, healthcheck, report, help)", cmd)
	}
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve starts the database (or connects to MongoDB) and the HTTP server, and shuts both
// down gracefully when ctx ends.
func serve(ctx context.Context, cfg *config.Config, stdout, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	slog.SetDefault(log)

	// The metrics listener is opened first: a taken port fails the start before the database
	// is touched.
	var reg *metrics.Metrics
	var metricsLn net.Listener
	if cfg.MetricsAddr != "" {
		reg = metrics.New()
		var err error
		if metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return fmt.Errorf("listen on %s for metrics: %w", cfg.MetricsAddr, err)
		}
		defer metricsLn.Close()
	}
	svc, searcher, subs, closeDB, err := openService(ctx, cfg, log, "serve", reg, true)
	if err != nil {
		return err
	}
	defer closeDB()
	if cfg.Demo {
		if _, err := loader.Demo(ctx, svc, searcher, log); err != nil {
			return err
		}
	}
	verifier, err := auth.NewVerifier(ctx, auth.Options{
		Mode: auth.Mode(cfg.Auth), Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience,
		JWKSURL: cfg.JWKSURL, JWKSFile: cfg.JWKSFile, DataDir: cfg.DataDir, Logger: log,
	})
	if err != nil {
		return err
	}
	if verifier.Mode() == auth.ModeOff {
		log.Warn(auth.OffWarning())
		fmt.Fprintln(stderr, "WARNING: "+auth.OffWarning())
	}
	// The audit journal is in the data directory: a request is answered only once its
	// AuditEvent is there, and what the database has not stored yet is stored from it at the
	// next start.
	auditor, err := audit.NewWriter(audit.WriterOptions{
		Sink: audit.ServiceSink(svc, log), Dir: filepath.Join(cfg.DataDir, auditJournalDir),
		Source: audit.Source{Observer: "fhir-server"}, Logger: log,
	})
	if err != nil {
		return err
	}
	auditClosed := false
	defer func() {
		if !auditClosed { // the start failed after the writer was made
			ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			defer cancel()
			_ = auditor.Close(ctx)
		}
	}()
	if reg != nil {
		reg.WatchAudit(auditor)
	}
	reports, err := newReports(svc, searcher, cfg)
	if err != nil {
		return err
	}
	// Notifications are delivered and audited until the audit writer closes.
	subs.AuditWith(auditor)
	if err := subs.Start(ctx, svc); err != nil {
		return err
	}
	subsClosed := false
	defer func() {
		if !subsClosed {
			_ = subs.Close()
		}
	}()
	handler, err := api.New(api.Options{
		Service: svc, Searcher: searcher, Logger: log, BaseURL: cfg.BaseURL, MaxBodyBytes: cfg.MaxBodyBytes,
		DefaultCount: cfg.DefaultCount, MaxCount: cfg.MaxCount, Version: version, Location: cfg.Location,
		Auth: verifier, Audit: auditor, Metrics: reg,
		CORS:         api.CORSOptions{Origins: cfg.CORSOrigins, Credentials: cfg.CORSCredentials},
		AllowedHosts: cfg.AllowedHosts, TrustedProxies: cfg.TrustedProxies,
		MaxInFlight: cfg.MaxInFlight, MaxLargeBodies: cfg.MaxLargeBodies, RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst,
		SearchTimeout: cfg.SearchTimeout, Reports: reports, MaxBundleEntries: cfg.MaxBundleEntries, Subscriptions: subs,
		Discovery: auth.Discovery{
			Issuer: cfg.JWTIssuer, JWKSURI: cfg.JWKSURL,
			AuthorizeURL: cfg.SMART.AuthorizeURL, TokenURL: cfg.SMART.TokenURL, RegistrationURL: cfg.SMART.RegistrationURL,
			ManagementURL: cfg.SMART.ManagementURL, IntrospectionURL: cfg.SMART.IntrospectionURL, RevocationURL: cfg.SMART.RevocationURL,
		},
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
	base := cfg.BaseURL
	if base == "" {
		base = "http://" + displayAddr(ln.Addr()) + "/fhir"
	}
	log.Info("FHIR server listening", "addr", ln.Addr().String(), "base_url", base, "auth", string(verifier.Mode()))
	fmt.Fprintf(stdout, "FHIR R4 server ready at %s (try: curl %s/metadata; API docs at %s/docs)\n", base, base, strings.TrimSuffix(base, "/fhir"))
	if cfg.Demo {
		fmt.Fprintf(stdout, "Patient-experience reports of the demo data: open %s/reports and paste the token below\n", strings.TrimSuffix(base, "/fhir"))
	}
	if k := verifier.DevKey(); k != nil {
		banner, err := auth.DevBanner(k, base, auth.TokenOptions{Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience})
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, banner)
	}

	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	var metricsSrv *http.Server
	if metricsLn != nil {
		metricsSrv = &http.Server{Handler: metricsHandler(reg, cfg.Pprof), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := metricsSrv.Serve(metricsLn); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics listener: %w", err)
			}
		}()
		log.Info("metrics listening", "addr", metricsLn.Addr().String(), "pprof", cfg.Pprof)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "timeout", cfg.ShutdownTimeout.String())
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if metricsSrv != nil {
		defer metricsSrv.Close() // scraped until the API has stopped
	}
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// Every answered request's audit record is stored before the database closes, or kept
	// in the journal for the next start.
	subsClosed = true
	if err := subs.Close(); err != nil {
		log.Warn("subscription outbox not closed cleanly", "err", err)
	}
	auditClosed = true
	if err := auditor.Close(shutCtx); err != nil {
		log.Warn("audit records not stored at shutdown", "err", err)
	}
	log.Info("stopped")
	return nil
}

// displayAddr turns a listen address into one a person can paste into a browser.
func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	host := "localhost"
	if !tcp.IP.IsUnspecified() {
		host = tcp.IP.String()
		if tcp.IP.To4() == nil {
			host = "[" + host + "]"
		}
	}
	return fmt.Sprintf("%s:%d", host, tcp.Port)
}
