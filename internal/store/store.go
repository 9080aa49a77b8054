package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
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
	// idFiltersOnly: see Options.IDFiltersOnly.
	idFiltersOnly bool
	// scans holds one token per running scan, when MaxScans bounds them.
	scans    chan struct{}
	scanWait time.Duration
	// maxIncluded: see Options.MaxIncluded.
	maxIncluded int

	keyMu sync.Mutex
	key   []byte // signs page cursors; see pagingKey

	// deriver computes again, when search values are extracted again, the values a content
	// checker computed when a version was written (see DeriveWith).
	deriver Deriver
	// observer is told of every version before it is written (see ObserveWrites).
	observer WriteObserver

	// txMu serialises transactions in the process; journalDir and txStep: see Options.
	txMu       sync.Mutex
	journalDir string
	txStep     func(int)
	// unrolled is set while a transaction journal waits for a rollback that failed when the
	// transaction did (see rollBackLeft): until it is done, writes try it first.
	unrolled atomic.Bool
	// txSupport caches whether MongoDB runs transactions (a replica set or a sharded
	// cluster): nil until asked.
	txSupport *bool
}

// Deriver computes the values a content checker derives from a resource's content (the
// scores of a QuestionnaireResponse), for a version stored earlier.
type Deriver interface {
	// Derive returns the values derived from the decoded resource of type typ; nil when
	// there are none or they cannot be computed now.
	Derive(ctx context.Context, typ string, tree map[string]any) []fhir.Derived
}

// DeriveWith has Reindex compute derived values again with d. Call it before Reindex: the
// store and the rules that compute the values need each other.
func (s *Store) DeriveWith(d Deriver) { s.deriver = d }

// Options tune a Store.
type Options struct {
	// BaseURL is the configured absolute base of the FHIR API, if any: absolute references
	// that start with it are indexed as the relative references they stand for.
	BaseURL string
	// Location is the server's time zone, in which stored dates without one are read; UTC
	// when nil. Resources indexed with another zone or base URL are indexed again at start
	// (Reindex).
	Location *time.Location
	// IDFiltersOnly makes the store reach every document whose id it knows with a filter
	// that is exactly {_id: …}, one document at a time, instead of the compound and $in
	// filters MongoDB serves atomically from its indexes: the update's conditional
	// replace, history reads of known versions, includes, moving a history to another
	// compartment and re-indexing. It is for the embedded database, which serves only such
	// filters from an index (any other filter decodes every stored document) and whose
	// conditional writes are not atomic anyway. It is exact only while this process is
	// the database's one client, as the embedded database is by construction: writes to
	// one resource are serialised in the process, and the version check is made under
	// that lock.
	IDFiltersOnly bool
	// MaxScans bounds the queries that read through a collection rather than by _id
	// (searches with their includes and counts, type history) that run at once; 0 leaves
	// them unbounded, as MongoDB, which serves them from indexes, needs. A query that
	// finds every slot taken waits up to ScanWait (default 2s) and then fails with
	// KindUnavailable (503 with Retry-After), instead of queueing until the driver times
	// out. For the embedded database: one per core.
	MaxScans int
	// ScanWait is how long a query waits for a scan slot (see MaxScans).
	ScanWait time.Duration
	// MaxIncluded is the most resources _include and _revinclude add to one page (default
	// 1000); a page that would add more adds that many and reports it
	// (search.Result.IncludesTruncated).
	MaxIncluded int
	// JournalDir is the directory of the transaction journal, for the embedded database,
	// which has no transactions of its own (see PutAll); RecoverTransactions rolls back
	// what it finds there. Without it the embedded database refuses transactions.
	JournalDir string
	// TransactionStep, when set, is called after each database operation of a transaction
	// on the embedded database, numbered from 1 (0: once its journal is written). It is for
	// tests that stop the process at each of those points.
	TransactionStep func(n int)
}

func (s *Store) lock(typ, id string) *sync.Mutex { return &s.locks[s.stripe(typ, id)] }

