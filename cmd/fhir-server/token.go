package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/config"
)

const tokenUsage = `usage: fhir-server token --scope SCOPES [--patient ID] [--fhir-user REF] [--ttl 1h]
                         [--sub S] [--client-id C] [--data-dir DIR] [--base-url URL]

Prints an access token signed with the dev key of the data directory, for a server in dev
mode (FHIR_AUTH=dev) on the same data directory; the server makes the key when it first
starts, so start it first. Its iss and aud are the ones
that server expects: FHIR_JWT_ISSUER and FHIR_JWT_AUDIENCE, else the base URL (aud), else
urn:fhir-server:dev. A negative --ttl gives a token that has already expired.

  TOKEN=$(fhir-server token --scope "patient/*.cruds" --patient pat-anna-jensen)
  curl -H "Authorization: Bearer $TOKEN" http://localhost:8080/fhir/QuestionnaireResponse

flags (every server flag is accepted too; these matter here):`

// tokenFlags are the flags listed in the token command's usage.
var tokenFlags = []string{"scope", "patient", "fhir-user", "ttl", "sub", "client-id", "data-dir", "base-url", "jwt-issuer", "jwt-audience"}

// runToken is `fhir-server token`.
func runToken(args []string, env config.Lookup, stdout, stderr io.Writer) error {
	var o auth.TokenOptions
	var fs *flag.FlagSet
	cfg, rest, err := config.ParseCommand("fhir-server token", args, env, func(f *flag.FlagSet) {
		fs = f
		f.StringVar(&o.Scope, "scope", "", `space-separated scopes, e.g. "patient/*.rs" or "system/*.*" (required)`)
		f.StringVar(&o.Patient, "patient", "", "patient claim: the id of the patient in context (needed with patient/ scopes)")
		f.StringVar(&o.FHIRUser, "fhir-user", "", "fhirUser claim, e.g. Practitioner/123")
		f.DurationVar(&o.TTL, "ttl", auth.DefaultDevTokenTTL, "lifetime; negative: already expired")
		f.StringVar(&o.Subject, "sub", "", "sub claim (default: the fhir-user, else dev-user)")
		f.StringVar(&o.ClientID, "client-id", "", "client_id claim (default fhir-server-dev)")
		f.SetOutput(stderr)
		f.Usage = commandUsage(stderr, f, tokenUsage, tokenFlags)
	})
	switch {
	case errors.Is(err, flag.ErrHelp):
		return err
	case err != nil:
		return usageError{err} // a bad flag: the flag package has printed the usage
	}
	fail := func(format string, args ...any) error {
		fs.Usage()
		return usageError{fmt.Errorf("token: "+format, args...)}
	}
	switch {
	case len(rest) > 0:
		return fail("unexpected arguments %q", rest)
	case o.Scope == "":
		return fail("--scope is required")
	case o.TTL == 0:
		return fail("--ttl must not be 0 (negative gives an expired token)")
	case cfg.Auth == config.AuthJWKS:
		return fail("the server is set up for auth mode jwks (FHIR_JWT_ISSUER): it accepts only tokens of its authorization server, not dev tokens")
	}
	// A key made here would be one no server knows: the server makes it, on its first start.
	keyPath := filepath.Join(cfg.DataDir, filepath.FromSlash(auth.DevKeyFile))
	if _, err := os.Stat(keyPath); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("token: the data directory %s has no dev key yet (%s): start the server in dev mode on it first "+
			"(fhir-server serve --data-dir %s), which makes the key, or pass the --data-dir of the running server", cfg.DataDir, keyPath, cfg.DataDir)
	}
	o.Issuer, o.Audience = cfg.JWTIssuer, cfg.JWTAudience
	tok, err := auth.MintDevToken(cfg.DataDir, o)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

// commandUsage prints a command's usage text and then, of the flags of f, only those
// named, in that order: every server flag is accepted, these are the ones that matter here.
func commandUsage(stderr io.Writer, f *flag.FlagSet, usage string, names []string) func() {
	return func() {
		fmt.Fprintln(stderr, usage)
		for _, name := range names {
			if fl := f.Lookup(name); fl != nil {
				fmt.Fprintf(stderr, "  --%s\n    \t%s\n", fl.Name, fl.Usage)
			}
		}
	}
}

// usageError is a command line a command cannot run; main exits with status 2 for it, as
// the flag package does.
type usageError struct{ err error }

// Error implements error.
func (e usageError) Error() string { return e.err.Error() }

// Unwrap returns the cause.
func (e usageError) Unwrap() error { return e.err }

// exitCode is the process status for an error of run: 2 for a bad command line, else 1.
func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}
