package questionnaire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// Mode says what the Questionnaire rules do with the problems they find.
type Mode string

// The modes (FHIR_QR_VALIDATION).
const (
	// ModeStrict refuses a write that breaks a rule: 422, or 409 for the rules about other
	// stored resources. The default.
	ModeStrict Mode = "strict"
	// ModeWarn stores the write and reports every problem as a warning.
	ModeWarn Mode = "warn"
	// ModeOff checks nothing.
	ModeOff Mode = "off"
)

// ParseMode reads a mode name; "" is ModeStrict.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", ModeStrict:
		return ModeStrict, nil
	case ModeWarn, ModeOff:
		return Mode(s), nil
	}
	return "", fmt.Errorf("%q is not a Questionnaire validation mode: use strict, warn or off", s)
}

// Options configure Rules.
type Options struct {
	// Mode is strict (the default), warn or off.
	Mode Mode
	// ResolveTTL bounds how long the versions stored under a url are trusted without asking
	// the database again (see NewResolver): 0 for the embedded database, whose only client
	// this process is; a few seconds when several servers share a MongoDB database.
	ResolveTTL time.Duration
	// Logger records checks that failed unexpectedly; nil discards.
	Logger *slog.Logger
}

// Rules is the fhir.ContentChecker of Questionnaires and QuestionnaireResponses: a response
// is checked against the Questionnaire its questionnaire element names, and a Questionnaire
// for its own integrity, the uniqueness of its url and version, and, when it is active and
// answered, the stability of its items.
type Rules struct {
	mode     Mode
	searcher search.Searcher
	resolver *Resolver
	log      *slog.Logger
	// qmu serialises the checks and writes of Questionnaires in this process, so that two
	// writes of one url and version cannot both pass the uniqueness check.
	qmu sync.Mutex
}

var _ fhir.CommitChecker = (*Rules)(nil)

// New returns the rules, resolving Questionnaires with searcher.
func New(searcher search.Searcher, opts Options) (*Rules, error) {
	if searcher == nil {
		return nil, errors.New("questionnaire: New needs a searcher")
	}
	mode, err := ParseMode(string(opts.Mode))
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Rules{mode: mode, searcher: searcher, resolver: NewResolver(searcher, opts.ResolveTTL), log: log}, nil
}

// Mode returns the rules' mode.
func (r *Rules) Mode() Mode { return r.mode }

// Resolver returns the resolver the rules use.
func (r *Rules) Resolver() *Resolver { return r.resolver }

// Check implements fhir.ContentChecker.
func (r *Rules) Check(ctx context.Context, w *fhir.ContentWrite) (*fhir.ContentReport, error) {
	if r.mode == ModeOff {
		return nil, nil
	}
	switch w.Type {
	case "QuestionnaireResponse":
		return r.checkResponse(ctx, w)
	case "Questionnaire":
		return r.checkQuestionnaire(ctx, w)
	}
	return nil, nil
}

// Written implements fhir.ContentChecker: a Questionnaire written drops what the resolver
// cached of it.
func (r *Rules) Written(res *fhir.Resource) {
	if res.Type == "Questionnaire" {
		r.resolver.Invalidate(res)
	}
}

// verdict turns the issues found into the report or the refusal the mode asks for: in
// strict mode any error refuses the write with kind (every issue, warnings included, in the
// OperationOutcome); in warn mode errors become warnings.
func (r *Rules) verdict(kind fhir.Kind, issues []fhir.Issue, derived []fhir.Derived) (*fhir.ContentReport, error) {
	failed := false
	for i := range issues {
		if issues[i].Severity == fhir.SeverityError || issues[i].Severity == fhir.SeverityFatal {
			if r.mode == ModeWarn {
				issues[i].Severity = fhir.SeverityWarning
				continue
			}
			failed = true
		}
	}
	if failed {
		return nil, &fhir.Error{Kind: kind, Issues: issues}
	}
	return &fhir.ContentReport{Issues: issues, Derived: derived}, nil
}

