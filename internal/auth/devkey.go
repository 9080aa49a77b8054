package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// DevIssuer and DevAudience are the "iss" and "aud" of dev mode tokens when no issuer and no
// audience (or base URL) is configured. They equal config.DevIssuer and config.DevAudience.
const (
	DevIssuer   = "urn:fhir-server:dev"
	DevAudience = "urn:fhir-server:dev"
)

// DevKeyFile is where, under the data directory, dev mode keeps its signing key.
const DevKeyFile = "auth/dev-signing-key.pem"

// DefaultDevTokenTTL is the lifetime of a dev token when TokenOptions.TTL is zero.
const DefaultDevTokenTTL = time.Hour

// DevKey is the ES256 key pair dev mode signs and verifies tokens with. It is made on first
// use and kept in <data-dir>/auth/dev-signing-key.pem (file mode 0600, folder 0700), so tokens
// stay valid across restarts.
type DevKey struct {
	priv *ecdsa.PrivateKey
	kid  string
	path string
}

// LoadDevKey reads the dev signing key of dataDir, creating it when there is none yet. Two
// processes starting at once end up with the same key.
func LoadDevKey(dataDir string) (*DevKey, error) {
	path := filepath.Join(dataDir, filepath.FromSlash(DevKeyFile))
	k, err := readDevKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err = createDevKey(path); err == nil || errors.Is(err, fs.ErrExist) {
			k, err = readDevKey(path)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("dev signing key: %w", err)
	}
	return k, nil
}

func readDevKey(path string) (*DevKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("%s can be read by others and cannot be made private: %w", path, err)
		}
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s holds no PEM key", path)
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		err = fmt.Errorf("PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	priv, ok := key.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s is not a P-256 (ES256) key", path)
	}
	kid, err := Thumbprint(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	return &DevKey{priv: priv, kid: kid, path: path}, nil
}

// createDevKey writes a new key to path without ever replacing one: it is written to a
// temporary file and linked into place, which fails with fs.ErrExist if another process won.
func createDevKey(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".dev-signing-key-*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Link(tmp.Name(), path)
}

// KeyID is the key's kid: its RFC 7638 thumbprint.
func (k *DevKey) KeyID() string { return k.kid }

// Path is the file the key is kept in.
func (k *DevKey) Path() string { return k.path }

// PublicKey is the key that verifies dev tokens.
func (k *DevKey) PublicKey() *ecdsa.PublicKey { return &k.priv.PublicKey }

// JWKS is the public key as a JWK Set, for serving at the jwks_uri in dev mode.
func (k *DevKey) JWKS() []byte {
	j, err := k.jwk()
	if err != nil {
		panic("auth: dev key does not make a JWK: " + err.Error()) // a valid P-256 key always does
	}
	b, err := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{j.Marshal()}})
	if err != nil {
		panic("auth: dev JWKS does not encode: " + err.Error())
	}
	return b
}

func (k *DevKey) jwk() (jwkset.JWK, error) {
	return jwkset.NewJWKFromKey(k.PublicKey(), jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: k.kid, USE: jwkset.UseSig, ALG: jwkset.AlgES256},
	})
}

// storage is a key store holding only the public dev key, for the verifier.
func (k *DevKey) storage() (jwkset.Storage, error) {
	j, err := k.jwk()
	if err != nil {
		return nil, err
	}
	s := jwkset.NewMemoryStorage()
	return s, s.KeyWrite(context.Background(), j)
}

// TokenOptions are the claims of a dev token. Empty fields get the defaults stated.
type TokenOptions struct {
	// Scope is the space-separated scope claim, e.g. "patient/*.rs" or "system/*.*".
	Scope string
	// Patient is the "patient" claim (a Patient id), needed with patient/ scopes.
	Patient string
	// FHIRUser is the "fhirUser" claim, e.g. Practitioner/123.
	FHIRUser string
	// TTL is how long the token is valid; zero means DefaultDevTokenTTL, and a negative TTL
	// gives a token that expired that long ago.
	TTL time.Duration
	// Subject is "sub"; default FHIRUser when set, else "dev-user".
	Subject string
	// ClientID is "client_id"; default "fhir-server-dev".
	ClientID string
	// Audience is "aud"; default DevAudience. It must match the server's FHIR_JWT_AUDIENCE.
	Audience string
	// Issuer is "iss"; default DevIssuer. It must match the server's FHIR_JWT_ISSUER.
	Issuer string
}

// Mint signs a token with the dev key.
func (k *DevKey) Mint(o TokenOptions) (string, error) {
	now := time.Now()
	ttl := o.TTL
	if ttl == 0 {
		ttl = DefaultDevTokenTTL
	}
	exp := now.Add(ttl)
	iat := now
	if ttl < 0 {
		iat = exp.Add(-DefaultDevTokenTTL) // issued, and expired, in the past
	}
	sub := first(o.Subject, o.FHIRUser, "dev-user")
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	claims := jwt.MapClaims{
		"iss":       first(o.Issuer, DevIssuer),
		"sub":       sub,
		"aud":       first(o.Audience, DevAudience),
		"iat":       iat.Unix(),
		"nbf":       iat.Unix(),
		"exp":       exp.Unix(),
		"jti":       hex.EncodeToString(jti),
		"client_id": first(o.ClientID, "fhir-server-dev"),
		"scope":     strings.Join(strings.Fields(o.Scope), " "),
	}
	if o.Patient != "" {
		claims["patient"] = o.Patient
	}
	if o.FHIRUser != "" {
		claims["fhirUser"] = o.FHIRUser
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	t.Header["kid"] = k.kid
	return t.SignedString(k.priv)
}

// MintDevToken signs a token with the dev key of dataDir, creating the key if there is none.
func MintDevToken(dataDir string, o TokenOptions) (string, error) {
	k, err := LoadDevKey(dataDir)
	if err != nil {
		return "", err
	}
	return k.Mint(o)
}

// DevAdminScope is the scope of the token DevBanner prints: every interaction on every type,
// without a patient or user (a backend-services grant).
const DevAdminScope = "system/*.*"

// DevBanner is the text to print when the server starts in dev mode: where the key is, a
// ready-to-use admin token (o.Scope defaults to DevAdminScope, o.TTL to 12 hours) and curl
// commands against baseURL (the FHIR base, e.g. http://localhost:8080/fhir).
func DevBanner(k *DevKey, baseURL string, o TokenOptions) (string, error) {
	if o.Scope == "" {
		o.Scope = DevAdminScope
	}
	if o.TTL == 0 {
		o.TTL = 12 * time.Hour
	}
	if o.Subject == "" && o.FHIRUser == "" {
		o.Subject = "dev-admin"
	}
	tok, err := k.Mint(o)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Auth: dev mode. /fhir needs a bearer token signed with the dev key %s.\n", k.Path())
	fmt.Fprintf(&b, "An admin token (scope %s, valid %s):\n\n", o.Scope, o.TTL)
	fmt.Fprintf(&b, "  export TOKEN=%s\n\n", tok)
	fmt.Fprintf(&b, "Or paste it into Authorize at %s/docs to try the API in the browser.\n", strings.TrimSuffix(baseURL, "/fhir"))
	fmt.Fprintf(&b, "Try:\n  curl -H \"Authorization: Bearer $TOKEN\" %s/Questionnaire\n", baseURL)
	fmt.Fprintf(&b, "Mint others, e.g. for one patient:\n  fhir-server token --scope \"patient/*.cruds\" --patient pat-anna-jensen\n")
	return b.String(), nil
}

// first is the first non-empty string.
func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
