// Package subscription serves FHIR R4 rest-hook Subscriptions on QuestionnaireResponse and
// CarePlan: criteria compiled once and matched in memory on the search values extracted for
// each write, an fsync'd outbox in which a write's notifications are recorded before the
// write happens, and delivery at least once, in order per subscription, with exponential
// backoff and jitter, to endpoints that cannot reach the server's own network.
// docs/subscriptions.md describes the design and the choices.
package subscription