// checkResponse checks a QuestionnaireResponse against its Questionnaire.
func (r *Rules) checkResponse(ctx context.Context, w *fhir.ContentWrite) (*fhir.ContentReport, error) {
	canonical := str(w.Tree, "questionnaire")
	if canonical == "" {
		return nil, nil
	}
	var c *Checker
	if strings.HasPrefix(canonical, "#") {
		if c = containedChecker(w.Tree, canonical[1:]); c == nil {
			return r.verdict(fhir.KindUnprocessable, []fhir.Issue{{Severity: fhir.SeverityError, Code: fhir.IssueNotFound,
				Expression:  []string{"QuestionnaireResponse.questionnaire"},
				Diagnostics: fmt.Sprintf("The questionnaire %s names a contained Questionnaire, but the response contains none with id %q", canonical, canonical[1:])}}, nil)
		}
	} else {
		res, err := r.resolver.Resolve(ctx, canonical)
		if err != nil {
			return nil, err
		}
		if res.Checker == nil {
			return &fhir.ContentReport{Issues: []fhir.Issue{unresolved(canonical, res)}}, nil
		}
		c = res.Checker
	}
	result := c.Check(ctx, w.Tree)
	return r.verdict(fhir.KindUnprocessable, result.Issues, result.Derived)
}

// Derive implements store.Deriver: the values the rules compute from a stored response
// (ordinal values of its answers, its scores), against the Questionnaire it names as it is
// stored now. A response whose Questionnaire is not found has none.
func (r *Rules) Derive(ctx context.Context, typ string, tree map[string]any) []fhir.Derived {
	if r.mode == ModeOff || typ != "QuestionnaireResponse" {
		return nil
	}
	c, err := r.checkerFor(ctx, tree)
	if err != nil || c == nil {
		return nil
	}
	return c.Check(ctx, tree).Derived
}

// checkerFor returns the Checker of the Questionnaire a response names: contained ("#id")
// or stored; nil when there is none.
func (r *Rules) checkerFor(ctx context.Context, tree map[string]any) (*Checker, error) {
	canonical := str(tree, "questionnaire")
	switch {
	case canonical == "":
		return nil, nil
	case strings.HasPrefix(canonical, "#"):
		return containedChecker(tree, canonical[1:]), nil
	}
	res, err := r.resolver.Resolve(ctx, canonical)
	if err != nil {
		return nil, err
	}
	return res.Checker, nil
}

// containedChecker compiles the Questionnaire with the id that the response contains, nil
// when it contains none. Its "#id" references (answerValueSet) name the response's other
// contained resources: a contained resource contains none of its own.
func containedChecker(tree map[string]any, id string) *Checker {
	for _, res := range objects(tree, "contained") {
		if str(res, "resourceType") == "Questionnaire" && str(res, "id") == id {
			q := make(map[string]any, len(res)+1)
			for k, v := range res {
				q[k] = v
			}
			q["contained"] = tree["contained"]
			c, _ := Compile(q)
			return c
		}
	}
	return nil
}

// unresolved is the warning of a response stored without its Questionnaire.
func unresolved(canonical string, res *Resolution) fhir.Issue {
	is := fhir.Issue{Severity: fhir.SeverityWarning, Code: fhir.IssueNotFound, Expression: []string{"QuestionnaireResponse.questionnaire"}}
	switch {
	case len(res.Ambiguous) > 0:
		is.Diagnostics = fmt.Sprintf("Questionnaire %s is stored more than once (Questionnaire/%s): the response is stored without being checked against it",
			canonical, strings.Join(res.Ambiguous, ", Questionnaire/"))
	case len(res.Versions) > 0:
		is.Diagnostics = fmt.Sprintf("Questionnaire %s is not stored on this server (it has version %s of that url): the response is stored without being checked against it",
			canonical, strings.Join(res.Versions, ", "))
	default:
		is.Diagnostics = fmt.Sprintf("Questionnaire %s is not stored on this server: the response is stored without being checked against it", canonical)
	}
	return is
}

