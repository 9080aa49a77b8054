// Package config holds the server's configuration: one struct, read once at startup from
// command-line flags with environment variables as fallbacks.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is everything the server can be told at startup.
type Config struct {
	// Addr is the listen address (FHIR_ADDR, --addr). Default ":8080".
	Addr string
	// DataDir holds the embedded database and the dev signing key (FHIR_DATA_DIR, --data-dir). Default "./data".
	DataDir string
	// MongoURI connects to MongoDB; empty starts the embedded database (MONGODB_URI, --mongodb-uri).
	MongoURI string
	// MongoDatabase is the database name (MONGODB_DATABASE, --mongodb-database). Default "fhir".
	MongoDatabase string
	// BaseURL is the absolute base of links, e.g. https://fhir.example.org/fhir; empty derives
	// it from each request (FHIR_BASE_URL, --base-url).
	BaseURL string
	// MaxBodyBytes limits request bodies (FHIR_MAX_BODY_BYTES, --max-body-bytes). Default 8 MiB.
	MaxBodyBytes int64
	// MaxJSONValues limits the JSON values (objects, arrays, strings, numbers, literals) of
	// one request body, counted while it is scanned, before it is decoded
	// (FHIR_MAX_JSON_VALUES, --max-json-values). Default 200,000; the largest resource of
	// the shared corpus has about 16,000.
	MaxJSONValues int
	// MaxLargeBodies is how many request bodies over 1 MiB are read and parsed at once
	// (FHIR_MAX_LARGE_BODIES, --max-large-bodies); another waits briefly, then answers 503.
	// Default 2.
	MaxLargeBodies int
	// MaxInFlight is how many /fhir requests are served at once (FHIR_MAX_IN_FLIGHT,
	// --max-in-flight), searches and type histories taking at most a quarter of the turns;
	// another waits briefly for its turn, then answers 503. Default 256.
	MaxInFlight int
	// RateLimit is how many /fhir requests per second one caller may make, a caller being a
	// token's issuer, subject and client, or the address of a request without a valid token
	// (FHIR_RATE_LIMIT, --rate-limit); beyond it and its burst the answer is 429. A search
	// counts as 10. 0 turns it off. Default 500.
	RateLimit float64
	// RateBurst is how many requests a caller may make at once above RateLimit
	// (FHIR_RATE_BURST, --rate-burst). Default 1000.
	RateBurst int
	// SearchTimeout bounds one search or history page, its includes and its count
	// (FHIR_SEARCH_TIMEOUT, --search-timeout); past it the answer is 503. Default 10s.
	SearchTimeout time.Duration
	// MaxIncluded is the most resources _include and _revinclude add to one page
	// (FHIR_MAX_INCLUDED, --max-included); a page that would include more includes that
	// many and says so in an OperationOutcome entry (incomplete). Default 1000.
	MaxIncluded int
	// ReportMinCount is the default and smallest min-count of $report: no report publishes a
	// count below it (FHIR_REPORT_MIN_COUNT, --report-min-count). Default 5.
	ReportMinCount int
	// MaxBundleEntries is the most entries one batch or transaction Bundle may hold
	// (FHIR_MAX_BUNDLE_ENTRIES, --max-bundle-entries); more is answered 413.
	MaxBundleEntries int
	// TransactionKillAfter, for tests only (FHIR_TEST_TRANSACTION_KILL_AFTER, no flag), kills
	// the process with SIGKILL at that point of the first transaction stored on the embedded
	// database: 0 once its journal is written, n after its nth database operation; -1 never.
	TransactionKillAfter int
	// DBTimeout bounds each database operation of a request that sets no deadline of its own
	// (FHIR_DB_TIMEOUT, --db-timeout). Default 10s.
	DBTimeout time.Duration
	// DBSelectionTimeout bounds how long an operation waits to reach the database, and a
	// connection to open (FHIR_DB_SELECTION_TIMEOUT, --db-selection-timeout): with the
	// database unreachable requests answer 503 this fast. Default 1.5s.
	DBSelectionTimeout time.Duration
	// DefaultCount and MaxCount are the page sizes of history and search (FHIR_DEFAULT_COUNT,
	// FHIR_MAX_COUNT). Defaults 20 and 1000.
	DefaultCount int
	MaxCount     int
	// TimeZone is the server's time zone, an IANA name such as Europe/Copenhagen
	// (FHIR_TIMEZONE, --timezone). Default UTC. Dates and times without a zone, in search
	// values and in stored dates, are read in it, as the FHIR search specification asks.
	TimeZone string
	// Location is TimeZone loaded; set by Parse.
	Location *time.Location
	// ShutdownTimeout bounds how long in-flight requests may finish at shutdown (FHIR_SHUTDOWN_TIMEOUT). Default 30s.
	ShutdownTimeout time.Duration
	// LogLevel is debug, info, warn or error (FHIR_LOG_LEVEL). Default info.
	LogLevel string
	// LogFormat is text or json (FHIR_LOG_FORMAT). Default text.
	LogFormat string
	// Demo loads the example data embedded in the binary on first start, when the database
	// holds no Questionnaire yet (FHIR_DEMO, --demo). Default false.
	Demo bool
	// QRValidation is what the Questionnaire rules do (FHIR_QR_VALIDATION, --qr-validation):
	// "strict" refuses a QuestionnaireResponse that breaks its Questionnaire (422) and a
	// Questionnaire that breaks its own integrity (422) or another's url and version (409),
	// "warn" stores them and reports the problems as warnings, "off" checks nothing.
	// Default strict.
	QRValidation string

	// Auth is how bearer tokens are checked (FHIR_AUTH, --auth): AuthJWKS, AuthDev or AuthOff.
	// Default: AuthJWKS when JWTIssuer is set, else AuthDev.
	Auth string
	// JWTIssuer is the exact "iss" tokens must carry (FHIR_JWT_ISSUER, --jwt-issuer). Required
	// in jwks mode; in dev mode it defaults to DevIssuer.
	JWTIssuer string
	// JWTAudience is the value the "aud" of tokens must contain (FHIR_JWT_AUDIENCE,
	// --jwt-audience). Default: BaseURL; when that is empty too, DevAudience in dev mode, and
	// jwks mode refuses to start.
	JWTAudience string
	// JWKSURL is the authorization server's JSON Web Key Set, fetched, cached and refreshed
	// (FHIR_JWKS_URL, --jwks-url). It must be https, or http on a loopback host.
	JWKSURL string
	// JWKSFile is a local JWK Set (JSON) or PEM file of one or more public keys
	// (FHIR_JWKS_FILE, --jwks-file). jwks mode needs exactly one of JWKSURL and JWKSFile.
	JWKSFile string
	// SMART holds the authorization server's endpoints advertised in
	// /.well-known/smart-configuration and the CapabilityStatement. All optional.
	SMART SMARTEndpoints

	// CORSOrigins are the browser origins (scheme://host[:port]) allowed to call the API from
	// another origin, or the one entry "*" for any (FHIR_CORS_ORIGINS, --cors-origins, comma
	// separated; "none" for none). Default: "*" in dev mode, none in jwks and off mode.
	CORSOrigins []string
	// CORSCredentials lets browsers send cookies and TLS client certificates cross-origin
	// (FHIR_CORS_CREDENTIALS, --cors-credentials). Default false: bearer tokens are headers and
	// need no credentials mode. It cannot be combined with the origin "*".
	CORSCredentials bool
	// AllowedHosts are the Host names (optionally with a port) links may be derived from when
	// BaseURL is empty (FHIR_ALLOWED_HOSTS, --allowed-hosts, comma separated). Requests for
	// another host are refused. Default: localhost, 127.0.0.1 and ::1.
	AllowedHosts []string
	// SubscriptionAllowedHosts are the hosts (host or host:port) Subscription endpoints may
	// reach over http and on private, loopback or link-local addresses
	// (FHIR_SUBSCRIPTION_ALLOWED_HOSTS, --subscription-allowed-hosts, comma separated), e.g.
	// 127.0.0.1:9999 for a local receiver. Default none: https to public addresses only.
	SubscriptionAllowedHosts []string
	// SubscriptionRetryFor is how long a notification is retried before its subscription
	// turns to error (FHIR_SUBSCRIPTION_RETRY_FOR, --subscription-retry-for). Default 24h.
	SubscriptionRetryFor time.Duration
	// SubscriptionRetryMax is the longest pause between two attempts
	// (FHIR_SUBSCRIPTION_RETRY_MAX, --subscription-retry-max). Default 10m.
	SubscriptionRetryMax time.Duration
	// SubscriptionTimeout bounds each request to an endpoint (FHIR_SUBSCRIPTION_TIMEOUT,
	// --subscription-timeout). Default 10s.
	SubscriptionTimeout time.Duration
	// TrustedProxies are the addresses or CIDR ranges of reverse proxies whose X-Forwarded-For,
	// X-Forwarded-Proto and X-Forwarded-Host headers are believed (FHIR_TRUSTED_PROXIES,
	// --trusted-proxies, comma separated). Default none: the headers are ignored.
	TrustedProxies []string
	// MetricsAddr is the listen address of the Prometheus /metrics endpoint, a listener of its
	// own, never the API's (FHIR_METRICS_ADDR, --metrics-addr), e.g. 127.0.0.1:9090. Empty,
	// the default, serves no metrics.
	MetricsAddr string
	// Pprof serves net/http/pprof under /debug/pprof/ on the metrics listener (FHIR_PPROF,
	// --pprof). Default false; it needs MetricsAddr.
	Pprof bool
}

