package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/patient-involvement/fhir-server/internal/report"
	"github.com/patient-involvement/fhir-server/internal/search"
)

var _ report.Source = (*Store)(nil)

// The stored search values a report reads of each response.
var (
	reportQuestionnaire = spField("questionnaire", "r")
	reportAuthored      = spField("authored", "lo")
	reportStatus        = spField("status", "c")
	reportUnitKey       = spField(search.ParamCareUnit, "k")
	reportUnitName      = spField(search.ParamCareUnit, "e")
	reportCodes         = spField(search.ParamItemAnswer, "k")
	reportNumbers       = spField(search.ParamItemAnswerNumber, "v")
)

// reportIndex serves the selection of a report on MongoDB: the questionnaire and status by
// equality, authored as a range.
func reportIndex() Index {
	return Index{Collection: "QuestionnaireResponse", Keys: bson.D{
		{Key: reportQuestionnaire, Value: 1}, {Key: reportStatus, Value: 1}, {Key: reportAuthored, Value: 1}}}
}

// reportFilter is the filter of a report's selection.
func reportFilter(sel report.Selection) bson.D {
	return bson.D{
		{Key: reportQuestionnaire, Value: bson.D{{Key: "$in", Value: sel.Canonicals}}},
		{Key: reportStatus, Value: bson.D{{Key: "$in", Value: sel.Statuses}}},
		{Key: reportAuthored, Value: bson.D{{Key: "$gte", Value: sel.Start.UTC()}, {Key: "$lt", Value: sel.End.UTC()}}},
	}
}

// ReportRows implements report.Source: one query, served on MongoDB by reportIndex, that
// reads of each response only the search values a report needs (and the body when asked),
// decoded straight from the raw BSON. On the embedded database it is a scan, bounded like a
// search's.
func (s *Store) ReportRows(ctx context.Context, sel report.Selection, fn func(*report.Row) error) error {
	if len(sel.Canonicals) == 0 || len(sel.Statuses) == 0 {
		return nil
	}
	done, err := s.beginScan(ctx)
	if err != nil {
		return err
	}
	defer done()
	proj := bson.D{{Key: "_id", Value: 0}}
	for _, f := range []string{reportQuestionnaire, reportAuthored, reportUnitKey, reportUnitName, reportCodes, reportNumbers} {
		proj = append(proj, bson.E{Key: f, Value: 1})
	}
	if sel.Body {
		proj = append(proj, bson.E{Key: "res", Value: 1})
	}
	cur, err := s.current("QuestionnaireResponse").Find(ctx, reportFilter(sel), options.Find().SetProjection(proj).SetBatchSize(1000))
	if err != nil {
		return s.wrap(err, "select the responses of a report")
	}
	defer cur.Close(ctx)
	var row report.Row
	for cur.Next(ctx) {
		readRow(cur.Current, &row, sel.Body)
		if err := fn(&row); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return s.wrap(err, "read the responses of a report")
	}
	return nil
}

// readRow decodes the projected document of one response into row, reusing its slices.
func readRow(doc bson.Raw, row *report.Row, body bool) {
	row.Questionnaire, row.Authored, row.Unit, row.UnitName = "", time.Time{}, "", ""
	row.Codes, row.Numbers, row.Body = row.Codes[:0], row.Numbers[:0], nil
	sp, ok := doc.Lookup("sp").DocumentOK()
	if ok {
		elems, _ := sp.Elements()
		for _, e := range elems {
			v := e.Value()
			switch "sp." + e.Key() {
			case reportQuestionnaire:
				row.Questionnaire = firstString(v)
			case reportAuthored:
				if t, ok := v.TimeOK(); ok {
					row.Authored = t
				}
			case reportUnitKey:
				row.Unit = firstString(v)
			case reportUnitName:
				row.UnitName = firstString(v)
			case reportCodes:
				row.Codes = appendStrings(row.Codes, v)
			case reportNumbers:
				row.Numbers = appendNumbers(row.Numbers, v)
			}
		}
	}
	if body {
		if s, ok := doc.Lookup("res").StringValueOK(); ok {
			row.Body = []byte(s)
		}
	}
}

// firstString is a stored string field's value, or its first when it holds several.
func firstString(v bson.RawValue) string {
	if s, ok := v.StringValueOK(); ok {
		return s
	}
	if a, ok := v.ArrayOK(); ok {
		if vals, err := a.Values(); err == nil && len(vals) > 0 {
			s, _ := vals[0].StringValueOK()
			return s
		}
	}
	return ""
}

func appendStrings(out []string, v bson.RawValue) []string {
	if s, ok := v.StringValueOK(); ok {
		return append(out, s)
	}
	if a, ok := v.ArrayOK(); ok {
		vals, _ := a.Values()
		for _, x := range vals {
			if s, ok := x.StringValueOK(); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// appendNumbers reads the item-answer-number elements (search.Element: the linkId in k, the
// exact value in xl).
func appendNumbers(out []report.Number, v bson.RawValue) []report.Number {
	one := func(d bson.Raw) {
		link := firstString(d.Lookup("k"))
		if x, ok := d.Lookup("xl").DoubleOK(); ok && link != "" {
			out = append(out, report.Number{LinkID: link, Value: x})
		}
	}
	if d, ok := v.DocumentOK(); ok {
		one(d)
	} else if a, ok := v.ArrayOK(); ok {
		vals, _ := a.Values()
		for _, x := range vals {
			if d, ok := x.DocumentOK(); ok {
				one(d)
			}
		}
	}
	return out
}
