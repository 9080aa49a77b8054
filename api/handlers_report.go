package api

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/report"
)

// reportOperation is the OperationDefinition of $report.
const reportOperation = "https://fhir.patient-involvement.example/OperationDefinition/Questionnaire-report"

// Media types of the report's forms besides FHIR JSON.
const (
	mediaCSV  = "text/csv"
	mediaHTML = "text/html"
)

// reportMediaKey holds the negotiated media type of a report.
const reportMediaKey = "fhir.report.media"

// isReportPath says whether a /fhir path is the $report operation.
func isReportPath(path string) bool { return strings.HasSuffix(path, "/$report") }

// reportMedia picks a report's form from _format (json, csv, html or their media types) or
// Accept; FHIR JSON when neither names another.
func reportMedia(format, accept string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "csv", mediaCSV:
		return mediaCSV, nil
	case "html", mediaHTML:
		return mediaHTML, nil
	case "":
	default:
		if m, err := responseMedia(format, ""); err == nil {
			return m, nil
		}
		return "", fhir.Errorf(fhir.KindNotAcceptable, "_format=%s is not served for $report: use json, csv or html", format)
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		switch mt {
		case mediaCSV:
			return mediaCSV, nil
		case mediaHTML:
			return mediaHTML, nil
		}
	}
	return responseMedia("", accept)
}

// report serves GET and POST /fhir/Questionnaire/$report and /fhir/Questionnaire/{id}/$report.
//
//	@Summary		Patient-experience report of a Questionnaire's responses
//	@Description	Counts the responses to a Questionnaire authored in a period, per care unit (or another stratifier) and overall, as LUP and the Swedish national patient survey report them: per item the answer distribution, the mean of the options' ordinal values, the share of positive answers and whether a unit is significantly above or below the rest (two-proportion test at 95 %); per group the dimension score; for numbers n, mean, median, min and max; for booleans the share true; with comments=true the free-text answers.
//	@Description	No figure below min-count (default and lowest: the server's FHIR_REPORT_MIN_COUNT, 5 unless set) is published: smaller strata are suppressed, one suppressed stratum takes the next smallest with it, and small option counts show only as rounded shares. See docs/reports.md.
//	@Description	The answer is a MeasureReport (application/fhir+json), CSV (_format=csv) or a printable HTML page with charts (_format=html). POST takes the same parameters in a Parameters resource. Only user/ or system/ tokens that may search QuestionnaireResponse get reports; each is audited with its parameters.
//	@ID				report
//	@Tags			Questionnaire
//	@Produce		application/fhir+json,text/csv,text/html
//	@Param			url				query		string	false	"Questionnaire canonical url, optionally with |version (on /fhir/Questionnaire/$report)"	example(https://fhir.patient-involvement.example/Questionnaire/lup-outpatient|2.0)
//	@Param			periodStart		query		string	true	"First day (or dateTime) of the period, on authored"	example(2026-03-01)
//	@Param			periodEnd		query		string	true	"End of the period, exclusive"	example(2026-12-01)
//	@Param			stratifier		query		string	false	"care-unit (default), none, or a FHIRPath expression over the response"
//	@Param			status			query		string	false	"Response statuses counted (default completed,amended)"
//	@Param			min-count		query		integer	false	"Smallest count published; not below the server's"
//	@Param			compare			query		string	false	"previous: the period of equal length before, with differences"	Enums(previous)
//	@Param			lang			query		string	false	"Language of the labels"	Enums(da,sv,en)
//	@Param			comments		query		boolean	false	"true lists the free-text answers of the strata published"
//	@Param			version			query		string	false	"* reports every version, merging items with the same linkId, type and options"	Enums(*)
//	@Param			positive		query		string	false	"Option codes counted as positive on every choice item (default: the top two of its scale)"
//	@Param			_format			query		string	false	"json (MeasureReport), csv or html; overrides Accept"	Enums(json,csv,html)
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response and the server log; the server makes one when absent or malformed"
//	@Success		200				{object}	Resource	"A MeasureReport (or the CSV or HTML form)"
//	@Failure		400				{object}	fhir.OperationOutcome	"A parameter that is unknown, repeated or malformed, or no period"
//	@Failure		401				{object}	fhir.OperationOutcome	"No valid bearer token"
//	@Failure		403				{object}	fhir.OperationOutcome	"The token may not search every QuestionnaireResponse (patient/ scopes never may)"
//	@Failure		404				{object}	fhir.OperationOutcome	"No such Questionnaire, or $report asked of another type"
//	@Failure		406				{object}	fhir.OperationOutcome	"_format or Accept names no form served"
//	@Failure		422				{object}	fhir.OperationOutcome	"min-count below the server's, or a stratifier that fails on a response"
//	@Failure		503				{object}	fhir.OperationOutcome	"The database is unreachable or busy (with Retry-After)"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Security		BearerAuth
//	@Router			/fhir/Questionnaire/$report [get]
func (s *Server) report(c *gin.Context) error {
	if c.Param("type") != "Questionnaire" {
		return fhir.Errorf(fhir.KindNotFound, "$report is served on Questionnaire only: /fhir/Questionnaire/$report or /fhir/Questionnaire/{id}/$report")
	}
	if s.opts.Reports == nil {
		return fhir.Errorf(fhir.KindNotSupported, "This server makes no reports")
	}
	if p := principal(c); p.Access("QuestionnaireResponse", auth.ActionSearch) != auth.AccessAll {
		return fhir.Errorf(fhir.KindForbidden, "A report counts every response to the Questionnaire: it needs a user/ or system/ scope that allows searching QuestionnaireResponse (such as user/QuestionnaireResponse.s); patient/ scopes never get reports")
	}
	loc := s.opts.Reports.Location()
	var req *report.Request
	var err error
	if c.Request.Method == http.MethodPost {
		body, rerr := io.ReadAll(c.Request.Body)
		if rerr != nil {
			return rerr
		}
		if len(bytes.TrimSpace(body)) == 0 {
			return fhir.Errorf(fhir.KindInvalid, "POST $report takes a Parameters resource with the report's parameters")
		}
		req, err = report.ParseParameters(body, loc)
	} else {
		req, err = report.ParseQuery(c.Request.URL.Query(), loc)
	}
	if err != nil {
		return err
	}
	req.ID = c.Param("id")
	if req.ID != "" && req.URL != "" {
		return fhir.Errorf(fhir.KindInvalid, "Name the Questionnaire once: by its id in the path or by url, not both")
	}
	noteQuery(c, req.Query())
	rep, err := s.opts.Reports.Run(c.Request.Context(), req)
	if err != nil {
		return err
	}
	media := c.GetString(reportMediaKey)
	format := map[string]string{mediaCSV: report.FormatCSV, mediaHTML: report.FormatHTML}[media]
	if format == "" {
		format = report.FormatJSON
	}
	var buf bytes.Buffer
	if err := rep.Write(&buf, format, loc); err != nil {
		return fhir.Wrap(err, "write the report as %s", format)
	}
	switch format {
	case report.FormatCSV:
		c.Header("Content-Disposition", `attachment; filename="report.csv"`)
		c.Data(http.StatusOK, mediaCSV+"; charset=utf-8; header=present", buf.Bytes())
	case report.FormatHTML:
		c.Data(http.StatusOK, mediaHTML+"; charset=utf-8", buf.Bytes())
	default:
		writeJSON(c, http.StatusOK, buf.Bytes())
	}
	return nil
}

