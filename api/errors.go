package api

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// handlerFunc is a handler that returns its error instead of writing it.
type handlerFunc func(c *gin.Context) error

// handle adapts a handlerFunc so that every error reaches writeError.
func handle(fn handlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := fn(c); err != nil {
			writeError(c, err)
		}
	}
}

// writeError is the one place where an error becomes an HTTP response: the status comes from
// the error's kind, the body is an OperationOutcome. Internal errors are logged with the
// request id and shown to the client only as a generic message.
func writeError(c *gin.Context, err error) {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		err = fhir.Errorf(fhir.KindTooLarge, "The request body is larger than the limit of %d bytes", maxErr.Limit)
	}
	kind := fhir.ErrorKind(err)
	log := loggerFrom(c)
	if kind == fhir.KindInternal {
		log.Error("request failed", "err", err)
	} else {
		log.Debug("request rejected", "status", kind.Status(), "err", err)
	}
	if kind == fhir.KindUnavailable || kind == fhir.KindTooManyRequests {
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(fhir.RetryAfter(err).Seconds()))))
	}
	if kind == fhir.KindUnauthorized && c.Writer.Header().Get("WWW-Authenticate") == "" {
		c.Header("WWW-Authenticate", `Bearer realm="fhir"`)
	}
	c.Set(errorKey, err)
	writeJSON(c, kind.Status(), fhir.OutcomeFor(err).JSON())
}

// errorKey holds the error a request was answered with, for its AuditEvent.
const errorKey = "fhir.error"

// loggerFrom returns the request's logger (with its request id).
func loggerFrom(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(loggerKey); ok {
		return l.(*slog.Logger)
	}
	return slog.Default()
}
