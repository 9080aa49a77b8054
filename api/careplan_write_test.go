package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/internal/auth"
)

// sharedPlan is a shared care plan of anna's as docs/care-plans.md describes it: a contained
// care team with the fixed care contact, the custodian, contributors, activities (the first
// performed by anna herself) and goals, one of them anna's own.
func sharedPlan(id string) map[string]any {
	var m map[string]any
	body := `{"resourceType":"CarePlan","id":"` + id + `","status":"active","intent":"plan",
	"extension":[{"url":"http://hl7.org/fhir/5.0/StructureDefinition/extension-CarePlan.custodian","valueReference":{"reference":"#contact"}}],
	"contained":[
	 {"resourceType":"Practitioner","id":"contact","name":[{"family":"Berg","given":["Maria"]}],"telecom":[{"system":"phone","value":"+46 8 123 45 67"}]},
	 {"resourceType":"CareTeam","id":"team","participant":[
	  {"role":[{"coding":[{"system":"https://fhir.patient-involvement.example/CodeSystem/care-team-role","code":"fixed-contact"}]}],"member":{"reference":"#contact"}},
	  {"member":{"reference":"Patient/anna"}}]},
	 {"resourceType":"Goal","id":"goal-anna","lifecycleStatus":"active","description":{"text":"Walk to the shop"},"subject":{"reference":"Patient/anna"},"expressedBy":{"reference":"Patient/anna"}},
	 {"resourceType":"Goal","id":"goal-team","lifecycleStatus":"active","description":{"text":"HbA1c below 53"},"subject":{"reference":"Patient/anna"},"expressedBy":{"reference":"#contact"}}],
	"subject":{"reference":"Patient/anna"},
	"careTeam":[{"reference":"#team"}],
	"contributor":[{"reference":"Patient/anna"},{"reference":"#contact"}],
	"goal":[{"reference":"#goal-anna"},{"reference":"#goal-team"}],
	"activity":[
	 {"progress":[{"authorReference":{"reference":"#contact"},"time":"2025-01-10T09:00:00Z","text":"Started"}],
	  "detail":{"status":"in-progress","description":"Daily walk","performer":[{"reference":"Patient/anna"}]}},
	 {"detail":{"status":"scheduled","description":"Blood test","performer":[{"reference":"#contact"}]}}]}`
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		panic(err)
	}
	return m
}

