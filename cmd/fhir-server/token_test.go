package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/patient-involvement/fhir-server/internal/auth"
)

// TestTokenCommand runs `fhir-server token` and checks its token with a dev mode verifier on
// the same data directory.
func TestTokenCommand(t *testing.T) {
	t.Parallel()
	const base = "https://fhir.example.org/fhir"
	tests := []struct {
		name     string
		args     []string // after "token"; the data dir is added
		env      map[string]string
		audience string
		wantErr  error
		check    func(*auth.Principal) bool
	}{
		{name: "patient token", args: []string{"--scope", "patient/*.cruds launch/patient", "--patient", "pat-anna-jensen"},
			audience: auth.DevAudience,
			check: func(p *auth.Principal) bool {
				return p.Patient == "pat-anna-jensen" && p.PatientOnly("QuestionnaireResponse", auth.ActionCreate) &&
					p.Allows("QuestionnaireResponse", auth.ActionConditionalCreate)
			}},
		{name: "practitioner with subject and client", args: []string{"--scope", "user/*.rs", "--fhir-user", "Practitioner/pr-1", "--sub", "s-9", "--client-id", "ehr"},
			audience: auth.DevAudience,
			check: func(p *auth.Principal) bool {
				return p.FHIRUser == "Practitioner/pr-1" && p.Subject == "s-9" && p.ClientID == "ehr" && p.Access("CarePlan", auth.ActionSearch) == auth.AccessAll
			}},
		{name: "negative ttl is expired", args: []string{"--scope", "system/*.*", "--ttl", "-1m"}, audience: auth.DevAudience, wantErr: jwt.ErrTokenExpired},
		{name: "audience follows the base URL", args: []string{"--scope", "system/*.rs", "--base-url", base}, audience: base,
			check: func(p *auth.Principal) bool { return p.Allows("Questionnaire", auth.ActionRead) }},
		{name: "audience from the environment", args: []string{"--scope", "system/*.rs"}, env: map[string]string{"FHIR_JWT_AUDIENCE": "fhir-api"},
			audience: "fhir-api", check: func(p *auth.Principal) bool { return p.Subject == "dev-user" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			// The server makes the key on its first start.
			if _, err := auth.LoadDevKey(dir); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			args := append([]string{"token", "--data-dir", dir}, tc.args...)
			if err := run(context.Background(), args, lookup, &stdout, &stderr); err != nil {
				t.Fatalf("token: %v\n%s", err, stderr.String())
			}
			tok := strings.TrimSpace(stdout.String())
			if strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \n") {
				t.Fatalf("stdout is not one token: %q", stdout.String())
			}
			v, err := auth.NewVerifier(context.Background(), auth.Options{Mode: auth.ModeDev, Issuer: auth.DevIssuer, Audience: tc.audience, DataDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Verify(context.Background(), tok)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("verify: %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if !tc.check(p) {
				t.Errorf("principal %+v", p)
			}
		})
	}
}

// TestTokenNeedsTheServersKey: minting from a data directory where no server has made its dev
// key would make a key of its own, whose tokens no server accepts; the command refuses and
// says what to do.
func TestTokenNeedsTheServersKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"token", "--scope", "system/*.*", "--data-dir", dir}, func(string) (string, bool) { return "", false }, &stdout, &stderr)
	if err == nil {
		t.Fatalf("minted %q from a data directory without a key", stdout.String())
	}
	for _, want := range []string{"has no dev key yet", "start the server", dir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, statErr := os.Stat(filepath.Join(dir, filepath.FromSlash(auth.DevKeyFile))); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("the command made a key: %v", statErr)
	}
	if stdout.Len() != 0 || exitCode(err) != 1 {
		t.Errorf("stdout %q, exit code %d; want nothing and 1", stdout.String(), exitCode(err))
	}
}

func TestTokenCommandUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		wantErr  string
	}{
		{name: "unknown flag", args: []string{"--scope", "system/*.*", "--nope"}, wantCode: 2, wantErr: "flag provided but not defined"},
		{name: "bad ttl", args: []string{"--scope", "system/*.*", "--ttl", "soon"}, wantCode: 2, wantErr: "invalid value"},
		{name: "no scope", args: nil, wantCode: 2, wantErr: "--scope is required"},
		{name: "zero ttl", args: []string{"--scope", "system/*.*", "--ttl", "0s"}, wantCode: 2, wantErr: "--ttl"},
		{name: "extra arguments", args: []string{"--scope", "system/*.*", "extra"}, wantCode: 2, wantErr: "unexpected arguments"},
		{name: "jwks mode", args: []string{"--scope", "system/*.*"},
			env: map[string]string{"FHIR_JWT_ISSUER": "https://idp", "FHIR_JWKS_URL": "https://idp/jwks", "FHIR_JWT_AUDIENCE": "a",
				"FHIR_BASE_URL": "https://fhir.example.org/fhir"},
			wantCode: 2, wantErr: "jwks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			args := append([]string{"token", "--data-dir", t.TempDir()}, tc.args...)
			err := run(context.Background(), args, lookup, &stdout, &stderr)
			if err == nil {
				t.Fatalf("no error; stdout %q", stdout.String())
			}
			if got := exitCode(err); got != tc.wantCode {
				t.Errorf("exit code %d, want %d (%v)", got, tc.wantCode, err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want %q", err, tc.wantErr)
			}
			if !strings.Contains(stderr.String(), "usage: fhir-server token") {
				t.Errorf("no usage message on stderr: %q", stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q", stdout.String())
			}
		})
	}
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"token", "-h"}, func(string) (string, bool) { return "", false }, &bytes.Buffer{}, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	for _, f := range []string{"--scope", "--patient", "--fhir-user", "--ttl", "--data-dir"} {
		if !strings.Contains(stderr.String(), f) {
			t.Errorf("-h does not list %s:\n%s", f, stderr.String())
		}
	}
}