// checkQuestionnaire checks a Questionnaire being written: its integrity (422 when broken),
// that no other stored Questionnaire has its url and version, and that an active version
// with responses keeps its items (409 when not).
func (r *Rules) checkQuestionnaire(ctx context.Context, w *fhir.ContentWrite) (*fhir.ContentReport, error) {
	c, issues := Compile(w.Tree)
	if c.URL == "" || hasErrors(issues) && r.mode == ModeStrict {
		return r.verdict(fhir.KindUnprocessable, issues, nil)
	}
	release := func() {}
	if !w.DryRun {
		r.qmu.Lock()
		release = r.qmu.Unlock
	}
	conflicts, err := r.conflicts(ctx, c, w)
	if err != nil {
		release()
		return nil, err
	}
	rep, err := r.verdict(fhir.KindConflict, append(issues, conflicts...), nil)
	if err != nil {
		release()
		return nil, err
	}
	rep.Done = release
	return rep, nil
}

func hasErrors(issues []fhir.Issue) bool {
	for _, is := range issues {
		if is.Severity == fhir.SeverityError || is.Severity == fhir.SeverityFatal {
			return true
		}
	}
	return false
}

// conflicts finds what a Questionnaire write contradicts among the stored resources.
func (r *Rules) conflicts(ctx context.Context, c *Checker, w *fhir.ContentWrite) ([]fhir.Issue, error) {
	out, err := r.storedConflicts(ctx, c.URL, c.Version, map[string]bool{w.ID: true})
	if err != nil {
		return nil, err
	}
	if w.Prev == nil {
		return out, nil
	}
	prev, err := decodeTree(w.Prev.Raw)
	if err != nil {
		return nil, fhir.Wrap(err, "decode Questionnaire/%s", w.Prev.ID)
	}
	if !changesActiveItems(prev, w.Tree, c.URL, c.Version) {
		return out, nil
	}
	answered, err := r.answered(ctx, c.Canonical())
	if err != nil {
		return nil, err
	}
	if answered != "" {
		out = append(out, itemsFixed(c, answered))
	}
	return out, nil
}

// storedConflicts returns the conflicts of the stored Questionnaires that have url and
// version too, but those with an id in except.
func (r *Rules) storedConflicts(ctx context.Context, url, version string, except map[string]bool) ([]fhir.Issue, error) {
	var out []fhir.Issue
	stored, err := FindByURL(ctx, r.searcher, url)
	if err != nil {
		return nil, err
	}
	for _, o := range stored {
		if except[o.ID] {
			continue
		}
		tree, err := decodeTree(o.Raw)
		if err != nil {
			return nil, fhir.Wrap(err, "decode Questionnaire/%s", o.ID)
		}
		if str(tree, "url") == url && str(tree, "version") == version {
			out = append(out, sharedCanonical(o.ID, "already has", url, version))
		}
	}
	return out, nil
}

// changesActiveItems says whether next, a Questionnaire with url and version, changes the
// items of prev, the version it replaces, while prev is active and has the same url and
// version.
func changesActiveItems(prev, next map[string]any, url, version string) bool {
	return str(prev, "status") == "active" && str(prev, "url") == url && str(prev, "version") == version && !sameItems(prev["item"], next["item"])
}

// itemsFixed is the conflict of a write that changes the items of the active
// Questionnaire c, which QuestionnaireResponse/answered answers.
func itemsFixed(c *Checker, answered string) fhir.Issue {
	return fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueConflict, Expression: []string{"Questionnaire.item"},
		Diagnostics: fmt.Sprintf("Questionnaire %s is active and has responses (such as QuestionnaireResponse/%s): its items cannot change, so bump version: write the changed items as a new version (a new Questionnaire with the same url and, say, version %s)",
			c.Canonical(), answered, nextVersion(c.Version))}
}

// sharedCanonical is the conflict of a Questionnaire whose url and version Questionnaire/id
// has too.
func sharedCanonical(id, has, url, version string) fhir.Issue {
	what := "version " + version
	if version == "" {
		what = "no version"
	}
	return fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueConflict, Expression: []string{"Questionnaire.version"},
		Diagnostics: fmt.Sprintf("Questionnaire/%s %s url %s and %s: two Questionnaires cannot share a url and version (responses name them by url|version); give this one another version, or update Questionnaire/%s",
			id, has, url, what, id)}
}