// SMARTEndpoints are the authorization server's URLs, advertised for SMART App Launch discovery.
type SMARTEndpoints struct {
	// AuthorizeURL is the OAuth 2.0 authorization endpoint (FHIR_SMART_AUTHORIZE_URL).
	AuthorizeURL string
	// TokenURL is the OAuth 2.0 token endpoint (FHIR_SMART_TOKEN_URL).
	TokenURL string
	// RegistrationURL is the dynamic client registration endpoint (FHIR_SMART_REGISTRATION_URL).
	RegistrationURL string
	// ManagementURL is where a user manages the apps they authorized (FHIR_SMART_MANAGEMENT_URL).
	ManagementURL string
	// IntrospectionURL is the token introspection endpoint (FHIR_SMART_INTROSPECTION_URL).
	IntrospectionURL string
	// RevocationURL is the token revocation endpoint (FHIR_SMART_REVOCATION_URL).
	RevocationURL string
}

// The authorization modes.
const (
	// AuthJWKS verifies tokens from an external authorization server against its public keys.
	AuthJWKS = "jwks"
	// AuthDev verifies tokens signed with a key the server creates in DataDir/auth, for
	// development; `fhir-server token` mints them.
	AuthDev = "dev"
	// AuthOff lets every request through with full access. Never use it with real data.
	AuthOff = "off"
)

