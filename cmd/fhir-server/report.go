package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/patient-involvement/fhir-server/internal/config"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/report"
	"github.com/patient-involvement/fhir-server/internal/search"
)

const reportUsage = `usage: fhir-server report --url QUESTIONNAIRE[|VERSION] --period PERIOD [--format html|csv|json]
                          [--url-of-server URL --token TOKEN] [flags]

Writes the patient-experience report of a Questionnaire's responses in a period, per care
unit and overall, as the server's $report does (docs/reports.md). With --url-of-server it
asks a running server (the token needs user/ or system/ scopes that may search
QuestionnaireResponse); without, it reads the configured database directly (MONGODB_URI, or
the embedded database in FHIR_DATA_DIR while no server runs on it), for teams that work
offline. PERIOD is a quarter (2026-Q1), a month (2026-03), a year (2026), a day or a range
of days (2026-01-15..2026-02-14), in FHIR_TIMEZONE.

  fhir-server report --url https://fhir.patient-involvement.example/Questionnaire/lup-outpatient --period 2026-Q2 --format html > lup-q2.html

flags:`

// reportFlags are the flags listed in the report command's usage.
var reportFlags = []string{"url", "period", "format", "url-of-server", "token", "stratifier", "lang", "comments", "compare", "min-count", "status", "version", "out"}

// runReport is `fhir-server report`.
func runReport(ctx context.Context, args []string, env config.Lookup, stdout, stderr io.Writer) error {
	var qURL, period, format, server, token, stratifier, lang, status, version, out string
	var comments, compare bool
	var minCount int
	var fs *flag.FlagSet
	cfg, rest, err := config.ParseCommand("fhir-server report", args, env, func(f *flag.FlagSet) {
		fs = f
		f.StringVar(&qURL, "url", "", "the Questionnaire's canonical url, optionally url|version (required)")
		f.StringVar(&period, "period", "", "the period: 2026-Q1, 2026-03, 2026, 2026-03-14 or 2026-01-15..2026-02-14 (required)")
		f.StringVar(&format, "format", "html", "html, csv or json (a MeasureReport)")
		f.StringVar(&server, "url-of-server", "", "FHIR base URL of a running server, e.g. http://localhost:8080/fhir; empty: read the database directly")
		f.StringVar(&token, "token", "", "bearer token for --url-of-server (FHIR_TOKEN)")
		f.StringVar(&stratifier, "stratifier", report.StratifyCareUnit, "care-unit, none or a FHIRPath expression")
		f.StringVar(&lang, "lang", "", "language of the labels: da, sv or en")
		f.BoolVar(&comments, "comments", false, "list the free-text answers")
		f.BoolVar(&compare, "compare", false, "compare with the period of equal length before")
		f.IntVar(&minCount, "min-count", 0, "smallest count published (default and lowest: FHIR_REPORT_MIN_COUNT)")
		f.StringVar(&status, "status", "", "response statuses counted (default completed,amended)")
		f.StringVar(&version, "version", "", "* reports every version of the url")
		f.StringVar(&out, "out", "", "file to write; empty: standard output")
		f.SetOutput(stderr)
		f.Usage = commandUsage(stderr, f, reportUsage, reportFlags)
	})
	switch {
	case errors.Is(err, flag.ErrHelp):
		return err
	case err != nil:
		return usageError{err}
	}
	fail := func(format string, args ...any) error {
		fs.Usage()
		return usageError{fmt.Errorf("report: "+format, args...)}
	}
	switch {
	case len(rest) > 0:
		return fail("unexpected arguments %q", rest)
	case qURL == "":
		return fail("--url (the Questionnaire's canonical url) is required")
	case period == "":
		return fail("--period is required")
	case format != "html" && format != "csv" && format != "json":
		return fail("--format is %q: give html, csv or json", format)
	case token != "" && server == "":
		return fail("--token is only used with --url-of-server")
	}
	start, end, err := report.ParsePeriod(period, cfg.Location) // set by ParseCommand
	if err != nil {
		return fail("%v", err)
	}
	q := url.Values{report.ParamURL: {qURL}, report.ParamPeriodStart: {start.Format(time.RFC3339)}, report.ParamPeriodEnd: {end.Format(time.RFC3339)},
		report.ParamStratifier: {stratifier}}
	for name, v := range map[string]string{report.ParamLang: lang, report.ParamStatus: status, report.ParamVersion: version} {
		if v != "" {
			q.Set(name, v)
		}
	}
	if comments {
		q.Set(report.ParamComments, "true")
	}
	if compare {
		q.Set(report.ParamCompare, "previous")
	}
	if minCount != 0 {
		q.Set(report.ParamMinCount, strconv.Itoa(minCount))
	}
	var body []byte
	if server != "" {
		if token == "" {
			token, _ = env("FHIR_TOKEN")
		}
		body, err = remoteReport(ctx, server, token, format, q)
	} else {
		body, err = localReport(ctx, cfg, format, q, stderr)
	}
	if err != nil {
		return err
	}
	if out == "" {
		_, err = stdout.Write(body)
		return err
	}
	return os.WriteFile(out, body, 0o644)
}

// remoteReport asks the server at base for the report.
func remoteReport(ctx context.Context, base, token, format string, q url.Values) ([]byte, error) {
	q.Set("_format", format)
	u := strings.TrimRight(base, "/") + "/Questionnaire/$report?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("report: --url-of-server %q: %w", base, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Minute}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("report: read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("report: the server answered %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

// newReports makes the reports of the server and of the report command, which read the
// responses' stored search values straight from the store that searcher searches.
func newReports(svc *fhir.Service, searcher search.Searcher, cfg *config.Config) (*report.Service, error) {
	source, ok := searcher.(report.Source)
	if !ok {
		return nil, errors.New("the store cannot read responses for reports")
	}
	return report.New(source, svc.Store(), searcher, report.Options{MinCount: cfg.ReportMinCount, Location: cfg.Location})
}

// localReport makes the report from the configured database.
func localReport(ctx context.Context, cfg *config.Config, format string, q url.Values, stderr io.Writer) ([]byte, error) {
	svc, searcher, _, closeDB, err := openService(ctx, cfg, newLogger(cfg, stderr), "report", nil, false)
	if err != nil {
		return nil, err
	}
	defer closeDB()
	rs, err := newReports(svc, searcher, cfg)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	req, err := report.ParseQuery(q, rs.Location())
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	rep, err := rs.Run(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var buf bytes.Buffer
	err = rep.Write(&buf, format, rs.Location())
	return buf.Bytes(), err
}
