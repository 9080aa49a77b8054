package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// Mode is how tokens are checked; the values are those of FHIR_AUTH.
type Mode string

// The modes.
const (
	// ModeJWKS verifies tokens of an external authorization server with its public keys,
	// from a JWKS URL (fetched, cached, refreshed) or a file.
	ModeJWKS Mode = "jwks"
	// ModeDev verifies tokens signed with the dev key in the data directory.
	ModeDev Mode = "dev"
	// ModeOff accepts every request, with or without a token, as an all-powerful principal.
	ModeOff Mode = "off"
)

// Defaults of Options.
const (
	DefaultLeeway            = 30 * time.Second
	DefaultMaxTokenBytes     = 8 << 10
	DefaultRefreshInterval   = time.Hour
	DefaultUnknownKIDRefresh = time.Minute
)

// Options configure a Verifier.
type Options struct {
	// Mode is jwks, dev or off.
	Mode Mode
	// Issuer is the exact "iss" required. Required in jwks and dev mode.
	Issuer string
	// Audience must be among the token's "aud". Required in jwks and dev mode.
	Audience string
	// JWKSURL is the authorization server's JWK Set (jwks mode; or JWKSFile). Its keys are
	// refreshed every RefreshInterval, and when a token names an unknown kid, at most once
	// per UnknownKIDRefresh, so key rotation needs no restart.
	JWKSURL string
	// JWKSFile is a JWK Set or PEM file of public keys (jwks mode; or JWKSURL).
	JWKSFile string
	// DataDir holds the dev signing key (dev mode), created on first start.
	DataDir string
	// HTTPClient fetches JWKSURL; default http.DefaultClient.
	HTTPClient *http.Client
	// RefreshInterval is how often JWKSURL is fetched again; default DefaultRefreshInterval.
	RefreshInterval time.Duration
	// UnknownKIDRefresh is the least time between fetches caused by unknown kids; default
	// DefaultUnknownKIDRefresh.
	UnknownKIDRefresh time.Duration
	// Leeway is the clock skew allowed on exp, nbf and iat; default DefaultLeeway.
	Leeway time.Duration
	// MaxTokenBytes is the longest token accepted; default DefaultMaxTokenBytes.
	MaxTokenBytes int
	// Logger receives failures to refresh the JWK Set; default slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now. For tests.
	Now func() time.Time
}

// Verifier checks bearer tokens. It is safe for concurrent use.
type Verifier struct {
	mode     Mode
	keys     jwkset.Storage
	parser   *jwt.Parser
	maxBytes int
	dev      *DevKey
}

