package report

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gofhir/fhirpath"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/pathexpr"
	"github.com/patient-involvement/fhir-server/internal/questionnaire"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// DefaultMinCount is the smallest count a report publishes unless the server is set up
// otherwise (FHIR_REPORT_MIN_COUNT): LUP publishes no unit with fewer than 5 responses.
const DefaultMinCount = 5

// Reader reads a stored resource by id.
type Reader interface {
	// Current returns the current version of typ/id: a fhir.KindNotFound error when there
	// is none.
	Current(ctx context.Context, typ, id string) (*fhir.Resource, error)
}

// Options configure a Service.
type Options struct {
	// MinCount is the default and lowest minimum count (DefaultMinCount when 0).
	MinCount int
	// Location is the time zone of dates given without one (UTC when nil).
	Location *time.Location
	// Now tells the time (time.Now when nil).
	Now func() time.Time
}

// Service makes reports.
type Service struct {
	src      Source
	reader   Reader
	searcher search.Searcher
	opts     Options
}

// New returns a Service that reads responses from src and Questionnaires with reader and
// searcher.
func New(src Source, reader Reader, searcher search.Searcher, opts Options) (*Service, error) {
	if src == nil || reader == nil || searcher == nil {
		return nil, errors.New("report: New needs a response source, a reader and a searcher")
	}
	if opts.MinCount <= 0 {
		opts.MinCount = DefaultMinCount
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{src: src, reader: reader, searcher: searcher, opts: opts}, nil
}

// Location is the time zone of dates given without one.
func (s *Service) Location() *time.Location { return s.opts.Location }

// Run makes the report req asks for. Errors: fhir.KindNotFound when the Questionnaire is
// not stored, KindInvalid for a stratifier that is not FHIRPath, KindUnprocessable for a
// min-count below the server's or a stratifier that fails on a response, and the source's.
func (s *Service) Run(ctx context.Context, req *Request) (*Report, error) {
	if req.MinCount == 0 {
		req.MinCount = s.opts.MinCount
	}
	if req.MinCount < s.opts.MinCount {
		return nil, fhir.Errorf(fhir.KindUnprocessable, "min-count=%d is below this server's minimum of %d responses (FHIR_REPORT_MIN_COUNT): no report may publish smaller counts", req.MinCount, s.opts.MinCount)
	}
	versions, err := s.versions(ctx, req)
	if err != nil {
		return nil, err
	}
	stratify, needBody, err := s.stratifier(ctx, req.Stratifier)
	if err != nil {
		return nil, err
	}
	layout := newLayout(versions, req.AllVersions, req.Positive)
	for _, code := range req.Positive {
		if !layout.hasCode(code) {
			return nil, fhir.Errorf(fhir.KindUnprocessable, "positive=%s names no answer option of the Questionnaire: give the codes of options to count as positive", code)
		}
	}
	newest := versions[len(versions)-1]
	rep := &Report{
		URL: newest.URL, Title: newest.Title, Start: req.Start, End: req.End, Compare: req.Compare,
		Stratifier: req.Stratifier, Statuses: req.Statuses, MinCount: req.MinCount, Lang: req.Lang,
		Comments: req.Comments, Items: layout.Items, Generated: s.opts.Now().UTC(),
	}
	if t := pickText(newest.titles, req.Lang); t != "" {
		rep.Title = t
	}
	sel := Selection{Start: req.Start, End: req.End, Statuses: req.Statuses, Body: needBody || req.Comments}
	for _, v := range versions {
		rep.Versions = append(rep.Versions, v.Version)
		sel.Canonicals = append(sel.Canonicals, v.Canonical())
	}
	if newest.Version != "" {
		// A response that names the url alone answers the newest version.
		sel.Canonicals = append(sel.Canonicals, newest.URL)
	}
	cur := newAggregator(layout, newest.Canonical(), stratify, req.Comments)
	var prev *aggregator
	if req.Compare {
		rep.PrevStart, rep.PrevEnd = previous(req.Start, req.End)
		sel.Start = rep.PrevStart
		prev = newAggregator(layout, newest.Canonical(), stratify, false)
	}
	err = s.src.ReportRows(ctx, sel, func(r *Row) error {
		if prev != nil && r.Authored.Before(req.Start) {
			return prev.add(r)
		}
		return cur.add(r)
	})
	if err != nil {
		return nil, err
	}
	rep.Strata = layout.finish(cur, req.MinCount, req.Stratifier != StratifyNone)
	if prev != nil {
		old := layout.finish(prev, req.MinCount, req.Stratifier != StratifyNone)
		byKey := map[string]*Stratum{}
		for _, st := range old {
			byKey[st.Key] = st
		}
		for _, st := range rep.Strata {
			if p := byKey[st.Key]; p != nil {
				st.Previous = p
			} else {
				st.Previous = &Stratum{Key: st.Key, Label: st.Label, Suppressed: true, Items: emptyFigures(layout)}
			}
		}
	}
	return rep, nil
}

// hasCode reports whether some choice item has an answer option with code.
func (l *Layout) hasCode(code string) bool {
	for _, it := range l.Items {
		for _, o := range it.Options {
			if it.kind() == kindChoice && o.Code == code {
				return true
			}
		}
	}
	return false
}

func emptyFigures(l *Layout) []*Figures {
	out := make([]*Figures, len(l.Items))
	for i, it := range l.Items {
		out[i] = &Figures{Suppressed: true, Options: make([]OptionFigures, len(it.Options))}
		for oi := range out[i].Options {
			out[i].Options[oi].Suppressed = true
		}
	}
	return out
}

// finish turns counts into published strata: the overall first, then the others by label.
func (l *Layout) finish(a *aggregator, minCount int, stratified bool) []*Stratum {
	all := l.raw(a.all)
	var strata []*Stratum
	for _, acc := range a.order {
		strata = append(strata, l.raw(acc))
	}
	sortStrata(strata)
	if stratified {
		l.significance(all, strata)
	}
	l.suppress(all, strata, minCount)
	if stratified {
		// The overall comments are those of the published strata only.
		for i, it := range l.Items {
			if it.kind() != kindText {
				continue
			}
			var cs []string
			for _, st := range strata {
				if !st.Suppressed {
					cs = append(cs, st.Items[i].Comments...)
				}
			}
			all.Items[i].Comments, all.Items[i].N = cs, len(cs)
		}
	}
	return append([]*Stratum{all}, strata...)
}

// versions finds the Questionnaire versions a request reports, oldest first.
func (s *Service) versions(ctx context.Context, req *Request) ([]*Version, error) {
	url, version := req.URL, req.Version
	if req.ID != "" {
		res, err := s.reader.Current(ctx, "Questionnaire", req.ID)
		if err != nil {
			return nil, err
		}
		if res.Deleted {
			return nil, fhir.Errorf(fhir.KindNotFound, "Questionnaire/%s is deleted", req.ID)
		}
		v, err := ReadVersion(res.Raw)
		if err != nil {
			return nil, err
		}
		if v.URL == "" || !req.AllVersions {
			return []*Version{v}, nil
		}
		url = v.URL
	}
	if url == "" {
		return nil, fhir.Errorf(fhir.KindInvalid, "$report needs the Questionnaire: GET /fhir/Questionnaire/{id}/$report, or url=<canonical url>[|version]")
	}
	stored, err := questionnaire.FindByURL(ctx, s.searcher, url)
	if err != nil {
		return nil, err
	}
	var out []*Version
	for _, res := range stored {
		v, err := ReadVersion(res.Raw)
		if err != nil {
			return nil, err
		}
		if v.URL == url {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b *Version) int { return fhir.CompareVersions(a.Version, b.Version) })
	if len(out) == 0 {
		return nil, fhir.Errorf(fhir.KindNotFound, "No Questionnaire with url %s is stored on this server", url)
	}
	switch {
	case req.AllVersions:
		return out, nil
	case version == "":
		return out[len(out)-1:], nil
	}
	for _, v := range out {
		if v.Version == version {
			return []*Version{v}, nil
		}
	}
	have := make([]string, len(out))
	for i, v := range out {
		have[i] = v.Version
	}
	return nil, fhir.Errorf(fhir.KindNotFound, "Questionnaire %s has no version %s stored (it has %s)", url, version, strings.Join(have, ", "))
}

// stratifierTimeout bounds the evaluation of a FHIRPath stratifier on one response.
const stratifierTimeout = time.Second

// stratifier returns the function that puts a response in its stratum, and whether it
// needs the response's body.
func (s *Service) stratifier(ctx context.Context, expr string) (func(*Row) (string, string, error), bool, error) {
	switch expr {
	case StratifyNone:
		return nil, false, nil
	case StratifyCareUnit, "":
		return func(r *Row) (string, string, error) {
			if r.Unit == "" {
				return "", noUnit, nil
			}
			label := r.UnitName
			if label == "" {
				_, label, _ = strings.Cut(r.Unit, "|")
			}
			return r.Unit, label, nil
		}, false, nil
	}
	compiled, err := pathexpr.Compile(expr)
	if err != nil {
		return nil, false, fhir.Errorf(fhir.KindInvalid, "The stratifier %q is neither care-unit, none nor a FHIRPath expression: %v", expr, err)
	}
	return func(r *Row) (string, string, error) {
		out, err := pathexpr.Evaluate(compiled, r.Body, fhirpath.WithContext(ctx), fhirpath.WithTimeout(stratifierTimeout), fhirpath.WithMaxCollectionSize(1000))
		if err != nil {
			return "", "", fhir.Errorf(fhir.KindUnprocessable, "The stratifier %q fails on a response: %v", expr, err)
		}
		if len(out) == 0 {
			return "", noValue, nil
		}
		v := out[0].String()
		return v, v, nil
	}, true, nil
}

// Labels of strata without a value.
const (
	noUnit  = "(no care unit)"
	noValue = "(no value)"
)
