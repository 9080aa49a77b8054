package audit

import (
	"context"
	"log/slog"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// ServiceSink stores AuditEvents through svc, each batch in one unordered insert without a
// read first (the embedded database reads a whole collection for most queries, and the
// audit trail only grows). An event whose id is stored already is the same event, stored by
// an earlier try of its batch: the ids are made once, when the Writer takes a record.
//
// An event the service refuses as invalid (which Build does not make) would fail its batch
// at every retry and hold the trail up: the batch is then stored event by event, and each
// refused one is logged with its JSON and skipped.
func ServiceSink(svc *fhir.Service, log *slog.Logger) Sink {
	if log == nil {
		log = slog.Default()
	}
	insert := func(ctx context.Context, events []Event) error {
		ids := make([]string, len(events))
		data := make([][]byte, len(events))
		for i, e := range events {
			ids[i], data[i] = e.ID, e.JSON
		}
		_, err := svc.InsertAll(ctx, "AuditEvent", ids, data)
		return err
	}
	return func(ctx context.Context, events []Event) error {
		err := insert(ctx, events)
		if !fhir.IsKind(err, fhir.KindInvalid) {
			return err
		}
		for _, e := range events {
			err := insert(ctx, []Event{e})
			if fhir.IsKind(err, fhir.KindInvalid) {
				log.Error("audit: an AuditEvent was refused as invalid and is not stored", "id", e.ID, "err", err, "event", string(e.JSON))
				continue
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
}
