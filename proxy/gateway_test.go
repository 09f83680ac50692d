package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/internal/lab"
)

// rawProxy sends one request, as written, to the proxy at addr and
// returns the status and body of the answer.
func rawProxy(t *testing.T, addr, request string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, hang)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(hang))
	io.WriteString(c, request)
	method, _, _ := strings.Cut(request, " ")
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%q: %v", request, err)
	}
	defer resp.Body.Close()
	if method == http.MethodConnect && resp.StatusCode == http.StatusOK {
		return resp.StatusCode, ""
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// countingOrigin is an origin server that counts its requests and echoes
// their Via.
func countingOrigin(t *testing.T, ln net.Listener) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprintf(w, "origin; via=%s", r.Header.Get("Via"))
	}))
	if ln != nil {
		srv.Listener.Close()
		srv.Listener = ln
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &hits
}

// startProxy serves srv on ln (a loopback port when nil), telling srv its
// listener.
func startProxy(t *testing.T, srv *Server, ln net.Listener) string {
	t.Helper()
	px := httptest.NewUnstartedServer(srv)
	if ln != nil {
		px.Listener.Close()
		px.Listener = ln
	}
	srv.Listeners = append(srv.Listeners, px.Listener.Addr().String())
	px.Start()
	t.Cleanup(px.Close)
	return px.Listener.Addr().String()
}

