package fhir

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Kind classifies a domain error. Each kind has exactly one OperationOutcome issue code and
// one HTTP status, kept together in the kinds table below: that table is the only place
// where an error becomes a status.
type Kind int

// The error kinds the server reports.
const (
	KindInternal           Kind = iota // unexpected failure; details are logged, never shown
	KindInvalid                        // the request or resource is malformed or breaks a rule
	KindNotFound                       // no such resource, version or type
	KindGone                           // the resource was deleted
	KindConflict                       // the write conflicts with the current state
	KindPreconditionFailed             // If-Match (or similar) does not hold
	KindMethodNotAllowed               // the interaction is not offered at this URL
	KindNotSupported                   // understood but not implemented by this server
	KindNotAcceptable                  // no representation the client accepts
	KindUnsupportedMedia               // the request body's media type is not served
	KindTooLarge                       // the request body is over the limit
	KindUnauthorized                   // no valid credentials
	KindForbidden                      // credentials valid, access not allowed
	KindTooManyMatches                 // a conditional interaction matched more than it may
	KindUnavailable                    // the database is unreachable, too slow or too busy: retry later
	KindUnprocessable                  // a valid resource that breaks a rule of its content (a response against its Questionnaire)
	KindTooManyRequests                // the caller sent more requests than its rate limit: retry later
)

type kindInfo struct {
	code   IssueType
	status int
}

var kinds = map[Kind]kindInfo{
	KindInternal:           {IssueException, http.StatusInternalServerError},
	KindInvalid:            {IssueInvalid, http.StatusBadRequest},
	KindNotFound:           {IssueNotFound, http.StatusNotFound},
	KindGone:               {IssueDeleted, http.StatusGone},
	KindConflict:           {IssueConflict, http.StatusConflict},
	KindPreconditionFailed: {IssueConflict, http.StatusPreconditionFailed},
	KindMethodNotAllowed:   {IssueNotSupported, http.StatusMethodNotAllowed},
	KindNotSupported:       {IssueNotSupported, http.StatusNotImplemented},
	KindNotAcceptable:      {IssueNotSupported, http.StatusNotAcceptable},
	KindUnsupportedMedia:   {IssueNotSupported, http.StatusUnsupportedMediaType},
	KindTooLarge:           {IssueTooLong, http.StatusRequestEntityTooLarge},
	KindUnauthorized:       {IssueLogin, http.StatusUnauthorized},
	KindForbidden:          {IssueForbidden, http.StatusForbidden},
	KindTooManyMatches:     {IssueMultipleMatches, http.StatusPreconditionFailed},
	KindUnavailable:        {IssueTransient, http.StatusServiceUnavailable},
	KindUnprocessable:      {IssueBusinessRule, http.StatusUnprocessableEntity},
	KindTooManyRequests:    {IssueThrottled, http.StatusTooManyRequests},
}

// Status is the HTTP status for errors of this kind.
func (k Kind) Status() int {
	if i, ok := kinds[k]; ok {
		return i.status
	}
	return http.StatusInternalServerError
}

// IssueCode is the OperationOutcome issue type for errors of this kind.
func (k Kind) IssueCode() IssueType {
	if i, ok := kinds[k]; ok {
		return i.code
	}
	return IssueException
}

// Error is a domain error: what went wrong, said so that a client can act on it, with the
// issues to report in the OperationOutcome.
type Error struct {
	Kind   Kind
	Issues []Issue
	// Err is the underlying cause, for the log only.
	Err error
	// RetryAfter is how long the client should wait before trying again, for the
	// Retry-After header of a KindUnavailable or KindTooManyRequests answer (zero: one
	// second).
	RetryAfter time.Duration
}

// Error implements error.
func (e *Error) Error() string {
	msg := ""
	if len(e.Issues) > 0 {
		msg = e.Issues[0].Diagnostics
		if len(e.Issues) > 1 {
			msg += fmt.Sprintf(" (and %d more issues)", len(e.Issues)-1)
		}
	}
	if e.Err != nil {
		if msg == "" {
			return e.Err.Error()
		}
		return msg + ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an Error of the given kind with one issue whose diagnostics are the formatted message.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Issues: []Issue{{
		Severity: SeverityError, Code: kind.IssueCode(), Diagnostics: fmt.Sprintf(format, args...),
	}}}
}

// At adds a FHIRPath expression naming where the (first) issue is, and returns e.
func (e *Error) At(expression string) *Error {
	if len(e.Issues) > 0 && expression != "" {
		e.Issues[0].Expression = append(e.Issues[0].Expression, expression)
	}
	return e
}

// Wrap builds an internal error that keeps cause for the log and tells the client only that
// something failed.
func Wrap(cause error, format string, args ...any) *Error {
	return &Error{Kind: KindInternal, Err: fmt.Errorf(format+": %w", append(args, cause)...)}
}

// Unavailable builds a KindUnavailable error: the request may succeed if retried after
// retryAfter. cause, if any, is kept for the log.
func Unavailable(cause error, retryAfter time.Duration, format string, args ...any) *Error {
	e := Errorf(KindUnavailable, format, args...)
	e.Err, e.RetryAfter = cause, retryAfter
	return e
}

// TooManyRequests builds a KindTooManyRequests error: the caller may try again after
// retryAfter.
func TooManyRequests(retryAfter time.Duration, format string, args ...any) *Error {
	e := Errorf(KindTooManyRequests, format, args...)
	e.RetryAfter = retryAfter
	return e
}

// RetryAfter returns how long a client should wait before retrying a request that failed
// with err: the error's RetryAfter, at least one second.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > time.Second {
		return e.RetryAfter
	}
	return time.Second
}

// ErrorKind returns the kind of err: the Kind of a wrapped *Error, KindInternal otherwise.
func ErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// IsKind reports whether err is a domain error of kind k.
func IsKind(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}
