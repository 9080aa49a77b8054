package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// retryAfter is what a client is told to wait when the database did not answer.
const retryAfter = 2 * time.Second

// wrap translates a driver error where it happens: a timeout, a network failure, a server
// that cannot be selected or reached (see unreachable) is KindUnavailable (503 with
// Retry-After: retrying may work); everything else is an internal error whose detail only
// the log sees.
func (s *Store) wrap(cause error, format string, args ...any) *fhir.Error {
	var fe *fhir.Error
	if errors.As(cause, &fe) {
		return fe
	}
	what := fmt.Sprintf(format, args...)
	switch {
	case mongo.IsTimeout(cause) || errors.Is(cause, context.DeadlineExceeded):
		hint := ""
		if s.idFiltersOnly {
			hint = " The embedded database reads every stored resource for a search; MongoDB serves searches from indexes (set MONGODB_URI)."
		}
		return fhir.Unavailable(fmt.Errorf("%s: %w", what, cause), retryAfter,
			"The database did not answer in time. Try again shortly.%s", hint)
	case mongo.IsNetworkError(cause) || errors.Is(cause, context.Canceled) || isSelectionError(cause) || unreachable(cause):
		return fhir.Unavailable(fmt.Errorf("%s: %w", what, cause), retryAfter,
			"The database cannot be reached. Try again shortly.")
	}
	return fhir.Wrap(cause, "%s", what)
}

// unreachable reports whether err says that the database went away, beyond the network
// errors the driver labels as such: a connection pool cleared by another operation's
// network failure (what an operation waiting for a connection meets when the database
// stops; the driver retries it once and returns it when the retry meets it too), a server
// or client being closed, and a server shutting down, recovering or no longer primary.
func unreachable(err error) bool {
	var pool driver.RetryablePoolError
	if errors.As(err, &pool) && pool.Retryable() {
		return true
	}
	if errors.Is(err, topology.ErrServerClosed) || errors.Is(err, topology.ErrTopologyClosed) || errors.Is(err, mongo.ErrClientDisconnected) {
		return true
	}
	var de driver.Error
	return errors.As(err, &de) && (de.NodeIsShuttingDown() || de.NodeIsRecovering() || de.NotPrimary())
}

// isSelectionError reports whether the driver found no server to send the operation to.
func isSelectionError(err error) bool {
	var se topology.ServerSelectionError
	return errors.As(err, &se)
}
