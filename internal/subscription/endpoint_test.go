package subscription

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestGuardedClientReachesNoPrivateAddress sends requests through the client used for
// endpoints that are not allowed hosts: a connection to a loopback address is refused on the
// address actually dialled (as after a name resolves to it, or a redirect leads there), and
// a redirect is an answer, not followed.
func TestGuardedClientReachesNoPrivateAddress(t *testing.T) {
	hits := 0
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer target.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	}))
	defer redirect.Close()
	allowed, guarded := newClients(2 * time.Second)

	_, err := guarded.Post(target.URL, "", nil)
	if err == nil || !errors.Is(err, errNotPublic) {
		t.Errorf("guarded client reached %s: %v", target.URL, err)
	}
	resp, err := allowed.Post(redirect.URL, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || hits != 0 {
		t.Errorf("a redirect was followed: status %d, %d requests reached its target", resp.StatusCode, hits)
	}
	if _, err := allowed.Post(target.URL, "", strings.NewReader("x")); err != nil || hits != 1 {
		t.Errorf("allowed client: %v, %d hits", err, hits)
	}
}

func TestPublicAddresses(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "2001:4860:4860::8888": true,
		"127.0.0.1": false, "10.0.0.1": false, "172.16.5.4": false, "192.168.1.1": false, "169.254.169.254": false,
		"100.64.0.1": false, "0.0.0.0": false, "::1": false, "fe80::1": false, "fc00::1": false, "::ffff:127.0.0.1": false,
		"224.0.0.1": false,
	} {
		if got := public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("public(%s) = %v, want %v", addr, got, want)
		}
	}
}
