package embedded_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/patient-involvement/fhir-server/internal/store/embedded"
)

func start(t *testing.T, dir string, opts ...embedded.Options) (*embedded.Server, *mongo.Client) {
	t.Helper()
	e, err := embedded.Start(t.Context(), dir, slog.New(slog.DiscardHandler), opts...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := mongo.Connect(options.Client().ApplyURI(e.URI()).SetMonitor(e.Monitor()))
	if err != nil {
		t.Fatal(err)
	}
	return e, c
}

// idPlans are the statements FerretDB runs for a lookup, a replace and a delete by _id.
var idPlans = map[string]string{
	"find":    `SELECT _ferretdb_sjson FROM {table} WHERE ` + embedded.IDExpression + ` = ?`,
	"replace": `UPDATE {table} SET _ferretdb_sjson = ? WHERE ` + embedded.IDExpression + ` = ?`,
	"delete":  `DELETE FROM {table} WHERE ` + embedded.IDExpression + ` IN (?)`,
}

func assertIndexed(t *testing.T, e *embedded.Server, database, coll string) {
	t.Helper()
	for name, stmt := range idPlans {
		args := []any{`"x"`}
		if name == "replace" {
			args = []any{`{}`, `"x"`}
		}
		plan, err := e.QueryPlan(context.Background(), database, coll, stmt, args...)
		if err != nil {
			t.Fatalf("%s.%s %s: %v", database, coll, name, err)
		}
		if !strings.Contains(plan, "SEARCH") || !strings.Contains(plan, embedded.IDIndexSuffix) {
			t.Errorf("%s on %s.%s is not served by the _id lookup index:\n%s", name, database, coll, plan)
		}
	}
}

// A collection made by a client after the start is indexed as soon as it exists, and the
// tables of an existing data directory are indexed at start, also those that a client
// without the monitor created.
func TestIDLookupsUseAnIndex(t *testing.T) {
	dir := t.TempDir()
	e, c := start(t, dir)
	ctx := t.Context()
	if _, err := c.Database("app").Collection("made_later").InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}}); err != nil {
		t.Fatal(err)
	}
	assertIndexed(t, e, "app", "made_later")

	// A client without the monitor: its collection stays unindexed until the next start.
	plain, err := mongo.Connect(options.Client().ApplyURI(e.URI()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Database("app").Collection("unmonitored").InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}}); err != nil {
		t.Fatal(err)
	}
	plan, err := e.QueryPlan(ctx, "app", "unmonitored", idPlans["find"], `"a"`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "SCAN") {
		t.Fatalf("FerretDB's own _id index now serves its lookups (plan %q): the extra index may no longer be needed", plan)
	}
	_ = plain.Disconnect(ctx)
	_ = c.Disconnect(ctx)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	e, c = start(t, dir)
	defer func() { _ = c.Disconnect(ctx); _ = e.Close() }()
	assertIndexed(t, e, "app", "unmonitored")
	assertIndexed(t, e, "app", "made_later")

	// The lookup still finds the document, and a dropped collection made again is indexed.
	var got bson.M
	if err := c.Database("app").Collection("unmonitored").FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if err := c.Database("app").Collection("made_later").Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Database("app").Collection("made_later").InsertOne(ctx, bson.D{{Key: "_id", Value: "b"}}); err != nil {
		t.Fatal(err)
	}
	assertIndexed(t, e, "app", "made_later")
	if n, err := e.Count(ctx, "app", "made_later"); err != nil || n != 1 {
		t.Errorf("Count = %d, %v; want 1", n, err)
	}
}

// Under sustained writes with reads in between the write-ahead log is checkpointed and
// truncated again and again while the writes go on, instead of growing with every write
// (without the checkpoints, 2,000 such writes grow it to some 20 MB), and it is under the
// limit a moment after they pause. How large it gets between two checkpoints depends on
// how busy the machine is, so that is logged, not asserted.
func TestWriteAheadLogStaysBounded(t *testing.T) {
	const limit = 1 << 20
	e, c := start(t, t.TempDir(), embedded.Options{CheckpointInterval: 250 * time.Millisecond, CheckpointBytes: limit})
	ctx := t.Context()
	defer func() { _ = c.Disconnect(ctx); _ = e.Close() }()
	coll := c.Database("soak").Collection("docs")
	pad := strings.Repeat("x", 4000)
	var largest, previous int64
	truncations, writes := 0, 0
	// Writes go on until the log has been truncated three times under them (and at least
	// 2,000 writes, some 30 MB of log frames, were made), or for at most two minutes.
	giveUp := time.Now().Add(2 * time.Minute)
	for ; writes < 2000 || truncations < 3; writes++ {
		if time.Now().After(giveUp) {
			t.Fatalf("after %d writes in two minutes the log was truncated %d times under them (largest %d bytes); want 3", writes, truncations, largest)
		}
		id := fmt.Sprint(writes % 50)
		if _, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "n", Value: writes}, {Key: "pad", Value: pad}}, options.Replace().SetUpsert(true)); err != nil {
			t.Fatal(err)
		}
		if writes%10 == 0 {
			if err := coll.FindOne(ctx, bson.D{{Key: "n", Value: writes}}).Err(); err != nil {
				t.Fatal(err)
			}
		}
		size := e.WALSize("soak")
		if previous > limit && size < previous {
			truncations++
		}
		previous, largest = size, max(largest, size)
	}
	deadline := time.Now().Add(15 * time.Second)
	for e.WALSize("soak") > limit && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := e.WALSize("soak"); n > limit {
		t.Errorf("the write-ahead log is %d bytes a moment after the writes, over the limit of %d", n, limit)
	}
	t.Logf("%d writes; the log was truncated %d times under them; largest write-ahead log: %d bytes (limit %d)", writes, truncations, largest, limit)
}
