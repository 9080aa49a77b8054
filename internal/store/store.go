package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// Store is the MongoDB implementation of fhir.Store.
type Store struct {
	db       *mongo.Database
	registry *fhir.Registry
	// locks serialise the writes of one resource within this process. MongoDB's conditional
	// replace is atomic by itself; the embedded database's is not (it reads, then writes),
	// and since it only ever serves this one process, serialising here makes it exact too.
	locks [256]sync.Mutex

	extract search.ExtractOptions

	keyMu sync.Mutex
	key   []byte // signs page cursors; see pagingKey
}

// Options tune a Store.
type Options struct {
	// BaseURL is the configured absolute base of the FHIR API, if any: absolute references
	// that start with it are indexed as the relative references they stand for.
	BaseURL string
	// Location is the server's time zone, in which stored dates without one are read; UTC
	// when nil. Resources indexed with another zone or base URL are indexed again at start
	// (Reindex).
	Location *time.Location
}

func (s *Store) lock(typ, id string) *sync.Mutex {
	h := fnv.New32a()
	_, _ = h.Write([]byte(typ))
	_, _ = h.Write([]byte{'/'})
	_, _ = h.Write([]byte(id))
	return &s.locks[h.Sum32()%uint32(len(s.locks))]
}

var _ fhir.Store = (*Store)(nil)

// New returns a Store on db for the types of registry. Call EnsureIndexes before serving.
func New(db *mongo.Database, registry *fhir.Registry, opts ...Options) (*Store, error) {
	if db == nil || registry == nil {
		return nil, errors.New("store: New needs a database and a registry")
	}
	s := &Store{db: db, registry: registry}
	for _, o := range opts {
		s.extract.BaseURL = strings.TrimRight(o.BaseURL, "/")
		s.extract.Location = o.Location
	}
	return s, nil
}

// Connect opens a client to uri and checks that the server answers.
func Connect(ctx context.Context, uri string) (*mongo.Client, error) {
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(30 * time.Second))
	if err != nil {
		return nil, fmt.Errorf("connect to MongoDB: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := client.Ping(pingCtx, nil); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("MongoDB does not answer: %w", err)
	}
	return client, nil
}

// document is a stored version: in the current collection _id is the resource id; in the
// history collection _id is "id/version" and RID holds the resource id.
type document struct {
	ID      string    `bson:"_id"`
	RID     string    `bson:"id,omitempty"`
	VID     int64     `bson:"vid"`
	TS      time.Time `bson:"ts"`
	Deleted bool      `bson:"del"`
	Method  string    `bson:"op"`
	Body    string    `bson:"res,omitempty"`
	// Cmp lists the patient compartments of the version ("Patient/123").
	Cmp []string `bson:"cmp,omitempty"`
}

func (d *document) resource(typ string) *fhir.Resource {
	id := d.ID
	if d.RID != "" {
		id = d.RID
	}
	r := &fhir.Resource{
		Type: typ, ID: id, VersionID: d.VID, LastUpdated: d.TS.UTC(), Deleted: d.Deleted, Method: d.Method,
		Compartments: d.Cmp,
	}
	if !d.Deleted {
		r.Raw = []byte(d.Body)
	}
	return r
}

// currentDoc is the stored current version: the version and, for a live resource, its
// search values.
func (s *Store) currentDoc(r *fhir.Resource) (bson.D, error) {
	d := bson.D{
		{Key: "_id", Value: r.ID},
		{Key: "vid", Value: r.VersionID},
		{Key: "ts", Value: r.LastUpdated},
		{Key: "del", Value: r.Deleted},
		{Key: "op", Value: r.Method},
		{Key: "res", Value: string(r.Raw)},
	}
	if r.Deleted {
		// A deleted version keeps the compartments of the version it deleted, so that a
		// patient sees the deletion in their history.
		if len(r.Compartments) > 0 {
			d = append(d, bson.E{Key: "cmp", Value: r.Compartments})
		}
		return d, nil
	}
	ix, err := s.index(r)
	if err != nil {
		return nil, err
	}
	r.Compartments = search.Compartments(r.Type, ix)
	if len(r.Compartments) > 0 {
		d = append(d, bson.E{Key: "cmp", Value: r.Compartments})
	}
	return append(d, bson.E{Key: "sp", Value: storedIndex(ix)}, bson.E{Key: "spv", Value: indexVersion}, bson.E{Key: "spz", Value: s.zone()}), nil
}

