// Package fhir is the domain of the server: the resource registry, validation against the
// FHIR R4 (4.0.1) structure definitions, the error vocabulary every layer speaks, and the
// interfaces the domain needs from storage.
//
// It imports neither the HTTP framework nor the database driver: api/ and internal/store
// depend on it, never the other way round.
package fhir
