package subscription

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Endpoints are where notifications go: a care team's system, never the server's own
// network. An endpoint must be https, unless its host is one of the allowed hosts
// (FHIR_SUBSCRIPTION_ALLOWED_HOSTS, e.g. 127.0.0.1:9999 for a local receiver), and, unless
// allowed, may not reach a private, loopback, link-local or otherwise non-public address:
// not as written, not after the name is resolved (the address actually connected to is
// checked, at each connection), and not by a redirect (redirects are not followed).

// allowList is the hosts (host or host:port) that may be reached over http and on any
// address.
type allowList map[string]bool

func newAllowList(hosts []string) allowList {
	a := allowList{}
	for _, h := range hosts {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			a[h] = true
		}
	}
	return a
}

func (a allowList) allows(u *url.URL) bool {
	return a[strings.ToLower(u.Host)] || a[strings.ToLower(u.Hostname())]
}

// resolver looks names up (net.DefaultResolver).
type resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// checkEndpoint judges an endpoint as written; resolve, when not nil, also resolves its name.
func (a allowList) checkEndpoint(ctx context.Context, raw string, resolve resolver) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("channel.endpoint %q is not an absolute URL", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("channel.endpoint may not carry a user name or password: send credentials in channel.header")
	}
	if a.allows(u) {
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("channel.endpoint must be an http or https URL, not %s", u.Scheme)
		}
		return u, nil
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("channel.endpoint must be an https URL (only hosts listed in FHIR_SUBSCRIPTION_ALLOWED_HOSTS may use http): %s", raw)
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if !public(ip) {
			return nil, fmt.Errorf("channel.endpoint %s is a private, loopback or link-local address, which notifications may not reach (unless listed in FHIR_SUBSCRIPTION_ALLOWED_HOSTS)", host)
		}
		return u, nil
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return nil, fmt.Errorf("channel.endpoint %s is this machine, which notifications may not reach (unless listed in FHIR_SUBSCRIPTION_ALLOWED_HOSTS)", host)
	}
	if resolve != nil {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		addrs, err := resolve.LookupNetIP(rctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("channel.endpoint's host %s cannot be resolved: %v", host, err)
		}
		for _, ip := range addrs {
			if !public(ip) {
				return nil, fmt.Errorf("channel.endpoint's host %s resolves to %s, a private, loopback or link-local address, which notifications may not reach", host, ip)
			}
		}
	}
	return u, nil
}

// public reports whether ip is an address on the public internet.
func public(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsValid() && !ip.IsLoopback() && !ip.IsPrivate() && !ip.IsLinkLocalUnicast() &&
		!ip.IsLinkLocalMulticast() && !ip.IsInterfaceLocalMulticast() && !ip.IsMulticast() &&
		!ip.IsUnspecified() && !cgnat.Contains(ip) && !(ip.Is4() && ip.As4()[0] == 0)
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

var errNotPublic = errors.New("the address is private, loopback or link-local")

// newClients returns the HTTP client for allowed hosts and the guarded one for all others,
// whose every connection is checked on the address actually dialled.
func newClients(timeout time.Duration) (allowed, guarded *http.Client) {
	mk := func(control func(network, address string, c syscall.RawConn) error) *http.Client {
		d := &net.Dialer{Timeout: timeout, Control: control}
		tr := &http.Transport{
			DialContext: d.DialContext, TLSHandshakeTimeout: timeout, ResponseHeaderTimeout: timeout,
			MaxIdleConnsPerHost: 2, IdleConnTimeout: 90 * time.Second, Proxy: nil,
		}
		return &http.Client{
			Transport: tr, Timeout: timeout,
			// A redirect could lead anywhere: it is an answer, not followed, and not a delivery.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	allowed = mk(nil)
	guarded = mk(func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !public(ap.Addr()) {
			return fmt.Errorf("%s: %w", address, errNotPublic)
		}
		return nil
	})
	return allowed, guarded
}
