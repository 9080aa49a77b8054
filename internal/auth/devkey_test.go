package auth

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/patient-involvement/fhir-server/internal/config"
)

func TestDevConstantsMatchConfig(t *testing.T) {
	t.Parallel()
	if DevIssuer != config.DevIssuer || DevAudience != config.DevAudience || string(ModeDev) != config.AuthDev ||
		string(ModeJWKS) != config.AuthJWKS || string(ModeOff) != config.AuthOff {
		t.Error("auth and config disagree on dev issuer, audience or mode names")
	}
}

func TestDevKeyPersistsAcrossLoads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k1, err := LoadDevKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(k1.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	di, _ := os.Stat(filepath.Dir(k1.Path()))
	if di.Mode().Perm() != 0o700 {
		t.Errorf("key folder mode %v, want 0700", di.Mode().Perm())
	}
	if want := filepath.Join(dir, "auth", "dev-signing-key.pem"); k1.Path() != want {
		t.Errorf("key at %s, want %s", k1.Path(), want)
	}
	tok, err := k1.Mint(TokenOptions{Scope: "system/*.rs"})
	if err != nil {
		t.Fatal(err)
	}

	k2, err := LoadDevKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k1.KeyID() != k2.KeyID() {
		t.Errorf("second load made a new key: %s then %s", k1.KeyID(), k2.KeyID())
	}
	v, err := NewVerifier(context.Background(), Options{Mode: ModeDev, Issuer: DevIssuer, Audience: DevAudience, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if v.DevKey().KeyID() != k1.KeyID() {
		t.Error("verifier loaded another key")
	}
	p, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("token of the first load refused after reloading: %v", err)
	}
	if !p.Allows("CarePlan", ActionSearch) || p.Subject != "dev-user" || p.ClientID != "fhir-server-dev" {
		t.Errorf("principal %+v", p)
	}

	other, err := LoadDevKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if other.KeyID() == k1.KeyID() {
		t.Error("two data dirs share a key")
	}
	foreign, _ := other.Mint(TokenOptions{Scope: "system/*.rs"})
	if _, err := v.Verify(context.Background(), foreign); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("token of another data dir: %v, want unknown key", err)
	}
}

func TestDevKeyCreatedOnceUnderConcurrentStarts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var wg sync.WaitGroup
	kids := make([]string, 8)
	errs := make([]error, 8)
	for i := range kids {
		wg.Go(func() {
			k, err := LoadDevKey(dir)
			if err == nil {
				kids[i] = k.KeyID()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i := range kids {
		if errs[i] != nil || kids[i] != kids[0] {
			t.Errorf("load %d: kid %q, err %v; want %q", i, kids[i], errs[i], kids[0])
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, "auth", ".dev-signing-key-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestMintDevTokenClaims(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	v, err := NewVerifier(context.Background(), Options{Mode: ModeDev, Issuer: "https://fhir.example/fhir", Audience: "https://fhir.example/fhir", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	base := TokenOptions{Issuer: "https://fhir.example/fhir", Audience: "https://fhir.example/fhir"}
	with := func(f func(*TokenOptions)) TokenOptions { o := base; f(&o); return o }
	tests := []struct {
		name    string
		opts    TokenOptions
		wantErr error
		check   func(*Principal) bool
	}{
		{name: "patient token", opts: with(func(o *TokenOptions) {
			o.Scope, o.Patient, o.FHIRUser = "patient/QuestionnaireResponse.cruds launch/patient", "pat-anna", "Patient/pat-anna"
		}), check: func(p *Principal) bool {
			return p.Patient == "pat-anna" && p.Subject == "Patient/pat-anna" && p.PatientOnly("QuestionnaireResponse", ActionCreate)
		}},
		{name: "subject and client", opts: with(func(o *TokenOptions) { o.Scope, o.Subject, o.ClientID = "user/*.r", "s-1", "c-1" }),
			check: func(p *Principal) bool { return p.Subject == "s-1" && p.ClientID == "c-1" }},
		{name: "negative TTL is expired", opts: with(func(o *TokenOptions) { o.Scope, o.TTL = "user/*.r", -time.Minute }), wantErr: jwt.ErrTokenExpired},
		{name: "default issuer does not match this server", opts: TokenOptions{Scope: "user/*.r", Audience: base.Audience}, wantErr: jwt.ErrTokenInvalidIssuer},
		{name: "default audience does not match this server", opts: TokenOptions{Scope: "user/*.r", Issuer: base.Issuer}, wantErr: jwt.ErrTokenInvalidAudience},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, err := MintDevToken(dir, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Verify(context.Background(), tok)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(p) {
				t.Errorf("principal %+v", p)
			}
		})
	}
}

func TestDevJWKSAndBanner(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k, err := LoadDevKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(k.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 || set.Keys[0]["kid"] != k.KeyID() || set.Keys[0]["alg"] != "ES256" || set.Keys[0]["kty"] != "EC" {
		t.Errorf("JWKS %s", k.JWKS())
	}
	if _, private := set.Keys[0]["d"]; private {
		t.Error("the JWKS holds the private key")
	}
	// A verifier fed the served JWKS accepts dev tokens: clients can check them the same way.
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, k.JWKS(), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(context.Background(), Options{Mode: ModeJWKS, Issuer: DevIssuer, Audience: DevAudience, JWKSFile: path})
	if err != nil {
		t.Fatal(err)
	}

	banner, err := DevBanner(k, "http://localhost:8080/fhir", TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"export TOKEN=", "curl -H \"Authorization: Bearer $TOKEN\" http://localhost:8080/fhir/", DevAdminScope, k.Path(), "fhir-server token"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	tok := strings.Fields(banner[strings.Index(banner, "export TOKEN=")+len("export TOKEN="):])[0]
	p, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("banner token refused: %v", err)
	}
	if p.Access("CarePlan", ActionDelete) != AccessAll || p.Subject != "dev-admin" {
		t.Errorf("banner token principal %+v", p)
	}
}
