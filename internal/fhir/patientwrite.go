package fhir

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// What a patient may write on a resource of its own: a policy per resource type, as data.
// Each rule names an element path (pattern form: "activity[*].progress", relative to the
// resource) and how a patient may change the element there; every other difference between
// the version a patient sends and the current one is refused, naming the element
// ("CarePlan.activity[1].detail.description"). Types without a policy are written as the
// scopes allow. The Service applies the policy to every update and delete it carries out
// for a caller marked with WithPatientWriter, with the current version at hand: PUT, and
// every other way of updating that goes through Service.Update.

// ChangeKind is how a patient may change the element a PatientWriteRule names.
type ChangeKind int

const (
	// Append: the array keeps every element it had, unchanged and in order; new elements
	// may follow, each accepted by the rule's Each.
	Append ChangeKind = iota + 1
	// Set: the value may be replaced by another (not removed) when the rule's When holds.
	Set
	// AddOrUpdateByID: elements of the array are paired by their id; elements may be added
	// or changed when Each accepts both the new element and the one it replaces, and none
	// may be removed.
	AddOrUpdateByID
)

// PatientWriteRule is one element a patient may change, and how.
type PatientWriteRule struct {
	// Path is the element, relative to the resource, with [*] for any array index.
	Path string
	// Change is how the element may change.
	Change ChangeKind
	// Each judges an element a patient adds or changes (Append, AddOrUpdateByID): nil when
	// it may, else what is wrong with it.
	Each func(w *PatientWrite, elem any) error
	// When decides whether a Set change is allowed, given the element's parent object in
	// the new version.
	When func(w *PatientWrite, parent map[string]any) error
}

// PatientWrite is the context a rule judges a change in.
type PatientWrite struct {
	// Patient is the token's patient, "Patient/<id>".
	Patient string
	// Now is the server's time of the write.
	Now time.Time
	// Next is the new version's body.
	Next map[string]any
}

// progressClockSkew is how far from the server's clock the time of a progress note a
// patient writes may be.
const progressClockSkew = 5 * time.Minute

// PatientWritePolicies are the elements a patient may change, per resource type. A further
// rule is one more entry here.
var PatientWritePolicies = map[string][]PatientWriteRule{
	"CarePlan": {
		{Path: "activity[*].progress", Change: Append, Each: noteByPatientNow},
		{Path: "activity[*].detail.status", Change: Set, When: patientPerforms},
		{Path: "contained", Change: AddOrUpdateByID, Each: goalExpressedByPatient},
		{Path: "goal", Change: Append, Each: referenceToPatientGoal},
	},
}

