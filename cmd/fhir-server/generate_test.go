package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestGenerateThenLoad runs `fhir-server generate` into a file and `fhir-server load` of that
// file into the embedded database, twice: the second load finds everything unchanged.
func TestGenerateThenLoad(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"FHIR_DATA_DIR": filepath.Join(dir, "data")}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	out := filepath.Join(dir, "generated.ndjson")

	var stderr bytes.Buffer
	if err := run(t.Context(), []string{"generate", "--patients", "2", "--seed", "5", "--out", out}, lookup, &bytes.Buffer{}, &stderr); err != nil {
		t.Fatalf("generate: %v", err)
	}
	if !strings.Contains(stderr.String(), "for 2 patients (seed 5) to "+out) {
		t.Errorf("generate did not report what it wrote: %q", stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := run(t.Context(), []string{"generate", "--patients", "2", "--seed", "5"}, lookup, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stdout.Bytes(), data) {
		t.Error("generate to stdout differs from generate --out with the same seed")
	}

	lines := bytes.Count(data, []byte("\n"))
	for i, want := range []string{`total\s+` + strconv.Itoa(lines) + `\s+0\s+0\s+0`, `total\s+0\s+0\s+` + strconv.Itoa(lines) + `\s+0`} {
		var summary bytes.Buffer
		if err := run(t.Context(), []string{"load", out}, lookup, &summary, &syncBuffer{}); err != nil {
			t.Fatalf("load %d: %v", i+1, err)
		}
		if !regexp.MustCompile(want).MatchString(summary.String()) {
			t.Errorf("load %d summary does not match %s:\n%s", i+1, want, summary.String())
		}
	}
}

func TestLoadAndGenerateRejectBadArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"load without paths", []string{"load"}, "name at least one file"},
		{"load of a missing file", []string{"load", "--url", "http://localhost:1/fhir", "no-such-file.json"}, "no-such-file.json"},
		{"load with a relative URL", []string{"load", "--url", "localhost:8080/fhir", "."}, "not an absolute http(s) URL"},
		{"token without URL", []string{"load", "--token", "x", "."}, "--token is only used with --url"},
		{"generate without patients", []string{"generate", "--patients", "0"}, "at least 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lookup := func(string) (string, bool) { return "", false }
			err := run(t.Context(), tc.args, lookup, &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
