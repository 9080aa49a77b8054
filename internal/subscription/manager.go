package subscription

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/patient-involvement/fhir-server/internal/audit"
	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/fhir"
	"github.com/patient-involvement/fhir-server/internal/search"
)

// The R4 Subscription statuses (http://hl7.org/fhir/R4/valueset-subscription-status.html).
const (
	StatusRequested = "requested"
	StatusActive    = "active"
	StatusError     = "error"
	StatusOff       = "off"
)

// Defaults of Options.
const (
	DefaultRetryFor  = 24 * time.Hour
	DefaultRetryBase = time.Second
	DefaultRetryMax  = 10 * time.Minute
	DefaultTimeout   = 10 * time.Second
	// maxResponseBytes is the most of a receiver's answer that is read.
	maxResponseBytes = 64 << 10
)

// subscribable are the types a Subscription's criteria may search.
var subscribable = map[string]bool{"QuestionnaireResponse": true, "CarePlan": true}

// Auditor records deliveries in the audit trail (audit.Writer).
type Auditor interface {
	Record(r audit.Record) error
}

// Counter counts deliveries for the metrics, by outcome (delivered, failed, dropped,
// handshake, handshake-failed, error).
type Counter interface {
	SubscriptionDelivery(outcome string)
}

// Options configure a Manager.
type Options struct {
	// Dir holds the outbox (created if absent), for instance <data-dir>/subscriptions. Required.
	Dir string
	// Store reads the versions notifications are about. Required.
	Store fhir.Store
	// Compile turns criteria into an in-memory match (store.Store.Matcher). Required.
	Compile func(*search.Criteria) (search.Match, error)
	// AllowedHosts may be reached over http and on private addresses (host or host:port).
	AllowedHosts []string
	// RetryFor is how long a notification is retried before the subscription turns to error;
	// default DefaultRetryFor.
	RetryFor time.Duration
	// RetryBase and RetryMax bound the pause between attempts, which doubles from RetryBase
	// up to RetryMax, with jitter; defaults DefaultRetryBase and DefaultRetryMax.
	RetryBase, RetryMax time.Duration
	// Timeout bounds each request to an endpoint (connect, TLS, answer); default DefaultTimeout.
	Timeout time.Duration
	// Audit records each delivery and failure, when set.
	Audit Auditor
	// Metrics counts deliveries, when set.
	Metrics Counter
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Manager serves R4 rest-hook Subscriptions: it checks Subscription writes (a
// fhir.ContentChecker), matches every write of a subscribable resource against the
// subscriptions in memory and records its notifications in the outbox before the write
// happens (a store.WriteObserver), and delivers them, in order per subscription, at least
// once.
type Manager struct {
	o       Options
	log     *slog.Logger
	outbox  *outbox
	allow   allowList
	allowed *http.Client
	guarded *http.Client
	svc     *fhir.Service

	mu      sync.RWMutex
	subs    map[string]*sub
	nextSeq int64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// sub is one subscription as the manager keeps it.
type sub struct {
	id       string
	vid      int64
	status   string
	criteria string
	match    search.Match
	endpoint string
	payload  string
	headers  [][2]string
	owner    *Owner
	// end is Subscription.end: no notification is recorded after it (zero: none).
	end time.Time

	// queue holds the notifications not delivered yet, in the order recorded.
	queue []*entry
	// number is the last event number given.
	number int64
	wake   chan struct{}
	// running is set while the subscription's dispatcher runs.
	running bool
	// gone is set when the subscription was deleted.
	gone bool
}

// entry is one notification.
type entry struct {
	seq    int64
	typ    string
	id     string
	vid    int64
	hash   string
	number int64
	// settled is set once the write that caused it is over (at once for those read at start).
	settled bool
}

// New opens the outbox in o.Dir. Call Start once the service exists.
func New(o Options) (*Manager, error) {
	if o.Dir == "" || o.Store == nil || o.Compile == nil {
		return nil, errors.New("subscription: New needs a directory, a store and a criteria compiler")
	}
	if o.RetryFor <= 0 {
		o.RetryFor = DefaultRetryFor
	}
	if o.RetryBase <= 0 {
		o.RetryBase = DefaultRetryBase
	}
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultRetryMax
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	m := &Manager{o: o, log: o.Logger, allow: newAllowList(o.AllowedHosts), subs: map[string]*sub{}}
	if m.log == nil {
		m.log = slog.Default()
	}
	m.allowed, m.guarded = newClients(o.Timeout)
	ob, st, err := openOutbox(o.Dir, m.log)
	if err != nil {
		return nil, err
	}
	m.outbox, m.nextSeq = ob, st.nextSeq
	for id, owner := range st.owners {
		m.subs[id] = &sub{id: id, owner: owner, queue: st.events[id], number: st.numbers[id], wake: make(chan struct{}, 1), status: StatusOff}
	}
	return m, nil
}

// AuditWith has deliveries and failures recorded by a (the audit trail's writer, which
// is made after the service the manager checks writes for). Call it before Start.
func (m *Manager) AuditWith(a Auditor) { m.o.Audit = a }

// Start reads the stored subscriptions the outbox knows, and starts delivering with svc
// (through which the manager writes a subscription's status).
func (m *Manager) Start(ctx context.Context, svc *fhir.Service) error {
	m.svc = svc
	m.ctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))
	m.mu.Lock()
	defer m.mu.Unlock()
	pending := 0
	for id, s := range m.subs {
		r, err := m.o.Store.Current(ctx, "Subscription", id)
		if fhir.IsKind(err, fhir.KindNotFound) || err == nil && r.Deleted {
			delete(m.subs, id)
			continue
		}
		if err != nil {
			return fmt.Errorf("subscriptions: read Subscription/%s: %w", id, err)
		}
		if err := m.apply(s, r); err != nil {
			m.log.Error("subscriptions: a stored subscription cannot be served", "id", id, "err", err)
			s.status = StatusOff
		}
		pending += len(s.queue)
		m.kick(s)
	}
	m.log.Info("subscriptions started", "subscriptions", len(m.subs), "notifications_pending", pending)
	return nil
}

// Close stops delivering and closes the outbox; what is not delivered is delivered after
// the next start.
func (m *Manager) Close() error {
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	return m.outbox.close()
}

// parsed is a Subscription body, as far as the manager reads it.
type parsed struct {
	Status   string `json:"status"`
	Criteria string `json:"criteria"`
	Error    string `json:"error"`
	End      string `json:"end"`
	Channel  struct {
		Type     string   `json:"type"`
		Endpoint string   `json:"endpoint"`
		Payload  string   `json:"payload"`
		Header   []string `json:"header"`
	} `json:"channel"`
}

// compile checks a Subscription's criteria and channel and returns its match.
func (m *Manager) compile(ctx context.Context, p *parsed, resolve bool) (search.Match, [][2]string, error) {
	var issues []fhir.Issue
	bad := func(path, format string, args ...any) {
		issues = append(issues, fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueBusinessRule,
			Diagnostics: fmt.Sprintf(format, args...), Expression: []string{path}})
	}
	var match search.Match
	typ, query, _ := strings.Cut(p.Criteria, "?")
	switch {
	case !subscribable[typ]:
		bad("Subscription.criteria", "criteria must search QuestionnaireResponse or CarePlan, as Type?parameters (e.g. QuestionnaireResponse?questionnaire=https://example.org/Questionnaire/phq-9|1.0&item-answer-number=44260-8$gt0); got %q", p.Criteria)
	default:
		q, err := url.ParseQuery(query)
		var c *search.Criteria
		if err == nil {
			var issues []fhir.Issue
			c, issues, err = search.Parse(typ, q, search.Options{})
			if err == nil && len(issues) > 0 {
				// A search leaves out what it does not know; criteria must mean all they say.
				err = errors.New(issues[0].Diagnostics)
			}
		}
		if err == nil {
			for _, k := range []string{"_sort", "_count", "_include", "_revinclude", "_summary", "_elements", "_total"} {
				if q.Has(k) {
					err = fmt.Errorf("%s shapes search results and means nothing in criteria", k)
				}
			}
		}
		if err == nil {
			match, err = m.o.Compile(c)
		}
		if err != nil {
			bad("Subscription.criteria", "criteria %q cannot be searched: %s", p.Criteria, errorText(err))
		}
	}
	if p.Channel.Type != "rest-hook" {
		bad("Subscription.channel.type", "this server delivers only rest-hook subscriptions, not %q", p.Channel.Type)
	}
	var names resolver
	if resolve {
		names = net.DefaultResolver
	}
	if _, err := m.allow.checkEndpoint(ctx, p.Channel.Endpoint, names); err != nil {
		bad("Subscription.channel.endpoint", "%s", err.Error())
	}
	switch p.Channel.Payload {
	case "", "application/fhir+json", "application/json":
	default:
		bad("Subscription.channel.payload", "channel.payload %q is not served: leave it out (no body) or use application/fhir+json", p.Channel.Payload)
	}
	var headers [][2]string
	for i, h := range p.Channel.Header {
		name, value, ok := strings.Cut(h, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || !validHeaderName(name) || strings.ContainsAny(value, "\r\n") {
			bad(fmt.Sprintf("Subscription.channel.header[%d]", i), "channel.header %q is not a header line \"Name: value\"", h)
			continue
		}
		headers = append(headers, [2]string{name, value})
	}
	if len(issues) > 0 {
		return nil, nil, &fhir.Error{Kind: fhir.KindUnprocessable, Issues: issues}
	}
	return match, headers, nil
}

func validHeaderName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)) {
			return false
		}
	}
	return true
}

