package store_test

import (
	"context"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/store"
	"github.com/patient-involvement/fhir-server/internal/store/embedded"
	"github.com/patient-involvement/fhir-server/internal/store/storetest"
)

// On the embedded database every kind of collection the server uses (current versions,
// history, the audit trail, the server's own settings, and a collection created after the
// start) answers lookups by _id from an index, not by reading the table.
func TestEmbeddedIDLookupsUseAnIndex(t *testing.T) {
	emb := storetest.Embedded(t)
	if emb == nil {
		t.Skip("runs on MongoDB, which serves _id from its own index")
	}
	ctx := context.Background()
	db := storetest.NewDatabase(t)
	st, err := store.New(db, fhir.DefaultRegistry(), store.Options{IDFiltersOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	svc, err := fhir.NewService(st, fhir.DefaultRegistry())
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/p"}}`)
	w, err := svc.Create(ctx, "CarePlan", body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Update(ctx, "CarePlan", w.Resource.ID, []byte(`{"resourceType":"CarePlan","id":"`+w.Resource.ID+`","status":"completed","intent":"plan","subject":{"reference":"Patient/p"}}`), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Insert(ctx, "AuditEvent", "a1", []byte(`{"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"2026-01-01T00:00:00Z","agent":[{"requestor":true}],"source":{"observer":{"display":"x"}}}`)); err != nil {
		t.Fatal(err)
	}
	if err := st.Reindex(ctx, nil); err != nil { // records its state in the settings
		t.Fatal(err)
	}
	if _, err := db.Collection("made_later").InsertOne(ctx, bson.D{{Key: "_id", Value: "x"}}); err != nil {
		t.Fatal(err)
	}
	for _, coll := range []string{"CarePlan", "CarePlan_history", "AuditEvent", "settings", "made_later"} {
		t.Run(coll, func(t *testing.T) {
			plan, err := emb.QueryPlan(ctx, db.Name(), coll, `SELECT _ferretdb_sjson FROM {table} WHERE `+embedded.IDExpression+` = ?`, `"x"`)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(plan, "SEARCH") || !strings.Contains(plan, embedded.IDIndexSuffix) {
				t.Errorf("a lookup by _id in %s is not served by the index:\n%s", coll, plan)
			}
		})
	}
}
