// Package audit records who did what to which resource, as FHIR R4 AuditEvent resources
// shaped after IHE Basic Audit Log Patterns (BALP): one event per RESTful interaction, with
// the user and client as agents, this server as source, and the resources, the patient and
// (for searches) the query as entities.
//
// Build turns a Record into an AuditEvent; a Writer takes Records off the request path and
// writes them in batches through a Sink the caller provides.
package audit

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// Record is what the HTTP layer knows about one interaction once it has answered.
type Record struct {
	// ID is the id the AuditEvent is stored under. Writer.Record gives every record a new,
	// unique one when it takes it (so that a batch written twice stores each event once);
	// Build leaves the event without an id when it is empty.
	ID string
	// Time is when the interaction happened; zero means now.
	Time time.Time
	// Interaction is the http://hl7.org/fhir/restful-interaction code: read, vread, update,
	// patch, delete, history-instance, history-type, history-system, create, search-type,
	// search-system, capabilities, transaction, batch or operation; "" for a request that
	// names no interaction (no route serves it), recorded without a subtype.
	Interaction string
	// Method is the HTTP method; it gives the action of a record without an interaction.
	Method string
	// ResourceType is the type the URL names, if any.
	ResourceType string
	// Resources are the resources read or written, as "Type/id/_history/version" (or
	// "Type/id" when the version is unknown).
	Resources []string
	// Patient is the patient whose data was touched, as an id or "Patient/id", when known.
	Patient string
	// Query is the query string of a search or history request, as sent.
	Query string
	// Outcome is the HTTP status of the answer.
	Outcome int
	// Detail adds to the outcome description, e.g. why access was denied. Never a secret.
	Detail string
	// Issuer, Subject, FHIRUser, ClientID and TokenID are the caller, from the token: "iss",
	// "sub", "fhirUser", "client_id" and "jti". All empty when no valid token was sent.
	Issuer   string
	Subject  string
	FHIRUser string
	ClientID string
	TokenID  string
	// RemoteAddr is the network address of the connection the request came on (an IP, with
	// or without a port): the client's, or that of a proxy in front of it.
	RemoteAddr string
	// ForwardedFor is the X-Forwarded-For chain a trusted proxy passed on ("client, proxy1,
	// …"), as sent; empty when the request did not come from a trusted proxy.
	ForwardedFor string
	// RequestID is the X-Request-Id of the request.
	RequestID string
}

// Source names the server that records the events (AuditEvent.source).
type Source struct {
	// Observer is the server's name, e.g. "fhir-server" or its base URL.
	Observer string
	// Site is the location or deployment, e.g. "region-north-prod". Optional.
	Site string
}

// Code systems of BALP events.
const (
	systemEventType   = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	systemInteraction = "http://hl7.org/fhir/restful-interaction"
	systemParticipant = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	systemDICOM       = "http://dicom.nema.org/resources/ontology/DCM"
	systemSourceType  = "http://terminology.hl7.org/CodeSystem/security-source-type"
	systemEntityType  = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	systemObjectRole  = "http://terminology.hl7.org/CodeSystem/object-role"
	systemBALPEntity  = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"
)

// interactions maps each restful-interaction code to its display and AuditEvent.action:
// C create, R read, U update, D delete, E execute (searches and operations, as in BALP).
var interactions = map[string]struct{ display, action string }{
	"read":             {"read", "R"},
	"vread":            {"vread", "R"},
	"update":           {"update", "U"},
	"patch":            {"patch", "U"},
	"delete":           {"delete", "D"},
	"history-instance": {"history-instance", "R"},
	"history-type":     {"history-type", "R"},
	"history-system":   {"history-system", "R"},
	"create":           {"create", "C"},
	"search-type":      {"search-type", "E"},
	"search-system":    {"search-system", "E"},
	"capabilities":     {"capabilities", "R"},
	"transaction":      {"transaction", "E"},
	"batch":            {"batch", "E"},
	"operation":        {"operation", "E"},
}

// methodActions are the AuditEvent.action of requests that name no interaction, by HTTP method.
var methodActions = map[string]string{
	"GET": "R", "HEAD": "R", "POST": "C", "PUT": "U", "PATCH": "U", "DELETE": "D",
}