// errorText is what a client may read of an error: a domain error's diagnostics.
func errorText(err error) string {
	var fe *fhir.Error
	if errors.As(err, &fe) && len(fe.Issues) > 0 {
		return fe.Issues[0].Diagnostics
	}
	return err.Error()
}

func parse(raw []byte) (*parsed, error) {
	var p parsed
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Check implements fhir.ContentChecker for Subscriptions: criteria, channel and the
// status a client may set. The server's own writes (no principal) set any status.
func (m *Manager) Check(ctx context.Context, w *fhir.ContentWrite) (*fhir.ContentReport, error) {
	if w.Type != "Subscription" {
		return nil, nil
	}
	raw, _ := json.Marshal(w.Tree)
	p, err := parse(raw)
	if err != nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "The Subscription cannot be read: %v", err)
	}
	principal := auth.PrincipalFrom(ctx)
	client := principal != nil
	// The endpoint's name is resolved for what a client writes; the server's own writes
	// (a status) must not fail while the name does not resolve.
	if _, _, err := m.compile(ctx, p, client && !w.DryRun); err != nil {
		return nil, err
	}
	if !client {
		return nil, nil
	}
	var prev *parsed
	if w.Prev != nil {
		prev, _ = parse(w.Prev.Raw)
	}
	if err := m.checkSecrets(principal, w, raw, p, prev); err != nil {
		return nil, err
	}
	// A subscription to what its writer may not read would only ever drop its
	// notifications: say so now. (Each notification is still checked against the
	// creator's scopes when it is delivered.)
	if typ, _, _ := strings.Cut(p.Criteria, "?"); !principal.Allows(typ, auth.ActionRead) {
		return nil, fhir.Errorf(fhir.KindForbidden, "This token may not read %s, so a Subscription of its on %s would never notify: it needs a read scope on %s", typ, typ, typ).At("Subscription.criteria")
	}
	switch {
	case p.Status == StatusRequested || p.Status == StatusOff:
	case prev != nil && p.Status == prev.Status && reflect.DeepEqual(p.Channel, prev.Channel) && p.Criteria == prev.Criteria:
		// Unchanged where it matters: a change of other elements (reason, contact, end).
	case prev == nil:
		return nil, fhir.Errorf(fhir.KindUnprocessable, "A new Subscription must have status %q (the server checks its endpoint and makes it %q) or %q, not %q",
			StatusRequested, StatusActive, StatusOff, p.Status).At("Subscription.status")
	default:
		return nil, fhir.Errorf(fhir.KindUnprocessable, "A client may set a Subscription's status to %q (to start it again, with a new handshake) or %q; %q and %q are the server's to set, and changing the criteria or channel needs %q",
			StatusRequested, StatusOff, StatusActive, StatusError, StatusRequested).At("Subscription.status")
	}
	return nil, nil
}