// zone names the settings search values are extracted with: the time zone and the base
// URL. Resources extracted with other settings are extracted again at start.
func (s *Store) zone() string {
	zone := "UTC"
	if s.extract.Location != nil {
		zone = s.extract.Location.String()
	}
	return zone + " " + s.extract.BaseURL
}

// indexVersion numbers the way search values are extracted. Documents indexed by an older
// version are indexed again when the store starts (see Reindex).
const indexVersion = 4

// index extracts a resource's search values. The id and lastUpdated are the server's,
// and stored once, as the document's _id and ts.
func (s *Store) index(r *fhir.Resource) (search.Index, error) {
	tree := r.Tree
	if tree == nil {
		dec := json.NewDecoder(bytes.NewReader(r.Raw))
		dec.UseNumber()
		if err := dec.Decode(&tree); err != nil {
			return nil, fhir.Wrap(err, "decode %s/%s to index it", r.Type, r.ID)
		}
	}
	ix, err := search.Extract(r.Type, tree, s.extract)
	if err != nil {
		return nil, err
	}
	if ix == nil {
		ix = search.Index{}
	}
	// Searches on them read the document's _id and ts (see documentFields).
	delete(ix, "_id")
	delete(ix, "_lastUpdated")
	return ix, nil
}

func historyDoc(r *fhir.Resource) bson.D {
	d := bson.D{
		{Key: "_id", Value: historyID(r.ID, r.VersionID)},
		{Key: "id", Value: r.ID},
		{Key: "vid", Value: r.VersionID},
		{Key: "ts", Value: r.LastUpdated},
		{Key: "del", Value: r.Deleted},
		{Key: "op", Value: r.Method},
		{Key: "res", Value: string(r.Raw)},
	}
	if len(r.Compartments) > 0 {
		d = append(d, bson.E{Key: "cmp", Value: r.Compartments})
	}
	return d
}

func historyID(id string, vid int64) string { return id + "/" + strconv.FormatInt(vid, 10) }

func (s *Store) current(typ string) *mongo.Collection { return s.db.Collection(typ) }
func (s *Store) history(typ string) *mongo.Collection { return s.db.Collection(typ + "_history") }

// Current implements fhir.Store.
func (s *Store) Current(ctx context.Context, typ, id string) (*fhir.Resource, error) {
	var d document
	err := s.current(typ).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fhir.Errorf(fhir.KindNotFound, "%s/%s is not known", typ, id)
	}
	if err != nil {
		return nil, fhir.Wrap(err, "read %s/%s", typ, id)
	}
	return d.resource(typ), nil
}