// The decision alone: in gateway mode loopback, unspecified and the
// host's own addresses are refused as targets, as are localhost names;
// not with AllowLoopbackTargets, and never with loopback clients only.
func TestGatewayTargetDecision(t *testing.T) {
	own := ""
	if ifas, err := net.InterfaceAddrs(); err == nil {
		for _, ifa := range ifas {
			if p, err := netip.ParsePrefix(ifa.String()); err == nil && !p.Addr().IsLoopback() {
				own = p.Addr().String()
				break
			}
		}
	}
	refused := []string{"127.0.0.1", "127.9.8.7", "::1", "[::1]", "::ffff:127.0.0.1", "0.0.0.0", "0.1.2.3", "::", "localhost", "LocalHost.", "app.localhost"}
	if own != "" {
		refused = append(refused, own)
	}
	allowed := []string{"192.0.2.77", "example.com", "localhost.example.com", "2001:db8::1"}
	gw := &Server{AllowedClients: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	for _, h := range refused {
		if err := gw.checkLiteral(h); err == nil || !strings.Contains(err.Error(), "allow_localhost_targets") {
			t.Errorf("gateway, target %s: %v, want refused", h, err)
		}
	}
	for _, h := range allowed {
		if err := gw.checkLiteral(h); err != nil {
			t.Errorf("gateway, target %s: %v", h, err)
		}
	}
	if err := gw.checkDialAddr("127.0.0.1:22"); err == nil {
		t.Error("gateway: dial to 127.0.0.1:22 allowed")
	}
	if err := gw.checkDialAddr("192.0.2.77:22"); err != nil {
		t.Errorf("gateway: dial to 192.0.2.77:22: %v", err)
	}
	// A Transport's dial goes to an upstream when the context holds a
	// route (not checked), else to the target (checked).
	up, _ := url.Parse("http://127.0.0.1:3129")
	for _, tc := range []struct {
		ctx     context.Context
		checked bool
	}{
		{context.Background(), true},
		{context.WithValue(context.Background(), routeKey{}, (*url.URL)(nil)), true},
		{context.WithValue(context.Background(), routeKey{}, up), false},
	} {
		if err := gw.checkTransportDial(tc.ctx, "tcp", "127.0.0.1:3129"); (err != nil) != tc.checked {
			t.Errorf("transport dial, route %v: %v, checked %v", tc.ctx.Value(routeKey{}), err, tc.checked)
		}
	}
	for _, s := range []*Server{
		{AllowedClients: gw.AllowedClients, AllowLoopbackTargets: true},
		{}, // loopback clients only
	} {
		if !s.guarding() {
			continue
		}
		t.Errorf("guarding with allowed %v, AllowLoopbackTargets %v", s.AllowedClients, s.AllowLoopbackTargets)
	}
}

// A gateway refuses targets on its own host, for plain HTTP and CONNECT,
// as IP literals and as localhost names (403), and names that resolve
// there (502, before dialing); the origin never sees a request.
func TestGatewayRefusesLoopbackTargets(t *testing.T) {
	origin, hits := countingOrigin(t, nil)
	oaddr := origin.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(oaddr)
	srv := &Server{Transport: &auth.Transport{}, AllowedClients: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8")}}
	px := startProxy(t, srv, nil)
	defer swapLookup(map[string]string{"loop.test": "127.0.0.1"})()

	for _, tc := range []struct {
		req  string
		want int
	}{
		{"GET http://" + oaddr + "/ HTTP/1.1\r\nHost: " + oaddr + "\r\n\r\n", http.StatusForbidden},
		{"GET http://localhost:" + port + "/ HTTP/1.1\r\nHost: localhost\r\n\r\n", http.StatusForbidden},
		{"GET http://[::ffff:127.0.0.1]:" + port + "/ HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusForbidden},
		{"CONNECT " + oaddr + " HTTP/1.1\r\nHost: " + oaddr + "\r\n\r\n", http.StatusForbidden},
		{"CONNECT localhost:" + port + " HTTP/1.1\r\nHost: localhost:" + port + "\r\n\r\n", http.StatusForbidden},
		{"GET http://loop.test:" + port + "/ HTTP/1.1\r\nHost: loop.test\r\n\r\n", http.StatusForbidden},
		{"CONNECT loop.test:" + port + " HTTP/1.1\r\nHost: loop.test:" + port + "\r\n\r\n", http.StatusForbidden},
	} {
		code, body := rawProxy(t, px, tc.req)
		first, _, _ := strings.Cut(tc.req, "\r\n")
		if code != tc.want || !strings.Contains(body, "allow_localhost_targets") {
			t.Errorf("%s: %d %q, want %d and a reason", first, code, body, tc.want)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("origin reached %d times", n)
	}

	// Allowed by configuration: the same request passes.
	open := &Server{Transport: &auth.Transport{}, AllowedClients: srv.AllowedClients, AllowLoopbackTargets: true}
	if code, body := rawProxy(t, startProxy(t, open, nil), "GET http://"+oaddr+"/ HTTP/1.1\r\nHost: "+oaddr+"\r\n\r\n"); code != 200 {
		t.Errorf("with AllowLoopbackTargets: %d %q", code, body)
	}
	// Loopback clients only (the default): loopback targets pass.
	local := &Server{Transport: &auth.Transport{}}
	if code, body := rawProxy(t, startProxy(t, local, nil), "GET http://"+oaddr+"/ HTTP/1.1\r\nHost: "+oaddr+"\r\n\r\n"); code != 200 {
		t.Errorf("loopback-only proxy: %d %q", code, body)
	}
}

// swapLookup makes the gateway checks resolve names from m (others fail)
// until the returned function restores the resolver.
func swapLookup(m map[string]string) func() {
	prev := lookupNetIP
	lookupNetIP = func(ctx context.Context, network, host string) ([]netip.Addr, error) {
		if a, ok := m[host]; ok {
			return []netip.Addr{netip.MustParseAddr(a)}, nil
		}
		return nil, &net.DNSError{Err: "no such host (test)", Name: host, IsNotFound: true}
	}
	resolveCache.Clear()
	return func() { lookupNetIP = prev; resolveCache.Clear() }
}

// End to end in a network namespace of its own: a client with a
// non-loopback address (10.99.0.1, on lo there) uses a gateway proxy
// listening on that address. Targets on the proxy's host are refused:
// 127.0.0.1, the gateway's own 10.99.0.1, and a name whose address
// changes between the check and the dial (DNS rebinding: the check sees
// 192.0.2.1, the dial 127.0.0.2) — the dialer refuses the address it is
// about to connect to.
func TestGatewayNetns(t *testing.T) {
	if !lab.Isolate(t, lab.IsolateOptions{Hosts: map[string]string{"rebind.test": "127.0.0.2"}}) {
		return
	}
	if out, err := exec.Command("ip", "addr", "add", "10.99.0.1/32", "dev", "lo").CombinedOutput(); err != nil {
		t.Fatalf("ip addr add: %v %s", err, out)
	}
	listen := func(addr string) net.Listener {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	loopOrigin, loopHits := countingOrigin(t, listen("127.0.0.2:0"))
	_, lport, _ := net.SplitHostPort(loopOrigin.Listener.Addr().String())
	ownOrigin, ownHits := countingOrigin(t, listen("10.99.0.1:0"))
	srv := &Server{Transport: &auth.Transport{}, AllowedClients: []netip.Prefix{netip.MustParsePrefix("10.99.0.0/24")}}
	var clients atomic.Value
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clients.Store(r.RemoteAddr)
		srv.ServeHTTP(w, r)
	})
	pxs := httptest.NewUnstartedServer(inner)
	pxs.Listener.Close()
	pxs.Listener = listen("10.99.0.1:0")
	srv.Listeners = []string{pxs.Listener.Addr().String()}
	pxs.Start()
	defer pxs.Close()
	px := pxs.Listener.Addr().String()
	// The pre-check resolves rebind.test to a public address; the dial,
	// through the system resolver, to 127.0.0.2.
	defer swapLookup(map[string]string{"rebind.test": "192.0.2.1"})()

	for _, tc := range []struct {
		req  string
		want int
	}{
		{"GET http://127.0.0.2:" + lport + "/ HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusForbidden},
		{"GET " + ownOrigin.URL + "/ HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusForbidden},
		{"CONNECT " + ownOrigin.Listener.Addr().String() + " HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusForbidden},
		// Rebinding: refused at connect time, with the same 403.
		{"GET http://rebind.test:" + lport + "/ HTTP/1.1\r\nHost: rebind.test\r\n\r\n", http.StatusForbidden},
		{"CONNECT rebind.test:" + lport + " HTTP/1.1\r\nHost: rebind.test:" + lport + "\r\n\r\n", http.StatusForbidden},
	} {
		code, body := rawProxy(t, px, tc.req)
		first, _, _ := strings.Cut(tc.req, "\r\n")
		if code != tc.want || !strings.Contains(body, "allow_localhost_targets") {
			t.Errorf("%s: %d %q, want %d and a reason", first, code, body, tc.want)
		}
	}
	if c, _ := clients.Load().(string); !strings.HasPrefix(c, "10.99.0.1:") {
		t.Fatalf("client address %q, want 10.99.0.1 (not loopback)", c)
	}
	if n, m := loopHits.Load(), ownHits.Load(); n+m != 0 {
		t.Errorf("origins on the proxy's host reached: %d loopback, %d own address", n, m)
	}
	// Configured to allow it, the gateway passes the rebinding name too.
	srv2 := &Server{Transport: &auth.Transport{}, AllowedClients: srv.AllowedClients, AllowLoopbackTargets: true}
	px2 := startProxy(t, srv2, listen("10.99.0.1:0"))
	if code, body := rawProxy(t, px2, "GET http://rebind.test:"+lport+"/ HTTP/1.1\r\nHost: rebind.test\r\n\r\n"); code != 200 {
		t.Errorf("with AllowLoopbackTargets: %d %q", code, body)
	}
}

// Forwarded requests carry Via with this process's pseudonym; a request
// that already shows it is refused with 508.
func TestViaLoopDetected(t *testing.T) {
	origin, hits := countingOrigin(t, nil)
	px := startProxy(t, &Server{Transport: &auth.Transport{}}, nil)
	req := "GET " + origin.URL + "/ HTTP/1.1\r\nHost: x\r\nVia: 1.0 corp-proxy\r\n\r\n"
	code, body := rawProxy(t, px, req)
	if code != 200 || !strings.Contains(body, "via=1.0 corp-proxy, 1.1 "+viaPseudonym) {
		t.Fatalf("%d %q, want Via appended", code, body)
	}
	req = "GET " + origin.URL + "/ HTTP/1.1\r\nHost: x\r\nVia: 1.1 " + viaPseudonym + ", 1.1 other\r\n\r\n"
	if code, body := rawProxy(t, px, req); code != http.StatusLoopDetected || !strings.Contains(body, "loop") {
		t.Errorf("looped request: %d %q", code, body)
	}
	if hits.Load() != 1 {
		t.Errorf("origin hit %d times, want 1", hits.Load())
	}
}

// An upstream (from a PAC file or the upstream list) that is the proxy's
// own listener is refused at once, for plain HTTP and CONNECT, instead of
// the proxy forwarding to itself until descriptors run out. Where the
// proxy cannot know its listeners, Via still stops a plain-HTTP loop on
// its second pass.
func TestSelfRouteRefused(t *testing.T) {
	origin, hits := countingOrigin(t, nil)
	for _, form := range []string{"127.0.0.1", "localhost"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		upstream := net.JoinHostPort(form, port)
		u, _ := url.Parse("http://" + upstream)
		srv := &Server{Transport: &auth.Transport{}, Router: &StaticRouter{Upstreams: &Upstreams{List: []*url.URL{u}}}}
		px := startProxy(t, srv, ln)
		for _, req := range []string{
			"GET " + origin.URL + "/ HTTP/1.1\r\nHost: x\r\n\r\n",
			"CONNECT " + origin.Listener.Addr().String() + " HTTP/1.1\r\nHost: x\r\n\r\n",
		} {
			code, body := rawProxy(t, px, req)
			first, _, _ := strings.Cut(req, "\r\n")
			if code != http.StatusBadGateway || !strings.Contains(body, "leads back to this proxy") {
				t.Errorf("upstream %s, %s: %d %q", upstream, first, code, body)
			}
		}
		if n := srv.Stats().Requests.Load(); n != 2 {
			t.Errorf("upstream %s: the proxy saw %d requests, want 2 (none forwarded to itself)", upstream, n)
		}
	}
	// Where the proxy does not know its listeners, Via ends a plain-HTTP
	// loop on its second pass.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("http://" + ln.Addr().String())
	srv := &Server{Transport: &auth.Transport{}, Router: &StaticRouter{Upstreams: &Upstreams{List: []*url.URL{u}}}}
	px := startProxy(t, srv, ln)
	srv.Listeners = nil
	if code, body := rawProxy(t, px, "GET "+origin.URL+"/ HTTP/1.1\r\nHost: x\r\n\r\n"); code != http.StatusLoopDetected {
		t.Errorf("listeners unknown: %d %q, want 508", code, body)
	}
	if n := srv.Stats().Requests.Load(); n != 2 {
		t.Errorf("listeners unknown: the proxy saw %d requests, want 2", n)
	}
	if hits.Load() != 0 {
		t.Errorf("origin hit %d times", hits.Load())
	}
}

// isSelf matches the listeners' addresses: an unspecified listener
// serves every local address; a specific one only its own.
func TestIsSelf(t *testing.T) {
	defer swapLookup(map[string]string{"me.test": "127.0.0.1", "far.test": "192.0.2.9"})()
	for _, tc := range []struct {
		listen, upstream string
		want             bool
	}{
		{"127.0.0.1:3128", "127.0.0.1:3128", true},
		{"127.0.0.1:3128", "localhost:3128", true},
		{"127.0.0.1:3128", "me.test:3128", true},
		{"127.0.0.1:3128", "0.0.0.0:3128", true},
		{"127.0.0.1:3128", "127.0.0.1:3129", false},
		{"127.0.0.1:3128", "127.0.0.2:3128", false},
		{"127.0.0.1:3128", "far.test:3128", false},
		{"0.0.0.0:3128", "127.0.0.5:3128", true},
		{":3128", "[::1]:3128", true},
		{"[::1]:3128", "localhost:3128", true},
		{"0.0.0.0:3128", "far.test:3128", false},
		{"localhost:3128", "127.0.0.1:3128", true},
	} {
		s := &Server{Listeners: []string{tc.listen}}
		if got := s.isSelf(tc.upstream); got != tc.want {
			t.Errorf("listen %s, upstream %s: self %v, want %v", tc.listen, tc.upstream, got, tc.want)
		}
	}
}

// The admin page answers only to loopback Host names: a page on
// evil.example that rebinds its name to 127.0.0.1 gets 403.
func TestAdminHost(t *testing.T) {
	sw := &Switch{}
	sw.Store(&Server{Transport: &auth.Transport{}})
	a := &Admin{Proxy: sw, ProxyAddrs: []string{"127.0.0.1:3128"}}
	for _, tc := range []struct {
		host string
		want int
	}{
		{"evil.example", http.StatusForbidden},
		{"evil.example:3129", http.StatusForbidden},
		{"127.0.0.1.nip.io:3129", http.StatusForbidden},
		{"localhost.evil.example", http.StatusForbidden},
		{"192.0.2.1:3129", http.StatusForbidden},
		{"", http.StatusForbidden},
		{"127.0.0.1:3129", http.StatusOK},
		{"127.0.0.1", http.StatusOK},
		{"127.1.2.3:3129", http.StatusOK},
		{"localhost:3129", http.StatusOK},
		{"LOCALHOST", http.StatusOK},
		{"[::1]:3129", http.StatusOK},
	} {
		for _, path := range []string{"/", "/metrics", "/route?url=http://x.test/"} {
			req := httptest.NewRequest("GET", "http://127.0.0.1:3129"+path, nil)
			req.Host = tc.host
			rec := httptest.NewRecorder()
			a.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("Host %q, %s: %d, want %d", tc.host, path, rec.Code, tc.want)
			}
			if tc.want == http.StatusForbidden && !strings.Contains(rec.Body.String(), "misdirected") {
				t.Errorf("Host %q: body %q", tc.host, rec.Body.String())
			}
		}
	}
}
