package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

const (
	testIssuer   = "https://idp.example.org"
	testAudience = "https://fhir.example.org/fhir"
)

// testKeys are made once: RSA key generation is slow.
var testKeys = sync.OnceValue(func() (k struct {
	rsa, rsa2 *rsa.PrivateKey
	ec, ec2   *ecdsa.PrivateKey
}) {
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if k.ec2, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	return k
})

// jwksJSON is a JWK Set of the public keys, by kid.
func jwksJSON(t *testing.T, keys map[string]any) []byte {
	t.Helper()
	var set jwkset.JWKSMarshal
	for kid, k := range keys {
		j, err := jwkset.NewJWKFromKey(k, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, USE: jwkset.UseSig}})
		if err != nil {
			t.Fatal(err)
		}
		set.Keys = append(set.Keys, j.Marshal())
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// claims are valid claims for testIssuer and testAudience, changed by the given edits.
func claims(edit ...func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss": testIssuer, "aud": testAudience, "sub": "user-1",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"scope": "user/*.rs openid", "client_id": "app-1",
	}
	for _, e := range edit {
		e(c)
	}
	return c
}

func sign(t *testing.T, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func fileVerifier(t *testing.T, keys map[string]any) *Verifier {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, jwksJSON(t, keys), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(context.Background(), Options{Mode: ModeJWKS, Issuer: testIssuer, Audience: testAudience, JWKSFile: path})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerifyMatrix(t *testing.T) {
	t.Parallel()
	k := testKeys()
	v := fileVerifier(t, map[string]any{"rsa": &k.rsa.PublicKey, "ec": &k.ec.PublicKey})
	now := time.Now()
	set := func(key string, val any) func(jwt.MapClaims) { return func(c jwt.MapClaims) { c[key] = val } }
	del := func(key string) func(jwt.MapClaims) { return func(c jwt.MapClaims) { delete(c, key) } }
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(&k.rsa.PublicKey))})

	good := sign(t, jwt.SigningMethodES256, k.ec, "ec", claims())
	other := sign(t, jwt.SigningMethodES256, k.ec, "ec", claims(set("scope", "system/*.*")))
	gp, op := strings.Split(good, "."), strings.Split(other, ".")
	spliced := gp[0] + "." + op[1] + "." + gp[2]
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "ec", claims())

	tests := []struct {
		name    string
		token   string
		wantErr error     // nil: the token is accepted
		kind    fhir.Kind // of the error
		check   func(*Principal) string
	}{
		{name: "empty", token: "", wantErr: ErrMissingToken, kind: fhir.KindUnauthorized},
		{name: "garbage", token: "not-a-jwt", wantErr: jwt.ErrTokenMalformed, kind: fhir.KindUnauthorized},
		{name: "three garbage parts", token: "a.b.c", wantErr: jwt.ErrTokenMalformed, kind: fhir.KindUnauthorized},
		{name: "expired", token: sign(t, jwt.SigningMethodES256, k.ec, "ec", claims(set("exp", now.Add(-time.Minute).Unix()))),
			wantErr: jwt.ErrTokenExpired, kind: fhir.KindUnauthorized},
		{name: "expired within the leeway is accepted", token: sign(t, jwt.SigningMethodES256, k.ec, "ec", claims(set("exp", now.Add(-10*time.Second).Unix())))},
		{name: "no exp", token: sign(t, jwt.SigningMethodES256, k.ec, "ec", claims(del("exp"))),
			wantErr: jwt.ErrTokenRequiredClaimMissing, kind: fhir.KindUnauthorized},
		{name: "not yet valid", token: sign(t, jwt.SigningMethodES256, k.ec, "ec", claims(set("nbf", now.Add(5*time.Minute).Unix()))),
			wantErr: jwt.ErrTokenNotValidYet, kind: fhir.KindUnauthorized},
		{name: "issued in the future", token: sign(t, jwt.SigningMethodES256, k.ec, "ec", claims(set("iat", now.Add(5*time.Minute).Unix()))),
			wantErr: jwt.ErrTokenUsedBeforeIssued, kind: fhir.KindUnauthorized},
		{name: "wrong issuer", token: sign(t, jwt.SigningMethodES256, k.ec, "ec", claims(set("iss", "https://evil.example"))),
			wantErr: jwt.ErrTokenInvalidIssuer, kind: fhir.KindUnauthorized},
		{name: "issuer differing by a slash", token: sign(t, jwt.SigningMethodES256, k.ec, "ec", claims(set("iss", testIssuer+"/"))),
			wantErr: jwt.ErrTokenInvalidIssuer, kind: fhir.KindUnauthorized},
		{name: "no issuer", token: sign(t, jwt.SigningMethodES256, k.ec, "ec", claims(del("iss"))),
			wantErr: jwt.ErrTokenRequiredClaimMissing, kind: fhir.KindUnauthorized},
		{name: "wrong audience", token: sign(t, jwt.SigningMethodES256, k.ec, "ec", claims(set("aud", "https://other.example/fhir"))),
			wantErr: jwt.ErrTokenInvalidAudience, kind: fhir.KindUnauthorized},
		{name: "audience list holding ours", token: sign(t, jwt.SigningMethodES256, k.ec, "ec", claims(set("aud", []string{"x", testAudience})))},
		{name: "bad signature: another key under a known kid", token: sign(t, jwt.SigningMethodES256, k.ec2, "ec", claims()),
			wantErr: jwt.ErrTokenSignatureInvalid, kind: fhir.KindUnauthorized},
		{name: "alg none", token: none, wantErr: jwt.ErrTokenSignatureInvalid, kind: fhir.KindUnauthorized},
		{name: "HS256 keyed with the public key PEM", token: sign(t, jwt.SigningMethodHS256, pubPEM, "rsa", claims()),
			wantErr: jwt.ErrTokenSignatureInvalid, kind: fhir.KindUnauthorized},
		{name: "RS384 is not allowed", token: sign(t, jwt.SigningMethodRS384, k.rsa, "rsa", claims()),
			wantErr: jwt.ErrTokenSignatureInvalid, kind: fhir.KindUnauthorized},
		{name: "unknown kid", token: sign(t, jwt.SigningMethodES256, k.ec, "nope", claims()), wantErr: ErrUnknownKey, kind: fhir.KindUnauthorized},
		{name: "no kid: the only key fitting ES256 is used", token: sign(t, jwt.SigningMethodES256, k.ec, "", claims())},
		{name: "no kid and the fitting key is wrong", token: sign(t, jwt.SigningMethodES256, k.ec2, "", claims()),
			wantErr: jwt.ErrTokenSignatureInvalid, kind: fhir.KindUnauthorized},
		{name: "ES256 naming the RSA key", token: sign(t, jwt.SigningMethodES256, k.ec, "rsa", claims()), wantErr: ErrUnknownKey, kind: fhir.KindUnauthorized},
		{name: "forged payload spliced onto a valid signature", token: spliced, wantErr: jwt.ErrTokenSignatureInvalid, kind: fhir.KindUnauthorized},
		{name: "oversized", token: sign(t, jwt.SigningMethodES256, k.ec, "ec", claims(set("pad", strings.Repeat("x", 9000)))),
			wantErr: ErrTokenTooLarge, kind: fhir.KindUnauthorized},
		{name: "scope of the wrong type", token: sign(t, jwt.SigningMethodES256, k.ec, "ec", claims(set("scope", 42))),
			wantErr: ErrBadClaim, kind: fhir.KindUnauthorized},
		{name: "patient claim that is no id", token: sign(t, jwt.SigningMethodES256, k.ec, "ec", claims(set("patient", "a b"))),
			wantErr: ErrBadClaim, kind: fhir.KindUnauthorized},
		{name: "patient scopes without a patient", token: sign(t, jwt.SigningMethodES256, k.ec, "ec", claims(set("scope", "patient/*.rs"))),
			wantErr: ErrNoPatientContext, kind: fhir.KindForbidden},

		{name: "RS256 accepted", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa", claims())},
		{name: "PS256 accepted", token: sign(t, jwt.SigningMethodPS256, k.rsa, "rsa", claims())},
		{name: "ES256 accepted, claims read", token: sign(t, jwt.SigningMethodES256, k.ec, "ec", claims(
			set("scope", "launch/patient patient/QuestionnaireResponse.cruds openid"), set("patient", "Patient/pat-1"),
			set("fhirUser", "Practitioner/pr-1"), set("jti", "t-1"), del("client_id"), set("azp", "app-azp"))),
			check: func(p *Principal) string {
				if p.Subject != "user-1" || p.Patient != "pat-1" || p.FHIRUser != "Practitioner/pr-1" || p.ClientID != "app-azp" ||
					p.TokenID != "t-1" || p.Issuer != testIssuer || len(p.Scopes) != 1 || p.Scopes[0].Raw != "patient/QuestionnaireResponse.cruds" ||
					p.Scope != "launch/patient patient/QuestionnaireResponse.cruds openid" || p.ExpiresAt.IsZero() {
					return "claims not carried into the principal"
				}
				return ""
			}},
		{name: "scp as a list", token: sign(t, jwt.SigningMethodES256, k.ec, "ec", claims(del("scope"), set("scp", []string{"user/CarePlan.r", "user/CarePlan.s"}))),
			check: func(p *Principal) string {
				if !p.Allows("CarePlan", ActionSearch) || p.Scope != "user/CarePlan.r user/CarePlan.s" {
					return "scp list not read"
				}
				return ""
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := v.Verify(context.Background(), tc.token)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if tc.check != nil {
					if msg := tc.check(p); msg != "" {
						t.Errorf("%s: %+v", msg, p)
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want %v", tc.wantErr)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v, want one wrapping %v", err, tc.wantErr)
			}
			if got := fhir.ErrorKind(err); got != tc.kind {
				t.Errorf("kind %v, want %v", got, tc.kind)
			}
			// The client learns nothing of the reason.
			if tc.kind == fhir.KindUnauthorized {
				diag := fhir.OutcomeFor(err).Issue[0].Diagnostics
				if diag != msgInvalid && diag != msgMissing {
					t.Errorf("client sees %q", diag)
				}
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestKeysFromPEMFile(t *testing.T) {
	t.Parallel()
	k := testKeys()
	dir := t.TempDir()
	write := func(name string, blocks ...*pem.Block) string {
		var b []byte
		for _, bl := range blocks {
			b = append(b, pem.EncodeToMemory(bl)...)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rsaPub := &pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(&k.rsa.PublicKey))}
	ecPub := &pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(&k.ec.PublicKey))}
	rsaPKCS1 := &pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa2.PublicKey)}
	ecPriv := &pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(k.ec))}
	ecKid := must(Thumbprint(&k.ec.PublicKey))

	tests := []struct {
		name    string
		file    string
		token   string
		wantErr string // "" accepted; for file errors, part of NewVerifier's error
	}{
		{"one key, token without kid", write("one.pem", rsaPub), sign(t, jwt.SigningMethodRS256, k.rsa, "", claims()), ""},
		{"two keys, kid is the thumbprint", write("two.pem", rsaPub, ecPub), sign(t, jwt.SigningMethodES256, k.ec, ecKid, claims()), ""},
		{"two keys, no kid but only one fits ES256", write("two-b.pem", rsaPub, ecPub), sign(t, jwt.SigningMethodES256, k.ec, "", claims()), ""},
		{"PKCS#1 public key", write("pkcs1.pem", rsaPKCS1), sign(t, jwt.SigningMethodPS256, k.rsa2, "", claims()), ""},
		{"two RSA keys, no kid", write("two-rsa.pem", rsaPub, rsaPKCS1), sign(t, jwt.SigningMethodRS256, k.rsa, "", claims()), "no matching verification key"},
		{"a private key is refused", write("priv.pem", ecPriv), "", "private key"},
		{"no key at all", write("empty.pem"), "", "holds no RSA"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := NewVerifier(context.Background(), Options{Mode: ModeJWKS, Issuer: testIssuer, Audience: testAudience, JWKSFile: tc.file})
			if tc.token == "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("NewVerifier error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(context.Background(), tc.token)
			if tc.wantErr == "" && err != nil {
				t.Errorf("refused: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestJWKSURLRotation serves a JWK Set that changes: a token signed with a new key is
// accepted after one refresh, the removed key no longer verifies, and refreshes caused by
// unknown kids are rate-limited.
func TestJWKSURLRotation(t *testing.T) {
	t.Parallel()
	k := testKeys()
	var mu sync.Mutex
	body := jwksJSON(t, map[string]any{"a": &k.ec.PublicKey})
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := NewVerifier(ctx, Options{Mode: ModeJWKS, Issuer: testIssuer, Audience: testAudience, JWKSURL: srv.URL,
		HTTPClient: srv.Client(), UnknownKIDRefresh: time.Hour, RefreshInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(keys map[string]any) {
		b := jwksJSON(t, keys)
		mu.Lock()
		body = b
		mu.Unlock()
	}
	tokA := sign(t, jwt.SigningMethodES256, k.ec, "a", claims())
	tokB := sign(t, jwt.SigningMethodRS256, k.rsa, "b", claims())
	tokC := sign(t, jwt.SigningMethodES256, k.ec2, "c", claims())

	steps := []struct {
		name        string
		before      func()
		token       string
		wantErr     error
		wantFetches int32
	}{
		{name: "first key", token: tokA, wantFetches: 1},
		{name: "rotated: the new kid triggers a refresh", before: func() { serve(map[string]any{"b": &k.rsa.PublicKey}) }, token: tokB, wantFetches: 2},
		{name: "the retired key is gone", token: tokA, wantErr: ErrUnknownKey, wantFetches: 2},
		{name: "another rotation waits for the rate limit", before: func() { serve(map[string]any{"c": &k.ec2.PublicKey}) }, token: tokC,
			wantErr: ErrUnknownKey, wantFetches: 2},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		start := time.Now()
		_, err := v.Verify(context.Background(), s.token)
		if s.wantErr == nil && err != nil {
			t.Errorf("%s: refused: %v", s.name, err)
		}
		if s.wantErr != nil && !errors.Is(err, s.wantErr) {
			t.Errorf("%s: error %v, want %v", s.name, err, s.wantErr)
		}
		if got := fetches.Load(); got != s.wantFetches {
			t.Errorf("%s: %d fetches of the key set, want %d", s.name, got, s.wantFetches)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: took %s; an unknown kid must not hold a request", s.name, d)
		}
	}
}

func TestModeOffAllowsEverything(t *testing.T) {
	t.Parallel()
	v, err := NewVerifier(context.Background(), Options{Mode: ModeOff})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"", "garbage"} {
		p, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatalf("%q: %v", tok, err)
		}
		if p.Access("CarePlan", ActionConditionalDelete) != AccessAll || p.Access("Anything", ActionCreate) != AccessAll {
			t.Errorf("%q: off principal is limited: %+v", tok, p)
		}
	}
	if !strings.Contains(OffWarning(), "OFF") {
		t.Errorf("warning %q is not loud", OffWarning())
	}
}

func TestNewVerifierRejectsIncompleteOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"unknown mode", Options{Mode: "basic"}, "unknown mode"},
		{"jwks without keys", Options{Mode: ModeJWKS, Issuer: "i", Audience: "a"}, "JWKS URL or file"},
		{"jwks with both key sources", Options{Mode: ModeJWKS, Issuer: "i", Audience: "a", JWKSURL: "https://x", JWKSFile: "f"}, "not both"},
		{"dev without data dir", Options{Mode: ModeDev, Issuer: "i", Audience: "a"}, "data directory"},
		{"dev without issuer", Options{Mode: ModeDev, Audience: "a", DataDir: t.TempDir()}, "issuer and an audience"},
		{"missing key file", Options{Mode: ModeJWKS, Issuer: "i", Audience: "a", JWKSFile: "/nonexistent/jwks.json"}, "read key file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := NewVerifier(context.Background(), tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestBearerTokenAndChallenge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header, token string
		challenge     string
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", ""},
		{"bearer  abc ", "abc", ""},
		{"", "", "Bearer"},
		{"Basic dXNlcjpwdw==", "", "Bearer"},
		{"Bearer ", "", "Bearer"},
	}
	for _, tc := range tests {
		got, err := BearerToken(tc.header)
		if got != tc.token {
			t.Errorf("BearerToken(%q) = %q, want %q", tc.header, got, tc.token)
		}
		if tc.challenge != "" {
			if !fhir.IsKind(err, fhir.KindUnauthorized) || Challenge(err) != tc.challenge {
				t.Errorf("BearerToken(%q): error %v, challenge %q", tc.header, err, Challenge(err))
			}
		}
	}
	if c := Challenge(unauthorized(jwt.ErrTokenExpired)); c != `Bearer error="invalid_token"` {
		t.Errorf("challenge for an expired token: %q", c)
	}
	p := &Principal{Scopes: must2(ParseScopes("user/CarePlan.r"))}
	_, err := p.Authorize("CarePlan", ActionDelete)
	if !fhir.IsKind(err, fhir.KindForbidden) || Challenge(err) != `Bearer error="insufficient_scope"` {
		t.Errorf("forbidden: %v, challenge %q", err, Challenge(err))
	}
}

func must2[T, U any](v T, _ U) T { return v }

// TestThumbprintRFC7638 checks the example of RFC 7638 section 3.1.
func TestThumbprintRFC7638(t *testing.T) {
	t.Parallel()
	n := "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	j, err := jwkset.NewJWKFromMarshal(jwkset.JWKMarshal{KTY: jwkset.KtyRSA, N: n, E: "AQAB"}, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Thumbprint(j.Key())
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("thumbprint %s, want %s", got, want)
	}
	// EC: the thumbprint hashes exactly crv, kty, x, y of the JWK, in that order.
	ec := testKeys().ec
	m := must(jwkset.NewJWKFromKey(&ec.PublicKey, jwkset.JWKOptions{})).Marshal()
	canon := `{"crv":"P-256","kty":"EC","x":"` + m.X + `","y":"` + m.Y + `"}`
	sum := sha256Sum(canon)
	if got := must(Thumbprint(&ec.PublicKey)); got != base64.RawURLEncoding.EncodeToString(sum) {
		t.Errorf("EC thumbprint %s does not hash %s", got, canon)
	}
}

func sha256Sum(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
