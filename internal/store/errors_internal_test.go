package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// poolCleared stands for the driver's error of a connection pool cleared by another
// operation's network failure, which it does not export: what it is known by is its
// Retryable method.
type poolCleared struct{}

func (poolCleared) Error() string {
	return "connection pool for 127.0.0.1:27017 was cleared because another operation failed with: EOF"
}
func (poolCleared) Retryable() bool { return true }

// TestWrapSaysWhenTheDatabaseIsUnreachable: every error class by which the driver reports
// a database that went away answers 503 with Retry-After; the others stay internal.
func TestWrapSaysWhenTheDatabaseIsUnreachable(t *testing.T) {
	t.Parallel()
	s := &Store{}
	command := func(code int32) error {
		return mongo.CommandError{Code: code, Wrapped: driver.Error{Code: code, Message: "state"}}
	}
	cases := []struct {
		name string
		err  error
		want fhir.Kind
	}{
		{"a pool cleared by another operation's failure", fmt.Errorf("find: %w", poolCleared{}), fhir.KindUnavailable},
		{"a closed server", topology.ErrServerClosed, fhir.KindUnavailable},
		{"a closed topology", topology.ErrTopologyClosed, fhir.KindUnavailable},
		{"a disconnected client", mongo.ErrClientDisconnected, fhir.KindUnavailable},
		{"a server shutting down", command(91), fhir.KindUnavailable},
		{"a server interrupted at shutdown", command(11600), fhir.KindUnavailable},
		{"a server no longer primary", command(10107), fhir.KindUnavailable},
		{"a deadline", context.DeadlineExceeded, fhir.KindUnavailable},
		{"a cancelled request", context.Canceled, fhir.KindUnavailable},
		{"a command the server refused", command(2), fhir.KindInternal},
		{"anything else", errors.New("decode: bad document"), fhir.KindInternal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := s.wrap(tc.err, "read QuestionnaireResponse/1")
			if err.Kind != tc.want {
				t.Fatalf("%v: kind %v, want %v", tc.err, err.Kind, tc.want)
			}
			if tc.want == fhir.KindUnavailable && fhir.RetryAfter(err) <= 0 {
				t.Errorf("%v: no Retry-After", tc.err)
			}
			if !strings.Contains(err.Error(), tc.err.Error()) {
				t.Errorf("the cause is not kept for the log: %v", err)
			}
		})
	}
}
