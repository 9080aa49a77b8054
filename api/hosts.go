package api

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/patient-involvement/fhir-server/internal/fhir"
)

// defaultAllowedHosts are the Host names links may be derived from when neither a base URL
// nor allowed hosts are configured: this machine's loopback names.
var defaultAllowedHosts = []string{"localhost", "127.0.0.1", "::1"}

// hostPolicy decides where links point when no base URL is configured: the scheme and host
// the request was sent to, as the client or a trusted proxy says, and only for an allowed
// host. Without it a client could make the server write links to any site it names in
// Host or X-Forwarded-Host.
type hostPolicy struct {
	// hosts are the allowed host names (lower case, IPv6 without brackets); ports are the
	// allowed host:port pairs.
	hosts, ports map[string]bool
	proxies      []netip.Prefix
}

func newHostPolicy(allowed, proxies []string) (hostPolicy, error) {
	p := hostPolicy{hosts: map[string]bool{}, ports: map[string]bool{}}
	if len(allowed) == 0 {
		allowed = defaultAllowedHosts
	}
	for _, a := range allowed {
		a = strings.ToLower(strings.TrimSpace(a))
		if host, port, err := net.SplitHostPort(a); err == nil {
			p.ports[net.JoinHostPort(host, port)] = true
			continue
		}
		p.hosts[strings.Trim(a, "[]")] = true
	}
	for _, s := range proxies {
		pre, err := netip.ParsePrefix(s)
		if err != nil {
			addr, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return p, fmt.Errorf("api: trusted proxy %q is not an address or CIDR range", s)
			}
			pre = netip.PrefixFrom(addr, addr.BitLen())
		}
		p.proxies = append(p.proxies, pre.Masked())
	}
	return p, nil
}

// allows reports whether links may be made for host (a Host header value: name[:port]).
func (p hostPolicy) allows(host string) bool {
	host = strings.ToLower(host)
	if name, port, err := net.SplitHostPort(host); err == nil {
		return p.hosts[name] || p.ports[net.JoinHostPort(name, port)]
	}
	return host != "" && p.hosts[strings.Trim(host, "[]")]
}

// fromProxy reports whether the request came straight from a trusted proxy.
func (p hostPolicy) fromProxy(c *gin.Context) bool {
	if len(p.proxies) == 0 {
		return false
	}
	addr, err := netip.ParseAddr(c.RemoteIP())
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, pre := range p.proxies {
		if pre.Contains(addr) {
			return true
		}
	}
	return false
}

// requestOrigin is the scheme and host the client addressed: the connection's, or those a
// trusted proxy passes on in X-Forwarded-Proto and X-Forwarded-Host (their first values).
func (p hostPolicy) requestOrigin(c *gin.Context) (scheme, host string) {
	scheme, host = "http", c.Request.Host
	if c.Request.TLS != nil {
		scheme = "https"
	}
	if p.fromProxy(c) {
		if v := firstValue(c.GetHeader("X-Forwarded-Proto")); v == "http" || v == "https" {
			scheme = v
		}
		if v := firstValue(c.GetHeader("X-Forwarded-Host")); v != "" {
			host = v
		}
	}
	return scheme, host
}

// firstValue is the first of a comma-separated header value, trimmed and in lower case.
func firstValue(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.ToLower(strings.TrimSpace(first))
}

// checkHost refuses (400) a request whose links would have to be made from a host that is
// not allowed; with a configured base URL every host is served, since links come from it.
func (s *Server) checkHost(c *gin.Context) {
	if s.opts.BaseURL != "" {
		c.Next()
		return
	}
	if _, host := s.hosts.requestOrigin(c); !s.hosts.allows(host) {
		c.Set(formatKey, mediaFHIRJSON)
		writeError(c, fhir.Errorf(fhir.KindInvalid,
			"This server does not answer for host %q: its administrator sets FHIR_BASE_URL, or adds the host to FHIR_ALLOWED_HOSTS", host))
		c.Abort()
		return
	}
	c.Next()
}

// baseURL is the absolute base of the FHIR API for this request: the configured base URL,
// else the scheme and host the request was sent to (checkHost has allowed them).
func (s *Server) baseURL(c *gin.Context) string {
	if s.opts.BaseURL != "" {
		return s.opts.BaseURL
	}
	scheme, host := s.hosts.requestOrigin(c)
	return scheme + "://" + host + "/fhir"
}
