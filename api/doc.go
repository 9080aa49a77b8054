// Package api is the HTTP edge of the server: the Gin routes, thin handlers, middleware and
// the single writer that turns every error into an OperationOutcome with its HTTP status.
package api