// CheckCommit implements fhir.CommitChecker: the url and version of each Questionnaire a
// transaction writes are checked once more as it is stored, under the lock single
// Questionnaire writes hold from their check to their write, against what is stored then
// and against the transaction's other Questionnaires. The lock stays held until the
// transaction is stored, so no write of the same url and version slips in between.
func (r *Rules) CheckCommit(ctx context.Context, ws []fhir.Write) (func(), error) {
	if r.mode == ModeOff {
		return nil, nil
	}
	var qs []questionnaireWrite
	var staged []*fhir.Resource
	changed := map[string]bool{}
	for _, w := range ws {
		if w.Next.Type == "Questionnaire" {
			changed[w.Next.ID] = true
			staged = append(staged, w.Next)
			if !w.Next.Deleted {
				q := questionnaireWrite{next: decode(w.Next)}
				if w.Prev != nil && !w.Prev.Deleted {
					q.prev = decode(w.Prev)
				}
				qs = append(qs, q)
			}
		}
	}
	if len(qs) == 0 {
		return nil, nil
	}
	var responses []decoded
	for _, w := range ws {
		if w.Next.Type == "QuestionnaireResponse" && !w.Next.Deleted {
			responses = append(responses, decode(w.Next))
		}
	}
	r.qmu.Lock()
	issues, err := r.commitConflicts(ctx, qs, changed, stagedAnswers(responses))
	if err == nil {
		_, err = r.verdict(fhir.KindConflict, issues, nil)
	}
	if err == nil {
		err = r.recheckResponses(ctx, qs, staged, responses)
	}
	if err != nil {
		r.qmu.Unlock()
		return nil, err
	}
	return r.qmu.Unlock, nil
}

// decoded is a resource a transaction writes with its JSON tree, decoded once for all the
// checks of CheckCommit; err is the decoding's error.
type decoded struct {
	res  *fhir.Resource
	tree map[string]any
	err  error
}

func decode(res *fhir.Resource) decoded {
	tree, err := decodeTree(res.Raw)
	return decoded{res: res, tree: tree, err: err}
}

// questionnaireWrite is a Questionnaire a transaction writes and the version it replaces
// (prev.res is nil when there is none or it is deleted), decoded.
type questionnaireWrite struct{ next, prev decoded }

// recheckResponses checks once more each of responses, the QuestionnaireResponses a
// transaction writes, that names the url of one of the Questionnaires qs write (or wrote
// before), against the Questionnaires as the transaction leaves them (staged: every
// Questionnaire it writes or deletes): a response served before the PUT or PATCH of its
// Questionnaire (POSTs come first) was checked against the version before. A response that does not fit refuses the whole unit;
// one that does gets the values derived from the Questionnaire it will be stored with.
func (r *Rules) recheckResponses(ctx context.Context, qs []questionnaireWrite, staged []*fhir.Resource, responses []decoded) error {
	urls := map[string]bool{}
	byURL := map[string][]*Checker{} // the versions under each url, compiled once for all responses
	for _, w := range qs {
		for _, d := range []decoded{w.next, w.prev} {
			if d.res != nil && d.err == nil {
				urls[str(d.tree, "url")] = true
			}
		}
	}
	for _, qr := range responses {
		if qr.err != nil {
			return fhir.Wrap(qr.err, "decode QuestionnaireResponse/%s", qr.res.ID)
		}
		canonical := str(qr.tree, "questionnaire")
		u, version, _ := strings.Cut(canonical, "|")
		if !urls[u] {
			continue
		}
		candidates, ok := byURL[u]
		if !ok {
			var err error
			if candidates, err = r.resolver.versionsAmong(ctx, u, staged); err != nil {
				return err
			}
			byURL[u] = candidates
		}
		c := match(candidates, version).Checker
		if c == nil {
			continue
		}
		result := c.Check(ctx, qr.tree)
		rep, err := r.verdict(fhir.KindUnprocessable, result.Issues, result.Derived)
		var fe *fhir.Error
		if errors.As(err, &fe) {
			fe.Issues = append([]fhir.Issue{{Severity: fhir.SeverityError, Code: fhir.IssueBusinessRule,
				Diagnostics: fmt.Sprintf("QuestionnaireResponse/%s does not fit Questionnaire %s as this transaction leaves it", qr.res.ID, canonical)}}, fe.Issues...)
			return fe
		}
		if err != nil {
			return err
		}
		qr.res.Derived = rep.Derived
	}
	return nil
}

