package fhir

import (
	"context"
	"reflect"
)

// ContentChecker judges what a resource says against other resources the server holds,
// beyond its FHIR R4 definition: a QuestionnaireResponse against its Questionnaire, a
// Questionnaire against the other versions of its url. The Service asks it before every
// create and update, and for $validate, after the body passed ParseBody.
type ContentChecker interface {
	// Check judges one write. It returns the issues that do not stop the write (warnings
	// and information, reported with a successful write) and an error that refuses it: a
	// KindUnprocessable *Error listing every broken rule, or KindConflict when the write
	// would contradict what is stored (two Questionnaires with one url and version). It
	// never fails for what the client sent with another kind; a database failure is
	// returned as it came.
	Check(ctx context.Context, w *ContentWrite) (*ContentReport, error)
	// Written tells the checker that r was written (or deleted), so that what it derived
	// from the versions r replaces is forgotten.
	Written(r *Resource)
}

// CommitChecker is a ContentChecker that also judges the writes of a unit of work together,
// as they are about to be stored: what it checked of each write when it was staged may no
// longer hold (a single write stored meanwhile, another write of the same unit).
type CommitChecker interface {
	ContentChecker
	// CheckCommit judges ws, the writes of one unit, against what is stored now and against
	// each other; an error (of the kinds Check returns) refuses the whole unit. ctx carries
	// the unit (see Memo), but a write through it would be staged, not stored. done, when
	// not nil, is called once the unit is stored or not: until then the checker keeps the
	// other writes it serialises waiting.
	CheckCommit(ctx context.Context, ws []Write) (done func(), err error)
}

// ContentWrite is a write a ContentChecker judges.
type ContentWrite struct {
	// Type is the resource type.
	Type string
	// ID is the id the resource is written under; "" for a create, whose id is drawn later.
	ID string
	// Tree is the decoded body (objects as map[string]any, numbers as json.Number). The
	// checker must not change it.
	Tree map[string]any
	// Prev is the version the write replaces, nil when there is none (or it was deleted).
	Prev *Resource
	// DryRun is set for $validate: nothing will be written.
	DryRun bool
}

// ContentReport is what a ContentChecker found in a write it lets happen.
type ContentReport struct {
	// Issues are warnings and information for the client.
	Issues []Issue
	// Derived are values computed from the content (scores), stored beside the resource
	// for search; the body itself is never changed.
	Derived []Derived
	// Done, when not nil, is called once the write is over, whether it happened or not.
	Done func()
}

// Derived is one value a ContentChecker computed from a resource's content, stored with
// the version it was computed from so that searches find it.
type Derived struct {
	// Param is the search parameter that finds it (item-answer-number).
	Param string
	// Key scopes the value within the parameter (a Questionnaire item's linkId).
	Key string
	// Number is the computed number.
	Number float64
}

// WithContentChecker returns a ServiceOption that has every create, update and $validate
// judged by c.
func WithContentChecker(c ContentChecker) ServiceOption {
	return func(s *Service) { s.checker = c }
}

// ServiceOption configures a Service.
type ServiceOption func(*Service)

// check asks the content checker, if any, about a write.
func (s *Service) check(ctx context.Context, w *ContentWrite) (*ContentReport, error) {
	if s.checker == nil {
		return &ContentReport{}, nil
	}
	if w.Prev != nil && w.Prev.Deleted {
		w.Prev = nil
	}
	rep, err := s.checker.Check(ctx, w)
	if err != nil {
		return nil, err
	}
	if rep == nil {
		rep = &ContentReport{}
	}
	return rep, nil
}

// written tells the content checker, if any, that r was written; in a unit of work, once
// the unit is committed. Whatever else must follow a stored write belongs here too, so that
// a transaction's writes trigger it only once they are stored. (Notifications are not
// here: the store's write observer records them durably before the write, and they are
// delivered only once the version they name is found stored.)
func (s *Service) written(ctx context.Context, r *Resource) {
	if u := unitOf(ctx); u != nil && r != nil {
		u.mu.Lock()
		u.pending = append(u.pending, r)
		u.mu.Unlock()
		return
	}
	if s.checker != nil && r != nil {
		s.checker.Written(r)
	}
}

func (r *ContentReport) done() {
	if r != nil && r.Done != nil {
		r.Done()
		r.Done = nil
	}
}

// ContentCheckers returns a ContentChecker that asks each of cs in turn (nil ones left
// out): the first refusal refuses the write; the reports of the others are merged.
func ContentCheckers(cs ...ContentChecker) ContentChecker {
	var some checkers
	for _, c := range cs {
		if c != nil && !isNilPointer(c) {
			some = append(some, c)
		}
	}
	return some
}

// isNilPointer reports whether c holds a nil pointer (a *Rules left nil when the rules are
// off); a checker held by value, a struct, is never nil.
func isNilPointer(c ContentChecker) bool {
	v := reflect.ValueOf(c)
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Interface, reflect.Chan:
		return v.IsNil()
	}
	return false
}

type checkers []ContentChecker

func (cs checkers) Check(ctx context.Context, w *ContentWrite) (*ContentReport, error) {
	out := &ContentReport{}
	var dones []func()
	for _, c := range cs {
		rep, err := c.Check(ctx, w)
		if err != nil {
			for _, d := range dones {
				d()
			}
			return nil, err
		}
		if rep == nil {
			continue
		}
		out.Issues = append(out.Issues, rep.Issues...)
		out.Derived = append(out.Derived, rep.Derived...)
		if rep.Done != nil {
			dones = append(dones, rep.Done)
		}
	}
	if len(dones) > 0 {
		out.Done = func() {
			for _, d := range dones {
				d()
			}
		}
	}
	return out, nil
}

func (cs checkers) CheckCommit(ctx context.Context, ws []Write) (func(), error) {
	var dones []func()
	release := func() {
		for i := len(dones) - 1; i >= 0; i-- {
			dones[i]()
		}
	}
	for _, c := range cs {
		cc, ok := c.(CommitChecker)
		if !ok {
			continue
		}
		done, err := cc.CheckCommit(ctx, ws)
		if err != nil {
			release()
			return nil, err
		}
		if done != nil {
			dones = append(dones, done)
		}
	}
	return release, nil
}

func (cs checkers) Written(r *Resource) {
	for _, c := range cs {
		c.Written(r)
	}
}
