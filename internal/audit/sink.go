package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// ServiceSink stores AuditEvents through svc, each inserted without a read first (the
// embedded database reads a whole collection for most queries, and the audit trail only
// grows). Each event's id is derived from its content, so that a batch the Writer retries
// after a partial failure leaves one AuditEvent per record, not two.
func ServiceSink(svc *fhir.Service) Sink {
	return func(ctx context.Context, events [][]byte) error {
		for _, e := range events {
			if _, err := svc.Insert(ctx, "AuditEvent", EventID(e), e); err != nil && !errors.Is(err, fhir.ErrVersionConflict) {
				return err
			}
		}
		return nil
	}
}

// EventID is the id an AuditEvent is stored under: 128 bits of the SHA-256 of its JSON.
func EventID(event []byte) string {
	sum := sha256.Sum256(event)
	return hex.EncodeToString(sum[:16])
}
