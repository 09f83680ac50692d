package auth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sesame-auth/sesame/httpconn"
	"github.com/sesame-auth/sesame/kerberos"
)

// maxRestarts bounds how often one request starts over on a new
// connection because the peer closed the old one.
const maxRestarts = 3

// retryable reports errors that mean the peer closed the connection
// rather than answered: EOF before a response, or a reset.
func retryable(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, httpconn.ErrClosed)
}

// expectContinueMin is the body size above which a request to a peer
// that has not authenticated us yet asks with "Expect: 100-continue"
// before sending it; curl's threshold is similar (1 MiB).
const expectContinueMin = 64 << 10

// DefaultMaxRounds bounds the legs of one request's authentication.
const DefaultMaxRounds = 8

// maxDiscard is how much of a 401/407 body is read to keep the connection;
// error pages are small, and a connection mid-handshake is worth keeping.
const maxDiscard = 1 << 20

// Transport is an http.RoundTripper that answers 401 (origin) and 407
// (proxy) challenges with the configured credentials, choosing the
// strongest scheme the peer offers (Negotiate > NTLM > Digest > Basic).
//
// It speaks HTTP/1.1 on connections of its own (package httpconn), so
// that every leg of an NTLM or Negotiate handshake travels on one
// connection and an authenticated connection is reused without a new
// handshake. Connections are pooled per peer and identity: one user's
// authenticated connection is never used for another's request. HTTPS
// through a proxy goes through a CONNECT tunnel that is authenticated
// first; see also [Transport.DialTunnel] for use with http.Transport
// (and HTTP/2) inside the tunnel.
//
// A Transport is safe for concurrent use; configure it before first use.
type Transport struct {
	// Proxy returns the proxy for a request, as http.Transport.Proxy
	// does; nil means http.ProxyFromEnvironment. A nil URL means direct.
	Proxy func(*http.Request) (*url.URL, error)
	// Credentials answer origin servers' 401 challenges.
	Credentials []Credential
	// ProxyCredentials answer proxies' 407 challenges.
	ProxyCredentials []Credential
	// AllowBasicOverHTTP permits sending Basic credentials to an origin
	// over plain HTTP, where anyone on the path can read them. Proxies
	// are always allowed: the link to a local corporate proxy is plain
	// HTTP almost everywhere.
	AllowBasicOverHTTP bool
	// SanitizeMutualErrors, for an error response (status 400 and up)
	// from a server whose mutual authentication failed, hands back the
	// status alone, with no headers (but Content-Length: 0) and an empty
	// body, instead of an error — httpx-gssapi's
	// sanitize_mutual_error_response. Nothing the unauthenticated server
	// sent reaches the caller but its status. A success response still
	// fails with the error.
	SanitizeMutualErrors bool
	// TLSClientConfig is used for TLS to origins and https proxies.
	TLSClientConfig *tls.Config
	// Dialer opens TCP connections; nil means a net.Dialer with a 30 s
	// timeout.
	Dialer *net.Dialer
	// MaxRounds bounds the legs of one request; default DefaultMaxRounds.
	MaxRounds int
	// MaxIdleConnsPerHost and IdleConnTimeout configure the pool; see
	// httpconn.Pool.
	MaxIdleConnsPerHost int
	IdleConnTimeout     time.Duration
	// Logger receives one debug record per handshake leg (scheme, peer,
	// status; never a token or secret). nil means slog.Default().
	Logger *slog.Logger
	// OnReject, if set, is called once each time a peer refuses a
	// credential (it is then not offered to that peer again until
	// ResetRejections), so that a caller can make a refused password
	// loud: a log line, a counter, a status page. It must not block.
	OnReject func(Rejection)

	once       sync.Once
	pool       *httpconn.Pool
	handshakes atomic.Int64
	mu         sync.Mutex
	known      map[string]*knownAuth // peer -> what authenticated there last
	failed     map[string]bool       // peer + scheme + identity -> rejected
}

// knownAuth remembers what a peer accepted, to authenticate later
// requests (and new connections) without waiting for a challenge first.
type knownAuth struct {
	cred Credential
	ch   *Challenge // the last challenge (Digest needs its nonce)
}

func (t *Transport) init() {
	t.once.Do(func() {
		t.pool = &httpconn.Pool{Dial: t.dial, MaxIdlePerKey: t.MaxIdleConnsPerHost, IdleTimeout: t.IdleConnTimeout}
		t.known = make(map[string]*knownAuth)
		t.failed = make(map[string]bool)
	})
}

// CloseIdleConnections closes pooled connections, as http.Transport's
// method of the same name does (http.Client calls it).
func (t *Transport) CloseIdleConnections() {
	t.init()
	t.pool.CloseIdle()
}

// Handshakes returns how many authentication handshakes the Transport has
// begun: in answer to a challenge, or pre-emptively on a new connection
// for NTLM and Negotiate (pre-emptive Basic and Digest headers on each
// request are not counted).
func (t *Transport) Handshakes() int64 { return t.handshakes.Load() }

// PoolStats returns the connection pool's counters.
func (t *Transport) PoolStats() httpconn.Stats {
	t.init()
	return t.pool.Stats()
}

func (t *Transport) logger() *slog.Logger {
	if t.Logger != nil {
		return t.Logger
	}
	return slog.Default()
}

