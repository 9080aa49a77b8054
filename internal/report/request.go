package report

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// The parameters of $report, as named in the query and in a Parameters body.
const (
	ParamURL         = "url"
	ParamVersion     = "version"
	ParamPeriodStart = "periodStart"
	ParamPeriodEnd   = "periodEnd"
	ParamStratifier  = "stratifier"
	ParamStatus      = "status"
	ParamMinCount    = "min-count"
	ParamCompare     = "compare"
	ParamLang        = "lang"
	ParamComments    = "comments"
	ParamPositive    = "positive"
)

// Stratifier values besides a FHIRPath expression.
const (
	StratifyCareUnit = "care-unit"
	StratifyNone     = "none"
)

// Languages are the languages labels can be asked in.
var Languages = []string{"da", "sv", "en"}

// defaultStatuses are the response statuses reported unless status says otherwise.
var defaultStatuses = []string{"completed", "amended"}

// responseStatuses are the QuestionnaireResponse statuses of R4.
var responseStatuses = []string{"in-progress", "completed", "amended", "entered-in-error", "stopped"}

// Request is what a report is asked for.
type Request struct {
	// ID names the Questionnaire by id (GET …/Questionnaire/{id}/$report); URL by canonical
	// url, with Version when given as url|version.
	ID, URL, Version string
	// AllVersions (version=*) reports every version, merging the items they share.
	AllVersions bool
	// Start and End are the period on authored; End is exclusive.
	Start, End time.Time
	// Stratifier is care-unit (the default), none or a FHIRPath expression.
	Stratifier string
	// Statuses are the response statuses counted.
	Statuses []string
	// MinCount is the smallest count published; 0 takes the server's.
	MinCount int
	// Compare asks for the period of equal length before (compare=previous).
	Compare bool
	// Lang is da, sv or en ("" the Questionnaire's own texts).
	Lang string
	// Comments asks for the free-text answers.
	Comments bool
	// Positive are the option codes counted as positive on every choice item that has
	// them, instead of the top two of its scale.
	Positive []string
}

// ParseQuery reads a $report request from query parameters; dates without a time zone are
// in loc. Parameters whose name starts with "_" (_format, _pretty) are the HTTP layer's and
// are skipped; any other unknown parameter is refused.
func ParseQuery(q url.Values, loc *time.Location) (*Request, error) {
	if loc == nil {
		loc = time.UTC
	}
	r := &Request{Stratifier: StratifyCareUnit, Statuses: defaultStatuses}
	for name, vals := range q {
		if strings.HasPrefix(name, "_") {
			continue
		}
		if len(vals) != 1 {
			return nil, invalid(name, "is given %d times: give it once", len(vals))
		}
		if err := r.set(name, strings.TrimSpace(vals[0]), loc); err != nil {
			return nil, err
		}
	}
	return r, r.check()
}

func invalid(name, format string, args ...any) error {
	return fhir.Errorf(fhir.KindInvalid, "The parameter %s "+format, append([]any{name}, args...)...)
}

func (r *Request) set(name, v string, loc *time.Location) error {
	var err error
	switch name {
	case ParamURL:
		r.URL, r.Version, _ = strings.Cut(v, "|")
		if r.URL == "" {
			return invalid(name, "is empty: give the Questionnaire's canonical url, optionally with |version")
		}
	case ParamVersion:
		if v != "*" {
			return invalid(name, "is %q: only version=* (every version) is served; name one version as url=<url>|<version>", v)
		}
		r.AllVersions = true
	case ParamPeriodStart:
		r.Start, err = ParseDate(v, loc)
	case ParamPeriodEnd:
		r.End, err = ParseDate(v, loc)
	case ParamStratifier:
		if v == "" {
			return invalid(name, "is empty: give care-unit, none or a FHIRPath expression")
		}
		r.Stratifier = v
	case ParamStatus:
		r.Statuses = nil
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(responseStatuses, s) {
				return invalid(name, "names %q, which is no QuestionnaireResponse status (%s)", s, strings.Join(responseStatuses, ", "))
			}
			if !slices.Contains(r.Statuses, s) {
				r.Statuses = append(r.Statuses, s)
			}
		}
	case ParamMinCount:
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 {
			return invalid(name, "is %q: give a whole number of responses, at least 1", v)
		}
		r.MinCount = n
	case ParamCompare:
		if v != "previous" {
			return invalid(name, "is %q: the one comparison served is compare=previous (the period of equal length before)", v)
		}
		r.Compare = true
	case ParamLang:
		if !slices.Contains(Languages, v) {
			return invalid(name, "is %q: labels are served in %s", v, strings.Join(Languages, ", "))
		}
		r.Lang = v
	case ParamComments:
		b, perr := strconv.ParseBool(v)
		if perr != nil || (v != "true" && v != "false") {
			return invalid(name, "is %q: give true or false", v)
		}
		r.Comments = b
	case ParamPositive:
		for _, c := range strings.Split(v, ",") {
			if c = strings.TrimSpace(c); c != "" {
				r.Positive = append(r.Positive, c)
			}
		}
	default:
		return fhir.Errorf(fhir.KindInvalid, "$report has no parameter %s: it takes %s", name,
			strings.Join([]string{ParamURL, ParamVersion, ParamPeriodStart, ParamPeriodEnd, ParamStratifier, ParamStatus, ParamMinCount, ParamCompare, ParamLang, ParamComments, ParamPositive}, ", "))
	}
	if err != nil {
		return invalid(name, "is %q: %v", v, err)
	}
	return nil
}

