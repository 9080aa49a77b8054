package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/fixtures"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/generate"
	"github.com/patient-involvement/fhir-server/internal/store"
	"github.com/patient-involvement/fhir-server/internal/store/embedded"
)

// BenchmarkStart times `fhir-server serve` on the embedded database from the start of the
// process's work to the first answered GET /fhir/metadata, with 1,000 and 10,000 stored
// QuestionnaireResponses (START_BENCH_SIZES overrides, e.g. "1000,10000,100000"). The data
// is inserted as stored documents beforehand, and one start runs first so that the
// search-value state is recorded, as on any server that has run before.
func BenchmarkStart(b *testing.B) {
	sizes := []int{1000, 10000}
	if env := os.Getenv("START_BENCH_SIZES"); env != "" {
		sizes = nil
		for _, f := range strings.Split(env, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				b.Fatalf("START_BENCH_SIZES: %v", err)
			}
			sizes = append(sizes, n)
		}
	}
	for _, size := range sizes {
		b.Run("QR="+strconv.Itoa(size), func(b *testing.B) {
			dir := b.TempDir()
			seedDataDir(b, dir, size)
			for b.Loop() {
				startOnce(b, dir)
			}
		})
	}
}

// startOnce runs the server on dir until it has answered /fhir/metadata, then stops it.
func startOnce(b *testing.B, dir string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, w := io.Pipe()
	env := map[string]string{"FHIR_DATA_DIR": dir, "FHIR_ADDR": "127.0.0.1:0", "FHIR_LOG_LEVEL": "error"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, lookup, w, io.Discard)
		_ = w.Close()
	}()
	re := regexp.MustCompile(`ready at (http://\S+/fhir)`)
	sc := bufio.NewScanner(out)
	base := ""
	for base == "" && sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			base = m[1]
		}
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	if base == "" {
		b.Fatalf("the server did not start: %v", <-done)
	}
	resp, err := http.Get(base + "/metadata")
	if err != nil {
		b.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("metadata: %d", resp.StatusCode)
	}
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
}

// seedDataDir stores size generated responses in the embedded database under dir, and
// records their search values as current.
func seedDataDir(b testing.TB, dir string, size int) {
	ctx := context.Background()
	emb, err := embedded.Start(ctx, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = emb.Close() }()
	client, err := store.Connect(ctx, emb.URI(), store.ConnectOptions{}, emb.Monitor())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = client.Disconnect(ctx) }()
	st, err := store.New(client.Database("fhir"), fhir.DefaultRegistry(), store.Options{IDFiltersOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	if err := st.EnsureIndexes(ctx); err != nil {
		b.Fatal(err)
	}
	lines, err := generate.Responses(fixtures.FS(), size, 5)
	if err != nil {
		b.Fatal(err)
	}
	rs := make([]*fhir.Resource, len(lines))
	now := time.Now()
	for i, line := range lines {
		var head struct{ ID string }
		if err := json.Unmarshal(line, &head); err != nil {
			b.Fatal(err)
		}
		body, err := fhir.ParseBody(line, "QuestionnaireResponse")
		if err != nil {
			b.Fatal(err)
		}
		if rs[i], err = body.Version(head.ID, 1, now, http.MethodPut); err != nil {
			b.Fatal(err)
		}
	}
	t0 := time.Now()
	if _, err := st.InsertNew(ctx, rs); err != nil {
		b.Fatal(err)
	}
	b.Logf("inserted %d stored responses in %s", len(rs), time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	if err := st.Reindex(ctx, nil); err != nil {
		b.Fatal(err)
	}
	b.Logf("first search-value check over %d responses: %s", len(rs), time.Since(t0).Round(time.Millisecond))
}