func (t *Transport) maxRounds() int {
	if t.MaxRounds > 0 {
		return t.MaxRounds
	}
	return DefaultMaxRounds
}

func (t *Transport) proxyFor(req *http.Request) (*url.URL, error) {
	if t.Proxy != nil {
		return t.Proxy(req)
	}
	return http.ProxyFromEnvironment(req)
}

// identities labels a credential list for pool keys.
func identities(creds []Credential) string {
	ids := make([]string, 0, len(creds))
	for _, c := range creds {
		ids = append(ids, c.Scheme()+":"+c.Identity())
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

// canonicalAddr returns host:port with the scheme's default port.
func canonicalAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// RoundTrip sends req, answering authentication challenges on the way.
// A 401 or 407 that the credentials cannot answer (none fit, or they were
// rejected) is returned as the response, as http.Transport would.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.init()
	if req.URL == nil || (req.URL.Scheme != "http" && req.URL.Scheme != "https") {
		return nil, fmt.Errorf("auth: unsupported URL %v", req.URL)
	}
	if req.URL.Host == "" {
		return nil, fmt.Errorf("auth: URL %s has no host", req.URL.Redacted())
	}
	proxyURL, err := t.proxyFor(req)
	if err != nil {
		return nil, fmt.Errorf("auth: proxy for %s: %w", req.URL.Redacted(), err)
	}
	originID := identities(t.Credentials)
	var key httpconn.Key
	proxyForm := false
	if proxyURL != nil && req.URL.Scheme == "http" {
		key = httpconn.Key{Addr: canonicalAddr(proxyURL), TLS: proxyURL.Scheme == "https", Identity: identities(t.ProxyCredentials) + "|" + originID}
		proxyForm = true
	} else {
		key = httpconn.Key{Addr: canonicalAddr(req.URL), TLS: req.URL.Scheme == "https", Identity: originID}
		if proxyURL != nil {
			key.Via = proxyURL.Scheme + "://" + canonicalAddr(proxyURL) + "|" + identities(t.ProxyCredentials)
		}
	}
	ctx := req.Context()
	ex := &exchange{t: t, req: req, key: key, proxyForm: proxyForm, proxyURL: proxyURL}
	resp, conn, err := ex.run(ctx)
	if err != nil {
		return nil, err
	}
	if conn == nil {
		return resp, nil // sanitized: the connection is closed already
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// An upgrade (WebSocket): as with net/http, the body is the
		// connection itself, an io.ReadWriteCloser (here a net.Conn) for
		// the new protocol.
		resp.Body = conn.Tunnel()
		return resp, nil
	}
	giveBack := ex.owner(resp)
	if resp.Body == http.NoBody {
		giveBack(conn)
		return resp, nil
	}
	resp.Body = &pooledBody{ReadCloser: resp.Body, conn: conn, giveBack: giveBack}
	return resp, nil
}

// owner decides where the connection goes once the response is read:
// back to the pool, for sesame's own identity; or, when the caller
// authenticated on it (its own NTLM or Negotiate header, or a peer's
// NTLM or Negotiate challenge handed back to it), to the caller's Pin
// alone, or closed when the request came without one. Such a connection
// is never pooled: the next request on it would pass as the caller.
func (ex *exchange) owner(resp *http.Response) func(*httpconn.Conn) {
	if !ex.pinned && !ex.callerAuthenticates(resp) {
		return ex.t.pool.Put
	}
	if pin := PinFrom(ex.req.Context()); pin != nil {
		return pin.put
	}
	return func(c *httpconn.Conn) { c.Close() }
}

// callerAuthenticates reports whether the caller itself runs a
// connection-bound handshake on this request's connection.
func (ex *exchange) callerAuthenticates(resp *http.Response) bool {
	h := ex.req.Header
	switch {
	case ex.origin == nil && connectionAuth(h.Get("Authorization")),
		ex.proxy == nil && connectionAuth(h.Get("Proxy-Authorization")),
		resp.StatusCode == http.StatusUnauthorized && offersConnectionAuth(resp.Header.Values("WWW-Authenticate")),
		resp.StatusCode == http.StatusProxyAuthRequired && offersConnectionAuth(resp.Header.Values("Proxy-Authenticate")):
		return true
	}
	return false
}

// pooledBody gives the connection back once the response body is
// finished with.
type pooledBody struct {
	io.ReadCloser
	conn     *httpconn.Conn
	giveBack func(*httpconn.Conn)
	once     sync.Once
}

func (b *pooledBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.once.Do(func() { b.giveBack(b.conn) })
	}
	return n, err
}

func (b *pooledBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() { b.giveBack(b.conn) })
	return err
}

// dial opens a pooled connection: directly, or through an authenticated
// CONNECT tunnel when key.Via names a proxy.
func (t *Transport) dial(ctx context.Context, key httpconn.Key) (*httpconn.Conn, error) {
	if key.Via == "" {
		return httpconn.Dial(ctx, t.Dialer, key, t.TLSClientConfig)
	}
	proxyPart, _, _ := strings.Cut(key.Via, "|")
	proxyURL, err := url.Parse(proxyPart)
	if err != nil {
		return nil, err
	}
	nc, err := t.DialTunnel(ctx, proxyURL, key.Addr)
	if err != nil {
		return nil, err
	}
	if !key.TLS {
		return httpconn.NewConn(nc, key), nil
	}
	cfg := t.TLSClientConfig.Clone()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(key.Addr)
	}
	cfg.NextProtos = []string{"http/1.1"}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("auth: TLS handshake with %s through %s: %w", key.Addr, proxyURL.Host, err)
	}
	return httpconn.NewConn(tc, key), nil
}

