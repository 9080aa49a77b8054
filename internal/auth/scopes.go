package auth

import (
	"strings"
)

// Permission is a set of SMART App Launch v2 permissions, the letters c, r, u, d and s.
// SMART v1 scopes are mapped onto the same letters: .read is r+s, .write is c+u+d, .* is all.
type Permission uint8

// The permissions.
const (
	PermCreate Permission = 1 << iota // c: create
	PermRead                          // r: read, vread and instance history
	PermUpdate                        // u: update
	PermDelete                        // d: delete
	PermSearch                        // s: search and type history

	PermAll = PermCreate | PermRead | PermUpdate | PermDelete | PermSearch
)

// permLetters lists the letters in the only order SMART v2 allows.
const permLetters = "cruds"

// String writes the permissions as SMART v2 letters, e.g. "rs".
func (p Permission) String() string {
	var b strings.Builder
	for i := range len(permLetters) {
		if p&(1<<i) != 0 {
			b.WriteByte(permLetters[i])
		}
	}
	return b.String()
}

// Context is the first part of a SMART resource scope: whose data it opens.
type Context string

// The scope contexts.
const (
	// ContextPatient: only data in the compartment of the token's patient.
	ContextPatient Context = "patient"
	// ContextUser: what the signed-in user may see; this server does not narrow it further.
	ContextUser Context = "user"
	// ContextSystem: a backend service's access, without a user.
	ContextSystem Context = "system"
)

// Scope is one parsed SMART resource scope, such as patient/QuestionnaireResponse.cruds,
// user/*.read or system/CarePlan.rs?category=x.
type Scope struct {
	// Raw is the scope as the token wrote it.
	Raw string
	// Context is patient, user or system.
	Context Context
	// ResourceType is the type the scope is for, or "*" for every type.
	ResourceType string
	// Permissions are the interactions granted.
	Permissions Permission
	// V1 is true for the SMART v1 forms .read, .write and .*.
	V1 bool
	// Query is a SMART v2 granular restriction (the text after '?'), such as
	// "category=http://loinc.org|LG41762-2". This server cannot check such restrictions, so a
	// scope with a Query grants nothing: it never widens access.
	Query string
}

// Grants reports whether the scope gives need (all of it) on resourceType.
func (s Scope) Grants(resourceType string, need Permission) bool {
	return s.Query == "" && (s.ResourceType == "*" || s.ResourceType == resourceType) && s.Permissions&need == need
}

// ParseScope parses one resource scope. It returns false for scopes that are not resource
// scopes (openid, fhirUser, launch/patient, offline_access, online_access, …) and for
// malformed ones (unknown context, v2 letters out of c-r-u-d-s order or repeated, a query on
// a v1 scope).
func ParseScope(raw string) (Scope, bool) {
	ctx, rest, ok := strings.Cut(raw, "/")
	if !ok {
		return Scope{}, false
	}
	s := Scope{Raw: raw, Context: Context(ctx)}
	switch s.Context {
	case ContextPatient, ContextUser, ContextSystem:
	default:
		return Scope{}, false
	}
	rest, s.Query, _ = strings.Cut(rest, "?")
	typ, perms, ok := strings.Cut(rest, ".")
	if !ok || !validType(typ) {
		return Scope{}, false
	}
	s.ResourceType = typ
	switch perms {
	case "read":
		s.Permissions, s.V1 = PermRead|PermSearch, true
	case "write":
		s.Permissions, s.V1 = PermCreate|PermUpdate|PermDelete, true
	case "*":
		s.Permissions, s.V1 = PermAll, true
	default:
		p, ok := parseLetters(perms)
		if !ok {
			return Scope{}, false
		}
		s.Permissions = p
	}
	if s.V1 && s.Query != "" {
		return Scope{}, false
	}
	return s, true
}

// validType accepts "*" and names shaped like FHIR resource types; whether the server serves
// the type is not the scope parser's business.
func validType(t string) bool {
	if t == "*" {
		return true
	}
	if t == "" || t[0] < 'A' || t[0] > 'Z' {
		return false
	}
	for _, r := range t {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// parseLetters reads SMART v2 permission letters, which must be a non-empty subsequence of
// "cruds" in that order.
func parseLetters(s string) (Permission, bool) {
	if s == "" {
		return 0, false
	}
	var p Permission
	next := 0 // index in permLetters the following letter may start from
	for i := range len(s) {
		j := strings.IndexByte(permLetters[next:], s[i])
		if j < 0 {
			return 0, false
		}
		next += j
		p |= 1 << next
		next++
	}
	return p, true
}

// ParseScopes splits a space-separated scope claim into resource scopes, and the other
// scopes (identity, launch context, refresh tokens, malformed ones), which grant no access.
func ParseScopes(claim string) (resource []Scope, other []string) {
	for _, raw := range strings.Fields(claim) {
		if s, ok := ParseScope(raw); ok {
			resource = append(resource, s)
		} else {
			other = append(other, raw)
		}
	}
	return resource, other
}

// Action is a FHIR RESTful interaction that needs permission.
type Action int

// The actions. The comment says which SMART v2 letters each needs; in v1 terms, .read covers
// r and s, .write covers c, u and d.
const (
	ActionRead              Action = iota + 1 // r
	ActionVRead                               // r
	ActionHistoryInstance                     // r
	ActionHistoryType                         // s: like a search, it lists resources of a type
	ActionSearch                              // s
	ActionCreate                              // c
	ActionUpdate                              // u; an update that creates the resource also needs ActionCreate
	ActionDelete                              // d
	ActionConditionalCreate                   // c+s
	ActionConditionalUpdate                   // u+s; also check ActionCreate when it may create
	ActionConditionalDelete                   // d+s
)

var actions = map[Action]struct {
	name string
	need Permission
}{
	ActionRead:              {"read", PermRead},
	ActionVRead:             {"vread", PermRead},
	ActionHistoryInstance:   {"history-instance", PermRead},
	ActionHistoryType:       {"history-type", PermSearch},
	ActionSearch:            {"search", PermSearch},
	ActionCreate:            {"create", PermCreate},
	ActionUpdate:            {"update", PermUpdate},
	ActionDelete:            {"delete", PermDelete},
	ActionConditionalCreate: {"conditional create", PermCreate | PermSearch},
	ActionConditionalUpdate: {"conditional update", PermUpdate | PermSearch},
	ActionConditionalDelete: {"conditional delete", PermDelete | PermSearch},
}

// Needs is the permissions the action requires. An unknown action needs more than any
// scope grants.
func (a Action) Needs() Permission {
	if i, ok := actions[a]; ok {
		return i.need
	}
	return ^Permission(0)
}

// String is the interaction's name, e.g. "history-type".
func (a Action) String() string {
	if i, ok := actions[a]; ok {
		return i.name
	}
	return "unknown action"
}