// DevIssuer and DevAudience are the "iss" and (when there is no base URL) "aud" of dev mode tokens.
const (
	DevIssuer   = "urn:fhir-server:dev"
	DevAudience = "urn:fhir-server:dev"
)

// Lookup reads an environment variable; tests pass their own.
type Lookup func(key string) (string, bool)

// Parse reads the configuration from args (without the program name) and env.
func Parse(name string, args []string, env Lookup) (*Config, error) {
	c, rest, err := ParseCommand(name, args, env, nil)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(rest, " "))
	}
	return c, nil
}

// ParseCommand is Parse for commands that take flags of their own and arguments after the
// flags (such as `fhir-server load [flags] PATH…`): define, when not nil, adds the command's
// flags to the set, and the arguments that follow the flags are returned.
func ParseCommand(name string, args []string, env Lookup, define func(*flag.FlagSet)) (*Config, []string, error) {
	if env == nil {
		env = os.LookupEnv
	}
	str := func(key, def string) string {
		if v, ok := env(key); ok && v != "" {
			return v
		}
		return def
	}
	var errs []error
	num := func(key string, def int64) int64 {
		v, ok := env(key)
		if !ok || v == "" {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q is not a whole number", key, v))
			return def
		}
		return n
	}
	boolean := func(key string, def bool) bool {
		v, ok := env(key)
		if !ok || v == "" {
			return def
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q is not true or false", key, v))
			return def
		}
		return b
	}
	float := func(key string, def float64) float64 {
		v, ok := env(key)
		if !ok || v == "" {
			return def
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q is not a number", key, v))
			return def
		}
		return f
	}
	dur := func(key string, def time.Duration) time.Duration {
		v, ok := env(key)
		if !ok || v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q is not a duration such as 30s", key, v))
			return def
		}
		return d
	}

	c := &Config{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&c.Addr, "addr", str("FHIR_ADDR", ":8080"), "listen address (FHIR_ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", str("FHIR_DATA_DIR", "./data"), "directory of the embedded database and dev keys (FHIR_DATA_DIR)")
	// The URI may hold a password: it is not shown as the flag's default in -h output.
	fs.StringVar(&c.MongoURI, "mongodb-uri", "", "MongoDB connection string; empty starts the embedded database (MONGODB_URI)")
	fs.StringVar(&c.MongoDatabase, "mongodb-database", str("MONGODB_DATABASE", "fhir"), "MongoDB database name (MONGODB_DATABASE)")
	fs.StringVar(&c.BaseURL, "base-url", str("FHIR_BASE_URL", ""), "absolute base URL of the FHIR API for links, e.g. https://fhir.example.org/fhir; empty: from each request (FHIR_BASE_URL)")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", num("FHIR_MAX_BODY_BYTES", 8<<20), "largest request body accepted, in bytes (FHIR_MAX_BODY_BYTES)")
	fs.IntVar(&c.MaxJSONValues, "max-json-values", int(num("FHIR_MAX_JSON_VALUES", 200000)), "most JSON values in one request body (FHIR_MAX_JSON_VALUES)")
	fs.IntVar(&c.MaxLargeBodies, "max-large-bodies", int(num("FHIR_MAX_LARGE_BODIES", 2)), "request bodies over 1 MiB parsed at once (FHIR_MAX_LARGE_BODIES)")
	fs.IntVar(&c.MaxInFlight, "max-in-flight", int(num("FHIR_MAX_IN_FLIGHT", 256)), "/fhir requests served at once; more wait briefly, then answer 503 (FHIR_MAX_IN_FLIGHT)")
	fs.Float64Var(&c.RateLimit, "rate-limit", float("FHIR_RATE_LIMIT", 500), "requests per second per caller (token, or address without one); a search counts 10; 0 for no limit (FHIR_RATE_LIMIT)")
	fs.IntVar(&c.RateBurst, "rate-burst", int(num("FHIR_RATE_BURST", 1000)), "requests a caller may make at once above the rate limit (FHIR_RATE_BURST)")
	fs.DurationVar(&c.SearchTimeout, "search-timeout", dur("FHIR_SEARCH_TIMEOUT", 10*time.Second), "longest a search page may take before it answers 503 (FHIR_SEARCH_TIMEOUT)")
	fs.IntVar(&c.MaxIncluded, "max-included", int(num("FHIR_MAX_INCLUDED", 1000)), "most resources _include and _revinclude add to one page (FHIR_MAX_INCLUDED)")
	fs.IntVar(&c.ReportMinCount, "report-min-count", int(num("FHIR_REPORT_MIN_COUNT", 5)), "smallest count a report publishes, and the default min-count of $report (FHIR_REPORT_MIN_COUNT)")
	c.TransactionKillAfter = int(num("FHIR_TEST_TRANSACTION_KILL_AFTER", -1))
	fs.IntVar(&c.MaxBundleEntries, "max-bundle-entries", int(num("FHIR_MAX_BUNDLE_ENTRIES", 1000)), "most entries of one batch or transaction Bundle (FHIR_MAX_BUNDLE_ENTRIES)")
	fs.DurationVar(&c.DBTimeout, "db-timeout", dur("FHIR_DB_TIMEOUT", 10*time.Second), "longest one database operation may take (FHIR_DB_TIMEOUT)")
	fs.DurationVar(&c.DBSelectionTimeout, "db-selection-timeout", dur("FHIR_DB_SELECTION_TIMEOUT", 1500*time.Millisecond), "longest a request waits to reach the database before it answers 503 (FHIR_DB_SELECTION_TIMEOUT)")
	fs.StringVar(&c.TimeZone, "timezone", str("FHIR_TIMEZONE", "UTC"), "time zone of dates and times given without one, e.g. Europe/Copenhagen (FHIR_TIMEZONE)")
	fs.IntVar(&c.DefaultCount, "default-count", int(num("FHIR_DEFAULT_COUNT", 20)), "page size when _count is not given (FHIR_DEFAULT_COUNT)")
	fs.IntVar(&c.MaxCount, "max-count", int(num("FHIR_MAX_COUNT", 1000)), "largest page size a client may ask for (FHIR_MAX_COUNT)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", dur("FHIR_SHUTDOWN_TIMEOUT", 30*time.Second), "time in-flight requests get to finish at shutdown (FHIR_SHUTDOWN_TIMEOUT)")
	fs.StringVar(&c.LogLevel, "log-level", str("FHIR_LOG_LEVEL", "info"), "debug, info, warn or error (FHIR_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", str("FHIR_LOG_FORMAT", "text"), "text or json (FHIR_LOG_FORMAT)")
	fs.BoolVar(&c.Demo, "demo", boolean("FHIR_DEMO", false), "load the built-in example data on first start, when the database holds no Questionnaire (FHIR_DEMO)")
	fs.StringVar(&c.QRValidation, "qr-validation", str("FHIR_QR_VALIDATION", "strict"), "responses checked against their Questionnaire: strict (refuse), warn (store and warn) or off (FHIR_QR_VALIDATION)")
	fs.StringVar(&c.Auth, "auth", str("FHIR_AUTH", ""), "bearer token checks: jwks, dev or off; default jwks when an issuer is set, else dev (FHIR_AUTH)")
	fs.StringVar(&c.JWTIssuer, "jwt-issuer", str("FHIR_JWT_ISSUER", ""), "exact iss of accepted tokens; required in jwks mode (FHIR_JWT_ISSUER)")
	fs.StringVar(&c.JWTAudience, "jwt-audience", str("FHIR_JWT_AUDIENCE", ""), "value the aud of accepted tokens must contain; default: the base URL (FHIR_JWT_AUDIENCE)")
	fs.StringVar(&c.JWKSURL, "jwks-url", str("FHIR_JWKS_URL", ""), "JWK Set URL of the authorization server (FHIR_JWKS_URL)")
	fs.StringVar(&c.JWKSFile, "jwks-file", str("FHIR_JWKS_FILE", ""), "file holding a JWK Set or PEM public keys (FHIR_JWKS_FILE)")
	fs.StringVar(&c.SMART.AuthorizeURL, "smart-authorize-url", str("FHIR_SMART_AUTHORIZE_URL", ""), "OAuth authorization endpoint advertised for SMART (FHIR_SMART_AUTHORIZE_URL)")
	fs.StringVar(&c.SMART.TokenURL, "smart-token-url", str("FHIR_SMART_TOKEN_URL", ""), "OAuth token endpoint advertised for SMART (FHIR_SMART_TOKEN_URL)")
	fs.StringVar(&c.SMART.RegistrationURL, "smart-registration-url", str("FHIR_SMART_REGISTRATION_URL", ""), "client registration endpoint advertised for SMART (FHIR_SMART_REGISTRATION_URL)")
	fs.StringVar(&c.SMART.ManagementURL, "smart-management-url", str("FHIR_SMART_MANAGEMENT_URL", ""), "app management page advertised for SMART (FHIR_SMART_MANAGEMENT_URL)")
	fs.StringVar(&c.SMART.IntrospectionURL, "smart-introspection-url", str("FHIR_SMART_INTROSPECTION_URL", ""), "token introspection endpoint advertised for SMART (FHIR_SMART_INTROSPECTION_URL)")
	fs.StringVar(&c.SMART.RevocationURL, "smart-revocation-url", str("FHIR_SMART_REVOCATION_URL", ""), "token revocation endpoint advertised for SMART (FHIR_SMART_REVOCATION_URL)")
	var corsOrigins, allowedHosts, trustedProxies, subscriptionHosts string
	fs.StringVar(&subscriptionHosts, "subscription-allowed-hosts", str("FHIR_SUBSCRIPTION_ALLOWED_HOSTS", ""), "hosts (host or host:port) Subscription endpoints may reach over http and on private addresses, comma separated; default none (FHIR_SUBSCRIPTION_ALLOWED_HOSTS)")
	fs.DurationVar(&c.SubscriptionRetryFor, "subscription-retry-for", dur("FHIR_SUBSCRIPTION_RETRY_FOR", 24*time.Hour), "how long a notification is retried before its Subscription turns to error (FHIR_SUBSCRIPTION_RETRY_FOR)")
	fs.DurationVar(&c.SubscriptionRetryMax, "subscription-retry-max", dur("FHIR_SUBSCRIPTION_RETRY_MAX", 10*time.Minute), "longest pause between two attempts of a notification (FHIR_SUBSCRIPTION_RETRY_MAX)")
	fs.DurationVar(&c.SubscriptionTimeout, "subscription-timeout", dur("FHIR_SUBSCRIPTION_TIMEOUT", 10*time.Second), "longest one request to a Subscription endpoint may take (FHIR_SUBSCRIPTION_TIMEOUT)")
	fs.StringVar(&corsOrigins, "cors-origins", str("FHIR_CORS_ORIGINS", ""), `browser origins allowed to call the API, comma separated, "*" for any, "none" for none; default "*" in dev mode, else none (FHIR_CORS_ORIGINS)`)
	fs.BoolVar(&c.CORSCredentials, "cors-credentials", boolean("FHIR_CORS_CREDENTIALS", false), `let browsers send cookies cross-origin; not with origin "*" (FHIR_CORS_CREDENTIALS)`)
	fs.StringVar(&allowedHosts, "allowed-hosts", str("FHIR_ALLOWED_HOSTS", ""), "Host names links may be derived from without a base URL, comma separated; default localhost, 127.0.0.1, ::1 (FHIR_ALLOWED_HOSTS)")
	fs.StringVar(&trustedProxies, "trusted-proxies", str("FHIR_TRUSTED_PROXIES", ""), "addresses or CIDR ranges of proxies whose X-Forwarded-* headers are read, comma separated; default none (FHIR_TRUSTED_PROXIES)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", str("FHIR_METRICS_ADDR", ""), "listen address of /metrics (Prometheus), e.g. 127.0.0.1:9090; empty serves none (FHIR_METRICS_ADDR)")
	fs.BoolVar(&c.Pprof, "pprof", boolean("FHIR_PPROF", false), "serve net/http/pprof at /debug/pprof/ on the metrics listener (FHIR_PPROF)")
	if define != nil {
		define(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if c.MongoURI == "" {
		c.MongoURI = str("MONGODB_URI", "")
	}
	c.CORSOrigins, c.AllowedHosts, c.TrustedProxies = list(corsOrigins), list(allowedHosts), list(trustedProxies)
	c.SubscriptionAllowedHosts = list(subscriptionHosts)
	if err := c.validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return c, fs.Args(), nil
}

func (c *Config) validate() error {
	var errs []error
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("base URL %q must be an absolute http(s) URL", c.BaseURL))
		}
		c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("max body bytes %d is too small (at least 1024)", c.MaxBodyBytes))
	}
	if c.MaxJSONValues < 1000 {
		errs = append(errs, fmt.Errorf("max JSON values %d is too small (at least 1000)", c.MaxJSONValues))
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"max large bodies", c.MaxLargeBodies}, {"max in flight", c.MaxInFlight}, {"max included", c.MaxIncluded}, {"report min count", c.ReportMinCount}, {"max bundle entries", c.MaxBundleEntries}} {
		if n.v < 1 {
			errs = append(errs, fmt.Errorf("%s %d must be at least 1", n.name, n.v))
		}
	}
	if c.RateLimit < 0 || (c.RateLimit > 0 && c.RateBurst < 1) {
		errs = append(errs, fmt.Errorf("rate limit %g and burst %d: the limit must be 0 (none) or more, with a burst of at least 1", c.RateLimit, c.RateBurst))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"search timeout", c.SearchTimeout}, {"database timeout", c.DBTimeout}, {"database selection timeout", c.DBSelectionTimeout}} {
		if d.v < 100*time.Millisecond {
			errs = append(errs, fmt.Errorf("%s %s is too short (at least 100ms)", d.name, d.v))
		}
	}
	if loc, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "" || c.TimeZone == "Local" {
		errs = append(errs, fmt.Errorf("time zone %q is not an IANA time zone name such as UTC or Europe/Copenhagen", c.TimeZone))
	} else {
		c.Location = loc
	}
	if c.DefaultCount < 1 || c.MaxCount < c.DefaultCount {
		errs = append(errs, fmt.Errorf("page sizes must satisfy 1 <= default-count (%d) <= max-count (%d)", c.DefaultCount, c.MaxCount))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log level %q must be debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log format %q must be text or json", c.LogFormat))
	}
	switch c.QRValidation {
	case "strict", "warn", "off":
	default:
		errs = append(errs, fmt.Errorf("questionnaire validation %q must be strict, warn or off", c.QRValidation))
	}
	errs = append(errs, c.validateAuth(), c.validateEdge())
	return errors.Join(errs...)
}

