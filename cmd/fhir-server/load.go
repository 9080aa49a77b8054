package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/patient-involvement/fhir-server/api"
	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/config"
	"github.com/patient-involvement/fhir-server/internal/datadir"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/loader"
	"github.com/patient-involvement/fhir-server/internal/metrics"
	"github.com/patient-involvement/fhir-server/internal/questionnaire"
	"github.com/patient-involvement/fhir-server/internal/search"
	"github.com/patient-involvement/fhir-server/internal/store"
	"github.com/patient-involvement/fhir-server/internal/store/embedded"
	"github.com/patient-involvement/fhir-server/internal/subscription"
)

const loadUsage = `usage: fhir-server load [flags] PATH…

Loads FHIR R4 JSON files, folders (every *.json and *.ndjson, recursively), Bundles and
NDJSON ("-" reads NDJSON from stdin). With --url it writes to a running server over HTTP
(with --batch N, in batch Bundles of N); without, straight into the configured database
(MONGODB_URI, or the embedded database in FHIR_DATA_DIR). Transaction Bundles are sent as
transactions: all or nothing. Loading again writes nothing that has not changed. Flags go
before paths.

flags:`

// runLoad is `fhir-server load`.
func runLoad(ctx context.Context, args []string, env config.Lookup, stdout, stderr io.Writer) error {
	var baseURL, token string
	var workers, batch int
	cfg, paths, err := config.ParseCommand("fhir-server load", args, env, func(fs *flag.FlagSet) {
		fs.StringVar(&baseURL, "url", "", "FHIR base URL of a running server, e.g. http://localhost:8080/fhir; empty: write into the database directly")
		fs.StringVar(&token, "token", "", "bearer token sent with every request to --url (FHIR_TOKEN)")
		fs.IntVar(&workers, "workers", 4, "resources written at once")
		fs.IntVar(&batch, "batch", 0, "with --url, send the reads and writes in batch Bundles of up to N entries (and write N resources at once); 0: one request each")
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
	if batch < 0 || (batch > 0 && baseURL == "") {
		return errors.New("load: --batch N takes a number of entries of 1 or more, and is used only with --url")
	}
	var target loader.Target
	if baseURL != "" {
		ht, err := loader.NewHTTPTarget(baseURL, token, nil)
		if err != nil {
			return err
		}
		target = ht
		if batch > 0 {
			target, workers = loader.NewBatchTarget(ht, batch), max(workers, batch)
		}
	}
	inputs, err := loader.Paths(paths, os.Stdin)
	if err != nil {
		return err
	}
	if target == nil {
		log := newLogger(cfg, stderr)
		svc, searcher, _, closeDB, err := openService(ctx, cfg, log, "load", nil, false)
		if err != nil {
			return err
		}
		defer closeDB()
		st, err := loader.NewServiceTarget(svc, searcher)
		if err != nil {
			return err
		}
		// Transaction files go through the API's own handler in-process, so that they are
		// stored all or nothing as over --url; no token is needed to reach one's own database.
		verifier, err := auth.NewVerifier(ctx, auth.Options{Mode: auth.ModeOff})
		if err != nil {
			return err
		}
		h, err := api.New(api.Options{Service: svc, Searcher: searcher, Logger: log, Auth: verifier,
			MaxBodyBytes: cfg.MaxBodyBytes, MaxBundleEntries: cfg.MaxBundleEntries, Location: cfg.Location})
		if err != nil {
			return err
		}
		if target, err = st.WithBundles(h); err != nil {
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

// questionnaireTTL bounds how long a server on MongoDB trusts what it knows of the
// Questionnaires stored under a url, which other servers may change.
const questionnaireTTL = 5 * time.Second

// openService connects to the configured database (starting the embedded one when there is
// no MONGODB_URI, after taking the data directory's lock for command) and returns the service
// and the searcher on it, with a function that closes it all. m, when not nil, records the
// database commands.
//
// With reindex, search values extracted by an older version or with other settings are
// extracted again in the background (see store.Reindex); closing waits for it to stop.
func openService(ctx context.Context, cfg *config.Config, log *slog.Logger, command string, m *metrics.Metrics, reindex bool) (*fhir.Service, search.Searcher, *subscription.Manager, func(), error) {
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	uri := cfg.MongoURI
	var monitor *event.CommandMonitor
	var emb *embedded.Server
	if uri == "" {
		lock, err := datadir.Acquire(cfg.DataDir, command)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		closers = append(closers, func() {
			if err := lock.Release(); err != nil {
				log.Error("data directory lock not released", "err", err)
			}
		})
		emb, err = embedded.Start(ctx, cfg.DataDir, log)
		if err != nil {
			closeAll()
			return nil, nil, nil, nil, err
		}
		closers = append(closers, func() {
			if err := emb.Close(); err != nil {
				log.Error("embedded database stopped with an error", "err", err)
			}
		})
		uri, monitor = emb.URI(), emb.Monitor()
		log.Warn("using the embedded database (FerretDB with SQLite): reads and writes by id are index-served, every search reads all stored resources of its type; set MONGODB_URI for production",
			"data_dir", cfg.DataDir)
	} else {
		log.Info("using MongoDB", "uri", cfg.Redacted(), "database", cfg.MongoDatabase)
	}
	monitors := []*event.CommandMonitor{monitor}
	if m != nil {
		monitors = append(monitors, m.CommandMonitor())
	}
	client, err := store.Connect(ctx, uri, store.ConnectOptions{Timeout: cfg.DBTimeout, SelectionTimeout: cfg.DBSelectionTimeout}, monitors...)
	if err != nil {
		closeAll()
		return nil, nil, nil, nil, err
	}
	closers = append(closers, func() { _ = client.Disconnect(context.Background()) })
	registry := fhir.DefaultRegistry()
	opts := store.Options{BaseURL: cfg.BaseURL, Location: cfg.Location, MaxIncluded: cfg.MaxIncluded}
	if emb != nil {
		// The embedded database serves only single-_id filters from an index and reads the
		// whole collection for anything else: reach known documents by _id, and let one
		// collection-reading query per core run at a time.
		opts.IDFiltersOnly, opts.MaxScans = true, runtime.NumCPU()
		// It has no transactions: they are journaled in the data directory (see
		// store.PutAll) and rolled back at start when they did not finish.
		opts.JournalDir = filepath.Join(cfg.DataDir, transactionJournalDir)
		if n := cfg.TransactionKillAfter; n >= 0 {
			opts.TransactionStep = func(step int) {
				if step == n {
					log.Warn("FHIR_TEST_TRANSACTION_KILL_AFTER: killing the process inside a transaction", "step", step)
					_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				}
			}
		}
	}
	st, err := store.New(client.Database(cfg.MongoDatabase), registry, opts)
	if err == nil {
		err = st.EnsureIndexes(ctx)
	}
	if err == nil {
		var n int
		if n, err = st.RecoverTransactions(ctx); n > 0 {
			log.Warn("rolled back transactions that an earlier process did not finish", "transactions", n)
		}
	}
	if err != nil {
		closeAll()
		return nil, nil, nil, nil, err
	}
	// Responses are checked against their Questionnaire. On the embedded database this
	// process is the only client, so what the rules cache of the stored Questionnaires is
	// exact until a Questionnaire is written here; on MongoDB other servers may write them
	// too, and what is known of a url is asked again after a few seconds.
	ttl := questionnaireTTL
	if emb != nil {
		ttl = 0
	}
	rules, err := questionnaire.New(st, questionnaire.Options{Mode: questionnaire.Mode(cfg.QRValidation), ResolveTTL: ttl, Logger: log})
	if err != nil {
		closeAll()
		return nil, nil, nil, nil, err
	}
	// Scores computed from responses are searched beside their answers: extracting search
	// values again computes them again.
	st.DeriveWith(rules)
	logSizes(ctx, log, registry, cfg.MongoDatabase, emb, st)
	if reindex {
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			if err := st.Reindex(rctx, log); err != nil && rctx.Err() == nil {
				log.Error("extracting search values again failed; searches may miss resources stored by an older version until the next start", "err", err)
			}
		}()
		closers = append(closers, func() { cancel(); <-stopped })
	}
	// Subscriptions: served by the server command alone (a load writes in bulk and
	// notifies nothing). The outbox lives beside the embedded database and the audit journal.
	var subs *subscription.Manager
	// Other commands refuse Subscriptions, which they could not serve.
	checker := fhir.ContentCheckers(rules, &subscription.Unserved{})
	if command == "serve" {
		subs, err = subscription.New(subscription.Options{
			Dir: filepath.Join(cfg.DataDir, subscriptionDir), Store: st, Compile: st.Matcher,
			AllowedHosts: cfg.SubscriptionAllowedHosts, RetryFor: cfg.SubscriptionRetryFor,
			RetryMax: cfg.SubscriptionRetryMax, Timeout: cfg.SubscriptionTimeout, Logger: log, Metrics: m,
		})
		if err != nil {
			closeAll()
			return nil, nil, nil, nil, err
		}
		st.ObserveWrites(subs)
		checker = fhir.ContentCheckers(rules, subs)
	}
	svc, err := fhir.NewService(st, registry, fhir.WithContentChecker(checker), fhir.WithMaxJSONValues(cfg.MaxJSONValues))
	if err != nil {
		closeAll()
		return nil, nil, nil, nil, err
	}
	return svc, st, subs, closeAll, nil
}

// subscriptionDir is the subscription outbox's directory in the data directory.
const subscriptionDir = "subscriptions"

// transactionJournalDir is the embedded database's transaction journal in the data directory.
const transactionJournalDir = "transaction-journal"

// scanAdvice is the number of stored resources of one type above which a search on the
// embedded database, which reads every stored resource of the type, takes more than about
// a second (measured: docs/embedded-database.md).
const scanAdvice = 1000

// logSizes logs how many resources of each type are stored, and says when there are more
// than the embedded database searches in about a second.
func logSizes(ctx context.Context, log *slog.Logger, registry *fhir.Registry, database string, emb *embedded.Server, st *store.Store) {
	var total int64
	var large []string
	args := []any{}
	for _, t := range registry.Types() {
		var n int64
		var err error
		if emb != nil {
			n, err = emb.Count(ctx, database, t.Name)
		} else {
			n, err = st.EstimatedCount(ctx, t.Name)
		}
		if err != nil {
			log.Warn("could not count the stored resources", "type", t.Name, "err", err)
			continue
		}
		total += n
		args = append(args, t.Name, n)
		if emb != nil && n > scanAdvice {
			large = append(large, fmt.Sprintf("%s (%d)", t.Name, n))
		}
	}
	log.Info("stored resources", append([]any{"total", total}, args...)...)
	if len(large) > 0 {
		log.Warn(fmt.Sprintf("the embedded database holds more resources of %s than it searches in about a second: "+
			"each search reads every stored resource of its type. Reads and writes by id stay fast; "+
			"to search this much data, use MongoDB (set MONGODB_URI), which serves searches from indexes",
			strings.Join(large, ", ")))
	}
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