// NewVerifier builds the verifier for o.Mode. In jwks mode with a URL it fetches the key set
// (a failure is logged, not returned, so the server starts while the authorization server is
// down) and refreshes it in the background until ctx ends. In dev mode it loads or creates
// the dev key.
func NewVerifier(ctx context.Context, o Options) (*Verifier, error) {
	v := &Verifier{mode: o.Mode, maxBytes: o.MaxTokenBytes}
	if v.maxBytes <= 0 {
		v.maxBytes = DefaultMaxTokenBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	var err error
	switch o.Mode {
	case ModeOff:
		return v, nil
	case ModeDev:
		if o.DataDir == "" {
			return nil, errors.New("auth: dev mode needs a data directory for its key")
		}
		if v.dev, err = LoadDevKey(o.DataDir); err != nil {
			return nil, err
		}
		v.keys, err = v.dev.storage()
	case ModeJWKS:
		switch {
		case o.JWKSURL != "" && o.JWKSFile != "":
			return nil, errors.New("auth: give a JWKS URL or a JWKS file, not both")
		case o.JWKSFile != "":
			v.keys, err = loadKeyFile(o.JWKSFile)
		case o.JWKSURL != "":
			v.keys, err = remoteKeys(ctx, o)
		default:
			return nil, errors.New("auth: jwks mode needs a JWKS URL or file")
		}
	default:
		return nil, fmt.Errorf("auth: unknown mode %q (jwks, dev or off)", o.Mode)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if o.Issuer == "" || o.Audience == "" {
		return nil, fmt.Errorf("auth: %s mode needs an issuer and an audience", o.Mode)
	}
	leeway := o.Leeway
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	popts := []jwt.ParserOption{
		jwt.WithValidMethods(allowedAlgs),
		jwt.WithIssuer(o.Issuer),
		jwt.WithAudience(o.Audience),
		jwt.WithLeeway(leeway),
		jwt.WithIssuedAt(),
		jwt.WithExpirationRequired(),
	}
	if o.Now != nil {
		popts = append(popts, jwt.WithTimeFunc(o.Now))
	}
	v.parser = jwt.NewParser(popts...)
	return v, nil
}

// remoteKeys is the key store of a JWKS URL, kept fresh by jwkset.
func remoteKeys(ctx context.Context, o Options) (jwkset.Storage, error) {
	refresh := o.RefreshInterval
	if refresh <= 0 {
		refresh = DefaultRefreshInterval
	}
	unknown := o.UnknownKIDRefresh
	if unknown <= 0 {
		unknown = DefaultUnknownKIDRefresh
	}
	log := o.Logger
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{o.JWKSURL}, keyfunc.Override{
		Client:      o.HTTPClient,
		HTTPTimeout: 10 * time.Second,
		// Bounds both the wait for the rate limiter and the fetch after it: a request with an
		// unknown kid waits at most this long, and fails at once when the next refresh is
		// further away.
		RateLimitWaitMax:  5 * time.Second,
		RefreshInterval:   refresh,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(unknown), 1),
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				log.ErrorContext(ctx, "fetching the JWK Set failed; tokens signed with new keys are refused until it succeeds",
					"url", u, "err", err)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	return kf.Storage(), nil
}

// Mode is the verifier's mode.
func (v *Verifier) Mode() Mode { return v.mode }

// DevKey is the dev signing key in dev mode, nil otherwise.
func (v *Verifier) DevKey() *DevKey { return v.dev }

// Verify checks a bearer token (without the "Bearer " prefix) and returns whom it speaks for.
//
// Errors: fhir.KindUnauthorized when the token is empty (wrapping ErrMissingToken) or fails
// any check (wrapping the reason: ErrTokenTooLarge, ErrUnknownKey, ErrBadClaim or a jwt
// error); fhir.KindForbidden (ErrNoPatientContext) when it has patient/ scopes but no patient
// claim. In mode off every token, even none, gives a principal with system/*.*.
func (v *Verifier) Verify(ctx context.Context, token string) (*Principal, error) {
	if v.mode == ModeOff {
		return offPrincipal(), nil
	}
	if token == "" {
		return nil, unauthorized(ErrMissingToken)
	}
	if len(token) > v.maxBytes {
		return nil, unauthorized(fmt.Errorf("%w: %d bytes, at most %d", ErrTokenTooLarge, len(token), v.maxBytes))
	}
	var c tokenClaims
	if _, err := v.parser.ParseWithClaims(token, &c, keyFunc(ctx, v.keys)); err != nil {
		return nil, unauthorized(err)
	}
	p, err := c.principal()
	if err != nil {
		return nil, unauthorized(err)
	}
	if p.Patient == "" && p.hasPatientScopes() {
		e := fhir.Errorf(fhir.KindForbidden, "The access token has patient scopes but no patient claim.")
		e.Err = ErrNoPatientContext
		return nil, e
	}
	return p, nil
}

// tokenClaims are the claims this server reads.
type tokenClaims struct {
	jwt.RegisteredClaims
	Scope    stringList `json:"scope"`
	Scp      stringList `json:"scp"`
	Patient  string     `json:"patient"`
	FHIRUser string     `json:"fhirUser"`
	ClientID string     `json:"client_id"`
	AZP      string     `json:"azp"`
}

// UnmarshalJSON implements json.Unmarshaler: the claims, after checking that the times
// (exp, nbf, iat) are JSON numbers, as RFC 7519 says they are ("NumericDate"); the JWT library
// would also read a string holding a number.
func (c *tokenClaims) UnmarshalJSON(b []byte) error {
	var times struct {
		Exp, Nbf, Iat json.RawMessage
	}
	if err := json.Unmarshal(b, &times); err != nil {
		return err
	}
	for _, t := range []struct {
		name string
		raw  json.RawMessage
	}{{"exp", times.Exp}, {"nbf", times.Nbf}, {"iat", times.Iat}} {
		if len(t.raw) > 0 && (t.raw[0] == '"' || t.raw[0] == '[' || t.raw[0] == '{' || t.raw[0] == 't' || t.raw[0] == 'f') {
			return fmt.Errorf("%w: %s must be a JSON number (seconds since 1970)", ErrBadClaim, t.name)
		}
	}
	type plain tokenClaims // without this method
	return json.Unmarshal(b, (*plain)(c))
}

// stringList is a claim sent as a space-separated string (SMART's scope) or as an array of
// strings (as some authorization servers send scp).
type stringList []string

// UnmarshalJSON implements json.Unmarshaler.
func (l *stringList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = strings.Fields(s)
		return nil
	}
	var a []string
	if err := json.Unmarshal(b, &a); err != nil {
		return fmt.Errorf("%w: scope must be a string or a list of strings", ErrBadClaim)
	}
	*l = a
	return nil
}

func (c *tokenClaims) principal() (*Principal, error) {
	scopes := c.Scope
	if len(scopes) == 0 {
		scopes = c.Scp
	}
	scope := strings.Join(scopes, " ")
	p := &Principal{
		Issuer:   c.Issuer,
		Subject:  c.Subject,
		FHIRUser: c.FHIRUser,
		ClientID: first(c.ClientID, c.AZP),
		TokenID:  c.ID,
		Scope:    scope,
	}
	if c.ExpiresAt != nil {
		p.ExpiresAt = c.ExpiresAt.Time
	}
	p.Scopes, _ = ParseScopes(scope)
	if c.Patient != "" {
		id := strings.TrimPrefix(c.Patient, "Patient/")
		if !fhir.ValidID(id) {
			return nil, fmt.Errorf("%w: patient %q is not a Patient id", ErrBadClaim, c.Patient)
		}
		p.Patient = id
	}
	return p, nil
}
