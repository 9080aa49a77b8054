package config

import (
	"flag"
	"slices"
	"strings"
	"testing"
)

func TestDemoAndCommandArguments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantDemo bool
		wantURL  string
		wantRest []string
		wantErr  string
	}{
		{name: "off by default", args: nil},
		{name: "flag", args: []string{"--demo"}, wantDemo: true},
		{name: "environment", env: map[string]string{"FHIR_DEMO": "true"}, wantDemo: true},
		{name: "flag overrides environment", args: []string{"--demo=false"}, env: map[string]string{"FHIR_DEMO": "1"}},
		{name: "bad environment value", env: map[string]string{"FHIR_DEMO": "yes please"}, wantErr: "FHIR_DEMO"},
		{name: "command flags and arguments", args: []string{"--url", "http://x/fhir", "--data-dir", "/tmp/d", "a.json", "dir"},
			wantURL: "http://x/fhir", wantRest: []string{"a.json", "dir"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			var url string
			c, rest, err := ParseCommand("test", tc.args, env, func(fs *flag.FlagSet) {
				fs.StringVar(&url, "url", "", "")
			})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Demo != tc.wantDemo || url != tc.wantURL || !slices.Equal(rest, tc.wantRest) {
				t.Errorf("Demo %v, url %q, rest %q; want %v, %q, %q", c.Demo, url, rest, tc.wantDemo, tc.wantURL, tc.wantRest)
			}
		})
	}
	if _, err := Parse("test", []string{"stray"}, func(string) (string, bool) { return "", false }); err == nil || !strings.Contains(err.Error(), "unexpected arguments: stray") {
		t.Errorf("Parse with an argument: %v, want unexpected arguments", err)
	}
}