// stripe is the index of the lock of typ/id.
func (s *Store) stripe(typ, id string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(typ))
	_, _ = h.Write([]byte{'/'})
	_, _ = h.Write([]byte(id))
	return int(h.Sum32() % uint32(len(s.locks)))
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
		s.idFiltersOnly = o.IDFiltersOnly
		if o.MaxScans > 0 {
			s.scans = make(chan struct{}, o.MaxScans)
		}
		s.scanWait = o.ScanWait
		s.maxIncluded = o.MaxIncluded
		s.journalDir = o.JournalDir
		s.txStep = o.TransactionStep
	}
	if s.maxIncluded <= 0 {
		s.maxIncluded = defaultMaxIncluded
	}
	if s.scanWait <= 0 {
		s.scanWait = defaultScanWait
	}
	return s, nil
}

// ConnectOptions bound how long the client waits for the database.
type ConnectOptions struct {
	// Timeout bounds each database operation whose context has no deadline of its own
	// (default DefaultTimeout). A request that needs longer, such as a search, sets a
	// deadline on its context.
	Timeout time.Duration
	// SelectionTimeout bounds how long an operation waits for a database server to send it
	// to, and how long a connection may take to open (default DefaultSelectionTimeout): with
	// the database unreachable, requests fail this fast (503) instead of waiting.
	SelectionTimeout time.Duration
}

// Defaults of ConnectOptions.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultSelectionTimeout = 1500 * time.Millisecond
)

// Connect opens a client to uri and checks that the server answers. Each monitor sees
// every command the client runs (the embedded database needs its own: see embedded.Monitor).
func Connect(ctx context.Context, uri string, o ConnectOptions, monitors ...*event.CommandMonitor) (*mongo.Client, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.SelectionTimeout <= 0 {
		o.SelectionTimeout = DefaultSelectionTimeout
	}
	opts := options.Client().ApplyURI(uri).SetTimeout(o.Timeout).
		SetServerSelectionTimeout(o.SelectionTimeout).SetConnectTimeout(o.SelectionTimeout)
	if m := CombineMonitors(monitors...); m != nil {
		opts.SetMonitor(m)
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to MongoDB: %w", err)
	}
	// At start the database may still be coming up (a container started beside it): wait
	// for it longer than an operation waits.
	pingCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var perr error
	for {
		if perr = client.Ping(pingCtx, nil); perr == nil || pingCtx.Err() != nil {
			break
		}
		select {
		case <-pingCtx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
	if perr != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("MongoDB does not answer: %w", perr)
	}
	return client, nil
}

// CombineMonitors returns one command monitor that calls each of monitors in turn (nil
// when there are none).
func CombineMonitors(monitors ...*event.CommandMonitor) *event.CommandMonitor {
	var ms []*event.CommandMonitor
	for _, m := range monitors {
		if m != nil {
			ms = append(ms, m)
		}
	}
	switch len(ms) {
	case 0:
		return nil
	case 1:
		return ms[0]
	}
	return &event.CommandMonitor{
		Started: func(ctx context.Context, e *event.CommandStartedEvent) {
			for _, m := range ms {
				if m.Started != nil {
					m.Started(ctx, e)
				}
			}
		},
		Succeeded: func(ctx context.Context, e *event.CommandSucceededEvent) {
			for _, m := range ms {
				if m.Succeeded != nil {
					m.Succeeded(ctx, e)
				}
			}
		},
		Failed: func(ctx context.Context, e *event.CommandFailedEvent) {
			for _, m := range ms {
				if m.Failed != nil {
					m.Failed(ctx, e)
				}
			}
		},
	}
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
func (s *Store) currentDoc(r *fhir.Resource) (bson.D, search.Index, error) {
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
		return d, nil, nil
	}
	ix, err := s.index(r)
	if err != nil {
		return nil, nil, err
	}
	r.Compartments = search.Compartments(r.Type, ix)
	if len(r.Compartments) > 0 {
		d = append(d, bson.E{Key: "cmp", Value: r.Compartments})
	}
	return append(d, bson.E{Key: "sp", Value: storedIndex(ix)}, bson.E{Key: "spv", Value: indexVersion}, bson.E{Key: "spz", Value: s.zone()}), ix, nil
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
const indexVersion = 6

// index extracts a resource's search values. The id and lastUpdated are the server's,
// and stored once, as the document's _id and ts.
func (s *Store) index(r *fhir.Resource) (search.Index, error) {
	tree := r.Tree
	if tree == nil {
		var err error
		if tree, err = decodeTree(r.Raw); err != nil {
			return nil, s.wrap(err, "decode %s/%s to index it", r.Type, r.ID)
		}
	}
	ix, err := search.Extract(r.Type, tree, s.extract)
	if err != nil {
		return nil, err
	}
	if ix == nil {
		ix = search.Index{}
	}
	// Values computed from the content (scores), searched beside those the body holds.
	search.AddDerived(ix, r.Derived)
	// Searches on them read the document's _id and ts (see documentFields).
	delete(ix, "_id")
	delete(ix, "_lastUpdated")
	return ix, nil
}

// decodeTree decodes a stored body as fhir.Resource.Tree holds it: numbers as json.Number.
func decodeTree(raw []byte) (map[string]any, error) {
	var tree map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	err := dec.Decode(&tree)
	return tree, err
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
	// The search values are not part of a read: leave them in the database.
	err := s.current(typ).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, withoutSearchValues).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fhir.Errorf(fhir.KindNotFound, "%s/%s is not known", typ, id)
	}
	if err != nil {
		return nil, s.wrap(err, "read %s/%s", typ, id)
	}
	return d.resource(typ), nil
}