// ProxyConnectError reports a CONNECT that the proxy refused.
type ProxyConnectError struct {
	Proxy, Target string
	StatusCode    int
	Status        string
}

func (e *ProxyConnectError) Error() string {
	return fmt.Sprintf("auth: proxy %s refused CONNECT %s: %s", e.Proxy, e.Target, e.Status)
}

// DialTunnel opens a tunnel to addr (host:port) through the proxy with
// CONNECT, answering the proxy's 407 with ProxyCredentials on the tunnel's
// own connection. The result is a plain connection to addr; to use it
// with net/http (and HTTP/2), set http.Transport.DialContext to a function
// that calls DialTunnel, and Proxy to nil.
func (t *Transport) DialTunnel(ctx context.Context, proxyURL *url.URL, addr string) (net.Conn, error) {
	t.init()
	pkey := httpconn.Key{Addr: canonicalAddr(proxyURL), TLS: proxyURL.Scheme == "https"}
	conn, err := httpconn.Dial(ctx, t.Dialer, pkey, t.TLSClientConfig)
	if err != nil {
		return nil, err
	}
	req := &http.Request{
		Method: http.MethodConnect, URL: &url.URL{Host: addr}, Host: addr,
		Header: http.Header{}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}
	req = req.WithContext(ctx)
	ex := &exchange{t: t, req: req, key: pkey, connect: true, proxyURL: proxyURL, fixed: conn}
	resp, conn, err := ex.run(ctx)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxDiscard))
		resp.Body.Close()
		conn.Close()
		return nil, &ProxyConnectError{Proxy: proxyURL.Host, Target: addr, StatusCode: resp.StatusCode, Status: resp.Status}
	}
	return conn.Tunnel(), nil
}

// leg is the state of one side's authentication (proxy or origin) within
// one request.
type leg struct {
	cred  Credential
	hs    Handshake
	value string // header value to send on the next request
	final bool   // value completes the client's side
	sent  bool   // a final value has been sent
	stale int    // Digest stale=true retries used
}

// exchange is one request's trip through the authentication rounds.
type exchange struct {
	t         *Transport
	req       *http.Request
	key       httpconn.Key
	proxyForm bool // request line in absolute form to a proxy
	connect   bool // a CONNECT to a proxy
	proxyURL  *url.URL
	fixed     *httpconn.Conn // the connection to use (CONNECT), else pooled

	proxy, origin *leg
	body          *onceBody // the caller's body, until read from
	restarts      int
	probed        bool // the probe was sent, or is not needed
	probing       bool // the request in flight is the probe
	harmless      bool // the request in flight cannot have been acted on
	pinned        bool // the connection came from the caller's Pin
}

// proxyPeer and originPeer name the peer of each side for the known and
// failed maps, with the URL scheme: what https://h accepted (Basic, say)
// must never be sent in clear to http://h:443.
func (ex *exchange) proxyPeer() string {
	return "proxy " + ex.proxyURL.Scheme + "://" + canonicalAddr(ex.proxyURL)
}

func (ex *exchange) originPeer() string {
	return "origin " + ex.req.URL.Scheme + "://" + canonicalAddr(ex.req.URL)
}

// step is what an exchange does after one attempt: every transition of
// the loop in run is one of these.
type step int

const (
	// deliver hands the response to the caller: authentication is done,
	// not needed, or cannot go on (the 401 or 407 is the answer).
	deliver step = iota
	// nextLeg sends the next leg of a handshake on the same connection,
	// or on a new one (reconnect) when the peer closed this one.
	nextLeg
)

// toProxy reports whether the connection's peer is the proxy (so a 407
// is the proxy's), rather than the origin through a tunnel.
func (ex *exchange) toProxy() bool { return ex.proxyForm || ex.connect }

