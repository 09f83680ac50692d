package kerberos

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"
)

// CanonicalizeTimeout bounds the DNS lookup of CanonicalHost when the
// caller's context has no earlier deadline.
const CanonicalizeTimeout = 3 * time.Second

// ServiceName returns the service principal name (without realm) for
// service ("HTTP" if empty) on host: "HTTP/" followed by the host as
// written, lower-cased, without brackets around an IPv6 literal or a
// trailing dot. No DNS is consulted: a host alias the network resolves
// elsewhere cannot choose the key (see CanonicalHost for the opt-in).
func ServiceName(service, host string) string {
	if service == "" {
		service = "HTTP"
	}
	return service + "/" + normalizeHost(host)
}

func normalizeHost(host string) string {
	h := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), ".")
	return strings.ToLower(h)
}

// CanonicalHost returns host's canonical name from DNS (its CNAME
// target), for callers that opt into canonicalisation as MIT's
// dns_canonicalize_hostname = true does. IP literals and names the
// resolver cannot canonicalise are returned unchanged (lower-cased), as
// MIT's "fallback" does; only a cancelled ctx is an error. r nil means
// net.DefaultResolver. The lookup is bounded by CanonicalizeTimeout.
//
// DNS answers are not authenticated: whoever controls them chooses the
// service principal, and so which server receives the user's ticket.
func CanonicalHost(ctx context.Context, r *net.Resolver, host string) (string, error) {
	h := normalizeHost(host)
	if h == "" || net.ParseIP(h) != nil {
		return h, nil
	}
	if r == nil {
		r = net.DefaultResolver
	}
	lctx, cancel := context.WithTimeout(ctx, CanonicalizeTimeout)
	defer cancel()
	cname, err := r.LookupCNAME(lctx, h)
	if err != nil || cname == "" {
		if ctx.Err() != nil {
			return "", fmt.Errorf("kerberos: canonicalise %q: %w", h, ctx.Err())
		}
		return h, nil
	}
	return normalizeHost(cname), nil
}

// splitSPN splits "service/host@REALM" into the name and the realm ("" if
// none).
func splitSPN(spn string) (name, realm string) {
	if i := strings.LastIndex(spn, "@"); i >= 0 {
		return spn[:i], spn[i+1:]
	}
	return spn, ""
}
