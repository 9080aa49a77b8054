package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// historyCursor is the position after the last entry of a history page: entries are ordered
// by (lastUpdated, id, version), newest first.
type historyCursor struct {
	ts  time.Time
	id  string
	vid int64
}

func (c historyCursor) encode() string {
	s := strconv.FormatInt(c.ts.UnixMilli(), 10) + "|" + c.id + "|" + strconv.FormatInt(c.vid, 10)
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decodeHistoryCursor(s string) (historyCursor, error) {
	bad := fhir.Errorf(fhir.KindInvalid, "The paging cursor %q is not valid: follow the next link as given", s)
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return historyCursor{}, bad
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 3 || !fhir.ValidID(parts[1]) {
		return historyCursor{}, bad
	}
	ms, err1 := strconv.ParseInt(parts[0], 10, 64)
	vid, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return historyCursor{}, bad
	}
	return historyCursor{ts: time.UnixMilli(ms).UTC(), id: parts[1], vid: vid}, nil
}

// before reports whether entry a comes before b in history order (newer first).
func before(a, b *fhir.Resource) bool {
	if !a.LastUpdated.Equal(b.LastUpdated) {
		return a.LastUpdated.After(b.LastUpdated)
	}
	if a.ID != b.ID {
		return a.ID > b.ID
	}
	return a.VersionID > b.VersionID
}

// History implements fhir.Store.
func (s *Store) History(ctx context.Context, q fhir.HistoryQuery) (*fhir.HistoryPage, error) {
	var cur *historyCursor
	if q.Cursor != "" {
		c, err := decodeHistoryCursor(q.Cursor)
		if err != nil {
			return nil, err
		}
		cur = &c
	}
	if q.ID != "" {
		return s.instanceHistory(ctx, q, cur)
	}
	return s.typeHistory(ctx, q, cur)
}

func (s *Store) instanceHistory(ctx context.Context, q fhir.HistoryQuery, cur *historyCursor) (*fhir.HistoryPage, error) {
	latest, err := s.Current(ctx, q.Type, q.ID)
	if err != nil {
		return nil, err
	}
	var out []*fhir.Resource
	below := latest.VersionID // history versions strictly below this
	if cur == nil {
		if (q.Since.IsZero() || !latest.LastUpdated.Before(q.Since)) && inCompartment(latest, q.Compartment) {
			out = append(out, latest)
		}
	} else {
		below = min(below, cur.vid)
	}
	if len(out) < q.Count+1 && s.idFiltersOnly {
		// The versions below are known: read them one by one by _id, newest first.
		for v := below - 1; v >= 1 && len(out) < q.Count+1; v-- {
			var d document
			err := s.history(q.Type).FindOne(ctx, bson.D{{Key: "_id", Value: historyID(q.ID, v)}}).Decode(&d)
			if errors.Is(err, mongo.ErrNoDocuments) {
				continue
			}
			if err != nil {
				return nil, s.wrap(err, "read %s/%s/_history/%d", q.Type, q.ID, v)
			}
			r := d.resource(q.Type)
			if !q.Since.IsZero() && r.LastUpdated.Before(q.Since) {
				break // versions are in time order: every older one is before it too
			}
			if inCompartment(r, q.Compartment) {
				out = append(out, r)
			}
		}
	} else if len(out) < q.Count+1 {
		filter := bson.D{{Key: "id", Value: q.ID}, {Key: "vid", Value: bson.D{{Key: "$lt", Value: below}}}}
		if !q.Since.IsZero() {
			filter = append(filter, bson.E{Key: "ts", Value: bson.D{{Key: "$gte", Value: q.Since}}})
		}
		if q.Compartment != "" {
			filter = append(filter, bson.E{Key: "cmp", Value: q.Compartment})
		}
		docs, err := s.find(ctx, q.Type+"_history", filter, bson.D{{Key: "id", Value: 1}, {Key: "vid", Value: -1}}, int64(q.Count+1-len(out)))
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			out = append(out, d.resource(q.Type))
		}
	}
	return page(out, q.Count), nil
}

