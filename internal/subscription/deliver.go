package subscription

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/patient-involvement/fhir-server/internal/audit"
	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// Notification headers. R4 rest-hook notifications carry no event count in their payload;
// these carry it (as the SubscriptionStatus backport's eventsSinceSubscriptionStart does),
// so that a receiver can order notifications and recognise one delivered twice.
const (
	HeaderSubscription = "X-Subscription-Id"
	HeaderEventNumber  = "X-Subscription-Event-Number"
	HeaderHandshake    = "X-Subscription-Handshake"
)

// dispatch delivers a subscription's notifications, one at a time and in order, until the
// manager closes or the subscription is deleted.
func (m *Manager) dispatch(s *sub) {
	defer m.wg.Done()
	var (
		failures int
		since    time.Time // of the first failure of what is being retried
		retryAt  time.Time
		lastVid  int64
		lastHead *entry
	)
	for {
		m.mu.Lock()
		if s.gone || m.ctx.Err() != nil {
			s.running = false
			m.mu.Unlock()
			return
		}
		status, vid := s.status, s.vid
		var head *entry
		if len(s.queue) > 0 && s.queue[0].settled {
			head = s.queue[0]
		}
		m.mu.Unlock()
		if vid != lastVid || head != lastHead {
			// A new version of the subscription (resumed, changed) or the next notification.
			failures, since, retryAt = 0, time.Time{}, time.Time{}
			lastVid, lastHead = vid, head
		}
		busy := status == StatusRequested || status == StatusActive && head != nil
		if !busy || time.Now().Before(retryAt) {
			wait := time.Hour
			if busy {
				wait = time.Until(retryAt)
			}
			t := time.NewTimer(wait)
			select {
			case <-s.wake:
			case <-t.C:
			case <-m.ctx.Done():
			}
			t.Stop()
			continue
		}
		var err error
		if status == StatusRequested {
			if err = m.handshake(s); err == nil {
				err = m.setStatus(s.id, vid, StatusActive, "")
				if err != nil {
					m.log.Error("subscriptions: cannot record a subscription as active", "id", s.id, "err", err)
				}
				continue
			}
		} else {
			err = m.deliver(s, head)
			if err == nil {
				continue
			}
		}
		failures++
		if since.IsZero() {
			since = time.Now()
		}
		if time.Since(since) >= m.o.RetryFor {
			reason := fmt.Sprintf("Gave up after %d attempts over %s: %v", failures, time.Since(since).Round(time.Second), err)
			m.log.Warn("subscriptions: a subscription turns to error", "id", s.id, "reason", reason)
			m.count("error")
			if serr := m.setStatus(s.id, vid, StatusError, reason); serr != nil {
				m.log.Error("subscriptions: cannot record a subscription's error", "id", s.id, "err", serr)
			}
			retryAt = time.Now().Add(m.o.RetryBase) // until the new status is seen
			continue
		}
		retryAt = time.Now().Add(m.backoff(failures))
	}
}

