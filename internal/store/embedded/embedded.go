// Package embedded runs an in-process MongoDB-wire-compatible database (FerretDB v1 with
// its SQLite backend) for development, demos, tests and small data.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/event"
)

// Server is an in-process MongoDB-wire-compatible database (FerretDB v1 with its SQLite
// backend) listening on loopback only. It is meant for development, demos, tests and small
// data: it serves lookups by _id from an index (see sqlite.go) and every other query by
// reading the whole collection.
type Server struct {
	uri     string
	cancel  context.CancelFunc
	done    chan error
	files   *sqliteFiles
	monitor *event.CommandMonitor
}

// Options tune the embedded database. The zero value gives the defaults.
type Options struct {
	// CheckpointInterval is how often the size of each write-ahead log is looked at
	// (default 30s).
	CheckpointInterval time.Duration
	// CheckpointBytes is the write-ahead log size above which it is checkpointed and
	// truncated (default 64 MiB); SQLite also truncates it to this size after its own
	// checkpoints.
	CheckpointBytes int64
	// Addr is the loopback address to listen on (default 127.0.0.1:0, a free port): a
	// database started again on the same address is found again by the clients of the first.
	Addr string
}

// Start starts the embedded database with its files under dir and returns once it
// accepts connections, with every existing collection's _id lookup index in place. logger
// receives its errors. Clients must be made with Monitor, so that collections created
// later are indexed too.
func Start(ctx context.Context, dir string, logger *slog.Logger, opts ...Options) (*Server, error) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = 30 * time.Second
	}
	if o.CheckpointBytes <= 0 {
		o.CheckpointBytes = 64 << 20
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	dbDir := filepath.Join(dir, "ferretdb")
	if err := os.MkdirAll(dbDir, 0o700); err != nil {
		return nil, fmt.Errorf("create embedded database directory: %w", err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	// At WARN and below FerretDB logs every client disconnect; errors are what matter.
	quiet := slog.New(levelFilter{logger.Handler(), slog.LevelError})
	files := &sqliteFiles{dir: dbDir, logger: logger, known: map[string]bool{}}
	// Index the tables that exist before FerretDB opens them.
	if err := files.ensureAll(ctx); err != nil {
		return nil, fmt.Errorf("index the embedded database: %w", err)
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: o.Addr},
		Handler:  "sqlite",
		// Every connection truncates the write-ahead log to this size after a checkpoint.
		SQLiteURL: "file:" + dbDir + "/?_pragma=" + url.QueryEscape(fmt.Sprintf("journal_size_limit(%d)", o.CheckpointBytes)),
		Logger:    quiet,
	})
	if err != nil {
		return nil, fmt.Errorf("start embedded database: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	e := &Server{cancel: cancel, done: make(chan error, 1), files: files, monitor: files.monitor()}
	go func() { e.done <- f.Run(runCtx) }()
	go files.checkpoints(runCtx, o.CheckpointInterval, o.CheckpointBytes)

	deadline := time.Now().Add(30 * time.Second)
	for {
		uri := f.MongoDBURI()
		if uri != "" && uri != "mongodb://127.0.0.1:0/" {
			e.uri = uri
			return e, nil
		}
		select {
		case err := <-e.done:
			cancel()
			return nil, fmt.Errorf("embedded database stopped at start: %w", err)
		case <-ctx.Done():
			cancel()
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			return nil, errors.New("embedded database did not start listening within 30s")
		}
	}
}

// URI is the connection string of the running database.
func (e *Server) URI() string { return e.uri }

// Close stops the database and waits for it.
func (e *Server) Close() error {
	e.cancel()
	err := <-e.done
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// levelFilter passes on only records at or above min.
type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (l levelFilter) Enabled(ctx context.Context, lvl slog.Level) bool {
	return lvl >= l.min && l.Handler.Enabled(ctx, lvl)
}

func (l levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{l.Handler.WithAttrs(a), l.min}
}

func (l levelFilter) WithGroup(n string) slog.Handler {
	return levelFilter{l.Handler.WithGroup(n), l.min}
}
