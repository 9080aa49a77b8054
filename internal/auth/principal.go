package auth

import (
	"context"
	"time"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// Principal is the caller a verified token speaks for.
type Principal struct {
	// Issuer is the token's "iss".
	Issuer string
	// Subject is the token's "sub": the user, or the client in a backend-services token.
	Subject string
	// FHIRUser is the "fhirUser" claim: the user as a FHIR resource, such as
	// Practitioner/123 or an absolute URL to one. Empty when the token has none.
	FHIRUser string
	// ClientID is the "client_id" claim (RFC 9068), or "azp" when there is none.
	ClientID string
	// Patient is the SMART "patient" claim: the id of the patient in context, without the
	// "Patient/" prefix. patient/ scopes open only this patient's compartment.
	Patient string
	// TokenID is the token's "jti", for the audit trail.
	TokenID string
	// ExpiresAt is the token's "exp"; zero in auth mode off.
	ExpiresAt time.Time
	// Scope is the token's scope claim as it was sent.
	Scope string
	// Scopes are the resource scopes parsed from Scope; other scopes are left out.
	Scopes []Scope
}

// Access is how far a principal may carry out an action on a resource type.
type Access int

// The access levels.
const (
	// AccessNone: no scope allows the action.
	AccessNone Access = iota
	// AccessPatient: allowed only through patient/ scopes, so only on resources in the
	// compartment of Principal.Patient.
	AccessPatient
	// AccessAll: user/ or system/ scopes allow the action on every resource of the type.
	AccessAll
)

// String names the access level.
func (a Access) String() string {
	switch a {
	case AccessPatient:
		return "patient compartment"
	case AccessAll:
		return "all"
	default:
		return "none"
	}
}

// Access is what the principal's scopes allow for action on resourceType. Permissions add up
// across scopes: patient/CarePlan.c with user/CarePlan.s allows a conditional create, limited
// to the patient's compartment because a patient/ scope was needed for it.
func (p *Principal) Access(resourceType string, action Action) Access {
	if p == nil {
		return AccessNone
	}
	need := action.Needs()
	var wide, all Permission
	for _, s := range p.Scopes {
		if s.Query != "" || (s.ResourceType != "*" && s.ResourceType != resourceType) {
			continue
		}
		all |= s.Permissions
		if s.Context != ContextPatient {
			wide |= s.Permissions
		}
	}
	switch {
	case wide&need == need:
		return AccessAll
	case all&need == need && p.Patient != "":
		return AccessPatient
	default:
		return AccessNone
	}
}

// Allows reports whether the principal may carry out action on resourceType at all (perhaps
// only within the patient compartment: see PatientOnly).
func (p *Principal) Allows(resourceType string, action Action) bool {
	return p.Access(resourceType, action) != AccessNone
}

// PatientOnly reports whether the action is allowed only through patient/ scopes, so that the
// caller must keep it to the compartment of p.Patient.
func (p *Principal) PatientOnly(resourceType string, action Action) bool {
	return p.Access(resourceType, action) == AccessPatient
}

// Authorize is Access for the HTTP layer: it returns a fhir.KindForbidden error (403) saying
// which scope is missing when the action is not allowed.
func (p *Principal) Authorize(resourceType string, action Action) (Access, error) {
	a := p.Access(resourceType, action)
	if a == AccessNone {
		need := action.Needs()
		return a, fhir.Errorf(fhir.KindForbidden,
			"The access token does not allow %s on %s: it needs a scope such as user/%s.%s (or patient/… for the patient in context)",
			action, resourceType, resourceType, need)
	}
	return a, nil
}

// hasPatientScopes reports whether any resource scope is a patient/ one.
func (p *Principal) hasPatientScopes() bool {
	for _, s := range p.Scopes {
		if s.Context == ContextPatient {
			return true
		}
	}
	return false
}

// offPrincipal is the caller in auth mode off: system/*.* on everything.
func offPrincipal() *Principal {
	const scope = "system/*.*"
	scopes, _ := ParseScopes(scope)
	return &Principal{Subject: "anonymous", Scope: scope, Scopes: scopes}
}

// OffWarning is the text to log loudly at startup when authorization is off.
func OffWarning() string {
	return "AUTHORIZATION IS OFF (FHIR_AUTH=off): every request, from anyone who can reach the server, " +
		"can read, change and delete all data. Never run like this with real patient data; " +
		"use FHIR_AUTH=jwks with your authorization server, or dev mode for development."
}

type principalKey struct{}

// WithPrincipal returns a context carrying the caller a request speaks for, for the parts
// beyond the HTTP layer that keep it (a Subscription's creator).
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller WithPrincipal recorded, nil when there is none: a write
// the server makes itself.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
