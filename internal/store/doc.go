// Package store is the MongoDB adapter: the stored document shape, the indexes, the
// translation of driver errors into domain errors, and the embedded MongoDB-wire-compatible
// database (FerretDB with SQLite) used when no MongoDB is configured.
//
// Every resource type has two collections. "<Type>" holds the newest version of each
// resource, one document per id; "<Type>_history" holds every version that has been
// superseded. A write first copies the version it replaces into the history collection
// (idempotent: the copy's _id is "id/version") and then replaces the current document only if
// it is still the version it read. Each step is a single-document write, so no transaction is
// needed (the embedded database has none). MongoDB applies the conditional replace
// atomically; the embedded database does not, so writes of one resource are also serialised
// within the process, which is the only one the embedded database serves. Thus the history is always
// "every history document older than the current one, plus the current one", and a process
// that dies between the two steps leaves only a harmless duplicate copy of the current
// version, which readers skip.
//
// The resource itself is stored as the exact JSON text served to clients, so that decimals
// such as 1.10, primitive extensions and element order survive unchanged.
package store
