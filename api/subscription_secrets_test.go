package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/patient-involvement/fhir-server/internal/auth"
	"github.com/patient-involvement/fhir-server/internal/subscription"
)

// TestSubscriptionHeadersOnlyForTheirCreator checks that a Subscription's channel.header
// values (the receiver's secret) reach only its creator and system/ tokens, through every
// path that answers a Subscription, and that another reader can neither write the masked
// values back nor move or copy the secret.
func TestSubscriptionHeadersOnlyForTheirCreator(t *testing.T) {
	rc := newReceiver(t)
	s, _ := newSubscriptionServer(t, time.Minute, strings.TrimPrefix(rc.URL, "http://"))
	creator := s.mint(auth.TokenOptions{Scope: "user/Subscription.cruds user/QuestionnaireResponse.rs", Subject: "care-team-system"})
	other := s.mint(auth.TokenOptions{Scope: "user/Subscription.cruds user/QuestionnaireResponse.rs", Subject: "another-user"})
	system := s.mint(auth.TokenOptions{Scope: "system/Subscription.rs", Subject: "backend"})
	h := func(tok string, more ...string) []string {
		return append([]string{"Authorization", "Bearer " + tok}, more...)
	}
	const secret = "Bearer receiver-secret-7f3a"
	r := s.do("POST", "/fhir/Subscription", subscriptionBody(severePHQ9, rc.URL, "", "Authorization: "+secret, "X-Team: ward-7"), h(creator)...)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	awaitStatus(t, s, creator, id, "active")

	paths := []string{"/fhir/Subscription/" + id, "/fhir/Subscription/" + id + "/_history/1", "/fhir/Subscription?status=active",
		"/fhir/Subscription/" + id + "/_history", "/fhir/Subscription/_history", "/fhir/Subscription?_elements=channel"}
	for _, tc := range []struct {
		name, token string
		sees        bool
	}{{"creator", creator, true}, {"system token", system, true}, {"another user", other, false}} {
		for _, p := range paths {
			t.Run(tc.name+" "+p, func(t *testing.T) {
				r := s.do("GET", p, nil, h(tc.token)...)
				if r.status != http.StatusOK {
					t.Fatalf("%d %s", r.status, r.body)
				}
				body := string(r.body)
				if got := strings.Contains(body, secret); got != tc.sees {
					t.Errorf("secret in the answer: %v, want %v: %s", got, tc.sees, body)
				}
				want := strings.Count(body, `"resourceType":"Subscription"`) // one tag on each Subscription left in part
				if want == 0 {
					t.Fatalf("no Subscription in the answer: %s", body)
				}
				if tc.sees && !strings.Contains(p, "_elements") {
					want = 0
				}
				if got := strings.Count(body, subscription.SubsettedCode); got != want {
					t.Errorf("%d SUBSETTED tags, want %d: %s", got, want, body)
				}
				if !tc.sees && (!strings.Contains(body, "Authorization: "+subscription.MaskedValue) || !strings.Contains(body, "X-Team: "+subscription.MaskedValue)) {
					t.Errorf("header names not kept beside masked values: %s", body)
				}
			})
		}
	}

	masked := s.do("GET", "/fhir/Subscription/"+id, nil, h(other)...).body
	jp := "application/json-patch+json"
	for _, tc := range []struct {
		name, method, ctype, token string
		body                       string
		status                     int
		want                       string
	}{
		{"masked version written back", "PUT", "", other, string(masked), 422, "meta.tag"},
		{"kept secret sent elsewhere", "PATCH", jp, other, `[{"op":"replace","path":"/channel/endpoint","value":"` + rc.URL + `/elsewhere"},{"op":"replace","path":"/status","value":"requested"}]`, 403, "Subscription.channel.endpoint"},
		{"secret copied into reason", "PATCH", jp, other, `[{"op":"copy","from":"/channel/header/0","path":"/reason"}]`, 403, "may not be copied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hs []string
			if tc.ctype != "" {
				hs = []string{"Content-Type", tc.ctype}
			}
			outcome(t, s.do(tc.method, "/fhir/Subscription/"+id, []byte(tc.body), h(tc.token, hs...)...), tc.status, tc.want)
		})
	}
	t.Run("another user turns it off by PATCH, the secret kept", func(t *testing.T) {
		r := s.do("PATCH", "/fhir/Subscription/"+id, []byte(`[{"op":"replace","path":"/status","value":"off"}]`), h(other, "Content-Type", jp)...)
		if r.status != http.StatusOK || strings.Contains(string(r.body), secret) || !strings.Contains(string(r.body), subscription.SubsettedCode) {
			t.Fatalf("PATCH status off: %d %s", r.status, r.body)
		}
		if r := s.do("GET", "/fhir/Subscription/"+id, nil, h(creator)...); r.json(t)["status"] != "off" || !strings.Contains(string(r.body), secret) {
			t.Errorf("after the PATCH the creator reads %s", r.body)
		}
	})
	t.Run("the creator reads it and deletes it in one batch", func(t *testing.T) {
		// Each entry is answered as its own request would be: the batch's answer is not
		// masked again once the Subscription is gone.
		res := readBundleResponse(t, s.do("POST", "/fhir", bundleOf("batch", entry{method: "GET", url: "Subscription/" + id}, entry{method: "DELETE", url: "Subscription/" + id}), h(creator)...), "batch-response")
		if len(res.Entry) != 2 || res.Entry[0].Response.Status != "200 OK" || !strings.Contains(string(res.Entry[0].Resource), secret) || strings.Contains(string(res.Entry[0].Resource), subscription.SubsettedCode) {
			t.Errorf("the creator's batch: %+v", res.Entry)
		}
	})
}