func (ex *exchange) run(ctx context.Context) (*http.Response, *httpconn.Conn, error) {
	t := ex.t
	if b := ex.req.Body; b != nil && b != http.NoBody {
		defer b.Close()
	}
	conn, err := ex.getConn(ctx)
	if err != nil {
		return nil, nil, err
	}
	ex.preempt(conn)
	for round := 0; ; round++ {
		if round >= t.maxRounds() {
			conn.Close()
			return nil, nil, fmt.Errorf("auth: %s %s: %w (%d)", ex.req.Method, ex.req.URL.Redacted(), ErrTooManyRounds, round)
		}
		out, err := ex.build(conn)
		if err != nil {
			conn.Close()
			return nil, nil, err
		}
		resp, err := conn.RoundTrip(ctx, out, ex.proxyForm)
		if err != nil {
			if !ex.mayResend(ctx, conn, err) {
				return nil, nil, err
			}
			// The peer closed a keep-alive connection (idle timeout,
			// overload) before answering: the request goes again on a
			// new connection, any connection-bound handshake started over.
			ex.restarts++
			t.logger().Debug("auth: connection lost before a response, sending again on a new one", "peer", conn.Key.Addr, "err", err)
			if conn, err = ex.reconnect(ctx); err != nil {
				return nil, nil, err
			}
			continue
		}
		st, err := ex.handle(ctx, conn, resp)
		if err != nil {
			resp.Body.Close()
			conn.Close()
			return nil, nil, err
		}
		if ex.probing {
			// Whatever the probe met, the real request follows.
			st = nextLeg
		}
		if st == deliver {
			if err := ex.succeed(conn, resp); err != nil {
				resp.Body.Close()
				conn.Close()
				if ex.t.SanitizeMutualErrors && !ex.connect && resp.StatusCode >= 400 && errors.Is(err, kerberos.ErrMutualAuth) {
					return sanitizedResponse(resp), nil, nil
				}
				return nil, nil, err
			}
			ex.report(conn)
			return resp, conn, nil
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxDiscard))
		resp.Body.Close()
		if !conn.Reusable() {
			// The peer closed the connection mid-handshake (it answered
			// in full, so it acted on nothing). A connection-bound
			// handshake must start over on a new one.
			if ex.restarts++; ex.restarts > maxRestarts || ex.fixed != nil {
				return nil, nil, fmt.Errorf("auth: %s closed the connection during authentication: %w", conn.Key.Addr, ErrRejected)
			}
			if conn, err = ex.reconnect(ctx); err != nil {
				return nil, nil, err
			}
		}
	}
}

// mayResend reports whether a request whose connection failed can be sent
// again on a new one. The rule is net/http's: only when the connection
// had carried an earlier request (a peer closing an idle keep-alive
// connection is the failure this is for, not a peer that drops what it
// was sent), not one byte of a response arrived, the body can be sent
// again, and the request is idempotent, or could not have been acted on
// (the HEAD probe, or a handshake leg that cannot complete
// authentication). A POST is never sent twice on a guess.
func (ex *exchange) mayResend(ctx context.Context, conn *httpconn.Conn, err error) bool {
	switch {
	case ctx.Err() != nil, ex.fixed != nil, ex.restarts >= maxRestarts, !retryable(err), !ex.canResend():
		return false
	case !errors.Is(err, httpconn.ErrNothingReceived), conn.Requests() < 2:
		return false
	}
	return ex.harmless || idempotent(ex.req)
}

// idempotent reports a request that may be sent twice (RFC 9110 9.2.2),
// as net/http judges it: a safe method, or an Idempotency-Key.
func idempotent(r *http.Request) bool {
	switch r.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return r.Header.Get("Idempotency-Key") != "" || r.Header.Get("X-Idempotency-Key") != ""
}

// reconnect replaces a lost connection: connection-bound handshakes start
// over on the new one, per-request ones (Basic, Digest) carry on.
func (ex *exchange) reconnect(ctx context.Context) (*httpconn.Conn, error) {
	if ex.fixed != nil {
		return nil, fmt.Errorf("auth: connection to %s lost during CONNECT", ex.fixed.Key.Addr)
	}
	conn, err := ex.t.dial(ctx, ex.key)
	if err != nil {
		return nil, err
	}
	ex.pinned = false
	ex.restartBound()
	ex.preempt(conn)
	return conn, nil
}

// getConn returns the connection for the first attempt: the fixed one
// (CONNECT), the caller's pinned one for this peer, or one from the pool,
// which holds only connections that no caller authenticated.
func (ex *exchange) getConn(ctx context.Context) (*httpconn.Conn, error) {
	if ex.fixed != nil {
		return ex.fixed, nil
	}
	if pin := PinFrom(ex.req.Context()); pin != nil {
		if c := pin.take(ex.key); c != nil {
			ex.pinned = true
			return c, nil
		}
	}
	c, _, err := ex.t.pool.Get(ctx, ex.key)
	return c, err
}

// restartBound drops connection-bound handshakes, which cannot continue
// on a new connection; per-request ones (Basic, Digest) stay.
func (ex *exchange) restartBound() {
	for _, l := range []**leg{&ex.proxy, &ex.origin} {
		if *l != nil && ConnectionBound((*l).cred.Scheme()) {
			*l = nil
		}
	}
}

// preempt starts a handshake before any challenge when this peer
// accepted a scheme before, saving a round trip: Basic and Digest on
// every request, NTLM and Negotiate on connections not yet authenticated.
func (ex *exchange) preempt(conn *httpconn.Conn) {
	t := ex.t
	try := func(peer string, target *Target, slot **leg, creds []Credential) {
		t.mu.Lock()
		k := t.known[peer]
		if k == nil && !conn.Authenticated {
			// A peer not met yet: a credential that asks to be
			// opportunistic goes first, without waiting for a 401.
			for _, c := range creds {
				if o, ok := c.(opportunist); ok && o.Opportunistic() && !t.failed[failKey(peer, c)] {
					k = &knownAuth{cred: c}
					break
				}
			}
		}
		t.mu.Unlock()
		if k == nil || *slot != nil || (ConnectionBound(k.cred.Scheme()) && conn.Authenticated) {
			// A leg in progress (a Digest answer already counted) is
			// kept: a second one would skip a nonce count.
			return
		}
		if !ConnectionBound(k.cred.Scheme()) && k.ch == nil {
			return
		}
		hs, err := k.cred.Start(target)
		if err != nil {
			return
		}
		v, final, err := hs.Next(ex.req.Context(), k.ch)
		if err != nil {
			return
		}
		*slot = &leg{cred: k.cred, hs: hs, value: v, final: final}
		if ConnectionBound(k.cred.Scheme()) {
			t.handshakes.Add(1)
		}
	}
	if ex.proxyURL != nil && ex.toProxy() && len(t.ProxyCredentials) > 0 {
		try(ex.proxyPeer(), ex.target(conn, true), &ex.proxy, t.ProxyCredentials)
	}
	if !ex.connect && len(t.Credentials) > 0 && ex.req.Header.Get("Authorization") == "" {
		try(ex.originPeer(), ex.target(conn, false), &ex.origin, t.Credentials)
	}
}

