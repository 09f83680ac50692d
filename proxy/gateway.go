package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sesame-auth/sesame/httpconn"
)

// This file holds the checks that keep the proxy from being turned on its
// own host or on itself:
//
//   - In gateway mode (AllowedClients set), clients from the network must
//     not reach the proxy host's loopback, unspecified or own addresses
//     (its admin page, local databases, SSH) unless AllowLoopbackTargets
//     says so (squid's to_localhost). The name of a DIRECT target is
//     resolved and every address checked before a route is taken, and the
//     dialers check again the very address each socket connects to, so a
//     name that answers differently from one lookup to the next (DNS
//     rebinding) cannot slip through between check and connect.
//   - Loops: forwarded requests carry "Via: 1.1 sesame-<random>", and a
//     request that already shows this process's pseudonym is refused
//     (508); a route (upstream proxy) that leads to one of the proxy's own
//     listeners is dropped, so a PAC file answering "PROXY 127.0.0.1:3128"
//     does not make the proxy forward to itself until descriptors run out.
//   - The admin page answers only to loopback Host names (DNS rebinding).

// viaPseudonym names this process in Via (RFC 9110 7.6.3): random, so
// that two sesame proxies chained on purpose do not take each other for a
// loop, and revealing nothing of the host.
var viaPseudonym = func() string {
	var b [4]byte
	rand.Read(b[:])
	return "sesame-" + hex.EncodeToString(b[:])
}()

// ErrForbiddenTarget is wrapped by the errors of a request refused
// because its target is the proxy's own host in gateway mode.
var ErrForbiddenTarget = errors.New("target is the proxy's own host")

// ErrLoop is wrapped by the errors of a request refused because it would
// come back to this proxy.
var ErrLoop = errors.New("request loop")

// targetError refuses a target address in gateway mode.
type targetError struct {
	target string     // as the client named it
	addr   netip.Addr // what it is or resolved to; invalid for names like localhost
	why    string
}

func (e *targetError) Error() string {
	what := e.target
	if e.addr.IsValid() && e.addr.String() != e.target {
		what += " (" + e.addr.String() + ")"
	}
	return fmt.Sprintf("refused: %s is %s; clients from the network may not reach the proxy's own host (allow_localhost_targets = true permits it)", what, e.why)
}

func (e *targetError) Unwrap() error { return ErrForbiddenTarget }

// loopError refuses a route that leads back to this proxy.
type loopError struct{ route string }

func (e *loopError) Error() string {
	return fmt.Sprintf("route PROXY %s leads back to this proxy itself (check the PAC file or upstream list)", e.route)
}

func (e *loopError) Unwrap() error { return ErrLoop }

// guarding reports whether targets on the proxy's own host are refused:
// in gateway mode, unless allowed.
func (s *Server) guarding() bool {
	return len(s.AllowedClients) > 0 && !s.AllowLoopbackTargets
}

// screen runs first for each allowed request: it refuses a request that
// looped back to this proxy (508) and, in gateway mode, a target that
// names the proxy's host literally (403); it adds this proxy to Via, and
// makes every DIRECT dial for the request check its address. It returns
// the request to go on with, or nil when it answered.
func (s *Server) screen(w http.ResponseWriter, r *http.Request) *http.Request {
	if seenVia(r.Header.Values("Via")) {
		err := fmt.Errorf("%w: the request already passed this proxy (its Via names %s); check the upstream proxies and the PAC file", ErrLoop, viaPseudonym)
		s.stats.Errors.Add(1)
		s.access(r, nil, http.StatusLoopDetected, 0, time.Now(), err)
		http.Error(w, "sesame: "+err.Error(), http.StatusLoopDetected)
		return nil
	}
	if r.Method != http.MethodConnect {
		addVia(r)
	}
	if !s.guarding() {
		return r
	}
	host := r.URL.Hostname()
	if r.Method == http.MethodConnect {
		host, _, _ = net.SplitHostPort(r.Host)
	}
	if err := s.checkLiteral(host); err != nil {
		s.access(r, nil, http.StatusForbidden, 0, time.Now(), err)
		http.Error(w, "sesame: "+err.Error(), http.StatusForbidden)
		return nil
	}
	if r.Method == http.MethodConnect {
		// The Transport only dials upstream proxies for a CONNECT; a
		// DIRECT tunnel goes through s.dialer, which checks its dials.
		return r
	}
	return r.WithContext(httpconn.WithDialCheck(r.Context(), s.checkTransportDial))
}

