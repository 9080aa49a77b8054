package loader

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// Target is where the loader writes: a server over HTTP (HTTPTarget) or the service
// in-process (ServiceTarget).
//
// A method returns a *RejectedError when the target refused this one resource; the load goes
// on with the next. Any other error (the server cannot be reached, the credentials are
// refused, the database fails) stops the load.
type Target interface {
	// Check reports whether the target answers, before anything is written.
	Check(ctx context.Context) error

	// Current returns the newest version of typ/id, or nil when the resource was never
	// written or was deleted.
	Current(ctx context.Context, typ, id string) (*Stored, error)

	// Put writes body as typ/id, creating the resource when it does not exist (update as
	// create), and reports whether it was created. ifMatch, when not 0, is the version it must
	// replace: a resource changed meanwhile is refused rather than overwritten.
	Put(ctx context.Context, typ, id string, body []byte, ifMatch int64) (created bool, err error)

	// Create creates body as a new typ unless a typ matches criteria (conditional create,
	// If-None-Exist): then it writes nothing and returns the match. More than one match is
	// a *RejectedError.
	Create(ctx context.Context, typ string, criteria url.Values, body []byte) (*CreateResult, error)
}

// CreateResult is the outcome of a conditional create.
type CreateResult struct {
	// ID is the id of the resource created or found.
	ID string
	// Existing is the resource that matched, when nothing was created.
	Existing *Stored
}

// Stored is the newest version of a resource on the target.
type Stored struct {
	// Raw is the resource as the target serves it.
	Raw []byte
	// Version is meta.versionId.
	Version int64
}

// RejectedError is a target's refusal of one resource, with the issues of the
// OperationOutcome it answered.
type RejectedError struct {
	// Status is the HTTP status of the answer (in-process: the status the API would give).
	Status int
	Issues []fhir.Issue
}

// Error lists the diagnostics of every issue, each with where it is.
func (e *RejectedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	for i, is := range e.Issues {
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		b.WriteString(sep)
		if is.Diagnostics != "" {
			b.WriteString(is.Diagnostics)
		} else {
			b.WriteString(string(is.Code))
		}
		if len(is.Expression) > 0 {
			fmt.Fprintf(&b, " (at %s)", strings.Join(is.Expression, ", "))
		}
	}
	return b.String()
}