// opportunist is a Credential that may be sent before any challenge (see
// Negotiate.Opportunistic).
type opportunist interface{ Opportunistic() bool }

// target describes the peer of one side for a handshake.
func (ex *exchange) target(conn *httpconn.Conn, proxy bool) *Target {
	r := ex.req
	if proxy {
		uri := r.URL.String()
		if ex.connect {
			uri = r.URL.Host
		}
		return &Target{Host: ex.proxyURL.Hostname(), Proxy: true, Method: r.Method, URI: uri, Body: ex.bodyForHash()}
	}
	uri := r.URL.RequestURI()
	if ex.proxyForm {
		uri = r.URL.String()
	}
	t := &Target{Host: r.URL.Hostname(), Method: r.Method, URI: uri, Body: ex.bodyForHash()}
	if tc, ok := conn.NetConn().(*tls.Conn); ok {
		if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
			t.ServerCertificate = certs[0]
		}
	}
	return t
}

// bodyForHash returns the body for Digest auth-int when it can be read
// again and is small enough to hash in memory.
func (ex *exchange) bodyForHash() func() ([]byte, error) {
	r := ex.req
	if r.Body == nil || r.Body == http.NoBody {
		return func() ([]byte, error) { return nil, nil }
	}
	if r.GetBody == nil || r.ContentLength < 0 || r.ContentLength > 1<<20 {
		return nil
	}
	return func() ([]byte, error) {
		b, err := r.GetBody()
		if err != nil {
			return nil, err
		}
		defer b.Close()
		return io.ReadAll(io.LimitReader(b, 1<<20))
	}
}

func (ex *exchange) canResend() bool {
	r := ex.req
	return ex.body == nil || !ex.body.used() || r.Body == nil || r.Body == http.NoBody || r.GetBody != nil
}

// onceBody passes the caller's request body to one request at a time and
// records whether any of it was read: one that was not (the connection
// failed first, or "Expect: 100-continue" held it back) can still be sent
// on another connection. Close is left to the exchange, which closes the
// caller's body once, when the request is done (the RoundTripper
// contract), rather than when a failed attempt's Request.Write would.
type onceBody struct {
	rc   io.ReadCloser
	read atomic.Bool
}

func (b *onceBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.rc.Read(p)
}

func (b *onceBody) Close() error { return nil }

func (b *onceBody) used() bool { return b.read.Load() }

// build makes the request for the next leg: the caller's request with the
// current credentials, and with its body only when no side is in the
// middle of a multi-leg handshake (those legs carry an empty body, so a
// large upload is sent once, on the leg that completes authentication).
func (ex *exchange) build(conn *httpconn.Conn) (*http.Request, error) {
	r := ex.req
	out := r.Clone(r.Context())
	ex.probing, ex.harmless = false, false
	if !ex.probed {
		ex.probed = true
		if ex.needsProbe(conn) {
			// Learn whether the peer challenges before spending a
			// large or one-shot body: HEAD is safe (RFC 9110 9.2.1),
			// so a peer that does not challenge does no harm with it.
			ex.probing, ex.harmless = true, true
			out.Method = http.MethodHead
			out.Body, out.ContentLength, out.GetBody, out.TransferEncoding = nil, 0, nil, nil
			return out, nil
		}
	}
	if ex.proxy != nil && ex.proxy.value != "" {
		out.Header.Set("Proxy-Authorization", ex.proxy.value)
	}
	if ex.origin != nil && ex.origin.value != "" {
		out.Header.Set("Authorization", ex.origin.value)
	}
	midHandshake := (ex.proxy != nil && !ex.proxy.final) || (ex.origin != nil && !ex.origin.final)
	// A leg that cannot complete authentication is refused by the peer
	// whatever the request asks: it may be sent again safely.
	ex.harmless = midHandshake
	hasBody := r.Body != nil && r.Body != http.NoBody
	switch {
	case !hasBody:
	case midHandshake:
		out.Body, out.ContentLength, out.GetBody = nil, 0, nil
		out.TransferEncoding = nil
	case ex.body == nil || !ex.body.used():
		if ex.body == nil {
			ex.body = &onceBody{rc: r.Body}
		}
		out.Body = ex.body
	case r.GetBody != nil:
		b, err := r.GetBody()
		if err != nil {
			return nil, fmt.Errorf("auth: replay request body: %w", err)
		}
		out.Body = b
	default:
		return nil, fmt.Errorf("auth: %s %s: %w", r.Method, r.URL.Redacted(), ErrBodyNotReplayable)
	}
	if hasBody && !midHandshake && !conn.Authenticated && out.Header.Get("Expect") == "" &&
		(r.GetBody == nil || r.ContentLength < 0 || r.ContentLength > expectContinueMin) {
		// A large or one-shot body to a peer that has not
		// authenticated this connection yet: ask first (RFC 9110
		// 10.1.1), so that a 401/407 arrives before the body is spent,
		// and the body waits while the peer verifies the credentials.
		// squid with NTLM drops the connection when a large body
		// arrives while its helper is still checking the AUTHENTICATE;
		// curl, too, sends such bodies only after 100 Continue.
		out.Header.Set("Expect", "100-continue")
	}
	if ex.proxy != nil && ex.proxy.final {
		ex.proxy.sent = true
	}
	if ex.origin != nil && ex.origin.final {
		ex.origin.sent = true
	}
	return out, nil
}

