package auth

import (
	"errors"
	"strings"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// Reasons a token is refused, found with errors.Is in the error Verify returns. Failures of
// the JWT checks themselves wrap the jwt package's errors (jwt.ErrTokenExpired,
// jwt.ErrTokenSignatureInvalid, jwt.ErrTokenInvalidIssuer, …).
var (
	// ErrMissingToken: the request carries no bearer token.
	ErrMissingToken = errors.New("no bearer token")
	// ErrTokenTooLarge: the token is longer than the limit.
	ErrTokenTooLarge = errors.New("token too large")
	// ErrUnknownKey: no key of the key set matches the token's kid (or the token has no kid
	// and the set holds more than one usable key).
	ErrUnknownKey = errors.New("no matching verification key")
	// ErrBadClaim: a claim this server reads has a value it cannot use.
	ErrBadClaim = errors.New("unusable claim")
	// ErrNoPatientContext: the token has patient/ scopes but no patient claim.
	ErrNoPatientContext = errors.New("patient scopes without a patient claim")
)

// Client-facing diagnostics: the same for every reason, so a caller probing tokens learns nothing.
const (
	msgMissing = "This request needs an access token: send it as Authorization: Bearer <token>."
	msgInvalid = "The access token is invalid or expired."
)

// unauthorized is the error for a missing or rejected token: 401 with a generic message,
// keeping reason for the log.
func unauthorized(reason error) *fhir.Error {
	msg := msgInvalid
	if errors.Is(reason, ErrMissingToken) {
		msg = msgMissing
	}
	e := fhir.Errorf(fhir.KindUnauthorized, "%s", msg)
	e.Err = reason
	return e
}

// Challenge is the WWW-Authenticate header value (RFC 6750) for an error from Verify or
// Principal.Authorize: "Bearer" when no token was sent, with error="invalid_token" when one
// was refused, with error="insufficient_scope" when a valid token does not allow the request.
// It never repeats the detailed reason.
func Challenge(err error) string {
	switch {
	case errors.Is(err, ErrMissingToken):
		return "Bearer"
	case fhir.IsKind(err, fhir.KindForbidden):
		return `Bearer error="insufficient_scope"`
	default:
		return `Bearer error="invalid_token"`
	}
}

// BearerToken takes the token out of an Authorization header value. An empty header, or one
// of another scheme, is ErrMissingToken wrapped in a 401 error.
func BearerToken(header string) (string, error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", unauthorized(ErrMissingToken)
	}
	return strings.TrimSpace(token), nil
}