// list splits a comma-separated setting, dropping blanks.
func list(v string) []string {
	var out []string
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// LoopbackHosts are the Host names allowed by default when there is no base URL.
var LoopbackHosts = []string{"localhost", "127.0.0.1", "::1"}

// validateEdge settles and checks the settings of the HTTP edge: CORS, hosts, proxies and the
// metrics listener. It runs after validateAuth, whose mode decides the CORS default.
func (c *Config) validateEdge() error {
	var errs []error
	switch {
	case len(c.CORSOrigins) == 1 && strings.EqualFold(c.CORSOrigins[0], "none"):
		c.CORSOrigins = nil
	case len(c.CORSOrigins) == 0 && c.Auth == AuthDev:
		c.CORSOrigins = []string{"*"}
	}
	for i, o := range c.CORSOrigins {
		if o == "*" {
			if len(c.CORSOrigins) > 1 {
				errs = append(errs, errors.New(`FHIR_CORS_ORIGINS: "*" allows every origin and cannot be listed with others`))
			}
			if c.CORSCredentials {
				errs = append(errs, errors.New(`FHIR_CORS_ORIGINS "*" cannot be combined with FHIR_CORS_CREDENTIALS: name the origins that may send credentials`))
			}
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			errs = append(errs, fmt.Errorf("FHIR_CORS_ORIGINS: %q is not an origin such as https://app.example.org or http://localhost:3000", o))
			continue
		}
		c.CORSOrigins[i] = strings.ToLower(u.Scheme + "://" + u.Host)
	}
	if len(c.AllowedHosts) == 0 {
		c.AllowedHosts = append([]string(nil), LoopbackHosts...)
	}
	for _, h := range c.AllowedHosts {
		if strings.ContainsAny(h, "/ @?#") {
			errs = append(errs, fmt.Errorf("FHIR_ALLOWED_HOSTS: %q is not a host name such as fhir.example.org or localhost:8080", h))
		}
	}
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(p); err != nil {
			errs = append(errs, fmt.Errorf("FHIR_TRUSTED_PROXIES: %q is not an IP address or CIDR range such as 10.0.0.0/8", p))
		}
	}
	if c.MetricsAddr != "" {
		_, mport, err := net.SplitHostPort(c.MetricsAddr)
		if err != nil {
			errs = append(errs, fmt.Errorf("FHIR_METRICS_ADDR %q is not a listen address such as 127.0.0.1:9090", c.MetricsAddr))
		} else if _, port, err := net.SplitHostPort(c.Addr); err == nil && port == mport && port != "0" {
			errs = append(errs, fmt.Errorf("FHIR_METRICS_ADDR %q uses the API's port: metrics get a listener of their own", c.MetricsAddr))
		}
	}
	if c.Pprof && c.MetricsAddr == "" {
		errs = append(errs, errors.New("FHIR_PPROF serves on the metrics listener: set FHIR_METRICS_ADDR too"))
	}
	return errors.Join(errs...)
}