// Written implements fhir.ContentChecker.
func (m *Manager) Written(*fhir.Resource) {}

// digest is the hash a notification keeps of its version's body.
func digest(raw []byte) string {
	h := sha256.Sum256(raw)
	return hex.EncodeToString(h[:12])
}

// BeforeWrite implements store.WriteObserver: a Subscription's creator is recorded before
// it is written; a subscribable version is matched against every subscription that is not
// off, and its notifications are recorded before it is written.
func (m *Manager) BeforeWrite(ctx context.Context, next *fhir.Resource, ix search.Index) (func(error), error) {
	if next.Type == "Subscription" {
		return m.subscriptionWrite(ctx, next)
	}
	if !subscribable[next.Type] || next.Deleted {
		return func(error) {}, nil
	}
	hash := ""
	var recs []record
	var entries []*entry
	var subs []*sub
	cand := &search.Candidate{Resource: next, Index: ix}
	m.mu.Lock()
	for _, s := range m.subs {
		if s.status == StatusOff || s.match == nil || s.gone || !s.end.IsZero() && next.LastUpdated.After(s.end) || !s.match(cand) {
			continue
		}
		if hash == "" {
			hash = digest(next.Raw)
		}
		e := &entry{seq: m.nextSeq, typ: next.Type, id: next.ID, vid: next.VersionID, hash: hash}
		m.nextSeq++
		recs = append(recs, record{Kind: kindEvent, Sub: s.id, Seq: e.seq, Type: e.typ, ID: e.id, VID: e.vid, Hash: hash})
		entries = append(entries, e)
		subs = append(subs, s)
		s.queue = append(s.queue, e)
	}
	m.mu.Unlock()
	if len(recs) == 0 {
		return func(error) {}, nil
	}
	if err := m.outbox.append(recs...); err != nil {
		m.mu.Lock()
		for i, s := range subs {
			s.queue = slices.DeleteFunc(s.queue, func(x *entry) bool { return x == entries[i] })
		}
		m.mu.Unlock()
		return nil, fhir.Errorf(fhir.KindUnavailable, "The notification of this write could not be recorded: %v", err)
	}
	return func(error) {
		// Settled either way: the dispatcher confirms the version exists before sending.
		m.mu.Lock()
		for i, s := range subs {
			entries[i].settled = true
			m.kick(s)
		}
		m.mu.Unlock()
	}, nil
}