// reportPost serves POST /fhir/Questionnaire/$report.
//
//	@Summary		Patient-experience report, parameters in a Parameters resource
//	@Description	As GET /fhir/Questionnaire/$report, with each parameter a Parameters.parameter of the same name and a primitive value[x] (valueString, valueDate, valueCode, valueInteger, valueBoolean…), sent as application/fhir+json, e.g. {"resourceType":"Parameters","parameter":[{"name":"url","valueUri":"https://fhir.patient-involvement.example/Questionnaire/lup-outpatient"},{"name":"periodStart","valueDate":"2026-03-01"},{"name":"periodEnd","valueDate":"2026-12-01"}]}.
//	@ID				report.post
//	@Tags			Questionnaire
//	@Produce		application/fhir+json,text/csv,text/html
//	@Param			_format			query		string	false	"json (MeasureReport), csv or html; overrides Accept"	Enums(json,csv,html)
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response and the server log; the server makes one when absent or malformed"
//	@Success		200				{object}	Resource	"A MeasureReport (or the CSV or HTML form)"
//	@Failure		400				{object}	fhir.OperationOutcome	"A parameter that is unknown, repeated or malformed, or no period"
//	@Failure		401				{object}	fhir.OperationOutcome	"No valid bearer token"
//	@Failure		403				{object}	fhir.OperationOutcome	"The token may not search every QuestionnaireResponse (patient/ scopes never may)"
//	@Failure		404				{object}	fhir.OperationOutcome	"No such Questionnaire"
//	@Failure		422				{object}	fhir.OperationOutcome	"min-count below the server's, or a stratifier that fails on a response"
//	@Failure		503				{object}	fhir.OperationOutcome	"The database is unreachable or busy (with Retry-After)"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Security		BearerAuth
//	@Router			/fhir/Questionnaire/$report [post]
func (s *Server) reportPost(c *gin.Context) error { return s.report(c) }