// seenVia reports whether Via values name this process.
func seenVia(values []string) bool {
	for _, v := range values {
		for _, hop := range strings.Split(v, ",") {
			// received-protocol received-by [comment]
			f := strings.Fields(hop)
			if len(f) >= 2 && f[1] == viaPseudonym {
				return true
			}
		}
	}
	return false
}

// addVia appends this proxy to the request's Via, on the one field line.
func addVia(r *http.Request) {
	hop := fmt.Sprintf("%d.%d %s", r.ProtoMajor, r.ProtoMinor, viaPseudonym)
	if r.ProtoMajor == 0 {
		hop = "1.1 " + viaPseudonym
	}
	if prev := r.Header.Values("Via"); len(prev) > 0 {
		hop = strings.Join(prev, ", ") + ", " + hop
	}
	r.Header.Set("Via", hop)
}

// checkLiteral refuses, in gateway mode, a target host that is one of the
// proxy's own addresses or a localhost name, before any route is chosen:
// no route makes it a target a client from the network should reach.
func (s *Server) checkLiteral(host string) error {
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err == nil {
		if why := s.forbidden(a); why != "" {
			return &targetError{target: host, addr: a, why: why}
		}
		return nil
	}
	if isLocalhostName(host) {
		return &targetError{target: host, why: "a name for the loopback interface"}
	}
	return nil
}

// isLocalhostName reports localhost and its subdomains (RFC 6761 6.3).
func isLocalhostName(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

// forbidden says why a is not a target for clients of a gateway, or "".
func (s *Server) forbidden(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	switch {
	case a.IsLoopback():
		return "a loopback address"
	case a.IsUnspecified(), a.Is4() && a.As4()[0] == 0:
		return "an unspecified address (which reaches the proxy's host)"
	case isLocalAddr(a) || s.listenerIP(a):
		return "an address of the proxy's host"
	}
	return ""
}

// listenerIP reports whether a is the address of one of the listeners.
func (s *Server) listenerIP(a netip.Addr) bool {
	for _, l := range s.Listeners {
		if host, _, err := net.SplitHostPort(l); err == nil {
			if la, err := netip.ParseAddr(host); err == nil && la.Unmap() == a {
				return true
			}
		}
	}
	return false
}

// checkDialAddr refuses a dial to address (IP:port, resolved) in gateway
// mode when it is the proxy's own host.
func (s *Server) checkDialAddr(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot check dial address %q", ErrForbiddenTarget, address)
	}
	if why := s.forbidden(ap.Addr()); why != "" {
		return &targetError{target: address, why: why}
	}
	return nil
}

// checkDirectDial is the Control of the dialer that connects CONNECT
// tunnels DIRECT to their targets: it checks every address the socket
// connects to, after resolution.
func (s *Server) checkDirectDial(ctx context.Context, network, address string, _ syscall.RawConn) error {
	if !s.guarding() {
		return nil
	}
	return s.checkDialAddr(address)
}

// checkTransportDial checks the dials a Transport makes for a gateway
// client's plain-HTTP request (httpconn.WithDialCheck): with an upstream
// route in the context the dial goes to that proxy and is not checked;
// without one (DIRECT, as for ContextRoute) it goes to the target and is.
func (s *Server) checkTransportDial(ctx context.Context, network, address string) error {
	if rt, _ := ctx.Value(routeKey{}).(*url.URL); rt != nil {
		return nil
	}
	return s.checkDialAddr(address)
}

// lookupNetIP resolves names for the checks here; tests replace it.
var lookupNetIP = net.DefaultResolver.LookupNetIP

// checkResolved refuses, in gateway mode, a DIRECT target whose name
// resolves to any address of the proxy's host.
func (s *Server) checkResolved(host string) error {
	if err := s.checkLiteral(host); err != nil {
		return err
	}
	if _, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.dialTimeout())
	defer cancel()
	addrs, err := lookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil // the dial fails too, or its own check refuses
	}
	for _, a := range addrs {
		if why := s.forbidden(a); why != "" {
			return &targetError{target: host, addr: a.Unmap(), why: why}
		}
	}
	return nil
}

