package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io/fs"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	_ "modernc.org/sqlite" // read the embedded database's files

	"github.com/patient-involvement/fhir-server/fixtures"
	"github.com/patient-involvement/fhir-server/internal/generate"
	"github.com/patient-involvement/fhir-server/internal/store/storetest"
)

// TestStoredSize stores generated QuestionnaireResponses and the fixture LUP responses, each
// set in a database of its own, and logs what one response costs as stored: the body as the
// server returns it, the BSON of the whole current document and of its search values (sp),
// and, on the embedded database, the SJSON row that SQLite holds and that every scan decodes
// (the JSON with FerretDB's type schema "$s", which names every field again). Run it with -v
// to read the numbers.
func TestStoredSize(t *testing.T) {
	sets := []struct {
		name   string
		bodies func(t *testing.T) [][]byte
	}{
		{"generated", func(t *testing.T) [][]byte { return generatedResponses(t, 300) }},
		{"fixture-lup", func(t *testing.T) [][]byte { return fixtureResponses(t, "QuestionnaireResponse/qr-lup-*.json") }},
	}
	for _, set := range sets {
		t.Run(set.name, func(t *testing.T) {
			_, svc, db := newSearchStoreDB(t)
			ctx := context.Background()
			bodies := set.bodies(t)
			for _, b := range bodies {
				if _, err := svc.Create(ctx, "QuestionnaireResponse", b); err != nil {
					t.Fatal(err)
				}
			}
			n, body, doc, sp := bsonSizes(t, db.Collection("QuestionnaireResponse"))
			if n != len(bodies) {
				t.Fatalf("read %d documents, stored %d", n, len(bodies))
			}
			t.Logf("%d responses; per response: body %.0f B, BSON document %.0f B, BSON sp %.0f B", n, body, doc, sp)
			if testing.Verbose() {
				t.Logf("sp of one response: %s", sampleSP(t, db.Collection("QuestionnaireResponse")))
			}
			if file := storetest.SQLiteFile(db); file != "" {
				row, spJSON, spSchema := sjsonSizes(t, file, "QuestionnaireResponse")
				t.Logf("SJSON row %.0f B (sp values %.0f B, sp schema %.0f B)", row, spJSON, spSchema)
			}
		})
	}
}

// generatedResponses returns the first n QuestionnaireResponses fhir-server generate writes.
func generatedResponses(tb testing.TB, n int) [][]byte {
	tb.Helper()
	out, err := generate.Responses(fixtures.FS(), n, 7)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// fixtureResponses returns the fixture files matching pattern.
func fixtureResponses(t *testing.T, pattern string) [][]byte {
	t.Helper()
	names, err := fs.Glob(fixtures.FS(), pattern)
	if err != nil || len(names) == 0 {
		t.Fatalf("fixtures %s: %v", pattern, err)
	}
	var out [][]byte
	for _, name := range names {
		data, err := fs.ReadFile(fixtures.FS(), name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// bsonSizes reads every document of coll and returns how many there are and the average
// size of the stored body (res), of the whole BSON document and of its sp sub-document.
func bsonSizes(t *testing.T, coll *mongo.Collection) (n int, body, doc, sp float64) {
	t.Helper()
	ctx := context.Background()
	cur, err := coll.Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		n++
		doc += float64(len(cur.Current))
		if v, err := cur.Current.LookupErr("sp"); err == nil {
			sp += float64(len(v.Value))
		}
		if v, err := cur.Current.LookupErr("res"); err == nil {
			body += float64(len(v.StringValue()))
		}
	}
	if err := cur.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no documents")
	}
	return n, body / float64(n), doc / float64(n), sp / float64(n)
}

// sjsonSizes opens the embedded database's SQLite file read-only and returns the average
// size in bytes of the collection's SJSON rows, of the sp values in them and of the part of
// the type schema that describes sp.
func sjsonSizes(t *testing.T, file, collection string) (row, spJSON, spSchema float64) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var table string
	if err := db.QueryRow(`SELECT table_name FROM _ferretdb_collections WHERE name = ?`, collection).Scan(&table); err != nil {
		t.Fatalf("find the table of %s in %s: %v", collection, file, err)
	}
	q := `SELECT avg(length(CAST(_ferretdb_sjson AS BLOB))),
		avg(length(CAST(json_extract(_ferretdb_sjson, '$.sp') AS BLOB))),
		avg(length(CAST(json_extract(_ferretdb_sjson, '$."$s".p.sp') AS BLOB)))
		FROM "` + strings.ReplaceAll(table, `"`, `""`) + `"`
	if err := db.QueryRow(q).Scan(&row, &spJSON, &spSchema); err != nil {
		t.Fatalf("measure %s: %v", table, err)
	}
	return row, spJSON, spSchema
}

// sampleSP returns the sp of one stored document as JSON, for reading.
func sampleSP(t *testing.T, coll *mongo.Collection) string {
	t.Helper()
	raw, err := coll.FindOne(context.Background(), bson.D{}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	var m bson.M
	if err := bson.Unmarshal(raw.Lookup("sp").Value, &m); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(m)
	return string(out)
}