// stagedAnswers maps the questionnaire each of responses names (url|version as written) to
// the id of one of them.
func stagedAnswers(responses []decoded) map[string]string {
	out := map[string]string{}
	for _, qr := range responses {
		if qr.err == nil && str(qr.tree, "questionnaire") != "" {
			out[str(qr.tree, "questionnaire")] = qr.res.ID
		}
	}
	return out
}

// commitConflicts finds the url and version that the Questionnaires qs, written together,
// share with each other or with a stored Questionnaire that the same writes leave as it is
// (those with an id in changed are replaced or deleted), and the items changed of an active
// Questionnaire that a response of the same writes answers (answers, see stagedAnswers).
func (r *Rules) commitConflicts(ctx context.Context, qs []questionnaireWrite, changed map[string]bool, answers map[string]string) ([]fhir.Issue, error) {
	var out []fhir.Issue
	seen := map[string]string{} // url|version: the id of the first Questionnaire with them
	for _, w := range qs {
		q, tree := w.next.res, w.next.tree
		if w.next.err != nil {
			return nil, fhir.Wrap(w.next.err, "decode Questionnaire/%s", q.ID)
		}
		url, version := str(tree, "url"), str(tree, "version")
		if url == "" {
			continue
		}
		if w.prev.res != nil {
			if w.prev.err != nil {
				return nil, fhir.Wrap(w.prev.err, "decode Questionnaire/%s", q.ID)
			}
			if changesActiveItems(w.prev.tree, tree, url, version) {
				c := &Checker{URL: url, Version: version}
				if id, ok := answers[c.Canonical()]; ok {
					out = append(out, itemsFixed(c, id))
				}
			}
		}
		if first, ok := seen[url+"|"+version]; ok {
			out = append(out, sharedCanonical(first, "has, in this transaction too,", url, version))
			continue
		}
		seen[url+"|"+version] = q.ID
		stored, err := r.storedConflicts(ctx, url, version, changed)
		if err != nil {
			return nil, err
		}
		out = append(out, stored...)
	}
	return out, nil
}

// answered returns the id of a response that names canonical, "" when there is none.
func (r *Rules) answered(ctx context.Context, canonical string) (string, error) {
	u, v, _ := strings.Cut(canonical, "|")
	one := 1
	crit := &search.Criteria{Type: "QuestionnaireResponse", Count: &one, Params: []search.Param{{
		Def: search.Lookup("QuestionnaireResponse", "questionnaire"), Values: []search.Value{search.Reference{URL: u, Version: v}},
	}}}
	res, err := r.searcher.Search(ctx, &search.Request{Criteria: crit})
	if err != nil {
		return "", err
	}
	if len(res.Matches) == 0 {
		return "", nil
	}
	return res.Matches[0].ID, nil
}

// sameItems compares two item trees as JSON values.
func sameItems(a, b any) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// nextVersion suggests the version after v: the last number part incremented.
func nextVersion(v string) string {
	parts := strings.Split(v, ".")
	last := parts[len(parts)-1]
	n := 0
	if _, err := fmt.Sscanf(last, "%d", &n); err != nil || fmt.Sprint(n) != last {
		if v == "" {
			return "2"
		}
		return v + ".1"
	}
	parts[len(parts)-1] = fmt.Sprint(n + 1)
	return strings.Join(parts, ".")
}