// subscriptionWrite records the creator of a new subscription, and once it is written
// serves the new version.
func (m *Manager) subscriptionWrite(ctx context.Context, next *fhir.Resource) (func(error), error) {
	m.mu.RLock()
	s := m.subs[next.ID]
	m.mu.RUnlock()
	var owner *Owner
	if p := auth.PrincipalFrom(ctx); p != nil && (s == nil || s.owner == nil) && !next.Deleted {
		owner = &Owner{Scope: p.Scope, Patient: p.Patient, Subject: p.Subject, Client: p.ClientID}
		if err := m.outbox.append(record{Kind: kindOwner, Sub: next.ID, Owner: owner}); err != nil {
			return nil, fhir.Errorf(fhir.KindUnavailable, "The subscription could not be recorded: %v", err)
		}
	}
	return func(err error) {
		if err != nil {
			return
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		s := m.subs[next.ID]
		if next.Deleted {
			if s != nil {
				s.gone = true
				delete(m.subs, next.ID)
				m.kick(s)
				_ = m.outbox.append(record{Kind: kindGone, Sub: next.ID})
			}
			return
		}
		if s == nil {
			s = &sub{id: next.ID, wake: make(chan struct{}, 1)}
			m.subs[next.ID] = s
		}
		if owner != nil {
			s.owner = owner
		}
		if err := m.apply(s, next); err != nil {
			m.log.Error("subscriptions: a written subscription cannot be served", "id", next.ID, "err", err)
			return
		}
		m.kick(s)
	}, nil
}

// apply takes a subscription's version. The caller holds m.mu.
func (m *Manager) apply(s *sub, r *fhir.Resource) error {
	p, err := parse(r.Raw)
	if err != nil {
		return err
	}
	match, headers, err := m.compile(context.Background(), p, false)
	if err != nil {
		return err
	}
	s.vid, s.status, s.criteria, s.match = r.VersionID, p.Status, p.Criteria, match
	s.endpoint, s.payload, s.headers = p.Channel.Endpoint, p.Channel.Payload, headers
	s.end = time.Time{}
	if p.End != "" {
		s.end, _ = time.Parse(time.RFC3339Nano, p.End) // an instant, checked on write
	}
	return nil
}

// kick wakes the subscription's dispatcher, starting it when it does not run. The caller
// holds m.mu.
func (m *Manager) kick(s *sub) {
	if m.ctx == nil {
		return // not started yet
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	if !s.running && !s.gone {
		s.running = true
		m.wg.Add(1)
		go m.dispatch(s)
	}
}

// setStatus writes the subscription's status (and error, "" to remove it) as the server,
// provided its newest version is still vid: a client's change meanwhile wins, and the
// dispatcher looks again.
func (m *Manager) setStatus(id string, vid int64, status, reason string) error {
	_, err := m.svc.Patch(m.ctx, "Subscription", id, func(cur []byte) ([]byte, error) {
		var tree map[string]any
		dec := json.NewDecoder(bytes.NewReader(cur))
		dec.UseNumber()
		if err := dec.Decode(&tree); err != nil {
			return nil, err
		}
		tree["status"] = status
		if reason != "" {
			tree["error"] = reason
		} else {
			delete(tree, "error")
		}
		body, _ := json.Marshal(tree)
		return body, nil
	}, &vid)
	if fhir.IsKind(err, fhir.KindPreconditionFailed) {
		return nil
	}
	return err
}