// noteByPatientNow accepts an Annotation whose author is the patient and whose time is now.
func noteByPatientNow(w *PatientWrite, elem any) error {
	m, _ := elem.(map[string]any)
	if refOf(m["authorReference"]) != w.Patient {
		return fmt.Errorf("a progress note a patient adds must have authorReference %s", w.Patient)
	}
	s, _ := m["time"].(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Sub(w.Now).Abs() > progressClockSkew {
		return fmt.Errorf("a progress note a patient adds must have time now (%s), within %s", FormatInstant(w.Now), progressClockSkew)
	}
	return nil
}

// patientPerforms holds when the activity's performers include the patient.
func patientPerforms(w *PatientWrite, detail map[string]any) error {
	perf, _ := detail["performer"].([]any)
	for _, p := range perf {
		if refOf(p) == w.Patient {
			return nil
		}
	}
	return fmt.Errorf("a patient may set the status only of activities whose performer includes %s", w.Patient)
}

// goalExpressedByPatient accepts a contained Goal expressed by the patient.
func goalExpressedByPatient(w *PatientWrite, elem any) error {
	m, _ := elem.(map[string]any)
	if m["resourceType"] != "Goal" || refOf(m["expressedBy"]) != w.Patient {
		return fmt.Errorf("a patient may add or change only contained Goals whose expressedBy is %s", w.Patient)
	}
	return nil
}

// referenceToPatientGoal accepts a reference to a contained Goal the patient expressed.
func referenceToPatientGoal(w *PatientWrite, elem any) error {
	ref := refOf(elem)
	if strings.HasPrefix(ref, "#") {
		contained, _ := w.Next["contained"].([]any)
		for _, c := range contained {
			if m, ok := c.(map[string]any); ok && m["id"] == ref[1:] && goalExpressedByPatient(w, m) == nil {
				return nil
			}
		}
	}
	return fmt.Errorf("a goal a patient adds must refer to a contained Goal expressed by %s", w.Patient)
}

// refOf is the reference of a Reference value.
func refOf(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["reference"].(string)
	return s
}

type patientWriterKey struct{}

// WithPatientWriter returns a context whose updates and deletes through Service are held to
// PatientWritePolicies for patient (its id): for requests whose write is allowed by patient/
// scopes alone.
func WithPatientWriter(ctx context.Context, patient string) context.Context {
	return context.WithValue(ctx, patientWriterKey{}, patient)
}

func patientWriter(ctx context.Context) string {
	p, _ := ctx.Value(patientWriterKey{}).(string)
	return p
}

// checkPatientWrite holds a write of next over prev to the policy of its type, when the
// context marks the caller as a patient. Writes that create a resource are the scopes' to
// judge.
func (s *Service) checkPatientWrite(ctx context.Context, prev, next *Resource) error {
	patient := patientWriter(ctx)
	rules, policed := PatientWritePolicies[next.Type]
	if patient == "" || !policed || prev == nil || prev.Deleted {
		return nil
	}
	if next.Deleted {
		return Errorf(KindForbidden, "A patient may not delete a %s: with a patient token only %s can be changed", next.Type, describeRules(rules)).At(next.Type)
	}
	var old map[string]any
	dec := json.NewDecoder(bytes.NewReader(prev.Raw))
	dec.UseNumber()
	if err := dec.Decode(&old); err != nil {
		return Wrap(err, "decode %s/%s to compare it", prev.Type, prev.ID)
	}
	return ComparePatientWrite(next.Type, &PatientWrite{Patient: "Patient/" + patient, Now: next.LastUpdated, Next: next.Tree}, old)
}

// ComparePatientWrite compares the new version w.Next with the current one, old, element by
// element, and returns a KindForbidden error naming every element a patient may not change
// that differs (nil when none does).
func ComparePatientWrite(typ string, w *PatientWrite, old map[string]any) error {
	rules := map[string]*PatientWriteRule{}
	for i, r := range PatientWritePolicies[typ] {
		rules[typ+"."+r.Path] = &PatientWritePolicies[typ][i]
	}
	c := &comparison{w: w, rules: rules}
	c.compare(typ, typ, withoutServerMeta(old), withoutServerMeta(w.Next), nil)
	if len(c.issues) == 0 {
		return nil
	}
	return &Error{Kind: KindForbidden, Issues: c.issues}
}

// withoutServerMeta returns the body without the meta elements the server sets itself.
func withoutServerMeta(m map[string]any) map[string]any {
	meta, ok := m["meta"].(map[string]any)
	if !ok {
		return m
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	rest := map[string]any{}
	for k, v := range meta {
		if k != "versionId" && k != "lastUpdated" {
			rest[k] = v
		}
	}
	delete(out, "meta")
	if len(rest) > 0 {
		out["meta"] = rest
	}
	return out
}

type comparison struct {
	w      *PatientWrite
	rules  map[string]*PatientWriteRule
	issues []Issue
}

func (c *comparison) refuse(path, why string) {
	msg := "A patient may not change " + path
	if why != "" {
		msg += ": " + why
	} else {
		msg += ": with a patient token only " + describeRules(PatientWritePolicies[strings.SplitN(path, ".", 2)[0]]) + " can be changed"
	}
	c.issues = append(c.issues, Issue{Severity: SeverityError, Code: IssueForbidden, Diagnostics: msg, Expression: []string{path}})
}

// compare walks the old and new values of one element (absent: nil) at path, whose
// pattern form is pattern; parent is the element's parent object in the new version.
func (c *comparison) compare(path, pattern string, a, b any, parent map[string]any) {
	if r := c.rules[pattern]; r != nil {
		c.apply(r, path, a, b, parent)
		return
	}
	am, aIsMap := a.(map[string]any)
	bm, bIsMap := b.(map[string]any)
	if aIsMap && bIsMap {
		for _, k := range unionKeys(am, bm) {
			c.compare(path+"."+k, pattern+"."+k, am[k], bm[k], bm)
		}
		return
	}
	aa, aIsArr := a.([]any)
	ba, bIsArr := b.([]any)
	// An array added or removed whole differs in each of its elements.
	if aIsArr && b == nil || bIsArr && a == nil || aIsArr && bIsArr {
		for i := 0; i < max(len(aa), len(ba)); i++ {
			c.compare(path+"["+strconv.Itoa(i)+"]", pattern+"[*]", at(aa, i), at(ba, i), parent)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		c.refuse(path, "")
	}
}

// apply judges a change of an element a rule names.
func (c *comparison) apply(r *PatientWriteRule, path string, a, b any, parent map[string]any) {
	if reflect.DeepEqual(a, b) {
		return
	}
	switch r.Change {
	case Set:
		if b == nil {
			c.refuse(path, "it may be changed, not removed")
			return
		}
		if err := r.When(c.w, parent); err != nil {
			c.refuse(path, err.Error())
		}
	case Append:
		aa, _ := a.([]any)
		ba, ok := b.([]any)
		if !ok && b != nil {
			c.refuse(path, "")
			return
		}
		for i := range aa {
			if i >= len(ba) {
				c.refuse(path+"["+strconv.Itoa(i)+"]", "elements may be added, not removed")
				continue
			}
			if !reflect.DeepEqual(aa[i], ba[i]) {
				c.refuse(path+"["+strconv.Itoa(i)+"]", "elements already there may not be changed; add new ones after them")
			}
		}
		for i := len(aa); i < len(ba); i++ {
			if err := r.Each(c.w, ba[i]); err != nil {
				c.refuse(path+"["+strconv.Itoa(i)+"]", err.Error())
			}
		}
	case AddOrUpdateByID:
		aa, _ := a.([]any)
		ba, ok := b.([]any)
		if !ok && b != nil {
			c.refuse(path, "")
			return
		}
		olds := map[string]any{}
		for _, e := range aa {
			if id, ok := idOf(e); ok {
				olds[id] = e
			}
		}
		seen := map[string]bool{}
		for i, e := range ba {
			p := path + "[" + strconv.Itoa(i) + "]"
			id, ok := idOf(e)
			if !ok {
				c.refuse(p, "an element added here needs an id")
				continue
			}
			seen[id] = true
			old, existed := olds[id]
			if existed && reflect.DeepEqual(old, e) {
				continue
			}
			if existed {
				if err := r.Each(c.w, old); err != nil {
					c.refuse(p, err.Error())
					continue
				}
			}
			if err := r.Each(c.w, e); err != nil {
				c.refuse(p, err.Error())
			}
		}
		for i, e := range aa {
			if id, ok := idOf(e); !ok || !seen[id] {
				c.refuse(path+"["+strconv.Itoa(i)+"]", "elements may be added or changed, not removed")
			}
		}
	}
}

func idOf(e any) (string, bool) {
	m, _ := e.(map[string]any)
	id, ok := m["id"].(string)
	return id, ok && id != ""
}

func at(a []any, i int) any {
	if i < len(a) {
		return a[i]
	}
	return nil
}

func unionKeys(a, b map[string]any) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// describeRules lists the elements of a policy for a message.
func describeRules(rules []PatientWriteRule) string {
	parts := make([]string, len(rules))
	for i, r := range rules {
		parts[i] = strings.ReplaceAll(r.Path, "[*]", "")
	}
	return strings.Join(parts, ", ")
}