// withoutSearchValues leaves a document's search values out of what a read returns.
var withoutSearchValues = options.FindOne().SetProjection(bson.D{{Key: "sp", Value: 0}})

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
		return nil, s.wrap(err, "read %s/%s/_history/%d", typ, id, vid)
	}
	return d.resource(typ), nil
}

// Put implements fhir.Store.
func (s *Store) Put(ctx context.Context, next, prev *fhir.Resource) (err error) {
	mu := s.lock(next.Type, next.ID)
	for {
		if err := s.rollBackLeft(ctx, false); err != nil {
			return err
		}
		mu.Lock()
		if !s.unrolled.Load() {
			break
		}
		mu.Unlock() // a transaction failed meanwhile: its rollback comes first
	}
	defer mu.Unlock()
	doc, ix, err := s.currentDoc(next)
	if err != nil {
		return err
	}
	if s.observer != nil {
		// Told before anything is written, under the resource's lock: what the observer
		// records for the write is durable before the write can be.
		written, err := s.observer.BeforeWrite(ctx, next, ix)
		if err != nil {
			return err
		}
		defer func() { written(err) }()
	}
	return s.putLocked(ctx, next, prev, doc, putMode{})
}

// putMode says how putLocked runs: in a MongoDB transaction (inTxn), whether the version
// being replaced was read and checked already under the resource's lock (checked, inside a
// transaction on the embedded database), and what to call after each database operation
// (step, there too).
type putMode struct {
	inTxn   bool
	checked bool
	step    func()
}

func (m putMode) stepped() {
	if m.step != nil {
		m.step()
	}
}

