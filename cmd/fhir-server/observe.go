package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/patient-involvement/fhir-server/internal/config"
	"github.com/patient-involvement/fhir-server/internal/metrics"
)

// metricsHandler serves /metrics, and with withPprof net/http/pprof under /debug/pprof/, on
// the metrics listener; nothing of the API is served there.
func metricsHandler(m *metrics.Metrics, withPprof bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		mux.ServeHTTP(w, r)
	})
}

const healthcheckUsage = `usage: fhir-server healthcheck [--addr ADDR]

Asks the server listening at FHIR_ADDR (--addr, as for serve; an address of every interface
is asked on loopback) whether it is ready: exits 0 when GET /readyz answers 200 within 5s,
else 1 with the reason. For container health checks where there is no curl.`

// runHealthcheck is `fhir-server healthcheck`.
func runHealthcheck(ctx context.Context, args []string, env config.Lookup, stdout, stderr io.Writer) error {
	cfg, rest, err := config.ParseCommand("fhir-server healthcheck", args, env, func(fs *flag.FlagSet) {
		fs.SetOutput(stderr)
		fs.Usage = func() { fmt.Fprintln(stderr, healthcheckUsage) }
	})
	switch {
	case errors.Is(err, flag.ErrHelp):
		return err
	case err != nil:
		return usageError{err}
	case len(rest) > 0:
		return usageError{fmt.Errorf("healthcheck: unexpected arguments %q", rest)}
	}
	url := "http://" + loopbackAddr(cfg.Addr) + "/readyz"
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s: %s", url, resp.Status, body)
	}
	_, err = fmt.Fprintf(stdout, "ready: %s\n", url)
	return err
}

// loopbackAddr is where to reach a server that listens on addr from the same machine: an
// unspecified host (":8080", "0.0.0.0:8080", "[::]:8080") is asked on 127.0.0.1.
func loopbackAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