// backoff is the pause after the n-th failure in a row: RetryBase doubled each time up to
// RetryMax, of which a random half to all is taken (jitter).
func (m *Manager) backoff(n int) time.Duration {
	d := m.o.RetryBase
	for i := 1; i < n && d < m.o.RetryMax; i++ {
		d *= 2
	}
	d = min(d, m.o.RetryMax)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func (m *Manager) count(outcome string) {
	if m.o.Metrics != nil {
		m.o.Metrics.SubscriptionDelivery(outcome)
	}
}

// deliver sends one notification: when its version exists (a write that never happened
// notifies nothing) and the creator may read it; with its event number, given once.
func (m *Manager) deliver(s *sub, e *entry) error {
	r, err := m.o.Store.Version(m.ctx, e.typ, e.id, e.vid)
	if fhir.IsKind(err, fhir.KindNotFound) || err == nil && (r.Deleted || digest(r.Raw) != e.hash) {
		return m.drop(s, e, "its write did not happen", false, nil)
	}
	if err != nil {
		return fmt.Errorf("read %s/%s/_history/%d: %w", e.typ, e.id, e.vid, err)
	}
	m.mu.RLock()
	owner, endpoint, payload, headers := s.owner, s.endpoint, s.payload, s.headers
	m.mu.RUnlock()
	if !mayRead(owner, r) {
		return m.drop(s, e, "the subscription's creator may not read it", true, owner)
	}
	if e.number == 0 {
		m.mu.Lock()
		n := s.number + 1
		m.mu.Unlock()
		if err := m.outbox.append(record{Kind: kindNumber, Sub: s.id, Seq: e.seq, Number: n}); err != nil {
			return err
		}
		m.mu.Lock()
		e.number, s.number = n, n
		m.mu.Unlock()
	}
	var body []byte
	if payload != "" {
		body = r.Raw
	}
	status, err := m.post(endpoint, headers, body, [][2]string{
		{HeaderSubscription, s.id}, {HeaderEventNumber, strconv.FormatInt(e.number, 10)},
	})
	ref := fmt.Sprintf("%s/%s/_history/%d", e.typ, e.id, e.vid)
	m.audit(s, owner, status, ref, err, fmt.Sprintf("notification %d", e.number))
	if err != nil {
		m.count("failed")
		return err
	}
	m.count("delivered")
	if err := m.outbox.append(record{Kind: kindDone, Sub: s.id, Number: e.number}); err != nil {
		m.log.Error("subscriptions: a delivery could not be recorded; it will be sent again", "err", err)
	}
	m.mu.Lock()
	s.queue = slices.DeleteFunc(s.queue, func(x *entry) bool { return x == e })
	m.mu.Unlock()
	m.compact()
	return nil
}

// compact rewrites the outbox from what the manager holds once it has grown large: the
// creators, the notifications not delivered yet and the last event numbers. The manager's
// lock is held throughout, so a notification recorded meanwhile (its entry queued under
// the lock, its record appended after) is either in the state written or appended after
// it; one in both is read once (by its sequence number). The outbox's size is looked at
// first without the lock, which every write of a subscribed type waits for, so that the
// deliveries that leave the outbox small do not take it.
func (m *Manager) compact() {
	if m.outbox.size.Load() < m.outbox.compactAt {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	err := m.outbox.compact(func() []record {
		var recs []record
		for _, id := range slices.Sorted(maps.Keys(m.subs)) {
			s := m.subs[id]
			recs = append(recs, subRecords(id, s.owner, s.number, s.queue)...)
		}
		return recs
	})
	if err != nil {
		m.log.Error("subscriptions: the outbox could not be compacted; it keeps growing", "err", err)
	}
}

// drop removes a notification that is not to be delivered. One refused because owner, the
// creator deliver judged it for, may not read it (refused) is audited as theirs.
func (m *Manager) drop(s *sub, e *entry, why string, refused bool, owner *Owner) error {
	if err := m.outbox.append(record{Kind: kindDone, Sub: s.id, Seq: e.seq}); err != nil {
		return err
	}
	m.count("dropped")
	m.log.Info("subscriptions: notification not sent", "subscription", s.id, "resource", e.typ+"/"+e.id, "version", e.vid, "why", why)
	if refused {
		m.audit(s, owner, http.StatusForbidden, fmt.Sprintf("%s/%s/_history/%d", e.typ, e.id, e.vid), fmt.Errorf("not sent: %s", why), "notification")
	}
	m.mu.Lock()
	s.queue = slices.DeleteFunc(s.queue, func(x *entry) bool { return x == e })
	m.mu.Unlock()
	return nil
}

// mayRead reports whether the creator's scopes allow reading r.
func mayRead(o *Owner, r *fhir.Resource) bool {
	if o == nil {
		return false
	}
	scopes, _ := auth.ParseScopes(o.Scope)
	p := &auth.Principal{Scope: o.Scope, Scopes: scopes, Patient: o.Patient}
	switch p.Access(r.Type, auth.ActionRead) {
	case auth.AccessAll:
		return true
	case auth.AccessPatient:
		return slices.Contains(r.Compartments, "Patient/"+o.Patient)
	}
	return false
}

// handshake checks a requested subscription's endpoint: a POST without a body that it
// must answer with a 2xx before the subscription becomes active.
func (m *Manager) handshake(s *sub) error {
	m.mu.RLock()
	owner, endpoint, headers := s.owner, s.endpoint, s.headers
	m.mu.RUnlock()
	status, err := m.post(endpoint, headers, nil, [][2]string{{HeaderSubscription, s.id}, {HeaderHandshake, "true"}})
	m.audit(s, owner, status, "", err, "handshake")
	if err != nil {
		m.count("handshake-failed")
		return fmt.Errorf("handshake: %w", err)
	}
	m.count("handshake")
	return nil
}

// post sends one request to an endpoint and reports the answer's status; an error unless
// it is a 2xx.
func (m *Manager) post(endpoint string, headers [][2]string, body []byte, extra [][2]string) (int, error) {
	u, err := m.allow.checkEndpoint(m.ctx, endpoint, nil)
	if err != nil {
		return 0, err
	}
	client := m.guarded
	if m.allow.allows(u) {
		client = m.allowed
	}
	ctx, cancel := context.WithTimeout(m.ctx, m.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	for _, h := range headers {
		req.Header.Add(h[0], h[1])
	}
	for _, h := range extra {
		req.Header.Set(h[0], h[1])
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json; fhirVersion=4.0")
	}
	req.Header.Set("User-Agent", "fhir-server subscriptions")
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("POST %s: %w", u.Redacted(), err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("POST %s answered %s", u.Redacted(), resp.Status)
	}
	return resp.StatusCode, nil
}

// audit records a delivery attempt in the audit trail.
func (m *Manager) audit(s *sub, owner *Owner, status int, ref string, err error, what string) {
	if m.o.Audit == nil {
		return
	}
	outcome := status
	if outcome == 0 {
		outcome = http.StatusBadGateway
	}
	detail := what + " of Subscription/" + s.id + " delivered"
	if err != nil {
		detail = what + " of Subscription/" + s.id + " failed: " + err.Error()
	}
	rec := audit.Record{Method: http.MethodPost, ResourceType: "Subscription", Outcome: outcome, Detail: detail,
		Resources: []string{"Subscription/" + s.id}}
	if ref != "" {
		rec.Resources = append(rec.Resources, ref)
	}
	if owner != nil {
		rec.Subject, rec.ClientID = owner.Subject, owner.Client
	}
	if aerr := m.o.Audit.Record(rec); aerr != nil {
		m.log.Error("subscriptions: a delivery could not be audited", "err", aerr)
	}
}
