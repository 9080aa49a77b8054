package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/patient-involvement/fhir-server/internal/config"
	"github.com/patient-involvement/fhir-server/internal/datadir"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/loader"
	"github.com/patient-involvement/fhir-server/internal/metrics"
	"github.com/patient-involvement/fhir-server/internal/search"
	"github.com/patient-involvement/fhir-server/internal/store"
	"github.com/patient-involvement/fhir-server/internal/store/embedded"
)

const loadUsage = `usage: fhir-server load [flags] PATH…

Loads FHIR R4 JSON files, folders (every *.json and *.ndjson, recursively), Bundles and
NDJSON ("-" reads NDJSON from stdin). With --url it writes to a running server over HTTP;
without, straight into the configured database (MONGODB_URI, or the embedded database in
FHIR_DATA_DIR). Loading again writes nothing that has not changed. Flags go before paths.

flags:`

// runLoad is `fhir-server load`.
func runLoad(ctx context.Context, args []string, env config.Lookup, stdout, stderr io.Writer) error {
	var baseURL, token string
	var workers int
	cfg, paths, err := config.ParseCommand("fhir-server load", args, env, func(fs *flag.FlagSet) {
		fs.StringVar(&baseURL, "url", "", "FHIR base URL of a running server, e.g. http://localhost:8080/fhir; empty: write into the database directly")
		fs.StringVar(&token, "token", "", "bearer token sent with every request to --url (FHIR_TOKEN)")
		fs.IntVar(&workers, "workers", 4, "resources written at once")
		fs.SetOutput(stderr)
		fs.Usage = func() {
			fmt.Fprintln(stderr, loadUsage)
			fs.PrintDefaults()
		}
	})
	if err != nil {
		return err
	}
	if token != "" && baseURL == "" {
		return errors.New("load: --token is only used with --url")
	}
	if token == "" && baseURL != "" {
		// From the environment, and not as the flag's default: -h would print it.
		token, _ = env("FHIR_TOKEN")
	}
	if len(paths) == 0 {
		return errors.New("load: name at least one file or folder (fhir-server load -h)")
	}
	var target loader.Target
	if baseURL != "" {
		if target, err = loader.NewHTTPTarget(baseURL, token, nil); err != nil {
			return err
		}
	}
	inputs, err := loader.Paths(paths, os.Stdin)
	if err != nil {
		return err
	}
	if target == nil {
		svc, searcher, closeDB, err := openService(ctx, cfg, newLogger(cfg, stderr), "load", nil)
		if err != nil {
			return err
		}
		defer closeDB()
		if target, err = loader.NewServiceTarget(svc, searcher); err != nil {
			return err
		}
	}
	l, err := loader.New(target, loader.Options{Workers: workers, Progress: stderr, Terminal: isTerminal(stderr)})
	if err != nil {
		return err
	}
	sum, err := l.Load(ctx, inputs)
	if werr := sum.Write(stdout); werr != nil && err == nil {
		err = werr
	}
	return err
}

// openService connects to the configured database (starting the embedded one when there is
// no MONGODB_URI, after taking the data directory's lock for command) and returns the service
// and the searcher on it, with a function that closes it all. m, when not nil, records the
// database commands.
func openService(ctx context.Context, cfg *config.Config, log *slog.Logger, command string, m *metrics.Metrics) (*fhir.Service, search.Searcher, func(), error) {
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	uri := cfg.MongoURI
	if uri == "" {
		lock, err := datadir.Acquire(cfg.DataDir, command)
		if err != nil {
			return nil, nil, nil, err
		}
		closers = append(closers, func() {
			if err := lock.Release(); err != nil {
				log.Error("data directory lock not released", "err", err)
			}
		})
		emb, err := embedded.Start(ctx, cfg.DataDir, log)
		if err != nil {
			closeAll()
			return nil, nil, nil, err
		}
		closers = append(closers, func() {
			if err := emb.Close(); err != nil {
				log.Error("embedded database stopped with an error", "err", err)
			}
		})
		uri = emb.URI()
		log.Warn("using the embedded database (FerretDB with SQLite): meant for development, demos and small data; set MONGODB_URI for production",
			"data_dir", cfg.DataDir)
	} else {
		log.Info("using MongoDB", "uri", cfg.Redacted(), "database", cfg.MongoDatabase)
	}
	var extra []*options.ClientOptions
	if m != nil {
		extra = append(extra, options.Client().SetMonitor(m.CommandMonitor()))
	}
	client, err := store.Connect(ctx, uri, extra...)
	if err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	closers = append(closers, func() { _ = client.Disconnect(context.Background()) })
	registry := fhir.DefaultRegistry()
	st, err := store.New(client.Database(cfg.MongoDatabase), registry, store.Options{BaseURL: cfg.BaseURL, Location: cfg.Location})
	if err == nil {
		err = st.EnsureIndexes(ctx)
	}
	if err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	svc, err := fhir.NewService(st, registry)
	if err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	return svc, st, closeAll, nil
}

// isTerminal reports whether w is a terminal, where a progress bar can be redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