// screenRoutes drops the routes a request must not take: an upstream that
// is this proxy itself, and, in gateway mode, DIRECT to a target on the
// proxy's host. When none is left, the error says why.
func (s *Server) screenRoutes(target *url.URL, rs []*url.URL, err error) ([]*url.URL, error) {
	if err != nil || target == nil {
		return rs, err
	}
	var out []*url.URL
	var why error
	for _, rt := range rs {
		switch {
		case rt == nil && s.guarding():
			if err := s.checkResolved(target.Hostname()); err != nil {
				why = err
				continue
			}
		case rt != nil && s.isSelf(rt.Host):
			why = &loopError{route: rt.Host}
			s.warnSelf(rt.Host)
			continue
		}
		out = append(out, rt)
	}
	if len(out) == 0 && why != nil {
		return nil, why
	}
	return out, nil
}

// selfWarned rate-limits the warning about a route to this proxy: a PAC
// file that returns it does so for every request.
var selfWarned sync.Map // host:port -> time.Time

func (s *Server) warnSelf(hostport string) {
	now := time.Now()
	if last, ok := selfWarned.Load(hostport); ok && now.Sub(last.(time.Time)) < time.Minute {
		return
	}
	selfWarned.Store(hostport, now)
	s.logger().Warn("proxy: ignoring a route that leads back to this proxy (PAC file or upstream list)", "upstream", hostport, "listen", strings.Join(s.Listeners, ","))
}

// isSelf reports whether hostport (an upstream proxy) is one of the
// proxy's own listeners: same port, and an address that listener serves.
func (s *Server) isSelf(hostport string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	var addrs []netip.Addr
	resolved := false
	for _, l := range s.Listeners {
		lhost, lport, err := net.SplitHostPort(l)
		if err != nil || lport != port {
			continue
		}
		if !resolved {
			addrs, resolved = resolveCached(host), true
		}
		la, lerr := netip.ParseAddr(lhost)
		anyLocal := lhost == "" || (lerr == nil && la.IsUnspecified())
		var lips []netip.Addr
		if !anyLocal {
			lips = resolveCached(lhost)
		}
		for _, a := range addrs {
			a = a.Unmap()
			if a.IsUnspecified() || (anyLocal && (a.IsLoopback() || isLocalAddr(a))) {
				return true
			}
			for _, li := range lips {
				if li.Unmap() == a {
					return true
				}
			}
		}
	}
	return false
}

// resolveCached resolves a host for isSelf, remembering answers for a
// while: it runs for each request routed through an upstream whose port
// is one the proxy listens on.
func resolveCached(host string) []netip.Addr {
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if a, err := netip.ParseAddr(h); err == nil {
		return []netip.Addr{a}
	}
	if isLocalhostName(h) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}
	}
	now := time.Now()
	if v, ok := resolveCache.Load(h); ok && now.Before(v.(cachedAddrs).until) {
		return v.(cachedAddrs).addrs
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, _ := lookupNetIP(ctx, "ip", h)
	resolveCache.Store(h, cachedAddrs{addrs, now.Add(30 * time.Second)})
	return addrs
}

type cachedAddrs struct {
	addrs []netip.Addr
	until time.Time
}

var resolveCache sync.Map // host -> cachedAddrs

// localAddrs caches the host's interface addresses for a few seconds.
var localAddrs struct {
	sync.Mutex
	until time.Time
	set   map[netip.Addr]bool
}

// isLocalAddr reports whether a is an address of one of the host's
// network interfaces.
func isLocalAddr(a netip.Addr) bool {
	localAddrs.Lock()
	defer localAddrs.Unlock()
	if now := time.Now(); now.After(localAddrs.until) {
		set := make(map[netip.Addr]bool)
		if ifas, err := net.InterfaceAddrs(); err == nil {
			for _, ifa := range ifas {
				if p, err := netip.ParsePrefix(ifa.String()); err == nil {
					set[p.Addr().Unmap()] = true
				}
			}
		}
		localAddrs.set, localAddrs.until = set, now.Add(5*time.Second)
	}
	return localAddrs.set[a.Unmap()]
}

// adminHost reports whether the Host of a request to the admin page names
// it the way a loopback listener is reached: a 127.0.0.0/8 or ::1
// literal, or localhost, with any port. Any other name is one that a web
// page chose and pointed at 127.0.0.1 (DNS rebinding) to read the page
// with the browser's help.
func adminHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Zone() == "" && a.Unmap().IsLoopback()
	}
	return strings.EqualFold(strings.TrimSuffix(host, "."), "localhost")
}

// misdirected answers a request to the admin page under a foreign name.
func misdirected(w http.ResponseWriter, r *http.Request) {
	http.Error(w, fmt.Sprintf("sesame: misdirected request: the status page answers only as http://127.0.0.1:PORT/ or http://localhost:PORT/, not as %q", r.Host), http.StatusForbidden)
}