// Version implements fhir.Store.
func (s *Store) Version(ctx context.Context, typ, id string, vid int64) (*fhir.Resource, error) {
	cur, err := s.Current(ctx, typ, id)
	if err != nil {
		return nil, err
	}
	if cur.VersionID == vid {
		return cur, nil
	}
	if vid > cur.VersionID {
		return nil, fhir.Errorf(fhir.KindNotFound, "%s/%s has no version %d (the newest is %d)", typ, id, vid, cur.VersionID)
	}
	var d document
	err = s.history(typ).FindOne(ctx, bson.D{{Key: "_id", Value: historyID(id, vid)}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fhir.Errorf(fhir.KindNotFound, "%s/%s has no version %d", typ, id, vid)
	}
	if err != nil {
		return nil, fhir.Wrap(err, "read %s/%s/_history/%d", typ, id, vid)
	}
	return d.resource(typ), nil
}

// Put implements fhir.Store.
func (s *Store) Put(ctx context.Context, next, prev *fhir.Resource) error {
	mu := s.lock(next.Type, next.ID)
	mu.Lock()
	defer mu.Unlock()
	doc, err := s.currentDoc(next)
	if err != nil {
		return err
	}
	if prev == nil {
		_, err := s.current(next.Type).InsertOne(ctx, doc)
		if mongo.IsDuplicateKeyError(err) {
			return fhir.ErrVersionConflict
		}
		if err != nil {
			return fhir.Wrap(err, "create %s/%s", next.Type, next.ID)
		}
		return nil
	}
	// Keep the version being replaced before replacing it. A copy that is already there
	// (another writer's, or one left by an interrupted write) is the same immutable version.
	if _, err := s.history(prev.Type).InsertOne(ctx, historyDoc(prev)); err != nil && !mongo.IsDuplicateKeyError(err) {
		return fhir.Wrap(err, "keep %s/%s/_history/%d", prev.Type, prev.ID, prev.VersionID)
	}
	res, err := s.current(next.Type).ReplaceOne(ctx,
		bson.D{{Key: "_id", Value: next.ID}, {Key: "vid", Value: prev.VersionID}}, doc)
	if err != nil {
		return fhir.Wrap(err, "write %s/%s/_history/%d", next.Type, next.ID, next.VersionID)
	}
	if res.MatchedCount == 0 {
		return fhir.ErrVersionConflict
	}
	if !sameStrings(prev.Compartments, next.Compartments) {
		// The resource moved to another patient: its earlier versions belong to whoever it
		// belongs to now, so that the patient it left reads none of them. (A process that
		// dies right here leaves them with the old patient until the resource is written
		// again.)
		cmp := next.Compartments
		if cmp == nil {
			cmp = []string{}
		}
		if _, err := s.history(next.Type).UpdateMany(ctx, bson.D{{Key: "id", Value: next.ID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "cmp", Value: cmp}}}}); err != nil {
			return fhir.Wrap(err, "move the history of %s/%s to its new compartment", next.Type, next.ID)
		}
	}
	return nil
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Ping implements fhir.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.Client().Ping(ctx, nil); err != nil {
		return fhir.Wrap(err, "ping database")
	}
	return nil
}

// Index is a declared index of one collection.
type Index struct {
	Collection string
	Keys       bson.D
	Unique     bool
}

// onSearchValues reports whether the index is on the extracted search values.
func (ix Index) onSearchValues() bool { return strings.HasPrefix(ix.Keys[0].Key, "sp.") }

// Wildcard reports whether the index is a wildcard index ("sp.$**"), which serves an
// equality, range or prefix condition on any one field of the search values.
func (ix Index) Wildcard() bool {
	return len(ix.Keys) == 1 && strings.HasSuffix(ix.Keys[0].Key, "$**")
}

// Indexes lists every index the store declares, for all served types: the history
// indexes, one for the default search order, a wildcard index over all search values (it
// serves every search condition), and one per sortable search parameter for its sort key
// with the id as tie-break. MongoDB allows 64 indexes per collection; the most any type
// needs here is 33.
func (s *Store) Indexes() []Index {
	var out []Index
	for _, t := range s.registry.Types() {
		out = append(out,
			Index{Collection: t.Name, Keys: bson.D{{Key: "ts", Value: -1}, {Key: "_id", Value: -1}}},
			Index{Collection: t.Name, Keys: bson.D{{Key: "del", Value: 1}, {Key: "_id", Value: 1}}},
			Index{Collection: t.Name, Keys: bson.D{{Key: "sp.$**", Value: 1}}},
			Index{Collection: t.Name + "_history", Keys: bson.D{{Key: "id", Value: 1}, {Key: "vid", Value: -1}}},
			Index{Collection: t.Name + "_history", Keys: bson.D{{Key: "ts", Value: -1}, {Key: "id", Value: -1}, {Key: "vid", Value: -1}}},
		)
		if _, ok := search.CompartmentParams[t.Name]; ok {
			// A patient's own history, newest first.
			out = append(out,
				Index{Collection: t.Name, Keys: bson.D{{Key: "cmp", Value: 1}, {Key: "ts", Value: -1}, {Key: "_id", Value: -1}}},
				Index{Collection: t.Name + "_history", Keys: bson.D{{Key: "cmp", Value: 1}, {Key: "ts", Value: -1}, {Key: "id", Value: -1}, {Key: "vid", Value: -1}}},
			)
		}
		for _, d := range search.Definitions(t.Name) {
			if d.Type == search.TypeComposite || d.Name == "_id" || d.Name == "_lastUpdated" {
				continue // composites do not sort; _id and _lastUpdated sort on _id and ts
			}
			out = append(out, Index{Collection: t.Name, Keys: bson.D{{Key: spField(d.Name, d.SortKey()), Value: 1}, {Key: "_id", Value: 1}}})
		}
	}
	return out
}