// putLocked is Put with the resource's lock held and its current document made.
func (s *Store) putLocked(ctx context.Context, next, prev *fhir.Resource, doc bson.D, m putMode) error {
	if prev == nil {
		_, err := s.current(next.Type).InsertOne(ctx, doc)
		if mongo.IsDuplicateKeyError(err) {
			return fhir.ErrVersionConflict
		}
		if err != nil {
			return s.wrap(err, "create %s/%s", next.Type, next.ID)
		}
		m.stepped()
		return nil
	}
	// Keep the version being replaced before replacing it. A copy that is already there
	// (another writer's, or one left by an interrupted write) is the same immutable version.
	if m.inTxn {
		// In a transaction a duplicate key aborts it: replace the immutable copy instead.
		hd := historyDoc(prev)
		if _, err := s.history(prev.Type).ReplaceOne(ctx, bson.D{{Key: "_id", Value: hd[0].Value}}, hd, options.Replace().SetUpsert(true)); err != nil {
			return s.wrap(err, "keep %s/%s/_history/%d", prev.Type, prev.ID, prev.VersionID)
		}
	} else if _, err := s.history(prev.Type).InsertOne(ctx, historyDoc(prev)); err != nil && !mongo.IsDuplicateKeyError(err) {
		return s.wrap(err, "keep %s/%s/_history/%d", prev.Type, prev.ID, prev.VersionID)
	}
	m.stepped()
	if err := s.replaceVersion(ctx, next.Type, next.ID, prev.VersionID, doc, m.checked); err != nil {
		if errors.Is(err, fhir.ErrVersionConflict) {
			return err
		}
		return s.wrap(err, "write %s/%s/_history/%d", next.Type, next.ID, next.VersionID)
	}
	m.stepped()
	if !slices.Equal(prev.Compartments, next.Compartments) {
		// The resource moved to another patient: its earlier versions belong to whoever it
		// belongs to now, so that the patient it left reads none of them. (A process that
		// dies right here leaves them with the old patient until the resource is written
		// again.)
		cmp := next.Compartments
		if cmp == nil {
			cmp = []string{}
		}
		if err := s.moveHistory(ctx, next.Type, next.ID, prev.VersionID, cmp); err != nil {
			return s.wrap(err, "move the history of %s/%s to its new compartment", next.Type, next.ID)
		}
	}
	return nil
}

// replaceVersion replaces the current document of typ/id with doc if it still holds version
// vid, and reports fhir.ErrVersionConflict if it does not. The caller holds the resource's
// lock. On the embedded database, checked says the caller read the current document under
// that lock and found it is version vid, so it is not read again.
func (s *Store) replaceVersion(ctx context.Context, typ, id string, vid int64, doc bson.D, checked bool) error {
	if !s.idFiltersOnly {
		// One atomic conditional replace, served by the _id index.
		res, err := s.current(typ).ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "vid", Value: vid}}, doc)
		if err != nil {
			return err
		}
		if res.MatchedCount == 0 {
			return fhir.ErrVersionConflict
		}
		return nil
	}
	// Under the lock nothing in this process writes the resource, and nothing else writes
	// the database: reading the version and then replacing by _id is exact.
	if !checked {
		holds, err := s.holdsVersion(ctx, typ, id, vid)
		if err != nil {
			return err
		}
		if !holds {
			return fhir.ErrVersionConflict
		}
	}
	res, err := s.current(typ).ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, doc)
	if err != nil {
		return err
	}
	if res.MatchedCount == 0 {
		return fhir.ErrVersionConflict
	}
	return nil
}

// holdsVersion reports whether the current document of typ/id exists and is version vid,
// reading only its version number by _id.
func (s *Store) holdsVersion(ctx context.Context, typ, id string, vid int64) (bool, error) {
	var held struct {
		VID int64 `bson:"vid"`
	}
	err := s.current(typ).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(bson.D{{Key: "vid", Value: 1}})).Decode(&held)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return held.VID == vid, nil
}

// moveHistory sets the compartments of versions 1…upTo of typ/id in the history.
func (s *Store) moveHistory(ctx context.Context, typ, id string, upTo int64, cmp []string) error {
	set := bson.D{{Key: "$set", Value: bson.D{{Key: "cmp", Value: cmp}}}}
	if !s.idFiltersOnly {
		_, err := s.history(typ).UpdateMany(ctx, bson.D{{Key: "id", Value: id}}, set)
		return err
	}
	for v := int64(1); v <= upTo; v++ {
		if _, err := s.history(typ).UpdateOne(ctx, bson.D{{Key: "_id", Value: historyID(id, v)}}, set); err != nil {
			return err
		}
	}
	return nil
}