// needsProbe reports whether the request's body is large or one-shot and
// goes to a peer that may challenge and that we hold credentials for,
// but that has not authenticated us yet. squid, for one, stops reading a
// large body it is going to refuse, and neither answers nor reads on
// until the client gives up; "Expect: 100-continue" only helps if the
// peer answers before the client's wait for 100 runs out.
func (ex *exchange) needsProbe(conn *httpconn.Conn) bool {
	r := ex.req
	if r.Body == nil || r.Body == http.NoBody || ex.proxy != nil || ex.origin != nil || conn.Authenticated {
		return false
	}
	if r.GetBody != nil && r.ContentLength >= 0 && r.ContentLength <= expectContinueMin {
		return false
	}
	return (ex.toProxy() && len(ex.t.ProxyCredentials) > 0) || (!ex.connect && len(ex.t.Credentials) > 0)
}

// handle reads a response and decides what follows it.
func (ex *exchange) handle(ctx context.Context, conn *httpconn.Conn, resp *http.Response) (step, error) {
	t := ex.t
	switch {
	case resp.StatusCode == http.StatusProxyAuthRequired && ex.toProxy() && len(t.ProxyCredentials) > 0:
		return ex.advance(ctx, &ex.proxy, resp, "Proxy-Authenticate", t.ProxyCredentials, ex.proxyPeer(), ex.target(conn, true))
	case resp.StatusCode == http.StatusUnauthorized && !ex.connect && len(t.Credentials) > 0 && ex.req.Header.Get("Authorization") == "":
		return ex.advance(ctx, &ex.origin, resp, "WWW-Authenticate", t.Credentials, ex.originPeer(), ex.target(conn, false))
	}
	return deliver, nil
}

// advance answers a 401/407: the next leg of the handshake under way, or
// a new one. It returns deliver to hand the response to the caller:
// nothing fits, or the credentials were rejected.
func (ex *exchange) advance(ctx context.Context, slot **leg, resp *http.Response, header string, creds []Credential, peer string, target *Target) (step, error) {
	chs, err := ParseChallenges(resp.Header.Values(header))
	if err != nil {
		return deliver, fmt.Errorf("auth: %s: %w", peer, err)
	}
	l := *slot
	if l == nil {
		return ex.begin(ctx, slot, resp, chs, creds, peer, target)
	}
	ch := findChallenge(chs, l.cred.Scheme())
	if l.sent {
		// Our final leg was answered with another challenge.
		if strings.EqualFold(l.cred.Scheme(), "Digest") && ch != nil && DigestStale(*ch) && l.stale == 0 {
			// stale=true: right password, expired nonce; answer the
			// new nonce once.
			v, final, err := l.hs.Next(ctx, ch)
			if err != nil {
				return deliver, err
			}
			l.value, l.final, l.sent, l.stale = v, final, false, 1
			ex.remember(peer, l.cred, ch)
			return nextLeg, nil
		}
		if ConnectionBound(l.cred.Scheme()) && ch != nil && ch.Token68 != "" {
			// A token in answer to our last one: SPNEGO may go on
			// (the acceptor chose another mechanism). The handshake
			// says ErrRejected when it cannot.
			v, final, err := l.hs.Next(ctx, ch)
			if err == nil {
				l.value, l.final, l.sent = v, final, false
				return nextLeg, nil
			}
			return ex.refused(ctx, slot, resp, chs, creds, peer, target, err)
		}
		return ex.refused(ctx, slot, resp, chs, creds, peer, target, nil)
	}
	if ch == nil {
		// The peer dropped the scheme mid-handshake.
		return ex.refused(ctx, slot, resp, chs, creds, peer, target, nil)
	}
	v, final, err := l.hs.Next(ctx, ch)
	if err != nil {
		if errors.Is(err, ErrRejected) || errors.Is(err, ErrMechanismUnavailable) {
			return ex.refused(ctx, slot, resp, chs, creds, peer, target, err)
		}
		return deliver, err
	}
	l.value, l.final = v, final
	return nextLeg, nil
}