// EnsureIndexes creates every declared index that does not exist yet. Indexes are created
// one at a time: the embedded database drops the connection on a createIndexes that names
// several indexes of which some exist already, as they do on every start after the first.
// On MongoDB it first drops the indexes on search values that are no longer declared.
//
// The embedded database gets neither the wildcard index (it cannot hold one: every insert
// then fails) nor the indexes on search values: it uses no index for any query but by _id,
// so they would only make each write update some thirty more indexes (measured: creating 488
// generated responses one by one took 1.95 ms each with them, 1.35 ms without).
func (s *Store) EnsureIndexes(ctx context.Context) error {
	embedded, err := s.isEmbedded(ctx)
	if err != nil {
		return err
	}
	if !embedded {
		if err := s.dropStaleSearchIndexes(ctx); err != nil {
			return err
		}
	}
	for _, ix := range s.Indexes() {
		if embedded && ix.onSearchValues() {
			continue
		}
		opts := options.Index()
		if ix.Unique {
			opts.SetUnique(true)
		}
		if _, err := s.db.Collection(ix.Collection).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.Keys, Options: opts}); err != nil {
			return fmt.Errorf("create index %v on %s: %w", ix.Keys, ix.Collection, err)
		}
	}
	return s.Reindex(ctx)
}

// isEmbedded reports whether the database is the embedded one (FerretDB), which says so
// in its buildInfo.
func (s *Store) isEmbedded(ctx context.Context) (bool, error) {
	var info bson.M
	if err := s.db.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return false, fmt.Errorf("ask the database what it is: %w", err)
	}
	_, ferret := info["ferretdbVersion"]
	return ferret, nil
}

// Reindex extracts the search values again for every live resource that was indexed by an
// older version of the extraction (or by none), or with another time zone or base URL, so that an
// upgraded or reconfigured server searches old data correctly. It is one query when there
// is nothing to do.
func (s *Store) Reindex(ctx context.Context) error {
	for _, t := range s.registry.Types() {
		filter := bson.D{{Key: "del", Value: false}, {Key: "$or", Value: bson.A{
			bson.D{{Key: "spv", Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: "spv", Value: bson.D{{Key: "$lt", Value: indexVersion}}}},
			// $ne on a scalar field is safe on both databases (only array paths are not).
			bson.D{{Key: "spz", Value: bson.D{{Key: "$ne", Value: s.zone()}}}},
		}}}
		cur, err := s.current(t.Name).Find(ctx, filter)
		if err != nil {
			return fmt.Errorf("find %s resources to index: %w", t.Name, err)
		}
		var docs []document
		err = cur.All(ctx, &docs)
		if err != nil {
			return fmt.Errorf("read %s resources to index: %w", t.Name, err)
		}
		for i := range docs {
			r := docs[i].resource(t.Name)
			ix, err := s.index(r)
			if err != nil {
				return fmt.Errorf("index %s/%s: %w", t.Name, r.ID, err)
			}
			cmp := search.Compartments(t.Name, ix)
			if cmp == nil {
				cmp = []string{}
			}
			set := bson.D{{Key: "sp", Value: storedIndex(ix)}, {Key: "spv", Value: indexVersion}, {Key: "spz", Value: s.zone()}, {Key: "cmp", Value: cmp}}
			_, err = s.current(t.Name).UpdateOne(ctx, bson.D{{Key: "_id", Value: r.ID}, {Key: "vid", Value: r.VersionID}},
				bson.D{{Key: "$set", Value: set}})
			if err != nil {
				return fmt.Errorf("index %s/%s: %w", t.Name, r.ID, err)
			}
		}
	}
	return nil
}