// ExtensionForwardedFor is the extension of an agent's network that holds the X-Forwarded-For
// chain a trusted proxy passed on; the network address itself is always the connection's.
const ExtensionForwardedFor = "https://fhir.patient-involvement.example/StructureDefinition/audit-forwarded-for"

// Validate reports what makes the record unusable: an unknown interaction or an HTTP status
// out of range.
func (r *Record) Validate() error {
	var errs []error
	if _, ok := interactions[r.Interaction]; !ok && r.Interaction != "" {
		errs = append(errs, fmt.Errorf("audit: unknown interaction %q", r.Interaction))
	}
	if r.Outcome < 100 || r.Outcome > 599 {
		errs = append(errs, fmt.Errorf("audit: HTTP status %d out of range", r.Outcome))
	}
	return errors.Join(errs...)
}

// Outcome is the AuditEvent.outcome for an HTTP status: "0" success, "4" minor failure (the
// request was refused: 4xx, including 401 and 403), "8" serious failure (5xx).
func Outcome(status int) string {
	switch {
	case status >= 500:
		return "8"
	case status >= 400:
		return "4"
	default:
		return "0"
	}
}

// The JSON shape of the AuditEvent parts this package writes.
type (
	coding struct {
		System  string `json:"system"`
		Code    string `json:"code"`
		Display string `json:"display,omitempty"`
	}
	concept struct {
		Coding []coding `json:"coding"`
	}
	identifier struct {
		System string `json:"system,omitempty"`
		Value  string `json:"value"`
	}
	reference struct {
		Reference  string      `json:"reference,omitempty"`
		Identifier *identifier `json:"identifier,omitempty"`
		Display    string      `json:"display,omitempty"`
	}
	network struct {
		Extension []extension `json:"extension,omitempty"`
		Address   string      `json:"address"`
		Type      string      `json:"type"`
	}
	extension struct {
		URL         string `json:"url"`
		ValueString string `json:"valueString"`
	}
	agent struct {
		Type      *concept  `json:"type,omitempty"`
		Who       reference `json:"who"`
		Requestor bool      `json:"requestor"`
		Policy    []string  `json:"policy,omitempty"`
		Network   *network  `json:"network,omitempty"`
	}
	source struct {
		Site     string    `json:"site,omitempty"`
		Observer reference `json:"observer"`
		Type     []coding  `json:"type"`
	}
	entity struct {
		What  *reference `json:"what,omitempty"`
		Type  *coding    `json:"type,omitempty"`
		Role  *coding    `json:"role,omitempty"`
		Query string     `json:"query,omitempty"`
	}
	auditEvent struct {
		ResourceType string   `json:"resourceType"`
		ID           string   `json:"id,omitempty"`
		Type         coding   `json:"type"`
		Subtype      []coding `json:"subtype,omitempty"`
		Action       string   `json:"action"`
		Recorded     string   `json:"recorded"`
		Outcome      string   `json:"outcome"`
		OutcomeDesc  string   `json:"outcomeDesc"`
		Agent        []agent  `json:"agent"`
		Source       source   `json:"source"`
		Entity       []entity `json:"entity,omitempty"`
	}
)

var (
	entitySystemObject = coding{systemEntityType, "2", "System Object"}
	entityPerson       = coding{systemEntityType, "1", "Person"}
	roleDomainResource = coding{systemObjectRole, "4", "Domain Resource"}
	rolePatient        = coding{systemObjectRole, "1", "Patient"}
	roleQuery          = coding{systemObjectRole, "24", "Query"}
)

// Build makes the AuditEvent JSON for r, recorded by src.
func Build(r Record, src Source) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	in, ok := interactions[r.Interaction]
	var subtype []coding
	if ok {
		subtype = []coding{{systemInteraction, r.Interaction, in.display}}
	} else {
		in.action = methodActions[r.Method]
		if in.action == "" {
			in.action = "E"
		}
	}
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	desc := fmt.Sprintf("%d %s", r.Outcome, http.StatusText(r.Outcome))
	if r.Detail != "" {
		desc += ": " + r.Detail
	}
	ev := auditEvent{
		ResourceType: "AuditEvent",
		ID:           r.ID,
		Type:         coding{systemEventType, "rest", "RESTful Operation"},
		Subtype:      subtype,
		Action:       in.action,
		Recorded:     fhir.FormatInstant(t),
		Outcome:      Outcome(r.Outcome),
		OutcomeDesc:  desc,
		Agent:        agents(r, src),
		Source: source{
			Site:     src.Site,
			Observer: reference{Display: first(src.Observer, "fhir-server")},
			Type:     []coding{{systemSourceType, "4", "Application Server"}},
		},
		Entity: entities(r),
	}
	return json.Marshal(ev)
}