// InsertNew implements fhir.BatchStore: one unordered insert command per type and batch of
// up to 500, instead of one per resource. It is how the audit trail is written, and how
// bulk loads and benchmark data sets can be.
func (s *Store) InsertNew(ctx context.Context, rs []*fhir.Resource) (existing []string, err error) {
	byType := map[string][]any{}
	ids := map[string][]string{}
	for _, r := range rs {
		doc, _, err := s.currentDoc(r)
		if err != nil {
			return nil, err
		}
		byType[r.Type] = append(byType[r.Type], doc)
		ids[r.Type] = append(ids[r.Type], r.ID)
	}
	for typ, docs := range byType {
		for start := 0; start < len(docs); start += 500 {
			end := min(len(docs), start+500)
			_, err := s.current(typ).InsertMany(ctx, docs[start:end], options.InsertMany().SetOrdered(false))
			var bulk mongo.BulkWriteException
			if errors.As(err, &bulk) && bulk.WriteConcernError == nil {
				for _, we := range bulk.WriteErrors {
					if we.Code != 11000 && we.Code != 11001 && we.Code != 12582 {
						return existing, s.wrap(err, "insert %d %s resources", end-start, typ)
					}
					existing = append(existing, ids[typ][start+we.Index])
				}
				continue
			}
			if err != nil {
				return existing, s.wrap(err, "insert %d %s resources", end-start, typ)
			}
		}
	}
	return existing, nil
}

var _ fhir.BatchStore = (*Store)(nil)

// EstimatedCount is the number of documents in typ's current collection as the database's
// metadata has it (MongoDB answers without reading them).
func (s *Store) EstimatedCount(ctx context.Context, typ string) (int64, error) {
	n, err := s.current(typ).EstimatedDocumentCount(ctx)
	if err != nil {
		return 0, s.wrap(err, "count %s", typ)
	}
	return n, nil
}

// Ping implements fhir.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.Client().Ping(ctx, nil); err != nil {
		return s.wrap(err, "ping database")
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
			if d.Type == search.TypeComposite || documentFields[d.Name] != "" {
				continue // composites do not sort; _id and _lastUpdated sort on _id and ts
			}
			out = append(out, Index{Collection: t.Name, Keys: bson.D{{Key: spField(d.Name, d.SortKey()), Value: 1}, {Key: "_id", Value: 1}}})
		}
	}
	return append(out, reportIndex())
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
	return nil
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

// reindexBatch is how many documents Reindex reads at a time.
const reindexBatch = 200

// reindexState records, per collection, how its search values were extracted: once every
// live resource is extracted with the current extraction version, time zone and base URL,
// Reindex finds the record and reads nothing else.
type reindexState struct {
	ID      string `bson:"_id"`
	Version int    `bson:"v"`
	Zone    string `bson:"z"`
}

func reindexStateID(typ string) string { return "search-values/" + typ }

// Reindex extracts the search values again for every live resource that was indexed by an
// older version of the extraction (or by none), or with another time zone or base URL, so
// that an upgraded or reconfigured server searches old data correctly. What it depends on
// is recorded once per collection: when nothing changed it reads one settings document per
// type. Otherwise it reads the collection in batches, with its progress in log, with no
// deadline on the whole; a server runs it in the background while it serves (searches see
// the resources not yet re-extracted as they were). Writes to a resource while it runs are
// never overwritten with older values.
func (s *Store) Reindex(ctx context.Context, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	settings := s.db.Collection(settingsCollection)
	for _, t := range s.registry.Types() {
		var st reindexState
		err := settings.FindOne(ctx, bson.D{{Key: "_id", Value: reindexStateID(t.Name)}}).Decode(&st)
		if err == nil && st.Version == indexVersion && st.Zone == s.zone() {
			continue
		}
		if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return fmt.Errorf("read how %s search values were extracted: %w", t.Name, err)
		}
		n, err := s.reindexType(ctx, t.Name, log)
		if err != nil {
			return err
		}
		st = reindexState{ID: reindexStateID(t.Name), Version: indexVersion, Zone: s.zone()}
		if _, err := settings.ReplaceOne(ctx, bson.D{{Key: "_id", Value: st.ID}}, st, options.Replace().SetUpsert(true)); err != nil {
			return fmt.Errorf("record how %s search values were extracted: %w", t.Name, err)
		}
		if n > 0 {
			log.Info("search values extracted again", "type", t.Name, "resources", n)
		}
	}
	return nil
}

