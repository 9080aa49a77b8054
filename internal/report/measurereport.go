package report

import (
	"encoding/json"
	"strings"
	"time"
)

// Extension and code-system URLs of the MeasureReport form (docs/reports.md).
const (
	sdBase = "https://fhir.patient-involvement.example/StructureDefinition/"
	// MeasureURL is the Measure the reports are reports of: a Questionnaire's results.
	MeasureURL        = "https://fhir.patient-involvement.example/Measure/questionnaire-report"
	extQuestionnaire  = sdBase + "report-questionnaire"
	extSuppressed     = sdBase + "report-suppressed"
	extSharePositive  = sdBase + "report-share-positive"
	extSignificance   = sdBase + "report-significance"
	extMinCount       = sdBase + "report-min-count"
	extPrevious       = sdBase + "report-previous"
	extStatistic      = sdBase + "report-statistic"
	extShareOnly      = sdBase + "report-share-rounded"
	populationSystem  = "http://terminology.hl7.org/CodeSystem/measure-population"
	improvementSystem = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
)

type jsonObject = map[string]any

// MeasureReport renders the report as a FHIR R4 MeasureReport (type summary): a group per
// item, coded by the Questionnaire url and linkId, with the overall figures; its stratifiers
// are the strata (care units) and the answer options. Withheld figures are left out and the
// stratum or option carries the report-suppressed extension.
func (r *Report) MeasureReport(loc *time.Location) ([]byte, error) {
	mr := jsonObject{
		"resourceType": "MeasureReport",
		"status":       "complete",
		"type":         "summary",
		"measure":      MeasureURL,
		"date":         r.Generated.Format(time.RFC3339),
		"period":       fhirPeriod(r.Start, r.End, loc),
		"improvementNotation": jsonObject{"coding": []any{jsonObject{
			"system": improvementSystem, "code": "increase", "display": "Increased score indicates improvement"}}},
		"extension": []any{
			jsonObject{"url": extQuestionnaire, "valueCanonical": r.canonical()},
			jsonObject{"url": extMinCount, "valueInteger": r.MinCount},
		},
	}
	if r.Compare {
		mr["extension"] = append(mr["extension"].([]any), jsonObject{"url": extPrevious, "valuePeriod": fhirPeriod(r.PrevStart, r.PrevEnd, loc)})
	}
	all := r.Strata[0]
	var groups []any
	for i, it := range r.Items {
		if it.kind() == kindText {
			continue
		}
		g := jsonObject{
			"code": jsonObject{"coding": []any{jsonObject{"system": r.URL, "code": it.LinkID, "display": it.Text(r.Lang)}}, "text": it.Text(r.Lang)},
		}
		r.figures(g, all, i)
		var strata []any
		for _, s := range r.Strata[1:] {
			st := jsonObject{"value": jsonObject{"text": s.Label}}
			if s.Key != "" {
				st["value"] = jsonObject{"coding": []any{unitCoding(s.Key)}, "text": s.Label}
			}
			r.figures(st, s, i)
			strata = append(strata, st)
		}
		var stratifiers []any
		if len(strata) > 0 {
			stratifiers = append(stratifiers, jsonObject{"code": []any{jsonObject{"text": r.Stratifier}}, "stratum": strata})
		}
		if len(it.Options) > 0 {
			var opts, unitOpts []any
			for _, s := range r.Strata {
				f := s.Items[i]
				for oi, o := range it.Options {
					st := jsonObject{"value": optionConcept(o, r.Lang)}
					if s != all {
						st = jsonObject{"component": []any{
							jsonObject{"code": jsonObject{"text": r.Stratifier}, "value": jsonObject{"text": s.Label}},
							jsonObject{"code": jsonObject{"text": "answer"}, "value": optionConcept(o, r.Lang)},
						}}
					}
					of := f.Options[oi]
					switch {
					case of.Count != nil:
						st["population"] = []any{population("numerator", *of.Count)}
						if of.Share != nil {
							st["measureScore"] = jsonObject{"value": round(*of.Share*100, 1), "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
						}
					case of.Share != nil:
						st["measureScore"] = jsonObject{"value": round(*of.Share*100, 0), "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
						st["extension"] = []any{jsonObject{"url": extShareOnly, "valueBoolean": true}}
					default:
						st["extension"] = []any{jsonObject{"url": extSuppressed, "valueBoolean": true}}
					}
					if s == all {
						opts = append(opts, st)
					} else {
						unitOpts = append(unitOpts, st)
					}
				}
			}
			stratifiers = append(stratifiers, jsonObject{"code": []any{jsonObject{"text": "answer"}}, "stratum": opts})
			if len(unitOpts) > 0 {
				// Components: one code per component, in the components' order.
				stratifiers = append(stratifiers, jsonObject{"code": []any{jsonObject{"text": r.Stratifier}, jsonObject{"text": "answer"}}, "stratum": unitOpts})
			}
		}
		if len(stratifiers) > 0 {
			g["stratifier"] = stratifiers
		}
		groups = append(groups, g)
	}
	if len(groups) > 0 {
		mr["group"] = groups
	}
	return json.Marshal(mr)
}

// figures adds a stratum's figures of item i to a group or stratum element: populations
// (initial-population: responses; denominator: the item's n; numerator: positive answers
// when published), measureScore (the mean, or a boolean's share true in %), and extensions
// for the share positive, the significance mark, the statistics and the previous period.
func (r *Report) figures(el jsonObject, s *Stratum, i int) {
	f := s.Items[i]
	if s.Suppressed || f.Suppressed {
		el["extension"] = []any{jsonObject{"url": extSuppressed, "valueBoolean": true}}
		return
	}
	el["population"] = []any{population("initial-population", s.Responses), population("denominator", f.N)}
	var ext []any
	if f.Mean != nil {
		el["measureScore"] = jsonObject{"value": round(*f.Mean, 3)}
	}
	if f.SharePositive != nil {
		ext = append(ext, jsonObject{"url": extSharePositive, "valueDecimal": round(*f.SharePositive*100, 1)})
		if r.Items[i].kind() == kindBoolean {
			el["measureScore"] = jsonObject{"value": round(*f.SharePositive*100, 1), "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
		}
	}
	if f.Significance != "" {
		ext = append(ext, jsonObject{"url": extSignificance, "valueCode": f.Significance})
	}
	if f.MeanWithheld || f.ShareWithheld {
		ext = append(ext, jsonObject{"url": extSuppressed, "valueBoolean": true})
	}
	for _, st := range []struct {
		name string
		v    *float64
	}{{"median", f.Median}, {"min", f.Min}, {"max", f.Max}} {
		if st.v != nil {
			ext = append(ext, jsonObject{"url": extStatistic, "extension": []any{
				jsonObject{"url": "name", "valueCode": st.name}, jsonObject{"url": "value", "valueDecimal": round(*st.v, 3)}}})
		}
	}
	if p := s.Previous; p != nil {
		pf := p.Items[i]
		prev := []any{}
		if !p.Suppressed && !pf.Suppressed {
			prev = append(prev, jsonObject{"url": "n", "valueInteger": pf.N})
			if pf.Mean != nil {
				prev = append(prev, jsonObject{"url": "mean", "valueDecimal": round(*pf.Mean, 3)})
				if f.Mean != nil {
					prev = append(prev, jsonObject{"url": "difference", "valueDecimal": round(*f.Mean-*pf.Mean, 3)})
				}
			}
			if pf.SharePositive != nil {
				prev = append(prev, jsonObject{"url": "share-positive", "valueDecimal": round(*pf.SharePositive*100, 1)})
				if f.SharePositive != nil {
					prev = append(prev, jsonObject{"url": "share-positive-difference", "valueDecimal": round((*f.SharePositive-*pf.SharePositive)*100, 1)})
				}
			}
		} else {
			prev = append(prev, jsonObject{"url": "suppressed", "valueBoolean": true})
		}
		ext = append(ext, jsonObject{"url": extPrevious, "extension": prev})
	}
	if len(ext) > 0 {
		el["extension"] = ext
	}
}

func population(code string, n int) jsonObject {
	return jsonObject{"code": jsonObject{"coding": []any{jsonObject{"system": populationSystem, "code": code}}}, "count": n}
}

func optionConcept(o Option, lang string) jsonObject {
	if o.System == "" {
		return jsonObject{"text": o.Code}
	}
	return jsonObject{"coding": []any{jsonObject{"system": o.System, "code": o.Code, "display": o.Display(lang)}}, "text": o.Display(lang)}
}

// unitCoding is a stratum's key as a coding: "system|value" of a unit, the value alone of
// a FHIRPath stratifier.
func unitCoding(key string) jsonObject {
	if system, code, ok := strings.Cut(key, "|"); ok {
		return jsonObject{"system": system, "code": code}
	}
	return jsonObject{"code": key}
}

// fhirPeriod writes [start, end) as a FHIR Period, whose end is inclusive: the day before
// end when both are midnights in loc, else end less a millisecond.
func fhirPeriod(start, end time.Time, loc *time.Location) jsonObject {
	s, e := start.In(loc), end.In(loc)
	if isMidnight(s) && isMidnight(e) {
		return jsonObject{"start": s.Format("2006-01-02"), "end": e.AddDate(0, 0, -1).Format("2006-01-02")}
	}
	return jsonObject{"start": s.Format(time.RFC3339), "end": e.Add(-time.Millisecond).Format("2006-01-02T15:04:05.000Z07:00")}
}

func isMidnight(t time.Time) bool {
	return t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
}

// canonical is the Questionnaire's url, with the version when one is reported.
func (r *Report) canonical() string {
	if len(r.Versions) == 1 && r.Versions[0] != "" {
		return r.URL + "|" + r.Versions[0]
	}
	return r.URL
}

func round(v float64, decimals int) float64 {
	p := 1.0
	for range decimals {
		p *= 10
	}
	x := v * p
	if x < 0 {
		return -float64(int64(-x+0.5)) / p
	}
	return float64(int64(x+0.5)) / p
}
