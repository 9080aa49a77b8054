package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	journalfile "github.com/patient-involvement/fhir-server/internal/journal"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// A transaction's writes are stored as one unit by PutAll. Transactions are serialised in
// the process, and each holds the locks of every resource it writes (taken in one order,
// so that a transaction and single writes never wait for each other in a circle) from the
// check of their versions to the last write.
//
// On MongoDB they are one multi-document transaction (the driver's WithTransaction,
// which retries transient errors, with majority write concern). A standalone MongoDB has
// none: PutAll refuses with a KindUnprocessable error saying so.
//
// The embedded database has no transactions. Before its first change, PutAll writes a
// journal file (and syncs it and its directory to disk) naming, for every resource it
// writes, the current document as it was (or that there was none), the history copy it
// adds and the history versions whose compartments it changes. Then it writes, and then
// it removes the journal: a journal that exists is a transaction that did not finish.
// RecoverTransactions, run at start before anything is served, rolls each such
// transaction back from its journal; a journal cut short was written before any change,
// and is dropped.

var _ fhir.AtomicStore = (*Store)(nil)

// PutAll implements fhir.AtomicStore. Each resource is written at most once in ws (as
// fhir.UnitOfWork ensures): on the embedded database the version each write replaces is
// checked once, before the journal is written, and not again when it is replaced.
func (s *Store) PutAll(ctx context.Context, ws []fhir.Write) (err error) {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	if err := s.rollBackLeft(ctx, true); err != nil {
		return err
	}
	var stripes []int
	for _, w := range ws {
		i := s.stripe(w.Next.Type, w.Next.ID)
		if !slices.Contains(stripes, i) {
			stripes = append(stripes, i)
		}
	}
	slices.Sort(stripes)
	for _, i := range stripes {
		s.locks[i].Lock()
		defer s.locks[i].Unlock()
	}
	docs := make([]bson.D, len(ws))
	ixs := make([]search.Index, len(ws))
	for i, w := range ws {
		d, ix, err := s.currentDoc(w.Next)
		if err != nil {
			return err
		}
		docs[i], ixs[i] = d, ix
	}
	if s.observer != nil {
		// As for Put: the observer records before anything is written, and hears once the
		// transaction is over, committed or not (a notification is sent only for a version
		// that then exists).
		for i, w := range ws {
			written, err := s.observer.BeforeWrite(ctx, w.Next, ixs[i])
			if err != nil {
				return err
			}
			defer func() { written(err) }()
		}
	}
	if !s.idFiltersOnly {
		return s.putAllMongo(ctx, ws, docs)
	}
	return s.putAllJournaled(ctx, ws, docs)
}

// putAllMongo stores ws in one MongoDB transaction.
func (s *Store) putAllMongo(ctx context.Context, ws []fhir.Write, docs []bson.D) error {
	if err := s.checkTransactions(ctx); err != nil {
		return err
	}
	sess, err := s.db.Client().StartSession()
	if err != nil {
		return s.wrap(err, "start a transaction")
	}
	defer sess.EndSession(context.WithoutCancel(ctx))
	txOpts := options.Transaction().SetWriteConcern(writeconcern.Majority())
	_, err = sess.WithTransaction(ctx, func(tc context.Context) (any, error) {
		for i, w := range ws {
			if err := s.putLocked(tc, w.Next, w.Prev, docs[i], putMode{inTxn: true}); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}, txOpts)
	if err != nil {
		if errors.Is(err, fhir.ErrVersionConflict) {
			return fhir.ErrVersionConflict
		}
		return s.wrap(err, "store a transaction of %d writes", len(ws))
	}
	return nil
}

// checkTransactions reports whether MongoDB runs multi-document transactions: a replica
// set member (hello names its set) or a mongos. It asks once.
func (s *Store) checkTransactions(ctx context.Context) error {
	if s.txSupport == nil {
		var hello struct {
			SetName string `bson:"setName"`
			Msg     string `bson:"msg"`
		}
		if err := s.db.Client().Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
			return s.wrap(err, "ask the database whether it runs transactions")
		}
		ok := hello.SetName != "" || hello.Msg == "isdbgrid"
		s.txSupport = &ok
	}
	if !*s.txSupport {
		return fhir.Errorf(fhir.KindUnprocessable, "This server's MongoDB is a standalone server, which has no multi-document transactions, so a transaction Bundle cannot be stored all or nothing. Send the entries as a batch Bundle (each entry on its own), or run MongoDB as a replica set (a single-member one will do)")
	}
	return nil
}