// reindexType extracts the search values of typ's stale resources again and returns how
// many it wrote.
func (s *Store) reindexType(ctx context.Context, typ string, log *slog.Logger) (int, error) {
	filter := bson.D{{Key: "del", Value: false}, {Key: "$or", Value: bson.A{
		bson.D{{Key: "spv", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "spv", Value: bson.D{{Key: "$lt", Value: indexVersion}}}},
		// $ne on a scalar field is safe on both databases (only array paths are not).
		bson.D{{Key: "spz", Value: bson.D{{Key: "$ne", Value: s.zone()}}}},
	}}}
	if s.idFiltersOnly {
		// The embedded database decodes every document for a filtered find and answers
		// only once a batch is full: with few stale documents in a large collection the
		// first batch alone would outlast the operation timeout. Without a filter it streams
		// the table, one batch per round trip, and the staleness is checked here.
		filter = bson.D{}
	}
	cur, err := s.current(typ).Find(ctx, filter, options.Find().SetBatchSize(reindexBatch).
		SetProjection(bson.D{{Key: "sp", Value: 0}}))
	if err != nil {
		return 0, fmt.Errorf("find %s resources to index: %w", typ, err)
	}
	defer cur.Close(ctx)
	n, read, last := 0, 0, time.Now()
	for cur.Next(ctx) {
		var d struct {
			Doc document `bson:",inline"`
			SPV int      `bson:"spv"`
			SPZ string   `bson:"spz"`
		}
		if err := cur.Decode(&d); err != nil {
			return n, fmt.Errorf("read %s resources to index: %w", typ, err)
		}
		read++
		if !d.Doc.Deleted && (d.SPV < indexVersion || d.SPZ != s.zone()) {
			if err := s.reindexOne(ctx, d.Doc.resource(typ)); err != nil {
				return n, err
			}
			n++
		}
		if time.Since(last) > 5*time.Second {
			log.Info("checking stored search values", "type", typ, "read", read, "extracted_again", n)
			last = time.Now()
		}
	}
	if err := cur.Err(); err != nil {
		return n, fmt.Errorf("read %s resources to index: %w", typ, err)
	}
	return n, nil
}

// reindexOne writes the search values of r, a version read a moment ago, unless the
// resource has been written since.
func (s *Store) reindexOne(ctx context.Context, r *fhir.Resource) error {
	mu := s.lock(r.Type, r.ID)
	mu.Lock()
	defer mu.Unlock()
	if s.deriver != nil {
		// What was computed from the content when the version was written (scores) is
		// computed again: it is not kept apart from the search values.
		tree, err := decodeTree(r.Raw)
		if err != nil {
			return fmt.Errorf("decode %s/%s to index it: %w", r.Type, r.ID, err)
		}
		r.Tree = tree
		r.Derived = s.deriver.Derive(ctx, r.Type, r.Tree)
	}
	ix, err := s.index(r)
	if err != nil {
		return fmt.Errorf("index %s/%s: %w", r.Type, r.ID, err)
	}
	cmp := search.Compartments(r.Type, ix)
	if cmp == nil {
		cmp = []string{}
	}
	set := bson.D{{Key: "$set", Value: bson.D{{Key: "sp", Value: storedIndex(ix)}, {Key: "spv", Value: indexVersion}, {Key: "spz", Value: s.zone()}, {Key: "cmp", Value: cmp}}}}
	filter := bson.D{{Key: "_id", Value: r.ID}, {Key: "vid", Value: r.VersionID}}
	if s.idFiltersOnly {
		// Under the lock: check the version, then write by _id (see replaceVersion).
		holds, err := s.holdsVersion(ctx, r.Type, r.ID, r.VersionID)
		if err != nil {
			return fmt.Errorf("index %s/%s: %w", r.Type, r.ID, err)
		}
		if !holds {
			return nil // written since: the new version has current values
		}
		filter = bson.D{{Key: "_id", Value: r.ID}}
	}
	if _, err := s.current(r.Type).UpdateOne(ctx, filter, set); err != nil {
		return fmt.Errorf("index %s/%s: %w", r.Type, r.ID, err)
	}
	return nil
}
