package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// Store is the MongoDB implementation of fhir.Store.
type Store struct {
	db       *mongo.Database
	registry *fhir.Registry
	// locks serialise the writes of one resource within this process. MongoDB's conditional
	// replace is atomic by itself; the embedded database's is not (it reads, then writes),
	// and since it only ever serves this one process, serialising here makes it exact too.
	locks [256]sync.Mutex
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
func New(db *mongo.Database, registry *fhir.Registry) (*Store, error) {
	if db == nil || registry == nil {
		return nil, errors.New("store: New needs a database and a registry")
	}
	return &Store{db: db, registry: registry}, nil
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
}

func (d *document) resource(typ string) *fhir.Resource {
	id := d.ID
	if d.RID != "" {
		id = d.RID
	}
	r := &fhir.Resource{
		Type: typ, ID: id, VersionID: d.VID, LastUpdated: d.TS.UTC(), Deleted: d.Deleted, Method: d.Method,
	}
	if !d.Deleted {
		r.Raw = []byte(d.Body)
	}
	return r
}

func currentDoc(r *fhir.Resource) bson.D {
	return bson.D{
		{Key: "_id", Value: r.ID},
		{Key: "vid", Value: r.VersionID},
		{Key: "ts", Value: r.LastUpdated},
		{Key: "del", Value: r.Deleted},
		{Key: "op", Value: r.Method},
		{Key: "res", Value: string(r.Raw)},
	}
}

func historyDoc(r *fhir.Resource) bson.D {
	return bson.D{
		{Key: "_id", Value: historyID(r.ID, r.VersionID)},
		{Key: "id", Value: r.ID},
		{Key: "vid", Value: r.VersionID},
		{Key: "ts", Value: r.LastUpdated},
		{Key: "del", Value: r.Deleted},
		{Key: "op", Value: r.Method},
		{Key: "res", Value: string(r.Raw)},
	}
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
	if prev == nil {
		_, err := s.current(next.Type).InsertOne(ctx, currentDoc(next))
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
		bson.D{{Key: "_id", Value: next.ID}, {Key: "vid", Value: prev.VersionID}}, currentDoc(next))
	if err != nil {
		return fhir.Wrap(err, "write %s/%s/_history/%d", next.Type, next.ID, next.VersionID)
	}
	if res.MatchedCount == 0 {
		return fhir.ErrVersionConflict
	}
	return nil
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

// Indexes lists every index the store declares, for all served types.
func (s *Store) Indexes() []Index {
	var out []Index
	for _, t := range s.registry.Types() {
		out = append(out,
			Index{Collection: t.Name, Keys: bson.D{{Key: "ts", Value: -1}, {Key: "_id", Value: -1}}},
			Index{Collection: t.Name + "_history", Keys: bson.D{{Key: "id", Value: 1}, {Key: "vid", Value: -1}}},
			Index{Collection: t.Name + "_history", Keys: bson.D{{Key: "ts", Value: -1}, {Key: "id", Value: -1}, {Key: "vid", Value: -1}}},
		)
	}
	return out
}

// EnsureIndexes creates every declared index that does not exist yet. Indexes are created
// one at a time: the embedded database drops the connection on a createIndexes that names
// several indexes of which some exist already, as they do on every start after the first.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	for _, ix := range s.Indexes() {
		opts := options.Index()
		if ix.Unique {
			opts.SetUnique(true)
		}
		if _, err := s.db.Collection(ix.Collection).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.Keys, Options: opts}); err != nil {
			return fmt.Errorf("create index %v on %s: %w", ix.Keys, ix.Collection, err)
		}
	}
	return nil
}