// journal is what the embedded database's journal file holds of one transaction.
type journal struct {
	Writes []journalWrite `json:"writes"`
}

// journalWrite is what rolling back one write needs.
type journalWrite struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	// Before is the current document before the write (BSON); nil: there was none.
	Before []byte `json:"before,omitempty"`
	// History is the _id of the history copy the write adds ("" when none).
	History string `json:"history,omitempty"`
	// MovedUpTo, when > 0, is the last history version whose compartments the write sets;
	// rolling back sets them to Compartments again.
	MovedUpTo    int64    `json:"movedUpTo,omitempty"`
	Compartments []string `json:"cmp,omitempty"`
}

// putAllJournaled stores ws on the embedded database, journaled (see above).
func (s *Store) putAllJournaled(ctx context.Context, ws []fhir.Write, docs []bson.D) error {
	if s.journalDir == "" {
		return fhir.Errorf(fhir.KindNotSupported, "The embedded database stores transactions through a journal, and this server has no directory for it")
	}
	var j journal
	for _, w := range ws {
		jw := journalWrite{Type: w.Next.Type, ID: w.Next.ID}
		raw, err := s.current(w.Next.Type).FindOne(ctx, bson.D{{Key: "_id", Value: w.Next.ID}}).Raw()
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			if w.Prev != nil {
				return fhir.ErrVersionConflict
			}
		case err != nil:
			return s.wrap(err, "read %s/%s", w.Next.Type, w.Next.ID)
		default:
			vid, _ := raw.Lookup("vid").AsInt64OK()
			if w.Prev == nil || vid != w.Prev.VersionID {
				return fhir.ErrVersionConflict
			}
			jw.Before = append([]byte(nil), raw...)
		}
		if w.Prev != nil {
			jw.History = historyID(w.Prev.ID, w.Prev.VersionID)
			if !slices.Equal(w.Prev.Compartments, w.Next.Compartments) {
				jw.MovedUpTo, jw.Compartments = w.Prev.VersionID, w.Prev.Compartments
			}
		}
		j.Writes = append(j.Writes, jw)
	}
	path, err := writeJournal(s.journalDir, &j)
	if err != nil {
		return fhir.Wrap(err, "write the transaction journal")
	}
	n := 0
	step := func() {
		n++
		if s.txStep != nil {
			s.txStep(n)
		}
	}
	if s.txStep != nil {
		s.txStep(0)
	}
	fail := func(err error) error {
		// Roll back what was written, now. When that fails too, the journal stays, and
		// every write (and the next start) first tries the rollback again: until it is
		// done none may change what it will put back, or the rollback would undo that.
		if rerr := s.rollBack(context.WithoutCancel(ctx), &j); rerr != nil {
			s.unrolled.Store(true)
			return fhir.Unavailable(fmt.Errorf("store a transaction: %w; rolling back: %v", err, rerr), retryAfter,
				"The database failed in the middle of the transaction and could not undo it yet; nothing of it is kept once it is undone, and writes wait for that. Try again shortly.")
		}
		if rerr := removeSynced(path); rerr != nil {
			return fhir.Wrap(rerr, "remove the transaction journal")
		}
		return err
	}
	// The creates first, in one insert command per type and 500 (one commit of SQLite's
	// instead of one each): they are of other resources than the rest, whose order is
	// kept. Their ids were checked free above, under their locks.
	var types []string
	creates := map[string][]any{}
	for i, w := range ws {
		if w.Prev == nil {
			if creates[w.Next.Type] == nil {
				types = append(types, w.Next.Type)
			}
			creates[w.Next.Type] = append(creates[w.Next.Type], docs[i])
		}
	}
	for _, typ := range types {
		for all := creates[typ]; len(all) > 0; {
			chunk := all[:min(len(all), 500)]
			all = all[len(chunk):]
			if _, err := s.current(typ).InsertMany(ctx, chunk); err != nil {
				if mongo.IsDuplicateKeyError(err) {
					return fail(fhir.ErrVersionConflict)
				}
				return fail(s.wrap(err, "create %d %s resources", len(chunk), typ))
			}
			step()
		}
	}
	for i, w := range ws {
		if w.Prev == nil {
			continue
		}
		// Its version was checked above, under its lock, and nothing of the transaction
		// wrote it since: each resource is written once in ws.
		if err := s.putLocked(ctx, w.Next, w.Prev, docs[i], putMode{checked: true, step: step}); err != nil {
			return fail(err)
		}
	}
	// The commit: the journal goes.
	if err := removeSynced(path); err != nil {
		return fhir.Wrap(err, "remove the transaction journal")
	}
	return nil
}

