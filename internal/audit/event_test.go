package audit

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// event is the part of an AuditEvent the tests look at.
type event struct {
	ResourceType string `json:"resourceType"`
	Type         struct{ System, Code string }
	Subtype      []struct{ System, Code string }
	Action       string
	Recorded     string
	Outcome      string
	OutcomeDesc  string `json:"outcomeDesc"`
	Agent        []struct {
		Type struct {
			Coding []struct{ System, Code string }
		}
		Who struct {
			Reference  string
			Display    string
			Identifier struct{ System, Value string }
		}
		Requestor bool
		Policy    []string
		Network   struct{ Address, Type string }
	}
	Source struct {
		Observer struct{ Display string }
		Site     string
	}
	Entity []struct {
		What struct {
			Reference  string
			Identifier struct{ Value string }
		}
		Type  struct{ System, Code string }
		Role  struct{ System, Code string }
		Query string
	}
}

func TestBuildMakesValidAuditEvents(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 14, 9, 22, 0, 123e6, time.UTC)
	user := Record{Issuer: "https://idp.example", Subject: "u-1", FHIRUser: "Practitioner/pr-1", ClientID: "app-1", TokenID: "jti-1",
		RemoteAddr: "192.0.2.7:53211", RequestID: "req-1", Time: at}
	with := func(f func(*Record)) Record { r := user; f(&r); return r }
	src := Source{Observer: "https://fhir.example.org/fhir", Site: "test"}

	tests := []struct {
		name     string
		rec      Record
		action   string
		outcome  string
		desc     string
		agents   []string // agent type codes, in order
		entities []string // entity role codes ("" for the request id), in order
		check    func(*testing.T, event)
	}{
		{name: "read", rec: with(func(r *Record) {
			r.Interaction, r.ResourceType, r.Resources, r.Patient, r.Outcome = "read", "CarePlan", []string{"CarePlan/p1/_history/3"}, "pat-1", 200
		}), action: "R", outcome: "0", desc: "200 OK", agents: []string{"IRCP", "110153", "110152"}, entities: []string{"4", "1", ""},
			check: func(t *testing.T, e event) {
				if e.Entity[0].What.Reference != "CarePlan/p1/_history/3" || e.Entity[1].What.Reference != "Patient/pat-1" {
					t.Errorf("entities %+v", e.Entity)
				}
				a := e.Agent[0]
				if a.Who.Reference != "Practitioner/pr-1" || a.Who.Identifier.Value != "u-1" || a.Who.Identifier.System != "https://idp.example" ||
					!a.Requestor || a.Network.Address != "192.0.2.7" || a.Network.Type != "2" || !slices.Equal(a.Policy, []string{"jti-1"}) {
					t.Errorf("user agent %+v", a)
				}
				if c := e.Agent[1]; c.Who.Identifier.Value != "app-1" || c.Requestor {
					t.Errorf("client agent %+v", c)
				}
				if e.Recorded != "2026-03-14T09:22:00.123Z" || e.Source.Observer.Display != src.Observer || e.Source.Site != "test" {
					t.Errorf("recorded %s, source %+v", e.Recorded, e.Source)
				}
				if e.Entity[2].What.Identifier.Value != "req-1" {
					t.Errorf("request id entity %+v", e.Entity[2])
				}
			}},
		{name: "vread", rec: with(func(r *Record) {
			r.Interaction, r.ResourceType, r.Resources, r.Outcome = "vread", "CarePlan", []string{"CarePlan/p1/_history/1"}, 200
		}), action: "R", outcome: "0", desc: "200 OK", agents: []string{"IRCP", "110153", "110152"}, entities: []string{"4", ""}},
		{name: "search: the query is base64 in a query entity", rec: with(func(r *Record) {
			r.Interaction, r.ResourceType, r.Query, r.Outcome = "search-type", "QuestionnaireResponse", "subject=Patient/pat-1&_count=10", 200
			r.Resources = []string{"QuestionnaireResponse/a/_history/1", "QuestionnaireResponse/b/_history/2"}
		}), action: "E", outcome: "0", desc: "200 OK", agents: []string{"IRCP", "110153", "110152"}, entities: []string{"4", "4", "24", ""},
			check: func(t *testing.T, e event) {
				q, err := base64.StdEncoding.DecodeString(e.Entity[2].Query)
				if err != nil || string(q) != "QuestionnaireResponse?subject=Patient/pat-1&_count=10" {
					t.Errorf("query %q (%v)", q, err)
				}
			}},
		{name: "create", rec: with(func(r *Record) {
			r.Interaction, r.ResourceType, r.Resources, r.Patient, r.Outcome = "create", "QuestionnaireResponse", []string{"QuestionnaireResponse/n/_history/1"}, "Patient/pat-2", 201
		}), action: "C", outcome: "0", desc: "201 Created", agents: []string{"IRCP", "110153", "110152"}, entities: []string{"4", "1", ""}},
		{name: "update", rec: with(func(r *Record) {
			r.Interaction, r.ResourceType, r.Resources, r.Outcome = "update", "CarePlan", []string{"CarePlan/p1/_history/4"}, 200
		}), action: "U", outcome: "0", desc: "200 OK", agents: []string{"IRCP", "110153", "110152"}, entities: []string{"4", ""}},
		{name: "delete", rec: with(func(r *Record) {
			r.Interaction, r.ResourceType, r.Resources, r.Outcome = "delete", "CarePlan", []string{"CarePlan/p1/_history/5"}, 204
		}), action: "D", outcome: "0", desc: "204 No Content", agents: []string{"IRCP", "110153", "110152"}, entities: []string{"4", ""}},
		{name: "history-type", rec: with(func(r *Record) {
			r.Interaction, r.ResourceType, r.Query, r.Outcome = "history-type", "CarePlan", "_since=2026-01-01", 200
		}), action: "R", outcome: "0", desc: "200 OK", agents: []string{"IRCP", "110153", "110152"}, entities: []string{"24", ""}},
		{name: "denied is a minor failure", rec: with(func(r *Record) {
			r.Interaction, r.ResourceType, r.Resources, r.Outcome, r.Detail = "read", "CarePlan", []string{"CarePlan/p9"}, 403, "not in the patient's compartment"
		}), action: "R", outcome: "4", desc: "403 Forbidden: not in the patient's compartment", agents: []string{"IRCP", "110153", "110152"}, entities: []string{"4", ""}},
		{name: "no token: the client is the requestor", rec: Record{Interaction: "search-type", ResourceType: "CarePlan", Outcome: 401, RemoteAddr: "[2001:db8::1]:443"},
			action: "E", outcome: "4", desc: "401 Unauthorized", agents: []string{"110153", "110152"}, entities: []string{"24"},
			check: func(t *testing.T, e event) {
				if a := e.Agent[0]; !a.Requestor || a.Network.Address != "2001:db8::1" || a.Who.Display == "" {
					t.Errorf("client agent %+v", a)
				}
			}},
		{name: "server failure is serious", rec: with(func(r *Record) {
			r.Interaction, r.ResourceType, r.Outcome, r.Subject, r.FHIRUser = "create", "CarePlan", 500, "", ""
		}), action: "C", outcome: "8", desc: "500 Internal Server Error", agents: []string{"110153", "110152"}, entities: []string{""},
			check: func(t *testing.T, e event) {
				if !e.Agent[0].Requestor || e.Agent[0].Who.Identifier.Value != "app-1" {
					t.Errorf("client-only token: client agent %+v", e.Agent[0])
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data, err := Build(tc.rec, src)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fhir.ParseBody(data, "AuditEvent"); err != nil {
				t.Fatalf("not a valid AuditEvent: %v\n%s", err, data)
			}
			var e event
			if err := json.Unmarshal(data, &e); err != nil {
				t.Fatal(err)
			}
			if e.Type.System != systemEventType || e.Type.Code != "rest" {
				t.Errorf("type %+v", e.Type)
			}
			if len(e.Subtype) != 1 || e.Subtype[0].System != systemInteraction || e.Subtype[0].Code != tc.rec.Interaction {
				t.Errorf("subtype %+v", e.Subtype)
			}
			if e.Action != tc.action || e.Outcome != tc.outcome || e.OutcomeDesc != tc.desc {
				t.Errorf("action %s outcome %s %q; want %s %s %q", e.Action, e.Outcome, e.OutcomeDesc, tc.action, tc.outcome, tc.desc)
			}
			var agents []string
			for _, a := range e.Agent {
				agents = append(agents, a.Type.Coding[0].Code)
			}
			if !slices.Equal(agents, tc.agents) {
				t.Errorf("agents %v, want %v", agents, tc.agents)
			}
			requestors := 0
			for _, a := range e.Agent {
				if a.Requestor {
					requestors++
				}
			}
			if requestors != 1 {
				t.Errorf("%d requestors", requestors)
			}
			var roles []string
			for _, en := range e.Entity {
				roles = append(roles, en.Role.Code)
			}
			if !slices.Equal(roles, tc.entities) {
				t.Errorf("entity roles %v, want %v", roles, tc.entities)
			}
			if tc.check != nil {
				tc.check(t, e)
			}
		})
	}
}

