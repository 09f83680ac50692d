package pac

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Resolver looks up the addresses of a host name. network is "ip" (both
// families); *net.Resolver satisfies it. Tests use a fake: a PAC script can
// make any number of lookups, so the resolver is the one place to control
// what a script learns from the network.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// MyIPFunc returns the addresses of this host, the preferred one first;
// myIpAddress() uses the first IPv4 address and myIpAddressEx() all of them.
type MyIPFunc func(ctx context.Context) ([]netip.Addr, error)

const maxCacheEntries = 1024

// dnsCache is a small TTL cache in front of a Resolver, shared by all the
// runtimes of one Script. Failures are cached too (browsers do the same for
// the duration of a resolution), so a script that resolves an unknown name
// in a loop does not hammer the resolver.
type dnsCache struct {
	r       Resolver
	ttl     time.Duration
	timeout time.Duration
	now     func() time.Time

	mu      sync.Mutex
	entries map[string]dnsEntry
}

type dnsEntry struct {
	addrs   []netip.Addr
	ok      bool
	expires time.Time
}

func (c *dnsCache) lookup(ctx context.Context, host string) ([]netip.Addr, bool) {
	if host == "" || len(host) > 255 {
		return nil, false
	}
	// IP literals are answered without a lookup; brackets around IPv6
	// literals are tolerated.
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err == nil {
		return []netip.Addr{a.Unmap()}, true
	}
	key := strings.ToLower(host)
	now := c.now()
	if c.ttl > 0 {
		c.mu.Lock()
		e, hit := c.entries[key]
		c.mu.Unlock()
		if hit && now.Before(e.expires) {
			return e.addrs, e.ok
		}
	}
	lctx, cancel := context.WithTimeout(ctx, c.timeout)
	addrs, err := c.r.LookupNetIP(lctx, "ip", host)
	cancel()
	ok := err == nil && len(addrs) > 0
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	// A lookup cut short by the caller's context says nothing about the
	// name: don't cache it.
	if c.ttl > 0 && ctx.Err() == nil {
		c.mu.Lock()
		if c.entries == nil {
			c.entries = make(map[string]dnsEntry)
		}
		if len(c.entries) >= maxCacheEntries {
			for k, e := range c.entries {
				if !now.Before(e.expires) || len(c.entries) >= maxCacheEntries {
					delete(c.entries, k)
				}
			}
		}
		c.entries[key] = dnsEntry{addrs: addrs, ok: ok, expires: now.Add(c.ttl)}
		c.mu.Unlock()
	}
	return addrs, ok
}

// DefaultMyIP returns the address of the interface that carries the
// default route, found by "connecting" UDP sockets to documentation
// addresses (192.0.2.1 and 2001:db8::1): a UDP connect only picks a route
// and a source address, it sends nothing. If there is no route it falls
// back to the addresses of the first non-loopback interfaces. It never
// sends traffic.
func DefaultMyIP(ctx context.Context) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, target := range []string{"192.0.2.1:9", "[2001:db8::1]:9"} {
		var d net.Dialer
		c, err := d.DialContext(ctx, "udp", target)
		if err != nil {
			continue
		}
		if ua, ok := c.LocalAddr().(*net.UDPAddr); ok {
			if a, ok := netip.AddrFromSlice(ua.IP); ok && !a.Unmap().IsUnspecified() {
				out = append(out, a.Unmap())
			}
		}
		c.Close()
	}
	if len(out) > 0 {
		return out, nil
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if pn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(pn.IP); ok && !ip.IsLinkLocalUnicast() {
					out = append(out, ip.Unmap())
				}
			}
		}
	}
	return out, nil
}

// StaticMyIP returns a MyIPFunc that always answers addrs (the first is
// preferred). Invalid addresses are ignored.
func StaticMyIP(addrs ...string) MyIPFunc {
	var list []netip.Addr
	for _, s := range addrs {
		if a, err := netip.ParseAddr(s); err == nil {
			list = append(list, a.Unmap())
		}
	}
	return func(context.Context) ([]netip.Addr, error) { return list, nil }
}

// myIPCache memoizes a MyIPFunc for a short time: a script may call
// myIpAddress() for every URL.
type myIPCache struct {
	f   MyIPFunc
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	addrs   []netip.Addr
	expires time.Time
}

func (m *myIPCache) get(ctx context.Context) []netip.Addr {
	now := m.now()
	m.mu.Lock()
	if now.Before(m.expires) {
		a := m.addrs
		m.mu.Unlock()
		return a
	}
	m.mu.Unlock()
	addrs, err := m.f(ctx)
	if err != nil {
		addrs = nil
	}
	m.mu.Lock()
	m.addrs, m.expires = addrs, now.Add(m.ttl)
	m.mu.Unlock()
	return addrs
}
