// Package embedded runs an in-process MongoDB-wire-compatible database (FerretDB v1 with
// its SQLite backend) for development, demos, tests and small data.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Server is an in-process MongoDB-wire-compatible database (FerretDB v1 with its SQLite
// backend) listening on loopback only. It is meant for development, demos, tests and small
// data: it serves no query from an index.
type Server struct {
	uri    string
	cancel context.CancelFunc
	done   chan error
}

// Start starts the embedded database with its files under dir and returns once it
// accepts connections. logger receives its errors.
func Start(ctx context.Context, dir string, logger *slog.Logger) (*Server, error) {
	dbDir := filepath.Join(dir, "ferretdb")
	if err := os.MkdirAll(dbDir, 0o700); err != nil {
		return nil, fmt.Errorf("create embedded database directory: %w", err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	// At WARN and below FerretDB logs every client disconnect; errors are what matter.
	quiet := slog.New(levelFilter{logger.Handler(), slog.LevelError})
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dbDir + "/",
		Logger:    quiet,
	})
	if err != nil {
		return nil, fmt.Errorf("start embedded database: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	e := &Server{cancel: cancel, done: make(chan error, 1)}
	go func() { e.done <- f.Run(runCtx) }()

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