func TestOutcome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		want   string
	}{{200, "0"}, {201, "0"}, {204, "0"}, {304, "0"}, {400, "4"}, {401, "4"}, {403, "4"}, {404, "4"}, {412, "4"}, {499, "4"}, {500, "8"}, {503, "8"}}
	for _, tc := range tests {
		if got := Outcome(tc.status); got != tc.want {
			t.Errorf("Outcome(%d) = %s, want %s", tc.status, got, tc.want)
		}
	}
}

func TestRecordValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rec  Record
		want string
	}{
		{"ok", Record{Interaction: "read", Outcome: 200}, ""},
		{"unknown interaction", Record{Interaction: "peek", Outcome: 200}, "unknown interaction"},
		{"no status", Record{Interaction: "read"}, "out of range"},
	}
	for _, tc := range tests {
		err := tc.rec.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestBuildKeepsEventsValidWhateverTheTokenSays: a token's fhirUser that is not a reference,
// a forwarded chain and a request without an interaction still make an AuditEvent the
// server's own validation accepts (the sink would refuse it otherwise).
func TestBuildKeepsEventsValidWhateverTheTokenSays(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		r    Record
		want string
	}{
		{"fhirUser with a space", Record{Interaction: "read", Outcome: 200, Subject: "u", FHIRUser: "Practitioner/a b"}, `"display":"Practitioner/a b"`},
		{"fhirUser that is a word", Record{Interaction: "read", Outcome: 200, Subject: "u", FHIRUser: "admin"}, `"display":"admin"`},
		{"fhirUser that is a reference", Record{Interaction: "read", Outcome: 200, Subject: "u", FHIRUser: "Practitioner/pr-1"}, `"reference":"Practitioner/pr-1"`},
		{"forwarded chain", Record{Interaction: "read", Outcome: 200, RemoteAddr: "10.0.0.2:4000", ForwardedFor: "203.0.113.9, 10.0.0.1"}, `"valueString":"203.0.113.9, 10.0.0.1"`},
		{"no interaction", Record{Method: "PATCH", Outcome: 405, ID: "e1"}, `"action":"U"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Build(tc.r, Source{})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(ev), tc.want) {
				t.Errorf("%s lacks %s", ev, tc.want)
			}
			if _, err := fhir.ParseBody(ev, "AuditEvent"); err != nil {
				t.Errorf("the event is not valid: %v\n%s", err, ev)
			}
		})
	}
}