// begin starts a handshake with the strongest credential that can: one
// that cannot start (no Kerberos ticket yet) is passed over for this
// request only, so a ticket that appears later is used.
func (ex *exchange) begin(ctx context.Context, slot **leg, resp *http.Response, chs []Challenge, creds []Credential, peer string, target *Target) (step, error) {
	t := ex.t
	for _, c := range t.candidates(peer, creds, chs, target) {
		hs, err := c.cred.Start(target)
		var v string
		var final bool
		if err == nil {
			v, final, err = hs.Next(ctx, c.ch)
		}
		if err != nil {
			if errors.Is(err, ErrRejected) && !errors.Is(err, ErrMechanismUnavailable) {
				// A password judged on the way (a KDC refused it while
				// getting a ticket): it counts toward lockout, so no
				// other scheme may try it again.
				t.reject(peer, c.cred, true, false)
				t.logger().Warn("auth: credential refused before the peer saw it", "peer", peer, "scheme", c.cred.Scheme(), "identity", c.cred.Identity(), "err", err)
				return deliver, nil
			}
			t.logger().Info("auth: credential cannot answer", "peer", peer, "scheme", c.cred.Scheme(), "identity", c.cred.Identity(), "err", err)
			continue
		}
		*slot = &leg{cred: c.cred, hs: hs, value: v, final: final}
		t.handshakes.Add(1)
		t.logger().Debug("auth: handshake", "peer", peer, "scheme", c.cred.Scheme(), "identity", c.cred.Identity(), "status", resp.StatusCode)
		ex.remember(peer, c.cred, c.ch)
		return nextLeg, nil
	}
	return deliver, nil
}

// refused ends the handshake in the slot, which the peer did not accept.
// Where no password was put to the test (a Kerberos ticket the server
// could not use, a mechanism it does not take), the next scheme the peer
// offers is tried on the same response: Negotiate falls back to NTLM.
// A refused password is never offered again, in any scheme (domain
// accounts lock out after a few failures), so then the response goes to
// the caller.
func (ex *exchange) refused(ctx context.Context, slot **leg, resp *http.Response, chs []Challenge, creds []Credential, peer string, target *Target, cause error) (step, error) {
	t := ex.t
	l := *slot
	spent := spentSecret(l.hs, cause)
	t.reject(peer, l.cred, spent, false)
	t.logger().Debug("auth: credentials rejected", "peer", peer, "scheme", l.cred.Scheme(), "identity", l.cred.Identity(), "status", resp.StatusCode, "password_refused", spent)
	*slot = nil
	if spent {
		return deliver, nil
	}
	return ex.begin(ctx, slot, resp, chs, creds, peer, target)
}

// spentSecret reports whether a failed handshake put a password (or key
// derived from one) to the peer's test. Only a handshake that says which
// mechanism it ran can prove it did not: Kerberos sends a ticket, which a
// server that cannot use it refuses without judging any password.
func spentSecret(hs Handshake, cause error) bool {
	if errors.Is(cause, ErrMechanismUnavailable) {
		return false
	}
	if m, ok := hs.(interface{ Mechanism() string }); ok {
		return !strings.EqualFold(m.Mechanism(), "kerberos")
	}
	return true
}

// succeed records what worked, after a response that needs no more legs.
// A handshake whose Finish fails (Negotiate's mutual authentication: the
// server did not prove itself; Digest's rspauth in Authentication-Info,
// see infoFinisher) fails the request: the response came from
// a server that was not authenticated and is not handed to the caller.
func (ex *exchange) succeed(conn *httpconn.Conn, resp *http.Response) error {
	for _, side := range []struct {
		l            *leg
		header, info string
		peer         func() string
	}{{ex.proxy, "Proxy-Authenticate", "Proxy-Authentication-Info", ex.proxyPeer}, {ex.origin, "WWW-Authenticate", "Authentication-Info", ex.originPeer}} {
		l := side.l
		if l == nil || !l.sent {
			continue
		}
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusProxyAuthRequired {
			continue
		}
		var ch *Challenge
		if chs, err := ParseChallenges(resp.Header.Values(side.header)); err == nil {
			ch = findChallenge(chs, l.cred.Scheme())
		}
		err := l.hs.Finish(ch)
		if f, ok := l.hs.(infoFinisher); ok && err == nil {
			err = f.FinishInfo(resp.Header.Values(side.info))
		}
		if err != nil {
			ex.t.reject(side.peer(), l.cred, false, true)
			ex.t.logger().Warn("auth: server authentication failed", "peer", side.peer(), "scheme", l.cred.Scheme(), "err", err)
			return fmt.Errorf("auth: %s: %w", side.peer(), err)
		}
		if ConnectionBound(l.cred.Scheme()) {
			conn.Authenticated = true
			conn.Scheme = l.cred.Scheme()
			var who Report
			who.record(false, l.cred, l.hs)
			conn.Mechanism, conn.Principal = who.OriginMechanism, who.OriginIdentity
		}
	}
	return nil
}