// reportInstance serves GET /fhir/Questionnaire/{id}/$report.
//
//	@Summary		Patient-experience report of one stored Questionnaire
//	@Description	As GET /fhir/Questionnaire/$report, the Questionnaire named by its id (with version=*, every version of its url).
//	@ID				report.instance
//	@Param			id				path		string	true	"Logical id of the Questionnaire"	example(lup-outpatient-v2)
//	@Param			periodStart		query		string	true	"First day (or dateTime) of the period, on authored"	example(2026-03-01)
//	@Param			periodEnd		query		string	true	"End of the period, exclusive"	example(2026-12-01)
//	@Param			stratifier		query		string	false	"care-unit (default), none, or a FHIRPath expression over the response"
//	@Param			lang			query		string	false	"Language of the labels"	Enums(da,sv,en)
//	@Param			comments		query		boolean	false	"true lists the free-text answers of the strata published"
//	@Tags			Questionnaire
//	@Produce		application/fhir+json,text/csv,text/html
//	@Param			_format			query		string	false	"json (MeasureReport), csv or html; overrides Accept"	Enums(json,csv,html)
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response and the server log; the server makes one when absent or malformed"
//	@Success		200				{object}	Resource	"A MeasureReport (or the CSV or HTML form)"
//	@Failure		400				{object}	fhir.OperationOutcome	"A parameter that is unknown, repeated or malformed, or no period"
//	@Failure		401				{object}	fhir.OperationOutcome	"No valid bearer token"
//	@Failure		403				{object}	fhir.OperationOutcome	"The token may not search every QuestionnaireResponse (patient/ scopes never may)"
//	@Failure		404				{object}	fhir.OperationOutcome	"No such Questionnaire"
//	@Failure		422				{object}	fhir.OperationOutcome	"min-count below the server's, or a stratifier that fails on a response"
//	@Failure		503				{object}	fhir.OperationOutcome	"The database is unreachable or busy (with Retry-After)"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Security		BearerAuth
//	@Router			/fhir/Questionnaire/{id}/$report [get]
func (s *Server) reportInstance(c *gin.Context) error { return s.report(c) }

// reportInstancePost serves POST /fhir/Questionnaire/{id}/$report.
//
//	@Summary		Patient-experience report of one stored Questionnaire, parameters in a Parameters resource
//	@Description	As GET /fhir/Questionnaire/{id}/$report, with each parameter a Parameters.parameter of the same name and a primitive value[x], sent as application/fhir+json (see POST /fhir/Questionnaire/$report).
//	@ID				report.instance.post
//	@Param			id				path		string	true	"Logical id of the Questionnaire"	example(lup-outpatient-v2)
//	@Tags			Questionnaire
//	@Produce		application/fhir+json,text/csv,text/html
//	@Param			_format			query		string	false	"json (MeasureReport), csv or html; overrides Accept"	Enums(json,csv,html)
//	@Param			X-Request-Id	header		string	false	"Id for this request, echoed in the response and the server log; the server makes one when absent or malformed"
//	@Success		200				{object}	Resource	"A MeasureReport (or the CSV or HTML form)"
//	@Failure		400				{object}	fhir.OperationOutcome	"A parameter that is unknown, repeated or malformed, or no period"
//	@Failure		401				{object}	fhir.OperationOutcome	"No valid bearer token"
//	@Failure		403				{object}	fhir.OperationOutcome	"The token may not search every QuestionnaireResponse (patient/ scopes never may)"
//	@Failure		404				{object}	fhir.OperationOutcome	"No such Questionnaire"
//	@Failure		422				{object}	fhir.OperationOutcome	"min-count below the server's, or a stratifier that fails on a response"
//	@Failure		503				{object}	fhir.OperationOutcome	"The database is unreachable or busy (with Retry-After)"
//	@Header			all				{string}	X-Request-Id	"The request id: the client's X-Request-Id or one made by the server"
//	@Security		BearerAuth
//	@Router			/fhir/Questionnaire/{id}/$report [post]
func (s *Server) reportInstancePost(c *gin.Context) error { return s.report(c) }
