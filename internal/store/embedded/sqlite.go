package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
	_ "modernc.org/sqlite" // the SQLite driver FerretDB itself uses
)

// FerretDB v1.24's SQLite backend keeps each database in <dir>/<database>.sqlite, one table
// per collection (named in its _ferretdb_collections table), each document as SJSON text in
// one column. It creates the unique _id index on the expression _ferretdb_sjson->"_id" but
// looks documents up with _ferretdb_sjson->'$._id', an expression SQLite does not match to
// that index: without help every lookup, replace and delete by _id scans the whole table.
// The server owns these files (the database serves only this process), so it adds an index
// on the exact expression FerretDB queries, through SQLite directly.
const (
	sjsonColumn     = "_ferretdb_sjson"
	idExpression    = sjsonColumn + "->'$._id'"
	collectionsMeta = "_ferretdb_collections"
	fileExtension   = ".sqlite"
	// IDIndexSuffix ends the name of the index this package adds to each collection's table.
	IDIndexSuffix = "_id_lookup"
)

// sqliteFiles reads and tunes the SQLite files beneath FerretDB.
type sqliteFiles struct {
	dir    string
	logger *slog.Logger

	mu    sync.Mutex
	known map[string]bool // "database.collection" whose table has the _id lookup index
}

// open opens one database's file for this process's own statements. It never creates a
// file (mode=rw): a database FerretDB has dropped stays dropped.
func (f *sqliteFiles) open(database string) (*sql.DB, error) {
	return f.openWait(database, 10*time.Second)
}

// openWait is open with how long a statement waits for a lock another connection holds.
func (f *sqliteFiles) openWait(database string, wait time.Duration) (*sql.DB, error) {
	path := filepath.Join(f.dir, database+fileExtension)
	db, err := sql.Open("sqlite", fmt.Sprintf("file:%s?mode=rw&_pragma=busy_timeout(%d)", path, wait.Milliseconds()))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// databases lists the databases that have a file.
func (f *sqliteFiles) databases() ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(f.dir, "*"+fileExtension))
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(matches))
	for _, m := range matches {
		out = append(out, strings.TrimSuffix(filepath.Base(m), fileExtension))
	}
	return out, nil
}

// tables maps each collection of an open database file to its table.
func tables(ctx context.Context, db *sql.DB) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name, table_name FROM "`+collectionsMeta+`"`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return map[string]string{}, nil
		}
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, table string
		if err := rows.Scan(&name, &table); err != nil {
			return nil, err
		}
		out[name] = table
	}
	return out, rows.Err()
}

// ensureIDIndexes adds the _id lookup index to every table of database that lacks it.
func (f *sqliteFiles) ensureIDIndexes(ctx context.Context, database string) error {
	db, err := f.open(database)
	if err != nil {
		return err
	}
	defer db.Close()
	colls, err := tables(ctx, db)
	if err != nil {
		if isMissingFile(err) {
			return nil // dropped meanwhile
		}
		return fmt.Errorf("list the collections of %s: %w", database, err)
	}
	for coll, table := range colls {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (%s)`, table+IDIndexSuffix, table, idExpression)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("index _id of %s.%s: %w", database, coll, err)
		}
		f.mu.Lock()
		f.known[database+"."+coll] = true
		f.mu.Unlock()
	}
	return nil
}

// isMissingFile reports whether err says the database file does not exist (mode=rw).
func isMissingFile(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "unable to open database file") || errors.Is(err, os.ErrNotExist))
}

