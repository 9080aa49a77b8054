package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/patient-involvement/fhir-server/api"
	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/store"
	"github.com/patient-involvement/fhir-server/internal/store/storetest"
)

// BenchmarkDatabase times the server's everyday operations on a database holding 1,000 and
// 10,000 generated QuestionnaireResponses (DATABASE_BENCH_SIZES overrides: "1000,10000,100000"),
// each beside the raw driver doing the same on the same database in the same run: a read by
// id, an update with If-Match, a create, and a search by patient (first page). The HTTP
// variants go through the whole handler in process (no network). Reads and updates also
// report their median ("p50-ms"). The data set is inserted as stored documents, in bulk.
// It runs on the embedded database, or on MongoDB when MONGODB_URI is set.
func BenchmarkDatabase(b *testing.B) {
	for _, size := range benchSizes(b, "DATABASE_BENCH_SIZES", 1000, 10000) {
		b.Run("QR="+strconv.Itoa(size), func(b *testing.B) {
			benchDatabase(b, size)
		})
	}
}

func benchDatabase(b *testing.B, size int) {
	ctx := context.Background()
	db := storetest.NewDatabase(b)
	registry := fhir.DefaultRegistry()
	st, err := store.New(db, registry, store.Options{IDFiltersOnly: storetest.IsEmbedded(b)})
	if err != nil {
		b.Fatal(err)
	}
	if err := st.EnsureIndexes(ctx); err != nil {
		b.Fatal(err)
	}
	svc, err := fhir.NewService(st, registry)
	if err != nil {
		b.Fatal(err)
	}
	verifier, err := auth.NewVerifier(ctx, auth.Options{Mode: auth.ModeOff})
	if err != nil {
		b.Fatal(err)
	}
	h, err := api.New(api.Options{Service: svc, Searcher: st, Logger: slog.New(slog.DiscardHandler), Auth: verifier})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	rs, patient := benchResponses(b, size)
	if _, err := st.InsertNew(ctx, rs); err != nil {
		b.Fatal(err)
	}
	b.Logf("inserted %d stored responses in %s", size, time.Since(t0).Round(time.Millisecond))
	coll := db.Collection("QuestionnaireResponse")
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	serve := func(method, target string, body []byte, header ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "http://localhost"+target, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/fhir+json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	b.Run("read/raw-driver", func(b *testing.B) {
		timed(b, func(i int) {
			var raw bson.Raw
			if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: ids[i%len(ids)]}}).Decode(&raw); err != nil {
				b.Fatal(err)
			}
		})
	})
	// The same read with the projection the server's reads use: no search values.
	b.Run("read/raw-driver-without-search-values", func(b *testing.B) {
		opts := options.FindOne().SetProjection(bson.D{{Key: "sp", Value: 0}})
		timed(b, func(i int) {
			var raw bson.Raw
			if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: ids[i%len(ids)]}}, opts).Decode(&raw); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("read/http", func(b *testing.B) {
		timed(b, func(i int) {
			if rec := serve("GET", "/fhir/QuestionnaireResponse/"+ids[i%len(ids)], nil); rec.Code != 200 {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		})
	})

	// Updates: the raw driver replaces a document by _id; the server checks If-Match, keeps
	// the old version in the history and replaces the current one.
	var stored bson.Raw
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: ids[0]}}).Decode(&stored); err != nil {
		b.Fatal(err)
	}
	b.Run("update/raw-driver", func(b *testing.B) {
		timed(b, func(i int) {
			if _, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: ids[0]}}, stored); err != nil {
				b.Fatal(err)
			}
		})
	})
	target := ids[len(ids)/2]
	cur, err := svc.Read(ctx, "QuestionnaireResponse", target)
	if err != nil {
		b.Fatal(err)
	}
	body := cur.Raw
	version := cur.VersionID
	b.Run("update-if-match/http", func(b *testing.B) {
		timed(b, func(i int) {
			rec := serve("PUT", "/fhir/QuestionnaireResponse/"+target, body, "If-Match", fmt.Sprintf(`W/"%d"`, version), "Prefer", "return=minimal")
			if rec.Code != 200 {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
			version++
		})
	})

	b.Run("create/raw-driver", func(b *testing.B) {
		timed(b, func(i int) {
			doc := append(bson.D{{Key: "_id", Value: fmt.Sprintf("raw-%d-%d", size, i)}}, rawDoc(b, stored)[1:]...)
			if _, err := coll.InsertOne(ctx, doc); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("create/http", func(b *testing.B) {
		timed(b, func(i int) {
			if rec := serve("POST", "/fhir/QuestionnaireResponse", body, "Prefer", "return=minimal"); rec.Code != 201 {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		})
	})

	// A patient's first page: the raw driver runs the filter the search compiles to. The
	// embedded database reads every stored document for it (about a millisecond each):
	// past some 20,000 it runs into the 30 s operation timeout, which is MongoDB's ground.
	if storetest.IsEmbedded(b) && size > 20000 {
		b.Logf("search by patient over %d responses: not measured on the embedded database (it reads them all)", size)
		return
	}
	b.Run("search-patient/raw-driver", func(b *testing.B) {
		timed(b, func(i int) {
			c, err := coll.Find(ctx, bson.D{{Key: "del", Value: false}, {Key: store.SearchField("patient", "r"), Value: patient}})
			if err != nil {
				b.Fatal(err)
			}
			var docs []bson.Raw
			if err := c.All(ctx, &docs); err != nil || len(docs) == 0 {
				b.Fatalf("%d documents, %v", len(docs), err)
			}
		})
	})
	b.Run("search-patient/http", func(b *testing.B) {
		timed(b, func(i int) {
			if rec := serve("GET", "/fhir/QuestionnaireResponse?patient="+url.QueryEscape(patient), nil); rec.Code != 200 {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		})
	})
}

// benchSizes returns the data set sizes a benchmark runs at: the comma-separated list in the
// environment variable env, or defaults.
func benchSizes(b *testing.B, env string, defaults ...int) []int {
	v := os.Getenv(env)
	if v == "" {
		return defaults
	}
	var sizes []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			b.Fatalf("%s: %v", env, err)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

// rawDoc decodes a stored document into its fields, _id first.
func rawDoc(b *testing.B, raw bson.Raw) bson.D {
	var d bson.D
	if err := bson.Unmarshal(raw, &d); err != nil {
		b.Fatal(err)
	}
	return d
}

// timed runs op b.N times and reports the median duration as p50-ms beside ns/op.
func timed(b *testing.B, op func(i int)) {
	var durations []time.Duration
	i := 0
	for b.Loop() {
		t := time.Now()
		op(i)
		durations = append(durations, time.Since(t))
		i++
	}
	slices.Sort(durations)
	if len(durations) > 0 {
		b.ReportMetric(float64(durations[len(durations)/2].Microseconds())/1000, "p50-ms")
	}
}

// benchResponses returns size generated QuestionnaireResponses as first versions, ready
// to be inserted, and the reference of the first one's patient.
func benchResponses(b *testing.B, size int) ([]*fhir.Resource, string) {
	b.Helper()
	lines := generatedResponses(b, size)
	out := make([]*fhir.Resource, len(lines))
	now := time.Now()
	patient := ""
	for i, line := range lines {
		if patient == "" {
			var head struct {
				Subject struct {
					Reference string `json:"reference"`
				} `json:"subject"`
			}
			if err := json.Unmarshal(line, &head); err != nil {
				b.Fatal(err)
			}
			patient = head.Subject.Reference
		}
		out[i] = version(b, line, "QuestionnaireResponse", now)
	}
	return out, patient
}
