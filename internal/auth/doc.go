// Package auth decides who is calling and what they may do: it verifies bearer JWTs
// (signature, algorithm, issuer, audience, lifetime, key by kid), turns their claims into a
// Principal, and answers whether the Principal's SMART App Launch scopes (v1 and v2) allow an
// interaction on a resource type, and whether only patient/ scopes allow it, so the patient
// compartment must apply.
//
// It also makes the development signing key and its tokens (dev mode), the SMART discovery
// document (/.well-known/smart-configuration) and the CapabilityStatement's rest.security.
//
// Errors speak the fhir error vocabulary: a token that is missing or fails any check is a
// fhir.KindUnauthorized error whose client-facing issue is generic and whose wrapped cause
// says exactly what failed, for the log; a valid token that does not allow an interaction is
// fhir.KindForbidden. The package imports no HTTP framework.
package auth
