package proxy

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultBlockFor is how long an upstream that failed to connect is passed
// over before it is tried again.
const DefaultBlockFor = 30 * time.Second

// Upstreams is an ordered list of upstream proxies with failover: the
// first healthy one is tried first, and one that fails to connect is
// passed over for BlockFor. When every one is blocked, all are tried
// again in order rather than none.
type Upstreams struct {
	List     []*url.URL
	BlockFor time.Duration

	mu      sync.Mutex
	blocked map[string]time.Time // upstream host:port -> until
	now     func() time.Time
}

// ParseUpstream reads an upstream proxy as "host:port" or
// "http://host:port" (https:// for a TLS proxy).
func ParseUpstream(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("proxy: upstream %q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("proxy: upstream %q: scheme %q not supported (http or https)", s, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("proxy: upstream %q has no host", s)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "8080")
	}
	if u.User != nil {
		return nil, fmt.Errorf("proxy: upstream %q: give credentials with --user, not in the URL", u.Redacted())
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// Candidates returns the upstreams to try, healthy ones first in
// configured order, then blocked ones (soonest unblocked first is not
// worth the complexity: configured order).
func (u *Upstreams) Candidates() []*url.URL {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.clock()
	var healthy, blocked []*url.URL
	for _, p := range u.List {
		if until, ok := u.blocked[p.Host]; ok && now.Before(until) {
			blocked = append(blocked, p)
		} else {
			healthy = append(healthy, p)
		}
	}
	return append(healthy, blocked...)
}

// Order sorts routes (nil is DIRECT) so that those blocked after a
// failure come last, keeping the given order otherwise.
func (u *Upstreams) Order(routes []*url.URL) []*url.URL {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.clock()
	var healthy, blocked []*url.URL
	for _, p := range routes {
		if until, ok := u.blocked[hostOf(p)]; ok && p != nil && now.Before(until) {
			blocked = append(blocked, p)
		} else {
			healthy = append(healthy, p)
		}
	}
	return append(healthy, blocked...)
}

func hostOf(p *url.URL) string {
	if p == nil {
		return ""
	}
	return p.Host
}

// Fail records that p could not be reached.
func (u *Upstreams) Fail(p *url.URL) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.blocked == nil {
		u.blocked = make(map[string]time.Time)
	}
	d := u.BlockFor
	if d <= 0 {
		d = DefaultBlockFor
	}
	u.blocked[p.Host] = u.clock().Add(d)
}

// OK records that p answered, lifting a block.
func (u *Upstreams) OK(p *url.URL) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.blocked, p.Host)
}

// Health lists each upstream with whether it is blocked now.
func (u *Upstreams) Health() map[string]bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.clock()
	h := make(map[string]bool, len(u.List))
	for _, p := range u.List {
		until, ok := u.blocked[p.Host]
		h[p.Host] = !ok || !now.Before(until)
	}
	return h
}

func (u *Upstreams) clock() time.Time {
	if u.now != nil {
		return u.now()
	}
	return time.Now()
}