// TestPatientWritesSharedCarePlan writes anna's shared care plan by PUT with her patient
// token: each change the policy allows is accepted, each other one is refused with 403
// naming the element; a care team member's user token changes anything.
func TestPatientWritesSharedCarePlan(t *testing.T) {
	s := newAuthServer(t)
	admin := s.mint(auth.TokenOptions{Scope: "system/*.*"})
	anna := s.mint(auth.TokenOptions{Scope: "patient/*.cruds", Patient: "anna"})
	nurse := s.mint(auth.TokenOptions{Scope: "user/CarePlan.cru"})
	now := func() string { return time.Now().UTC().Format(time.RFC3339) }
	note := func(author string) map[string]any {
		return map[string]any{"authorReference": map[string]any{"reference": author}, "time": now(), "text": "Walked 20 minutes"}
	}
	activity := func(p map[string]any, i int) map[string]any { return p["activity"].([]any)[i].(map[string]any) }
	detail := func(p map[string]any, i int) map[string]any { return activity(p, i)["detail"].(map[string]any) }
	contained := func(p map[string]any, i int) map[string]any { return p["contained"].([]any)[i].(map[string]any) }
	cases := []struct {
		name   string
		token  string
		change func(p map[string]any)
		status int
		// element is the element named by the refusal.
		element string
	}{
		{"append a progress note", anna, func(p map[string]any) {
			a := activity(p, 0)
			a["progress"] = append(a["progress"].([]any), note("Patient/anna"))
		}, 200, ""},
		{"first progress note of an activity", anna, func(p map[string]any) { activity(p, 1)["progress"] = []any{note("Patient/anna")} }, 200, ""},
		{"status of an activity anna performs", anna, func(p map[string]any) { detail(p, 0)["status"] = "completed" }, 200, ""},
		{"add a goal of her own", anna, func(p map[string]any) {
			p["contained"] = append(p["contained"].([]any), map[string]any{"resourceType": "Goal", "id": "goal-new", "lifecycleStatus": "proposed",
				"description": map[string]any{"text": "Sleep better"}, "subject": map[string]any{"reference": "Patient/anna"}, "expressedBy": map[string]any{"reference": "Patient/anna"}})
			p["goal"] = append(p["goal"].([]any), map[string]any{"reference": "#goal-new"})
		}, 200, ""},
		{"update a goal of her own", anna, func(p map[string]any) { contained(p, 2)["description"] = map[string]any{"text": "Walk to the lake"} }, 200, ""},
		{"activity description", anna, func(p map[string]any) { detail(p, 1)["description"] = "No blood test" }, 403, "CarePlan.activity[1].detail.description"},
		{"status of an activity another performs", anna, func(p map[string]any) { detail(p, 1)["status"] = "cancelled" }, 403, "CarePlan.activity[1].detail.status"},
		{"progress note by another author", anna, func(p map[string]any) {
			a := activity(p, 0)
			a["progress"] = append(a["progress"].([]any), note("Practitioner/x"))
		}, 403, "CarePlan.activity[0].progress[1]"},
		{"progress note written earlier", anna, func(p map[string]any) {
			n := note("Patient/anna")
			n["time"] = "2020-01-01T00:00:00Z"
			a := activity(p, 0)
			a["progress"] = append(a["progress"].([]any), n)
		}, 403, "CarePlan.activity[0].progress[1]"},
		{"change a progress note", anna, func(p map[string]any) {
			activity(p, 0)["progress"].([]any)[0].(map[string]any)["text"] = "Never started"
		}, 403, "CarePlan.activity[0].progress[0]"},
		{"remove a progress note", anna, func(p map[string]any) { delete(activity(p, 0), "progress") }, 403, "CarePlan.activity[0].progress[0]"},
		{"plan status", anna, func(p map[string]any) { p["status"] = "completed" }, 403, "CarePlan.status"},
		{"add an activity", anna, func(p map[string]any) {
			p["activity"] = append(p["activity"].([]any), map[string]any{"detail": map[string]any{"status": "not-started", "performer": []any{map[string]any{"reference": "Patient/anna"}}}})
		}, 403, "CarePlan.activity[2]"},
		{"the care team", anna, func(p map[string]any) { delete(contained(p, 1), "participant") }, 403, "CarePlan.contained[1]"},
		{"the care contact", anna, func(p map[string]any) {
			contained(p, 0)["telecom"] = []any{map[string]any{"system": "phone", "value": "112"}}
		}, 403, "CarePlan.contained[0]"},
		{"the team's goal", anna, func(p map[string]any) { contained(p, 3)["lifecycleStatus"] = "cancelled" }, 403, "CarePlan.contained[3]"},
		{"a goal that claims to be hers", anna, func(p map[string]any) { contained(p, 3)["expressedBy"] = map[string]any{"reference": "Patient/anna"} }, 403, "CarePlan.contained[3]"},
		{"remove her goal", anna, func(p map[string]any) {
			p["contained"] = p["contained"].([]any)[:2]
			p["contained"] = append(p["contained"].([]any), sharedPlan("x")["contained"].([]any)[3])
			p["goal"] = []any{map[string]any{"reference": "#goal-team"}}
		}, 403, "CarePlan.contained[2]"},
		{"the custodian", anna, func(p map[string]any) { delete(p, "extension") }, 403, "CarePlan.extension[0]"},
		{"a contributor", anna, func(p map[string]any) { p["contributor"] = p["contributor"].([]any)[:1] }, 403, "CarePlan.contributor[1]"},
		{"care team member changes anything", nurse, func(p map[string]any) {
			detail(p, 1)["description"] = "Blood test and ECG"
			p["status"] = "on-hold"
		}, 200, ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := "shared-" + string(rune('a'+i))
			plan := sharedPlan(id)
			body, _ := json.Marshal(plan)
			if r := s.do("PUT", "/fhir/CarePlan/"+id, body, "Authorization", "Bearer "+admin); r.status != http.StatusCreated {
				t.Fatalf("seed: %d %s", r.status, r.body)
			}
			tc.change(plan)
			body, _ = json.Marshal(plan)
			r := s.do("PUT", "/fhir/CarePlan/"+id, body, "Authorization", "Bearer "+tc.token)
			if tc.status == http.StatusOK {
				if r.status != http.StatusOK {
					t.Fatalf("status %d, want 200: %s", r.status, r.body)
				}
				if got := r.header.Get("ETag"); got != `W/"2"` {
					t.Errorf("ETag %q, want W/\"2\"", got)
				}
				return
			}
			outcome(t, r, tc.status, "A patient may not change "+tc.element)
			if !strings.Contains(string(r.body), `"expression":["`+tc.element+`"]`) {
				t.Errorf("the outcome does not name %s as its expression: %s", tc.element, r.body)
			}
			if cur := s.do("GET", "/fhir/CarePlan/"+id, nil, "Authorization", "Bearer "+admin); cur.header.Get("ETag") != `W/"1"` {
				t.Errorf("a refused write changed the plan: ETag %q", cur.header.Get("ETag"))
			}
		})
	}
	t.Run("delete", func(t *testing.T) {
		body, _ := json.Marshal(sharedPlan("shared-delete"))
		if r := s.do("PUT", "/fhir/CarePlan/shared-delete", body, "Authorization", "Bearer "+admin); r.status != http.StatusCreated {
			t.Fatalf("seed: %d %s", r.status, r.body)
		}
		outcome(t, s.do("DELETE", "/fhir/CarePlan/shared-delete", nil, "Authorization", "Bearer "+anna), 403, "A patient may not delete a CarePlan")
	})
}