func (r *Request) check() error {
	switch {
	case r.Start.IsZero() || r.End.IsZero():
		return fhir.Errorf(fhir.KindInvalid, "$report needs a period: periodStart and periodEnd (dates on authored, the end exclusive), e.g. periodStart=2026-01-01&periodEnd=2026-04-01")
	case !r.Start.Before(r.End):
		return fhir.Errorf(fhir.KindInvalid, "periodStart (%s) must come before periodEnd (%s), which is exclusive", r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339))
	}
	return nil
}

// ParseDate reads a FHIR date or dateTime as the instant it starts: 2026, 2026-03,
// 2026-03-01 (midnight in loc) or 2026-03-01T10:00:00+01:00.
func ParseDate(v string, loc *time.Location) (time.Time, error) {
	for _, layout := range []string{"2006", "2006-01", "2006-01-02"} {
		if len(v) == len(layout) {
			if t, err := time.ParseInLocation(layout, v, loc); err == nil {
				return t, nil
			}
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("not a date (YYYY, YYYY-MM, YYYY-MM-DD) or a dateTime with a time zone")
}

// ParseParameters reads a $report request from a Parameters resource: each parameter a
// value[x] (valueDate, valueDateTime, valueString, valueCode, valueUri, valueCanonical,
// valueInteger, valueBoolean) under the query parameter's name.
func ParseParameters(body []byte, loc *time.Location) (*Request, error) {
	var p struct {
		ResourceType string           `json:"resourceType"`
		Parameter    []map[string]any `json:"parameter"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "The body is not JSON: %v", err)
	}
	if p.ResourceType != "Parameters" {
		return nil, fhir.Errorf(fhir.KindInvalid, "POST $report takes a Parameters resource, not %q", p.ResourceType)
	}
	q := url.Values{}
	for i, prm := range p.Parameter {
		name, _ := prm["name"].(string)
		var val string
		found := false
		for k, v := range prm {
			if !strings.HasPrefix(k, "value") {
				continue
			}
			found = true
			switch x := v.(type) {
			case string:
				val = x
			case bool:
				val = strconv.FormatBool(x)
			case float64:
				val = strconv.FormatFloat(x, 'f', -1, 64)
			default:
				found = false
			}
		}
		if name == "" || !found {
			return nil, fhir.Errorf(fhir.KindInvalid, "Parameters.parameter[%d] needs a name and a primitive value[x]", i).At(fmt.Sprintf("Parameters.parameter[%d]", i))
		}
		q[name] = append(q[name], val)
	}
	return ParseQuery(q, loc)
}

// Query writes the request as query parameters (the audit trail's record of it).
func (r *Request) Query() string {
	q := url.Values{}
	if r.URL != "" {
		u := r.URL
		if r.Version != "" {
			u += "|" + r.Version
		}
		q.Set(ParamURL, u)
	}
	if r.AllVersions {
		q.Set(ParamVersion, "*")
	}
	q.Set(ParamPeriodStart, r.Start.Format(time.RFC3339))
	q.Set(ParamPeriodEnd, r.End.Format(time.RFC3339))
	q.Set(ParamStratifier, r.Stratifier)
	q.Set(ParamStatus, strings.Join(r.Statuses, ","))
	if r.MinCount > 0 {
		q.Set(ParamMinCount, strconv.Itoa(r.MinCount))
	}
	if r.Compare {
		q.Set(ParamCompare, "previous")
	}
	if r.Lang != "" {
		q.Set(ParamLang, r.Lang)
	}
	if r.Comments {
		q.Set(ParamComments, "true")
	}
	if len(r.Positive) > 0 {
		q.Set(ParamPositive, strings.Join(r.Positive, ","))
	}
	return q.Encode()
}

// previous is the period of equal length before [start, end): whole calendar months back
// when the period is whole months, else the same duration.
func previous(start, end time.Time) (time.Time, time.Time) {
	if isMonthStart(start) && isMonthStart(end) {
		months := (end.Year()-start.Year())*12 + int(end.Month()) - int(start.Month())
		return start.AddDate(0, -months, 0), start
	}
	return start.Add(-end.Sub(start)), start
}

func isMonthStart(t time.Time) bool {
	return t.Day() == 1 && t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
}