// ensureAll adds the _id lookup index to every table of every database.
func (f *sqliteFiles) ensureAll(ctx context.Context) error {
	dbs, err := f.databases()
	if err != nil {
		return err
	}
	for _, d := range dbs {
		if err := f.ensureIDIndexes(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// creating names the commands that create a collection when it does not exist yet.
var creating = map[string]bool{
	"insert": true, "update": true, "findAndModify": true, "create": true, "createIndexes": true,
}

// monitor watches the client's commands: once a command that may have created a collection
// has succeeded, the new collection's table gets its _id lookup index before the caller
// goes on; a dropped database or collection is forgotten.
func (f *sqliteFiles) monitor() *event.CommandMonitor {
	var pending sync.Map // request id → database name
	// indexNew indexes the new collections of the database a pending command ran on.
	indexNew := func(ctx context.Context, requestID int64) {
		database, ok := pending.LoadAndDelete(requestID)
		if !ok {
			return
		}
		if err := f.ensureIDIndexes(ctx, database.(string)); err != nil {
			f.logger.Error("embedded database: could not index _id of a new collection; lookups by id will scan it", "database", database, "err", err)
		}
	}
	return &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			switch {
			case creating[e.CommandName]:
				coll, _ := e.Command.Lookup(e.CommandName).StringValueOK()
				f.mu.Lock()
				known := f.known[e.DatabaseName+"."+coll]
				f.mu.Unlock()
				if !known {
					pending.Store(e.RequestID, e.DatabaseName)
				}
			case e.CommandName == "drop":
				coll, _ := e.Command.Lookup("drop").StringValueOK()
				f.forget(e.DatabaseName, coll)
			case e.CommandName == "dropDatabase":
				f.forget(e.DatabaseName, "")
			}
		},
		Succeeded: func(ctx context.Context, e *event.CommandSucceededEvent) {
			indexNew(context.WithoutCancel(ctx), e.RequestID)
		},
		// A failed insert can still have created the collection.
		Failed: func(ctx context.Context, e *event.CommandFailedEvent) {
			indexNew(context.WithoutCancel(ctx), e.RequestID)
		},
	}
}

// forget drops what is known of a collection, or of a whole database when coll is empty.
func (f *sqliteFiles) forget(database, coll string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if coll != "" {
		delete(f.known, database+"."+coll)
		return
	}
	for k := range f.known {
		if strings.HasPrefix(k, database+".") {
			delete(f.known, k)
		}
	}
}

// withTable runs fn on an open connection to database's file with the table of collection,
// and reports whether there was one (no file, or no such collection: false, and fn is not run).
func (f *sqliteFiles) withTable(ctx context.Context, database, collection string, fn func(db *sql.DB, table string) error) (bool, error) {
	db, err := f.open(database)
	if err != nil {
		return false, err
	}
	defer db.Close()
	colls, err := tables(ctx, db)
	if isMissingFile(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	table, ok := colls[collection]
	if !ok {
		return false, nil
	}
	return true, fn(db, table)
}

// count counts the documents of a collection without decoding them (SQLite counts the
// entries of the _id lookup index).
func (f *sqliteFiles) count(ctx context.Context, database, coll string) (int64, error) {
	var n int64
	_, err := f.withTable(ctx, database, coll, func(db *sql.DB, table string) error {
		return db.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM %q`, table)).Scan(&n)
	})
	return n, err
}

// walSize is the size of a database's write-ahead log (0 when there is none).
func (f *sqliteFiles) walSize(database string) int64 {
	fi, err := os.Stat(filepath.Join(f.dir, database+fileExtension+"-wal"))
	if err != nil {
		return 0
	}
	return fi.Size()
}

// checkpoint copies the write-ahead log of every database whose log is over limit bytes
// into the database file and truncates the log. FerretDB's own connections checkpoint
// only passively, which under steady reads never gets to the log's end, so the log grows
// without bound.
func (f *sqliteFiles) checkpoint(ctx context.Context, limit int64) (missed bool) {
	dbs, err := f.databases()
	if err != nil {
		return false
	}
	for _, d := range dbs {
		size := f.walSize(d)
		if size <= limit {
			continue
		}
		// A truncating checkpoint holds the write lock while it copies the log into the
		// database and waits for readers of older snapshots to finish. A reader can be part
		// of a write that waits for that same lock, so it waits only briefly and lets go;
		// the writers get their turn, and it tries again soon after.
		db, err := f.openWait(d, checkpointWait)
		if err != nil {
			continue
		}
		var busy, logPages, done int
		err = db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logPages, &done)
		_ = db.Close()
		if err != nil && isMissingFile(err) {
			continue
		}
		if err != nil || busy == 1 {
			missed = true
			f.logger.Debug("embedded database: write-ahead log checkpoint did not finish; will retry", "database", d, "wal_bytes", size, "err", err)
			continue
		}
		f.logger.Debug("embedded database: checkpointed the write-ahead log", "database", d, "wal_bytes_before", size, "wal_bytes_after", f.walSize(d))
	}
	return missed
}

// checkpointWait is the longest a checkpoint holds up the database's writers while it waits
// for readers of older snapshots to finish. Waiting longer does not help: the reader it
// waits for can be a write waiting for the lock the checkpoint holds.
const checkpointWait = 25 * time.Millisecond

// checkpointRetry is how soon a checkpoint that readers kept from finishing is tried again,
// so that the log of a busy database is still truncated while writes go on; the pause
// between tries is the writers' turn.
const checkpointRetry = 200 * time.Millisecond

// checkpoints runs checkpoint every interval until ctx ends, and every checkpointRetry
// while the last one did not finish.
func (f *sqliteFiles) checkpoints(ctx context.Context, interval time.Duration, limit int64) {
	next := interval
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(next):
			next = interval
			if f.checkpoint(ctx, limit) {
				next = min(interval, checkpointRetry)
			}
		}
	}
}

// QueryPlan returns SQLite's EXPLAIN QUERY PLAN for statement (with ? placeholders for
// args) on the table of database.collection; "{table}" in statement stands for the table.
// It lets tests see which index a lookup uses.
func (e *Server) QueryPlan(ctx context.Context, database, collection, statement string, args ...any) (string, error) {
	var lines []string
	found, err := e.files.withTable(ctx, database, collection, func(db *sql.DB, table string) error {
		q := "EXPLAIN QUERY PLAN " + strings.ReplaceAll(statement, "{table}", fmt.Sprintf("%q", table))
		rows, err := db.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, parent, notUsed int
			var detail string
			if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
				return err
			}
			lines = append(lines, detail)
		}
		return rows.Err()
	})
	if err == nil && !found {
		err = fmt.Errorf("no collection %s.%s", database, collection)
	}
	return strings.Join(lines, "\n"), err
}

// IDExpression is the expression FerretDB looks documents up by, for QueryPlan statements.
const IDExpression = idExpression

// Count counts the documents of database.collection without decoding them; 0 when the
// collection does not exist.
func (e *Server) Count(ctx context.Context, database, collection string) (int64, error) {
	return e.files.count(ctx, database, collection)
}

// WALSize is the size in bytes of database's write-ahead log.
func (e *Server) WALSize(database string) int64 { return e.files.walSize(database) }

// Monitor returns the command monitor that clients of this database must be created with
// (options.Client().SetMonitor): it gives every collection created through them its _id
// lookup index as soon as it exists.
func (e *Server) Monitor() *event.CommandMonitor { return e.monitor }