// agents are, as in BALP: the user (information recipient, the requestor) when the token
// names one, the client application (source role), and this server (destination role).
func agents(r Record, src Source) []agent {
	var net *network
	if addr := hostOf(r.RemoteAddr); addr != "" {
		net = &network{Address: addr, Type: "2"} // 2: IP address
		if fwd := strings.TrimSpace(r.ForwardedFor); fwd != "" {
			net.Extension = []extension{{URL: ExtensionForwardedFor, ValueString: fwd}}
		}
	}
	var out []agent
	user := r.Subject != "" || r.FHIRUser != ""
	if user {
		a := agent{
			Type:      &concept{[]coding{{systemParticipant, "IRCP", "information recipient"}}},
			Requestor: true,
			Network:   net,
		}
		// The token's fhirUser is the user's reference; one that is not a reference (a
		// token can say anything) is kept as text, so that the event is still valid.
		if fhir.ValidReference(r.FHIRUser) {
			a.Who.Reference = r.FHIRUser
		} else {
			a.Who.Display = r.FHIRUser
		}
		if r.Subject != "" {
			a.Who.Identifier = &identifier{System: r.Issuer, Value: r.Subject}
		}
		if r.TokenID != "" && !strings.ContainsAny(r.TokenID, " \t\r\n") {
			a.Policy = []string{r.TokenID}
		}
		out = append(out, a)
	}
	client := agent{
		Type:      &concept{[]coding{{systemDICOM, "110153", "Source Role ID"}}},
		Requestor: !user,
		Network:   net,
	}
	switch {
	case r.ClientID != "":
		client.Who.Identifier = &identifier{System: r.Issuer, Value: r.ClientID}
	case !user:
		client.Who.Display = "unauthenticated client"
	}
	if r.ClientID != "" || !user {
		out = append(out, client)
	}
	out = append(out, agent{
		Type: &concept{[]coding{{systemDICOM, "110152", "Destination Role ID"}}},
		Who:  reference{Display: first(src.Observer, "fhir-server")},
	})
	return out
}

// entities are the resources touched, the patient, the search query (base64, as BALP asks)
// and the request id.
func entities(r Record) []entity {
	var out []entity
	for _, ref := range r.Resources {
		out = append(out, entity{What: &reference{Reference: ref}, Type: &entitySystemObject, Role: &roleDomainResource})
	}
	if r.Patient != "" {
		ref := r.Patient
		if !strings.HasPrefix(ref, "Patient/") {
			ref = "Patient/" + ref
		}
		out = append(out, entity{What: &reference{Reference: ref}, Type: &entityPerson, Role: &rolePatient})
	}
	if r.Query != "" || strings.HasPrefix(r.Interaction, "search-") {
		q := r.Query
		if r.ResourceType != "" {
			q = r.ResourceType + "?" + q
		}
		out = append(out, entity{Type: &entitySystemObject, Role: &roleQuery, Query: base64.StdEncoding.EncodeToString([]byte(q))})
	}
	if r.RequestID != "" {
		out = append(out, entity{
			What: &reference{Identifier: &identifier{Value: r.RequestID}},
			Type: &coding{systemBALPEntity, "XrequestId", "X-Request-Id"},
		})
	}
	return out
}

// hostOf strips the port from a network address.
func hostOf(addr string) string {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return ""
	}
	if strings.HasPrefix(addr, "[") {
		if i := strings.Index(addr, "]"); i > 0 {
			return addr[1:i]
		}
	}
	if strings.Count(addr, ":") == 1 {
		addr, _, _ = strings.Cut(addr, ":")
	}
	return addr
}

func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
