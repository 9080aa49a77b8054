package fhir

import (
	"context"
	"errors"
)

// ValidateMode is the mode of $validate: what the resource is checked for.
type ValidateMode string

// The modes of $validate (http://hl7.org/fhir/ValueSet/resource-validation-mode) the
// server offers.
const (
	// ValidateCreate checks the resource as a create would.
	ValidateCreate ValidateMode = "create"
	// ValidateUpdate checks the resource as an update of the id named would.
	ValidateUpdate ValidateMode = "update"
	// ValidateDelete checks that the resource named could be deleted.
	ValidateDelete ValidateMode = "delete"
)

// Validate checks data as a resource of typ without storing anything, as a create (mode ""
// or ValidateCreate) or as an update of typ/id (ValidateUpdate) would, and returns every
// issue found: the FHIR R4 structure, the content checker's rules, and the id rules of
// an update. Problems with the resource are issues, never an error; the error is for an
// unknown type, a missing id for an update or delete, or a failing database.
func (s *Service) Validate(ctx context.Context, typ, id string, data []byte, mode ValidateMode) ([]Issue, error) {
	if err := s.checkType(typ); err != nil {
		return nil, err
	}
	switch mode {
	case "", ValidateCreate, ValidateUpdate, ValidateDelete:
	default:
		return nil, Errorf(KindInvalid, "mode %q is not a mode of $validate this server offers: use create, update or delete", mode).At("mode")
	}
	if (mode == ValidateUpdate || mode == ValidateDelete) && id == "" {
		return nil, Errorf(KindInvalid, "$validate with mode %s needs the id of the resource: POST to /%s/[id]/$validate", mode, typ).At("mode")
	}
	var prev *Resource
	if id != "" {
		if !ValidID(id) {
			return nil, Errorf(KindNotFound, "%s/%s is not known: %q is not a valid id", typ, id, id)
		}
		cur, err := s.store.Current(ctx, typ, id)
		switch {
		case IsKind(err, KindNotFound):
		case err != nil:
			return nil, err
		case !cur.Deleted:
			prev = cur
		}
	}
	if mode == ValidateDelete {
		if prev == nil {
			return []Issue{{Severity: SeverityError, Code: IssueNotFound, Diagnostics: typ + "/" + id + " does not exist: there is nothing to delete"}}, nil
		}
		return nil, nil
	}
	body, err := s.parse(data, typ)
	if err != nil {
		return issuesOf(err)
	}
	var issues []Issue
	if id != "" {
		switch {
		case body.ID == "" && mode == ValidateUpdate:
			issues = append(issues, Issue{Severity: SeverityError, Code: IssueRequired, Expression: []string{typ + ".id"},
				Diagnostics: "The resource has no id: an update must carry the id of the URL (" + id + ")"})
		case body.ID != "" && body.ID != id:
			issues = append(issues, Issue{Severity: SeverityError, Code: IssueInvalid, Expression: []string{typ + ".id"},
				Diagnostics: "The resource's id " + body.ID + " does not match the id in the URL " + id})
		}
	}
	w := &ContentWrite{Type: typ, Tree: body.Tree, Prev: prev, DryRun: true}
	if mode == ValidateUpdate {
		w.ID = id
	}
	rep, err := s.check(ctx, w)
	if err != nil {
		more, err := issuesOf(err)
		return append(issues, more...), err
	}
	rep.done()
	return append(issues, rep.Issues...), nil
}

// issuesOf turns an error about a resource into its issues; errors of other kinds (an
// internal failure, an unavailable database) are returned as they are.
func issuesOf(err error) ([]Issue, error) {
	var e *Error
	if !errors.As(err, &e) {
		return nil, err
	}
	switch e.Kind {
	case KindInvalid, KindUnprocessable, KindConflict:
		return e.Issues, nil
	}
	return nil, err
}
