package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
)

var _ search.Searcher = (*Store)(nil)

// searchDoc is a current document read by a search: the stored version plus its search
// values, which checks in Go, sort keys and includes need.
type searchDoc struct {
	Doc document    `bson:",inline"`
	SP  storedIndex `bson:"sp,omitempty"`
}

// ID is the resource id.
func (d *searchDoc) ID() string { return d.Doc.ID }

func (d *searchDoc) resource(typ string) *fhir.Resource { return d.Doc.resource(typ) }

// candidateBatch is how many documents a search that needs checks in Go reads at a time.
const candidateBatch = 200

// Search implements search.Searcher: one page of matches in a stable order (the _sort keys,
// then the id), keyset-paged so that walking the next links returns every match once even
// while others write, plus the resources _include and _revinclude add.
func (s *Store) Search(ctx context.Context, req *search.Request) (*search.Result, error) {
	c := req.Criteria
	if !s.registry.Supports(c.Type) {
		return nil, fhir.Errorf(fhir.KindNotFound, "This server does not serve %s resources", c.Type)
	}
	q, err := compileCriteria(c, req.Compartment, compileOptions{base: req.BaseURL, now: time.Now()})
	if err != nil {
		return nil, err
	}
	done, err := s.beginScan(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	fields := sortFields(c)
	res := &search.Result{}
	countOnly := c.Summary == search.SummaryCount || (c.Count != nil && *c.Count == 0)
	if countOnly || c.Total == search.TotalAccurate || c.Total == search.TotalEstimate {
		n, err := s.count(ctx, c.Type, q)
		if err != nil {
			return nil, err
		}
		res.Total = &n
	}
	if countOnly {
		return res, nil
	}

	var pos *pagePos
	if req.Cursor != "" {
		pos, err = s.decodeCursor(ctx, req, len(fields))
		if err != nil {
			return nil, err
		}
	}
	limit := -1 // all
	if c.Count != nil {
		limit = *c.Count
	}
	backward := pos != nil && pos.Backward
	filter := q.filter
	if pos != nil {
		filter = append(append(bson.D{}, filter...), bson.E{Key: "$or", Value: afterCond(fields, pos.Keys, pos.ID, backward)})
	}
	docs, more, err := s.collect(ctx, c.Type, filter, sortDoc(fields, backward), q.checks, limit)
	if err != nil {
		return nil, err
	}
	if backward {
		for i, j := 0, len(docs)-1; i < j; i, j = i+1, j-1 {
			docs[i], docs[j] = docs[j], docs[i]
		}
	}
	for _, d := range docs {
		res.Matches = append(res.Matches, d.resource(c.Type))
	}
	// Links: forward pages have a next page when more were found; a page reached from a
	// cursor always has a way back. Backward pages mirror this.
	hasNext, hasPrev := more, pos != nil
	if backward {
		hasNext, hasPrev = true, more
	}
	if len(docs) > 0 {
		if hasNext {
			if res.Next, err = s.encodeCursor(ctx, req, sortValues(fields, &docs[len(docs)-1]), docs[len(docs)-1].ID(), false); err != nil {
				return nil, err
			}
		}
		if hasPrev {
			if res.Prev, err = s.encodeCursor(ctx, req, sortValues(fields, &docs[0]), docs[0].ID(), true); err != nil {
				return nil, err
			}
		}
	}
	if res.Total == nil && pos == nil && !more && c.Total != search.TotalNone {
		n := int64(len(docs))
		res.Total = &n
	}
	if len(c.Include) > 0 || len(c.RevInclude) > 0 {
		res.Included, res.IncludesTruncated, err = s.includes(ctx, req, docs)
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// collect reads up to limit matching documents in sort order (limit < 0: all) and reports
// whether more remain. Without checks the database limits the read; with checks documents
// are read in batches and checked until the page is full.
func (s *Store) collect(ctx context.Context, typ string, filter, sort bson.D, checks []check, limit int) ([]searchDoc, bool, error) {
	opts := options.Find().SetSort(sort)
	if len(checks) == 0 && limit >= 0 {
		opts.SetLimit(int64(limit + 1))
	} else {
		opts.SetBatchSize(candidateBatch)
	}
	cur, err := s.current(typ).Find(ctx, filter, opts)
	if err != nil {
		return nil, false, s.wrap(err, "search %s", typ)
	}
	defer cur.Close(ctx)
	var out []searchDoc
	for cur.Next(ctx) {
		var d searchDoc
		if err := cur.Decode(&d); err != nil {
			return nil, false, s.wrap(err, "read %s", typ)
		}
		if !passes(checks, search.Index(d.SP)) {
			continue
		}
		if limit >= 0 && len(out) == limit {
			return out, true, nil
		}
		out = append(out, d)
	}
	if err := cur.Err(); err != nil {
		return nil, false, s.wrap(err, "search %s", typ)
	}
	return out, false, nil
}

func passes(checks []check, ix search.Index) bool {
	for _, chk := range checks {
		if !chk(ix) {
			return false
		}
	}
	return true
}

// count counts the matches of a compiled search.
func (s *Store) count(ctx context.Context, typ string, q *compiled) (int64, error) {
	if len(q.checks) == 0 {
		n, err := s.current(typ).CountDocuments(ctx, q.filter)
		if err != nil {
			return 0, s.wrap(err, "count %s", typ)
		}
		return n, nil
	}
	cur, err := s.current(typ).Find(ctx, q.filter, options.Find().SetProjection(bson.D{{Key: "sp", Value: 1}}).SetBatchSize(candidateBatch))
	if err != nil {
		return 0, s.wrap(err, "count %s", typ)
	}
	defer cur.Close(ctx)
	var n int64
	for cur.Next(ctx) {
		var d searchDoc
		if err := cur.Decode(&d); err != nil {
			return 0, s.wrap(err, "count %s", typ)
		}
		if passes(q.checks, search.Index(d.SP)) {
			n++
		}
	}
	if err := cur.Err(); err != nil {
		return 0, s.wrap(err, "count %s", typ)
	}
	return n, nil
}

// sortValues returns a document's values of the sort fields (nil where it has none).
func sortValues(fields []sortField, d *searchDoc) []any {
	out := make([]any, 0, len(fields))
	for _, f := range fields {
		switch f.field {
		case "_id":
			// the id is carried separately
		case "ts":
			out = append(out, d.Doc.TS.UTC())
		default:
			var v any
			if vals := d.SP[f.param.Name]; vals != nil {
				v = normaliseSortValue(vals.SortValue(f.param))
			}
			out = append(out, v)
		}
	}
	return out
}

// normaliseSortValue turns a decoded sort key into string, float64 or time.Time.
func normaliseSortValue(v any) any {
	switch x := v.(type) {
	case bson.DateTime:
		return x.Time().UTC()
	case time.Time:
		return x.UTC()
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	}
	return v
}

// afterCond is the keyset condition "comes after (keys, id) in the sort order" (or before,
// when backward): the alternatives of a lexicographic comparison. Documents without a
// value sort first in ascending order and last in descending order, as in MongoDB.
func afterCond(fields []sortField, keys []any, id string, backward bool) bson.A {
	var alts bson.A
	prefix := bson.D{}
	ki := 0
	for _, f := range fields {
		dir := f.dir
		if backward {
			dir = -dir
		}
		if f.field == "_id" {
			op := "$gt"
			if dir < 0 {
				op = "$lt"
			}
			alts = append(alts, append(append(bson.D{}, prefix...), bson.E{Key: "_id", Value: bson.D{{Key: op, Value: id}}}))
			break
		}
		v := keys[ki]
		ki++
		for _, alt := range greater(f.field, v, dir) {
			alts = append(alts, append(append(bson.D{}, prefix...), alt))
		}
		if v == nil {
			prefix = append(prefix, bson.E{Key: f.field, Value: bson.D{{Key: "$exists", Value: false}}})
		} else {
			prefix = append(prefix, bson.E{Key: f.field, Value: v})
		}
	}
	return alts
}

// greater lists the conditions under which a document's field comes strictly after v in
// direction dir.
func greater(field string, v any, dir int) []bson.E {
	exists := func(b bool) bson.E { return bson.E{Key: field, Value: bson.D{{Key: "$exists", Value: b}}} }
	switch {
	case v == nil && dir > 0:
		return []bson.E{exists(true)}
	case v == nil:
		return nil // nothing sorts after a missing value in descending order
	case dir > 0:
		return []bson.E{{Key: field, Value: bson.D{{Key: "$gt", Value: v}}}}
	default:
		return []bson.E{{Key: field, Value: bson.D{{Key: "$lt", Value: v}}}, exists(false)}
	}
}