func (s *Store) typeHistory(ctx context.Context, q fhir.HistoryQuery, cur *historyCursor) (*fhir.HistoryPage, error) {
	done, err := s.beginScan(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	limit := int64(q.Count + 1)
	// The newest versions come from the current collection, older ones from the history
	// collection; each is read in history order and the two are merged.
	curFilter, histFilter := bson.D{}, bson.D{}
	if q.Compartment != "" {
		curFilter, histFilter = bson.D{{Key: "cmp", Value: q.Compartment}}, bson.D{{Key: "cmp", Value: q.Compartment}}
	}
	if !q.Since.IsZero() {
		since := bson.E{Key: "ts", Value: bson.D{{Key: "$gte", Value: q.Since}}}
		curFilter, histFilter = append(curFilter, since), append(histFilter, since)
	}
	if cur != nil {
		curFilter = append(curFilter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "ts", Value: bson.D{{Key: "$lt", Value: cur.ts}}}},
			bson.D{{Key: "ts", Value: cur.ts}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: cur.id}}}},
			// the same id: a current version newer in number than the cursor cannot sort after it
		}})
		histFilter = append(histFilter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "ts", Value: bson.D{{Key: "$lt", Value: cur.ts}}}},
			bson.D{{Key: "ts", Value: cur.ts}, {Key: "id", Value: bson.D{{Key: "$lt", Value: cur.id}}}},
			bson.D{{Key: "ts", Value: cur.ts}, {Key: "id", Value: cur.id}, {Key: "vid", Value: bson.D{{Key: "$lt", Value: cur.vid}}}},
		}})
	}
	newest, err := s.find(ctx, q.Type, curFilter, bson.D{{Key: "ts", Value: -1}, {Key: "_id", Value: -1}}, limit)
	if err != nil {
		return nil, err
	}
	older, err := s.find(ctx, q.Type+"_history", histFilter, bson.D{{Key: "ts", Value: -1}, {Key: "id", Value: -1}, {Key: "vid", Value: -1}}, limit)
	if err != nil {
		return nil, err
	}
	var out []*fhir.Resource
	i, j := 0, 0
	for len(out) < int(limit) && (i < len(newest) || j < len(older)) {
		var next *fhir.Resource
		switch {
		case j >= len(older):
			next, i = newest[i].resource(q.Type), i+1
		case i >= len(newest):
			next, j = older[j].resource(q.Type), j+1
		default:
			a, b := newest[i].resource(q.Type), older[j].resource(q.Type)
			if before(b, a) {
				next, j = b, j+1
			} else {
				next, i = a, i+1
			}
		}
		// A history copy of a version that is still current (left by an interrupted or
		// in-flight write) sorts right beside it: skip the duplicate.
		if n := len(out); n > 0 && out[n-1].ID == next.ID && out[n-1].VersionID == next.VersionID {
			continue
		}
		out = append(out, next)
	}
	return page(out, q.Count), nil
}

// inCompartment reports whether r is in compartment ("" means no limit).
func inCompartment(r *fhir.Resource, compartment string) bool {
	return compartment == "" || slices.Contains(r.Compartments, compartment)
}

// page cuts a list read with one extra entry into a page and the cursor of the next.
func page(list []*fhir.Resource, count int) *fhir.HistoryPage {
	p := &fhir.HistoryPage{Versions: list}
	if len(list) > count {
		p.Versions = list[:count]
		last := list[count-1]
		p.Next = historyCursor{ts: last.LastUpdated, id: last.ID, vid: last.VersionID}.encode()
	}
	return p
}

func (s *Store) find(ctx context.Context, coll string, filter, sort bson.D, limit int64) ([]document, error) {
	cursor, err := s.db.Collection(coll).Find(ctx, filter, options.Find().SetSort(sort).SetLimit(limit))
	if err != nil {
		return nil, s.wrap(err, "query %s", coll)
	}
	var docs []document
	if err := cursor.All(ctx, &docs); err != nil {
		return nil, s.wrap(err, "read %s", coll)
	}
	return docs, nil
}

var _ = fmt.Sprintf