// rollBackLeft rolls back, when a transaction's rollback failed (unrolled), what its journal
// says, with no transaction running (txMu, held by the caller when held) and no single
// write (every resource lock, taken in order). It fails with KindUnavailable while the
// rollback still fails.
func (s *Store) rollBackLeft(ctx context.Context, held bool) error {
	if !s.unrolled.Load() {
		return nil
	}
	if !held {
		s.txMu.Lock()
		defer s.txMu.Unlock()
		if !s.unrolled.Load() {
			return nil
		}
	}
	for i := range s.locks {
		s.locks[i].Lock()
		defer s.locks[i].Unlock()
	}
	if _, err := s.RecoverTransactions(context.WithoutCancel(ctx)); err != nil {
		return fhir.Unavailable(err, retryAfter,
			"The database failed in the middle of a transaction, which is not undone yet; writes wait for that. Try again shortly.")
	}
	s.unrolled.Store(false)
	return nil
}

// RecoverTransactions rolls back every transaction the journal shows unfinished (see
// PutAll) and reports how many there were. Run it before serving.
func (s *Store) RecoverTransactions(ctx context.Context) (int, error) {
	if s.journalDir == "" {
		return 0, nil
	}
	entries, err := os.ReadDir(s.journalDir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the transaction journal: %w", err)
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(s.journalDir, name)
		if strings.HasSuffix(name, ".tmp") {
			// Cut short while being written, before any change: nothing to undo.
			if err := removeSynced(path); err != nil {
				return n, err
			}
			continue
		}
		if !strings.HasSuffix(name, ".journal") {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return n, fmt.Errorf("read the transaction journal: %w", err)
		}
		var j journal
		if err := json.Unmarshal(data, &j); err != nil {
			return n, fmt.Errorf("transaction journal %s cannot be read (%v): it is left for you to look at", path, err)
		}
		if err := s.rollBack(ctx, &j); err != nil {
			return n, fmt.Errorf("roll back the transaction of %s: %w", path, err)
		}
		if err := removeSynced(path); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// rollBack puts back what j's transaction found, in the reverse order of its writes. Each
// step is idempotent, so a rollback cut short is done again at the next start.
func (s *Store) rollBack(ctx context.Context, j *journal) error {
	for i := len(j.Writes) - 1; i >= 0; i-- {
		w := j.Writes[i]
		if w.MovedUpTo > 0 {
			cmp := w.Compartments
			if cmp == nil {
				cmp = []string{}
			}
			if err := s.moveHistory(ctx, w.Type, w.ID, w.MovedUpTo, cmp); err != nil {
				return err
			}
		}
		if w.History != "" {
			// The copy of the version that is current again.
			if _, err := s.history(w.Type).DeleteOne(ctx, bson.D{{Key: "_id", Value: w.History}}); err != nil {
				return err
			}
		}
		filter := bson.D{{Key: "_id", Value: w.ID}}
		if w.Before == nil {
			if _, err := s.current(w.Type).DeleteOne(ctx, filter); err != nil {
				return err
			}
			continue
		}
		if _, err := s.current(w.Type).ReplaceOne(ctx, filter, bson.Raw(w.Before), options.Replace().SetUpsert(true)); err != nil {
			return err
		}
	}
	return nil
}

// writeJournal writes j durably as a new file in dir, so that a .journal file is always
// whole (a crash may leave a .tmp file, which start removes).
func writeJournal(dir string, j *journal) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	data, err := json.Marshal(j)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, fhir.NewID()+".journal")
	return path, journalfile.WriteFile(path, data)
}

// removeSynced removes path and syncs its directory.
func removeSynced(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return journalfile.SyncDir(filepath.Dir(path))
}