// validateAuth settles the authorization mode and its defaults, and rejects settings that
// cannot work together.
func (c *Config) validateAuth() error {
	if c.Auth == "" {
		c.Auth = AuthDev
		if c.JWTIssuer != "" {
			c.Auth = AuthJWKS
		}
	}
	if c.JWTAudience == "" {
		c.JWTAudience = c.BaseURL
	}
	var errs []error
	switch c.Auth {
	case AuthJWKS:
		if c.JWTIssuer == "" {
			errs = append(errs, errors.New("auth mode jwks needs the tokens' issuer (FHIR_JWT_ISSUER)"))
		}
		if c.JWTAudience == "" {
			errs = append(errs, errors.New("auth mode jwks needs an audience: set FHIR_JWT_AUDIENCE or FHIR_BASE_URL"))
		}
		if c.BaseURL == "" {
			errs = append(errs, errors.New("auth mode jwks needs FHIR_BASE_URL: links and token audiences must not be taken from what a request says its host is"))
		}
		switch {
		case c.JWKSURL == "" && c.JWKSFile == "":
			errs = append(errs, errors.New("auth mode jwks needs the issuer's keys: set FHIR_JWKS_URL or FHIR_JWKS_FILE"))
		case c.JWKSURL != "" && c.JWKSFile != "":
			errs = append(errs, errors.New("set only one of FHIR_JWKS_URL and FHIR_JWKS_FILE"))
		}
	case AuthDev:
		if c.JWTIssuer == "" {
			c.JWTIssuer = DevIssuer
		}
		if c.JWTAudience == "" {
			c.JWTAudience = DevAudience
		}
	case AuthOff:
	default:
		errs = append(errs, fmt.Errorf("auth mode %q must be jwks, dev or off", c.Auth))
	}
	if c.Auth != AuthJWKS && (c.JWKSURL != "" || c.JWKSFile != "") {
		errs = append(errs, fmt.Errorf("FHIR_JWKS_URL and FHIR_JWKS_FILE are only used in auth mode jwks, not %s", c.Auth))
	}
	if c.JWKSURL != "" {
		if err := checkKeyURL(c.JWKSURL); err != nil {
			errs = append(errs, fmt.Errorf("JWKS URL: %w", err))
		}
	}
	for _, e := range []struct{ name, url string }{
		{"FHIR_SMART_AUTHORIZE_URL", c.SMART.AuthorizeURL},
		{"FHIR_SMART_TOKEN_URL", c.SMART.TokenURL},
		{"FHIR_SMART_REGISTRATION_URL", c.SMART.RegistrationURL},
		{"FHIR_SMART_MANAGEMENT_URL", c.SMART.ManagementURL},
		{"FHIR_SMART_INTROSPECTION_URL", c.SMART.IntrospectionURL},
		{"FHIR_SMART_REVOCATION_URL", c.SMART.RevocationURL},
	} {
		if e.url == "" {
			continue
		}
		if u, err := url.Parse(e.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q must be an absolute http(s) URL", e.name, e.url))
		}
	}
	return errors.Join(errs...)
}

// checkKeyURL accepts https URLs, and http only on a loopback host: keys fetched in the clear
// could be replaced on the way.
func checkKeyURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return fmt.Errorf("%q must use https (http only on localhost)", raw)
	default:
		return fmt.Errorf("%q must be an https URL", raw)
	}
}

// Redacted returns the MongoDB URI with any password masked, for logs.
func (c *Config) Redacted() string {
	if c.MongoURI == "" {
		return ""
	}
	u, err := url.Parse(c.MongoURI)
	if err != nil {
		return "(unparseable URI)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