// report fills in the caller's Report, if the request's context has one.
func (ex *exchange) report(conn *httpconn.Conn) {
	r := ReportFrom(ex.req.Context())
	if r == nil {
		return
	}
	// The connection's own scheme counts for the side it authenticated:
	// the proxy for a proxy connection, the origin otherwise.
	connSide := &r.OriginScheme
	if ex.toProxy() {
		connSide = &r.ProxyScheme
	}
	if conn.Authenticated {
		*connSide = conn.Scheme
		if ex.toProxy() {
			r.ProxyMechanism, r.ProxyIdentity = conn.Mechanism, conn.Principal
		} else {
			r.OriginMechanism, r.OriginIdentity = conn.Mechanism, conn.Principal
		}
	}
	if ex.proxy != nil {
		r.ProxyScheme = ex.proxy.cred.Scheme()
		r.Handshake = r.Handshake || ConnectionBound(r.ProxyScheme)
		r.record(true, ex.proxy.cred, ex.proxy.hs)
	}
	if ex.origin != nil {
		r.OriginScheme = ex.origin.cred.Scheme()
		r.Handshake = r.Handshake || ConnectionBound(r.OriginScheme)
		r.record(false, ex.origin.cred, ex.origin.hs)
	}
}

// remember records the scheme a peer asked for, so later requests start
// with it.
func (ex *exchange) remember(peer string, cred Credential, ch *Challenge) {
	t := ex.t
	t.mu.Lock()
	defer t.mu.Unlock()
	t.known[peer] = &knownAuth{cred: cred, ch: ch}
}

func failKey(peer string, c Credential) string { return peer + "|" + c.Scheme() + "|" + c.Identity() }

// reject marks a credential as refused by a peer: it is not offered there
// again (until ResetRejections), so a wrong password cannot lock an
// account out through repeated attempts.
// spent tells whether a password was refused, as opposed to a ticket or
// a mechanism the peer does not take; mutual, that the peer failed to
// prove itself instead (see Rejection.MutualFailed).
func (t *Transport) reject(peer string, c Credential, spent, mutual bool) {
	t.mu.Lock()
	k := failKey(peer, c)
	first := !t.failed[k]
	t.failed[k] = true
	if k := t.known[peer]; k != nil && k.cred == c {
		delete(t.known, peer)
	}
	t.mu.Unlock()
	if first && t.OnReject != nil {
		kind, addr, _ := strings.Cut(peer, " ")
		t.OnReject(Rejection{Peer: addr, Proxy: kind == "proxy", Scheme: c.Scheme(), Identity: c.Identity(), Password: spent, MutualFailed: mutual})
	}
}

// Rejection describes a credential that a peer refused.
type Rejection struct {
	// Peer is the proxy or origin that refused, as scheme://host:port.
	Peer string
	// Proxy is set when the peer is a proxy (a 407), not an origin.
	Proxy bool
	// Scheme and Identity name the refused credential, as its methods
	// do; never a secret.
	Scheme, Identity string
	// Password is set when the peer refused a password (or NT hash):
	// the one case that counts toward an account's lockout. A Kerberos
	// ticket the peer could not use, or a server that failed mutual
	// authentication, leaves it unset.
	Password bool
	// MutualFailed is set when the peer took the credential but did not
	// prove its own identity (Negotiate's mutual authentication: no
	// valid AP-REP; Digest: a wrong rspauth in Authentication-Info). Nothing was refused: the peer may not be the one
	// the SPN names, and is sent no more tokens.
	MutualFailed bool
}

// ResetRejections forgets which credentials peers rejected, for example
// after the user entered a new password.
func (t *Transport) ResetRejections() {
	t.init()
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.failed)
}

// candidate is a credential with the challenge it would answer.
type candidate struct {
	cred Credential
	ch   *Challenge
}

// candidates lists the credentials whose scheme the peer offers, strongest
// first, leaving out those the peer rejected and Basic where it may not go.
func (t *Transport) candidates(peer string, creds []Credential, chs []Challenge, target *Target) []candidate {
	sorted := append([]Credential(nil), creds...)
	sort.SliceStable(sorted, func(i, j int) bool { return rank(sorted[i].Scheme()) < rank(sorted[j].Scheme()) })
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []candidate
	for _, c := range sorted {
		if t.failed[failKey(peer, c)] {
			continue
		}
		if strings.EqualFold(c.Scheme(), "Basic") && !target.Proxy && !t.AllowBasicOverHTTP && target.ServerCertificate == nil {
			continue
		}
		var ch *Challenge
		if strings.EqualFold(c.Scheme(), "Digest") {
			if d, ok := PreferDigest(chs); ok {
				ch = &d
			}
		} else {
			ch = findChallenge(chs, c.Scheme())
		}
		if ch != nil {
			out = append(out, candidate{c, ch})
		}
	}
	return out
}

func findChallenge(chs []Challenge, scheme string) *Challenge {
	for i := range chs {
		if strings.EqualFold(chs[i].Scheme, scheme) {
			return &chs[i]
		}
	}
	return nil
}

// sanitizedResponse is resp with nothing of the server's but its status
// code (see Transport.SanitizeMutualErrors): not its reason phrase, none
// of its headers (cookies, Location, WWW-Authenticate), no trailers, no
// body.
func sanitizedResponse(resp *http.Response) *http.Response {
	status := strconv.Itoa(resp.StatusCode)
	if text := http.StatusText(resp.StatusCode); text != "" {
		status += " " + text
	}
	return &http.Response{
		Status: status, StatusCode: resp.StatusCode,
		Proto: resp.Proto, ProtoMajor: resp.ProtoMajor, ProtoMinor: resp.ProtoMinor,
		Header:        http.Header{"Content-Length": {"0"}},
		Body:          http.NoBody,
		ContentLength: 0,
		Request:       resp.Request,
	}
}
