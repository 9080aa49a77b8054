package subscription

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// A Subscription's channel.header typically carries the receiver's own secret (an
// Authorization header). Only the subscription's creator (the same token subject and
// client) and system/ tokens read its values; everyone else reads them masked, the
// Subscription tagged SUBSETTED, and may not write back what they could not read.

// Subsetted is the meta.tag of a resource served with some of its content left out
// (http://terminology.hl7.org/CodeSystem/v3-ObservationValue#SUBSETTED).
const (
	SubsettedSystem = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
	SubsettedCode   = "SUBSETTED"
	// MaskedValue replaces a header value a reader may not see.
	MaskedValue = "[masked]"
)

// MaySeeHeaders reports whether p may read the channel.header values of Subscription/id:
// its creator (same subject and client), system/ tokens, and every request when
// authorization is not wired (p nil).
func (m *Manager) MaySeeHeaders(id string, p *auth.Principal) bool {
	if p == nil || systemToken(p) {
		return true
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	s := m.subs[id]
	return s != nil && s.owner != nil && s.owner.Subject == p.Subject && s.owner.Client == p.ClientID
}

func systemToken(p *auth.Principal) bool {
	for _, sc := range p.Scopes {
		if sc.Context == auth.ContextSystem && (sc.ResourceType == "Subscription" || sc.ResourceType == "*") && sc.Query == "" {
			return true
		}
	}
	return false
}

// checkSecrets refuses a write by p, who may not read the previous version's header values,
// that would reveal them: one that writes back a masked (SUBSETTED) Subscription, that sends
// a kept header to another endpoint, or that copies a header value into another element.
// raw is the JSON of w.Tree, next what it holds, prev the previous version's (nil when
// there is none or it cannot be read).
func (m *Manager) checkSecrets(p *auth.Principal, w *fhir.ContentWrite, raw []byte, next, prev *parsed) error {
	if subsetted(w.Tree) {
		return fhir.Errorf(fhir.KindUnprocessable, "This Subscription was read with its channel.header values masked (meta.tag %s): writing it back would replace them. Change it with PATCH, or send it without the tag and with every header value in full", SubsettedCode).At("Subscription.meta.tag")
	}
	if w.Prev == nil || m.MaySeeHeaders(w.ID, p) {
		return nil
	}
	if prev == nil || len(prev.Channel.Header) == 0 {
		return nil
	}
	kept := false
	for _, h := range prev.Channel.Header {
		for _, n := range next.Channel.Header {
			if n == h {
				kept = true
			}
		}
	}
	if kept && next.Channel.Endpoint != prev.Channel.Endpoint {
		return fhir.Errorf(fhir.KindForbidden, "Only the Subscription's creator or a system/ token may send its channel.header to another endpoint: send new header values with the new endpoint").At("Subscription.channel.endpoint")
	}
	body := string(raw)
	for _, h := range prev.Channel.Header {
		_, value, _ := strings.Cut(h, ":")
		value = strings.TrimSpace(value)
		if len(value) < 4 {
			continue
		}
		enc, _ := json.Marshal(value)
		v := strings.Trim(string(enc), `"`)
		inHeaders := 0
		for _, n := range next.Channel.Header {
			e, _ := json.Marshal(n)
			inHeaders += strings.Count(string(e), v)
		}
		if strings.Count(body, v) > inHeaders {
			return fhir.Errorf(fhir.KindForbidden, "Only the Subscription's creator or a system/ token may read its channel.header values, so they may not be copied into another element").At("Subscription")
		}
	}
	return nil
}

func subsetted(tree map[string]any) bool {
	meta, _ := tree["meta"].(map[string]any)
	tags, _ := meta["tag"].([]any)
	for _, t := range tags {
		if c, _ := t.(map[string]any); c["system"] == SubsettedSystem && c["code"] == SubsettedCode {
			return true
		}
	}
	return false
}

// MaskHeaders masks, in a decoded resource or Bundle (any depth), the channel.header values
// of every Subscription p may not read, and tags those SUBSETTED; it reports whether it
// changed anything.
func (m *Manager) MaskHeaders(v any, p *auth.Principal) bool {
	changed := false
	switch x := v.(type) {
	case map[string]any:
		if x["resourceType"] == "Subscription" {
			id, _ := x["id"].(string)
			ch, _ := x["channel"].(map[string]any)
			hs, _ := ch["header"].([]any)
			if len(hs) > 0 && !m.MaySeeHeaders(id, p) {
				for i, h := range hs {
					s, _ := h.(string)
					name, _, _ := strings.Cut(s, ":")
					hs[i] = strings.TrimSpace(name) + ": " + MaskedValue
				}
				if !subsetted(x) { // _elements and _summary tag what they leave out too
					meta, _ := x["meta"].(map[string]any)
					if meta == nil {
						meta = map[string]any{}
						x["meta"] = meta
					}
					tags, _ := meta["tag"].([]any)
					meta["tag"] = append(tags, map[string]any{"system": SubsettedSystem, "code": SubsettedCode, "display": "subsetted"})
				}
				changed = true
			}
		}
		for k, e := range x {
			if k != "channel" && m.MaskHeaders(e, p) {
				changed = true
			}
		}
	case []any:
		for _, e := range x {
			if m.MaskHeaders(e, p) {
				changed = true
			}
		}
	}
	return changed
}

// Unserved refuses every Subscription write: it is the content checker of commands that
// write without the subscription manager (fhir-server load), where a Subscription would be
// stored without a creator whose scopes its notifications are checked against, and so
// would never be served.
type Unserved struct{}

// Check implements fhir.ContentChecker.
func (Unserved) Check(_ context.Context, w *fhir.ContentWrite) (*fhir.ContentReport, error) {
	if w.Type != "Subscription" {
		return nil, nil
	}
	return nil, fhir.Errorf(fhir.KindUnprocessable, "Subscriptions are not loaded: a care team's system creates its Subscription through the running server's API (POST /fhir/Subscription), whose token's scopes its notifications are then checked against").At("Subscription")
}

// Written implements fhir.ContentChecker.
func (Unserved) Written(*fhir.Resource) {}
