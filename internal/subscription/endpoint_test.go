package subscription

import (
	"context"
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

// fakeNames resolves every name to its addresses, as a DNS answer would.
type fakeNames map[string][]netip.Addr

func (f fakeNames) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

// TestEndpointsCheckedAfterResolving: a public-looking name that resolves to a private,
// loopback or link-local address is refused when the subscription is written; an allowed
// host (host, or host:port for that port alone) is not resolved nor refused.
func TestEndpointsCheckedAfterResolving(t *testing.T) {
	names := fakeNames{
		"loopback.example.org": {netip.MustParseAddr("127.0.0.1")},
		"metadata.example.org": {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("169.254.169.254")},
		"private6.example.org": {netip.MustParseAddr("fd00::1")},
		"public.example.org":   {netip.MustParseAddr("93.184.216.34")},
	}
	a := newAllowList([]string{"127.0.0.1:9999", "receiver.internal"})
	for _, tc := range []struct {
		name, endpoint, want string
	}{
		{"name resolving to loopback", "https://loopback.example.org/hook", "resolves to 127.0.0.1"},
		{"one address of several link-local", "https://metadata.example.org/hook", "resolves to 169.254.169.254"},
		{"name resolving to a unique local IPv6 address", "https://private6.example.org/hook", "resolves to fd00::1"},
		{"name that does not resolve", "https://nowhere.example.org/hook", "cannot be resolved"},
		{"public name", "https://public.example.org/hook", ""},
		{"allowed host and port", "http://127.0.0.1:9999/hook", ""},
		{"allowed host on another port", "http://127.0.0.1:9998/hook", "must be an https URL"},
		{"allowed host on another port over https", "https://127.0.0.1:9998/hook", "private, loopback or link-local"},
		{"allowed name on any port", "http://receiver.internal:8443/hook", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.checkEndpoint(t.Context(), tc.endpoint, names)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