// TestPatientWritesSharedCarePlanByPatchAndTransaction holds anna's PATCHes and transaction
// entries to the same rules as her PUTs: what the policy allows is written, every other
// change is refused with 403 naming the element, and a refused entry writes nothing of its
// transaction.
func TestPatientWritesSharedCarePlanByPatchAndTransaction(t *testing.T) {
	s := newAuthServer(t)
	admin := s.mint(auth.TokenOptions{Scope: "system/*.*"})
	anna := s.mint(auth.TokenOptions{Scope: "patient/*.cruds", Patient: "anna"})
	now := time.Now().UTC().Format(time.RFC3339)
	note := `{"authorReference":{"reference":"Patient/anna"},"time":"` + now + `","text":"Walked 20 minutes"}`
	jp := "application/json-patch+json"
	cases := []struct {
		name    string
		patch   string
		status  int
		element string
	}{
		{"append a progress note", `[{"op":"add","path":"/activity/0/progress/-","value":` + note + `}]`, 200, ""},
		{"status of her activity", `[{"op":"replace","path":"/activity/0/detail/status","value":"completed"}]`, 200, ""},
		{"activity description", `[{"op":"replace","path":"/activity/1/detail/description","value":"Nothing"}]`, 403, "CarePlan.activity[1].detail.description"},
		{"another's activity status", `[{"op":"replace","path":"/activity/1/detail/status","value":"cancelled"}]`, 403, "CarePlan.activity[1].detail.status"},
		{"remove a contributor", `[{"op":"remove","path":"/contributor/1"}]`, 403, "CarePlan.contributor[1]"},
		{"rewrite a progress note", `[{"op":"replace","path":"/activity/0/progress/0/text","value":"x"}]`, 403, "CarePlan.activity[0].progress[0]"},
	}
	for i, tc := range cases {
		id := fmt.Sprintf("patched-%d", i)
		body, _ := json.Marshal(sharedPlan(id))
		if r := s.do("PUT", "/fhir/CarePlan/"+id, body, "Authorization", "Bearer "+admin); r.status != http.StatusCreated {
			t.Fatalf("seed: %d %s", r.status, r.body)
		}
		t.Run("PATCH "+tc.name, func(t *testing.T) {
			r := s.do("PATCH", "/fhir/CarePlan/"+id, []byte(tc.patch), "Content-Type", jp, "Authorization", "Bearer "+anna)
			if tc.status == http.StatusOK {
				if r.status != http.StatusOK || r.header.Get("ETag") != `W/"2"` {
					t.Fatalf("%d %v %s", r.status, r.header, r.body)
				}
				return
			}
			outcome(t, r, tc.status, "A patient may not change "+tc.element)
		})
	}
	t.Run("transaction", func(t *testing.T) {
		body, _ := json.Marshal(sharedPlan("in-transaction"))
		if r := s.do("PUT", "/fhir/CarePlan/in-transaction", body, "Authorization", "Bearer "+admin); r.status != http.StatusCreated {
			t.Fatalf("seed: %d %s", r.status, r.body)
		}
		allowed := sharedPlan("in-transaction")
		a := allowed["activity"].([]any)[0].(map[string]any)
		var n map[string]any
		_ = json.Unmarshal([]byte(note), &n)
		a["progress"] = append(a["progress"].([]any), n)
		ok, _ := json.Marshal(allowed)
		refused := sharedPlan("in-transaction")
		refused["activity"].([]any)[1].(map[string]any)["detail"].(map[string]any)["description"] = "Nothing"
		bad, _ := json.Marshal(refused)
		own := entry{resource: subjectQR("anna"), method: "POST", url: "QuestionnaireResponse"}
		before := s.versions("QuestionnaireResponse", "Authorization", "Bearer "+admin)
		outcome(t, s.do("POST", "/fhir", bundleOf("transaction", own, entry{resource: string(bad), method: "PUT", url: "CarePlan/in-transaction"}), "Authorization", "Bearer "+anna),
			403, "A patient may not change CarePlan.activity[1].detail.description")
		if after := s.versions("QuestionnaireResponse", "Authorization", "Bearer "+admin); after != before {
			t.Errorf("a refused transaction wrote its other entry: %d responses, %d before", after, before)
		}
		res := readBundleResponse(t, s.do("POST", "/fhir", bundleOf("transaction", own, entry{resource: string(ok), method: "PUT", url: "CarePlan/in-transaction"}), "Authorization", "Bearer "+anna), "transaction-response")
		if len(res.Entry) != 2 || !strings.HasPrefix(res.Entry[1].Response.Status, "200") {
			t.Errorf("the allowed transaction: %+v", res.Entry)
		}
	})
}
