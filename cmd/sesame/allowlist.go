package main

import (
	"net"
	"net/netip"
)

// allowList parses the client networks given with --allow (CIDRs or
// single addresses) and refuses a listen address beyond loopback without
// them: a proxy or gateway reachable from other machines serves only the
// networks its operator named. what ends the refusal's message (the
// mode that needs the list).
func allowList(allow, listen []string, what string) ([]netip.Prefix, error) {
	var allowed []netip.Prefix
	for _, a := range allow {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			addr, aerr := netip.ParseAddr(a)
			if aerr != nil {
				return nil, usagef("allow %q: %v", a, err)
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		allowed = append(allowed, p.Masked())
	}
	for _, l := range listen {
		host, _, err := net.SplitHostPort(l)
		if err != nil {
			return nil, usagef("--listen %q: %v", l, err)
		}
		ip, err := netip.ParseAddr(host)
		loopback := (err == nil && ip.IsLoopback()) || host == "localhost"
		if !loopback && len(allowed) == 0 {
			return nil, usagef("--listen %s is reachable from other machines: name the client networks with --allow CIDR%s", l, what)
		}
	}
	return allowed, nil
}
