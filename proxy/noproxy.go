package proxy

import (
	"fmt"
	"net"
	"net/netip"
	"path"
	"strings"
)

// NoProxy decides which hosts are reached directly rather than through an
// upstream proxy. Its patterns follow NO_PROXY as curl, Go and px read
// it:
//
//   - every host
//     example.com     example.com and every subdomain
//     .example.com    the same (a leading dot is ignored)
//     *.example.com   subdomains only (shell-style wildcards: * ? [..])
//     10.1.2.3        that address; ::1 likewise
//     10.0.0.0/8      addresses in the network (IPv4 or IPv6 CIDR)
//     <local>         plain host names without a dot (px and Windows)
//
// A pattern may carry a port (example.com:8080), which then must match
// too. Matching is case-insensitive; IP patterns match IP-literal hosts
// only (no DNS lookup is made to decide a route).
type NoProxy struct {
	all      bool
	local    bool
	domains  []portPattern // suffix matches
	globs    []portPattern // shell patterns
	prefixes []netip.Prefix
}

type portPattern struct{ pattern, port string }

// ParseNoProxy parses a comma- or space-separated list of patterns.
func ParseNoProxy(list string) (*NoProxy, error) {
	n := &NoProxy{}
	for _, p := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
		if err := n.add(strings.ToLower(strings.TrimSpace(p))); err != nil {
			return nil, fmt.Errorf("proxy: no-proxy pattern %q: %w", p, err)
		}
	}
	return n, nil
}

func (n *NoProxy) add(p string) error {
	switch {
	case p == "":
		return nil
	case p == "*":
		n.all = true
		return nil
	case p == "<local>":
		n.local = true
		return nil
	}
	if strings.Contains(p, "/") {
		pre, err := netip.ParsePrefix(p)
		if err != nil {
			return err
		}
		n.prefixes = append(n.prefixes, pre.Masked())
		return nil
	}
	if a, err := netip.ParseAddr(strings.Trim(p, "[]")); err == nil {
		n.prefixes = append(n.prefixes, netip.PrefixFrom(a, a.BitLen()))
		return nil
	}
	host, port := p, ""
	if h, pt, err := net.SplitHostPort(p); err == nil {
		host, port = h, pt
		if a, err := netip.ParseAddr(h); err == nil && port != "" {
			// An address with a port: match as a host string.
			host = a.String()
		}
	}
	if strings.ContainsAny(host, "*?[") {
		if _, err := path.Match(host, ""); err != nil {
			return err
		}
		n.globs = append(n.globs, portPattern{host, port})
		return nil
	}
	n.domains = append(n.domains, portPattern{strings.TrimPrefix(host, "."), port})
	return nil
}

// Match reports whether a request to host (a host name or IP literal,
// with or without :port) goes direct.
func (n *NoProxy) Match(hostport string) bool {
	if n == nil {
		return false
	}
	if n.all {
		return true
	}
	host, port := hostport, ""
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		for _, p := range n.prefixes {
			if p.Contains(a) {
				return true
			}
		}
		host = a.String()
	} else if n.local && !strings.Contains(host, ".") {
		return true
	}
	portOK := func(pp portPattern) bool { return pp.port == "" || pp.port == port }
	for _, d := range n.domains {
		if portOK(d) && (host == d.pattern || strings.HasSuffix(host, "."+d.pattern)) {
			return true
		}
	}
	for _, g := range n.globs {
		if ok, _ := path.Match(g.pattern, host); ok && portOK(g) {
			return true
		}
	}
	return false
}
