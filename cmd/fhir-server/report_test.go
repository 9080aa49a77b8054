package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

const lupURL = "https://fhir.patient-involvement.example/Questionnaire/lup-outpatient"

// TestReportCommand writes the LUP 2.0 report of the fixtures for 2026 straight from the
// database, then from a running server on it: the same CSV. Of the 7 completed responses
// each unit has at most 2, so every unit is suppressed and only the overall is published.
func TestReportCommand(t *testing.T) {
	dataDir := t.TempDir()
	env := map[string]string{"FHIR_DATA_DIR": dataDir, "FHIR_ADDR": "127.0.0.1:0", "FHIR_TIMEZONE": "Europe/Copenhagen"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if err := run(t.Context(), []string{"load", filepath.Join("..", "..", "fixtures")}, lookup, &bytes.Buffer{}, &syncBuffer{}); err != nil {
		t.Fatalf("load: %v", err)
	}
	args := []string{"report", "--url", lupURL + "|2.0", "--period", "2026", "--format", "csv"}
	var offline bytes.Buffer
	if err := run(t.Context(), args, lookup, &offline, &syncBuffer{}); err != nil {
		t.Fatalf("report: %v", err)
	}
	lines := strings.Split(offline.String(), "\n")
	if lines[0] != "questionnaire,version,period_start,period_end,stratum,linkId,answer,count,n,percent,mean,suppressed" {
		t.Errorf("header %q", lines[0])
	}
	for _, want := range []string{
		lupURL + ",2.0,2026-01-01,2027-01-01,all,overall.1,,,7,",
		"2026-01-01,2027-01-01,\"Hjerteambulatoriet, Nordby Sygehus\",overall.1,,,,,,true",
	} {
		if !strings.Contains(offline.String(), want) {
			t.Errorf("the CSV has no %q:\n%s", want, offline.String())
		}
	}

	srv := startServe(t, env, "serve")
	defer srv.stop()
	var online bytes.Buffer
	remote := append(args, "--url-of-server", srv.base, "--token", adminToken(t, dataDir))
	if err := run(t.Context(), remote, lookup, &online, &syncBuffer{}); err != nil {
		t.Fatalf("report --url-of-server: %v", err)
	}
	if online.String() != offline.String() {
		t.Errorf("the server's report differs from the database's:\n%s\n---\n%s", online.String(), offline.String())
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no period", []string{"report", "--url", lupURL}, "--period is required"},
		{"bad period", []string{"report", "--url", lupURL, "--period", "spring"}, "give a quarter"},
		{"bad format", []string{"report", "--url", lupURL, "--period", "2026", "--format", "pdf"}, "give html, csv or json"},
		{"a refused token", append(append([]string{}, args...), "--url-of-server", srv.base, "--token", "nonsense"), "401"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := run(t.Context(), c.args, lookup, &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}
