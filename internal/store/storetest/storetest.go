// Package storetest gives tests a fresh, real database: on the embedded database started once
// per test binary, or on the MongoDB named by MONGODB_URI when it is set.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/patient-involvement/fhir-server/internal/store/embedded"
)

var (
	once     sync.Once
	client   *mongo.Client
	emb      *embedded.Server
	dataDir  string
	startErr error
)

func start() {
	uri := os.Getenv("MONGODB_URI")
	if uri == "" {
		dataDir, startErr = os.MkdirTemp("", "fhir-storetest-")
		if startErr != nil {
			return
		}
		emb, startErr = embedded.Start(context.Background(), dataDir, slog.New(slog.DiscardHandler))
		if startErr != nil {
			return
		}
		uri = emb.URI()
	}
	opts := options.Client().ApplyURI(uri)
	if emb != nil {
		opts.SetMonitor(emb.Monitor())
	}
	client, startErr = mongo.Connect(opts)
}

// Main runs the tests of a package and then stops the embedded database and removes its
// files. Call it from TestMain: os.Exit(storetest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if client != nil {
		_ = client.Disconnect(context.Background())
	}
	if emb != nil {
		_ = emb.Close()
	}
	if dataDir != "" {
		_ = os.RemoveAll(dataDir)
	}
	return code
}

// Embedded returns the embedded database the tests run on, or nil when they run on the
// MongoDB named by MONGODB_URI.
func Embedded(tb testing.TB) *embedded.Server {
	tb.Helper()
	once.Do(start)
	if startErr != nil {
		tb.Fatalf("start test database: %v", startErr)
	}
	return emb
}

// IsEmbedded reports whether the tests run on the embedded database (so that stores are
// made with store.Options.IDFiltersOnly, as the server makes them there).
func IsEmbedded(tb testing.TB) bool { return Embedded(tb) != nil }

// NewDatabase returns an empty database of its own for the test and drops it when the test ends.
func NewDatabase(tb testing.TB) *mongo.Database {
	tb.Helper()
	once.Do(start)
	if startErr != nil {
		tb.Fatalf("start test database: %v", startErr)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	db := client.Database("test_" + hex.EncodeToString(b[:]))
	tb.Cleanup(func() { _ = db.Drop(context.Background()) })
	return db
}

// SQLiteFile returns the path of the SQLite file in which the embedded database keeps db
// (FerretDB keeps one file per database under its data directory), or "" when the tests run
// on MongoDB (MONGODB_URI). Tests may open it read-only to measure what is stored.
func SQLiteFile(db *mongo.Database) string {
	if dataDir == "" {
		return ""
	}
	return filepath.Join(dataDir, "ferretdb", db.Name()+".sqlite")
}
