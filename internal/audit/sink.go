package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// ServiceSink stores AuditEvents through svc, each batch in one insert without a read first (the
// embedded database reads a whole collection for most queries, and the audit trail only
// grows). Each event's id is derived from its content, so that a batch the Writer retries
// after a partial failure leaves one AuditEvent per record, not two.
func ServiceSink(svc *fhir.Service) Sink {
	return func(ctx context.Context, events [][]byte) error {
		ids := make([]string, len(events))
		for i, e := range events {
			ids[i] = EventID(e)
		}
		// One batch write; an event whose id exists is the same event stored already.
		_, err := svc.InsertAll(ctx, "AuditEvent", ids, events)
		return err
	}
}

// EventID is the id an AuditEvent is stored under: 128 bits of the SHA-256 of its JSON.
func EventID(event []byte) string {
	sum := sha256.Sum256(event)
	return hex.EncodeToString(sum[:16])
}
