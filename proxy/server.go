package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sesame-auth/sesame/auth"
)

// Defaults of a Server.
const (
	DefaultDialTimeout   = 15 * time.Second
	DefaultTunnelIdle    = 10 * time.Minute
	maxRequestHeaderSize = 64 << 10
)

// Server is the proxy: an http.Handler for requests from clients. Configure
// it before use; it is then safe for concurrent use.
type Server struct {
	// Router chooses each request's route; nil means DIRECT always.
	Router Router
	// Upstreams, if set, learns which upstream proxies fail to connect,
	// for failover.
	Upstreams *Upstreams
	// Transport carries requests upstream and answers the upstream's
	// authentication (its ProxyCredentials). Required. The first Server
	// to use it sets its Proxy (to ContextRoute) and wraps its OnReject;
	// it may then be handed to a later Server (a reload), which changes
	// none of its fields.
	Transport *auth.Transport
	// AllowedClients are the networks whose clients are served; empty
	// means loopback only. A request from elsewhere gets 403.
	AllowedClients []netip.Prefix
	// AllowLoopbackTargets lets clients of a gateway (AllowedClients set)
	// reach the proxy host's loopback, unspecified and own addresses
	// (squid's to_localhost); without it those targets are refused in
	// gateway mode. With loopback clients only they are always allowed.
	AllowLoopbackTargets bool
	// Listeners are the addresses (host:port) the proxy listens on, so
	// that a route leading back to the proxy itself is refused.
	Listeners []string
	// DialTimeout bounds connecting to an upstream or a DIRECT target.
	DialTimeout time.Duration
	// TunnelIdle closes a CONNECT tunnel with no traffic either way for
	// this long.
	TunnelIdle time.Duration
	// Logger gets one access record per request (never a credential).
	Logger *slog.Logger

	// FromClient, if set, is NTLM-to-Basic mode (cntlm's NTLMToBasic):
	// clients authenticate to sesame with Basic as DOMAIN\user and
	// password, and sesame answers the upstream as that user, with the
	// credentials FromClient makes. Transport's own credentials are not
	// used then.
	FromClient ClientCredentials
	// CredentialUpstreams, when not empty, lists the upstream proxies
	// (host:port) that get credentials at all; others are used without
	// (pass-through), so a PAC file cannot send the account to a proxy
	// nobody vetted.
	CredentialUpstreams []string
	// RefusedHint tells people how to correct a refused credential
	// ("store the right password with ..., then ..."), for the log line
	// and the page clients get.
	RefusedHint string

	// Counters, if set, are shared with an earlier Server (a reloaded
	// configuration keeps counting); nil means the Server's own.
	Counters *Stats

	once    sync.Once
	stats   *Stats
	dialer  net.Dialer
	recent  recentErrors
	aborted recentErrors    // client cancellations, kept apart from errors
	plain   *auth.Transport // no credentials: upstreams off the allow-list
	state   *transportState // beside Transport: its refused credentials
	clients clientTransports
}

// Stats are a server's counters.
type Stats struct {
	Requests, Tunnels, ActiveTunnels, Errors atomic.Int64
	// InFlight counts the requests being served now, tunnels included:
	// what a shutdown waits for.
	InFlight atomic.Int64
	// AuthRejected counts credentials an upstream refused (see
	// auth.Transport.OnReject).
	AuthRejected atomic.Int64
	// Canceled counts requests the client gave up on (closed its
	// connection before the answer was through, as a browser does when
	// the user navigates away): not errors of the proxy or the route.
	Canceled atomic.Int64

	clientRefused clientRefusals
}

type routeKey struct{}

func (s *Server) init() {
	s.once.Do(func() {
		s.stats = s.Counters
		if s.stats == nil {
			s.stats = &Stats{}
		}
		s.state = s.adopt(s.Transport)
		s.plain = &auth.Transport{Logger: s.logger(), Proxy: ContextRoute}
		s.dialer = net.Dialer{Timeout: s.dialTimeout(), KeepAlive: 30 * time.Second, ControlContext: s.checkDirectDial}
	})
}

// Stats returns the server's counters.
func (s *Server) Stats() *Stats {
	s.init()
	return s.stats
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Server) dialTimeout() time.Duration {
	if s.DialTimeout > 0 {
		return s.DialTimeout
	}
	return DefaultDialTimeout
}

func (s *Server) tunnelIdle() time.Duration {
	if s.TunnelIdle > 0 {
		return s.TunnelIdle
	}
	return DefaultTunnelIdle
}

// allowed reports whether the client at remote may use the proxy.
func (s *Server) allowed(remote string) bool {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap()
	if len(s.AllowedClients) == 0 {
		return a.IsLoopback()
	}
	for _, p := range s.AllowedClients {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ServeHTTP serves one client request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.init()
	s.stats.Requests.Add(1)
	s.stats.InFlight.Add(1)
	defer s.stats.InFlight.Add(-1)
	// The Transport reports how it authenticated, for the access log.
	r = r.WithContext(auth.WithReport(r.Context(), &auth.Report{}))
	if !s.allowed(r.RemoteAddr) {
		s.logger().Warn("proxy: client not allowed", "client", r.RemoteAddr)
		http.Error(w, "sesame: your address is not allowed to use this proxy", http.StatusForbidden)
		return
	}
	if r = s.screen(w, r); r == nil {
		return // a loop, or a gateway client's target on this host (gateway.go)
	}
	if r.Method == http.MethodConnect {
		s.connect(w, r)
		return
	}
	if !r.URL.IsAbs() || r.URL.Host == "" {
		http.Error(w, "sesame is a proxy: send requests in absolute form (set HTTP_PROXY to this address)", http.StatusBadRequest)
		return
	}
	if r.URL.Scheme != "http" {
		http.Error(w, "sesame: only http:// URLs are forwarded; https goes through CONNECT", http.StatusBadRequest)
		return
	}
	s.forward(w, r)
}

// hopHeaders are meaningful only for one connection (RFC 9110 7.6.1) and
// are never passed on; neither are the headers Connection names.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func removeHopHeaders(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				h.Del(f)
			}
		}
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
}

// forward relays a plain-HTTP request upstream (or direct) and streams
// the response back.
func (s *Server) forward(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Close = false
	upgrade := upgradeProtocol(r.Header)
	removeHopHeaders(out.Header)
	if upgrade != "" {
		// Upgrade and Connection are hop-by-hop, but a proxy passes an
		// upgrade on (RFC 9110 7.8): WebSocket through a plain-HTTP proxy.
		out.Header.Set("Connection", "Upgrade")
		out.Header.Set("Upgrade", upgrade)
	}
	if r.ContentLength == 0 {
		out.Body = nil
	}
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header.Set("User-Agent", "") // keep Go from adding its own
	}
	var resp *http.Response
	routes, err := s.routes(r.URL)
	var route *url.URL
	if err == nil {
		route, err = s.tryRoutes(routes, func(rt *url.URL) (err error) {
			tr, ok := s.transportFor(w, r, rt)
			if !ok {
				return errClientAuth
			}
			ctx := context.WithValue(r.Context(), routeKey{}, rt)
			resp, err = tr.RoundTrip(out.WithContext(ctx))
			return err
		})
	}
	if errors.Is(err, errClientAuth) {
		s.access(r, route, http.StatusProxyAuthRequired, 0, start, nil)
		return
	}
	if err != nil && clientGone(r, err) {
		s.access(r, route, statusClientClosed, 0, start, err)
		return
	}
	if err != nil {
		s.stats.Errors.Add(1)
		status := http.StatusBadGateway
		if errors.Is(err, ErrForbiddenTarget) {
			status = http.StatusForbidden
		}
		s.access(r, route, status, 0, start, err)
		http.Error(w, "sesame: "+err.Error(), status)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		s.switchProtocols(w, r, route, resp, start)
		return
	}
	if resp.StatusCode == http.StatusProxyAuthRequired && s.FromClient != nil {
		// The upstream refused the client's account: ask the client
		// again, so its user can correct the password.
		s.access(r, route, resp.StatusCode, 0, start, nil)
		askClientForBasic(w)
		return
	}
	if resp.StatusCode == http.StatusProxyAuthRequired && s.explainRefusal(w, r, route, start) {
		return
	}
	removeHopHeaders(resp.Header)
	for k, vv := range resp.Header {
		w.Header()[k] = vv
	}
	w.WriteHeader(resp.StatusCode)
	n, copyErr := copyFlushing(w, resp.Body)
	s.access(r, route, resp.StatusCode, n, start, copyErr)
}

// upgradeProtocol returns the protocol a request asks to upgrade to
// (Connection: Upgrade plus Upgrade: websocket), or "".
func upgradeProtocol(h http.Header) string {
	for _, v := range h.Values("Connection") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "upgrade") {
				return h.Get("Upgrade")
			}
		}
	}
	return ""
}

// switchProtocols completes an upgrade: the 101 goes to the client, and
// from then on bytes are relayed both ways as in a tunnel.
func (s *Server) switchProtocols(w http.ResponseWriter, r *http.Request, route *url.URL, resp *http.Response, start time.Time) {
	upstream, ok := resp.Body.(net.Conn)
	if !ok {
		http.Error(w, "sesame: upstream switched protocols without a connection", http.StatusBadGateway)
		return
	}
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		upstream.Close()
		s.access(r, route, http.StatusInternalServerError, 0, start, err)
		return
	}
	// The 101 as received, with its Connection and Upgrade headers: they
	// are what the client's side of the upgrade needs.
	fmt.Fprintf(brw, "HTTP/1.1 101 %s\r\n", http.StatusText(http.StatusSwitchingProtocols))
	resp.Header.Write(brw)
	brw.WriteString("\r\n")
	if err := brw.Flush(); err != nil {
		client.Close()
		upstream.Close()
		return
	}
	s.stats.Tunnels.Add(1)
	s.stats.ActiveTunnels.Add(1)
	defer s.stats.ActiveTunnels.Add(-1)
	n := s.relay(client, brw.Reader, upstream)
	s.access(r, route, http.StatusSwitchingProtocols, n, start, nil)
}

// copyFlushing copies a response body, flushing after each read so that
// streamed responses (server-sent events, long polls) are not held back.
func copyFlushing(w http.ResponseWriter, body io.Reader) (int64, error) {
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	var n int64
	for {
		k, err := body.Read(buf)
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return n, werr
			}
			n += int64(k)
			rc.Flush()
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// tryRoutes runs attempt on each route in turn until one succeeds. Only a
// failure to connect to an upstream moves on to the next route: then
// nothing was sent, and the request can go elsewhere. It returns the last
// route tried.
func (s *Server) tryRoutes(routes []*url.URL, attempt func(*url.URL) error) (*url.URL, error) {
	var err error
	for i, rt := range routes {
		if err = attempt(rt); err == nil {
			s.healthy(rt)
			return rt, nil
		}
		if !isDialError(err) || rt == nil {
			return rt, err
		}
		s.failed(rt, err)
		if i == len(routes)-1 {
			return rt, err
		}
	}
	return nil, err
}

func (s *Server) routes(target *url.URL) (rs []*url.URL, err error) {
	defer func() { rs, err = s.screenRoutes(target, rs, err) }() // gateway.go
	if s.Router == nil {
		return []*url.URL{nil}, nil
	}
	rs, err = s.Router.Route(target)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return []*url.URL{nil}, nil
	}
	return rs, nil
}

func (s *Server) failed(u *url.URL, err error) {
	s.logger().Warn("proxy: upstream unreachable", "upstream", u.Host, "err", err)
	if s.Upstreams != nil {
		s.Upstreams.Fail(u)
	}
}

func (s *Server) healthy(u *url.URL) {
	if u != nil && s.Upstreams != nil {
		s.Upstreams.OK(u)
	}
}

// errClientAuth ends a request whose client must authenticate to sesame
// first (NTLM-to-Basic); the 407 has been written.
var errClientAuth = errors.New("proxy: client authentication required")

// statusClientClosed is nginx's 499 for the access log: the client
// closed the connection before the answer; nothing was sent to it.
const statusClientClosed = 499

// clientGone reports whether err comes from the client giving up on r
// rather than from the route or the proxy: its connection closed, so the
// request's context was cancelled, and whatever was waiting for the
// upstream stopped (context canceled, or the read deadline the
// connection sets to interrupt a body read).
func clientGone(r *http.Request, err error) bool {
	return err != nil && errors.Is(r.Context().Err(), context.Canceled)
}

// isDialError reports a failure to connect at all, after which another
// route can be tried without the request having been sent.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func (s *Server) access(r *http.Request, route *url.URL, status int, bytes int64, start time.Time, err error) {
	via := "DIRECT"
	if route != nil {
		via = route.Host
	}
	target := r.Host
	if r.Method != http.MethodConnect {
		target = r.URL.Redacted()
	}
	scheme, handshake := "none", false
	var who []any
	if rep := auth.ReportFrom(r.Context()); rep != nil {
		if rep.ProxyScheme != "" {
			scheme = rep.ProxyScheme
		}
		handshake = rep.Handshake
		if rep.ProxyMechanism != "" {
			// Which mechanism and principal answered: "kerberos as
			// alice@CORP.TEST" tells at once whether the named account
			// or an ambient ticket spoke.
			who = []any{"mechanism", rep.ProxyMechanism, "principal", rep.ProxyIdentity}
		}
	}
	attrs := []any{"client", r.RemoteAddr, "method", r.Method, "url", target, "upstream", via, "auth", scheme}
	attrs = append(attrs, who...)
	attrs = append(attrs, "handshake", handshake, "status", status, "bytes", bytes, "duration", time.Since(start).Round(time.Microsecond))
	if err != nil {
		attrs = append(attrs, "err", err.Error())
		e := RecentError{Time: time.Now(), Method: r.Method, Target: target, Upstream: via, Err: err.Error()}
		if clientGone(r, err) {
			s.stats.Canceled.Add(1)
			s.aborted.add(e)
		} else {
			s.recent.add(e)
		}
	}
	s.logger().Info("access", attrs...)
}

// connect opens a tunnel for a CONNECT request: through an upstream proxy
// (authenticated by the Transport) or direct, then relays bytes both ways.
func (s *Server) connect(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	target := r.Host
	host, port, err := net.SplitHostPort(target)
	if err != nil || host == "" || port == "" {
		http.Error(w, "sesame: CONNECT needs host:port", http.StatusBadRequest)
		return
	}
	var upstream net.Conn
	routes, err := s.routes(&url.URL{Host: target})
	var route *url.URL
	if err == nil {
		route, err = s.tryRoutes(routes, func(rt *url.URL) (err error) {
			ctx, cancel := context.WithTimeout(r.Context(), 2*s.dialTimeout())
			defer cancel()
			if rt == nil {
				upstream, err = s.dialer.DialContext(ctx, "tcp", target)
				return err
			}
			tr, ok := s.transportFor(w, r, rt)
			if !ok {
				return errClientAuth
			}
			upstream, err = tr.DialTunnel(ctx, rt, target)
			return err
		})
	}
	var refused *auth.ProxyConnectError
	if errors.Is(err, errClientAuth) || (s.FromClient != nil && errors.As(err, &refused) && refused.StatusCode == http.StatusProxyAuthRequired) {
		if !errors.Is(err, errClientAuth) {
			askClientForBasic(w)
		}
		s.access(r, route, http.StatusProxyAuthRequired, 0, start, nil)
		return
	}
	if err != nil && s.explainConnectRefusal(w, r, route, start, err) {
		return
	}
	if err != nil && clientGone(r, err) {
		s.access(r, route, statusClientClosed, 0, start, err)
		return
	}
	if err != nil {
		s.stats.Errors.Add(1)
		status := http.StatusBadGateway
		var pce *auth.ProxyConnectError
		if errors.As(err, &pce) && pce.StatusCode == http.StatusForbidden || errors.Is(err, ErrForbiddenTarget) {
			status = http.StatusForbidden
		}
		s.access(r, route, status, 0, start, err)
		http.Error(w, "sesame: "+err.Error(), status)
		return
	}
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		upstream.Close()
		s.access(r, route, http.StatusInternalServerError, 0, start, err)
		return
	}
	s.stats.Tunnels.Add(1)
	s.stats.ActiveTunnels.Add(1)
	defer s.stats.ActiveTunnels.Add(-1)
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		client.Close()
		upstream.Close()
		return
	}
	n := s.relay(client, brw.Reader, upstream)
	s.access(r, route, http.StatusOK, n, start, nil)
}

// Serve serves on ln until ctx is cancelled, then shuts down gracefully:
// open requests get up to 10 s; open tunnels run on until their peers or
// the idle timeout close them.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return Serve(ctx, ln, s, s.logger())
}

// Serve serves h (a Server, or a Switch between Servers) on ln until ctx
// is cancelled, then shuts down gracefully: requests in progress get up
// to 10 s.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	hard := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(10*time.Second, func() { close(hard) }) })
	defer stop()
	return ServeDrain(ctx, hard, ln, h, logger)
}

// ServeDrain is Serve with the end of the drain in the caller's hands:
// when ctx is cancelled the listener closes and requests in progress run
// on until they end or hard is closed (a second Ctrl-C), when the
// connections close at once. Tunnels (hijacked connections) are not
// waited for: see Stats.InFlight. It returns nil after a shutdown.
func ServeDrain(ctx context.Context, hard <-chan struct{}, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    maxRequestHeaderSize,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	PinConnections(hs)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-hard:
			cancel()
		case <-sctx.Done():
		}
	}()
	if err := hs.Shutdown(sctx); err != nil {
		// Stopped at once, as asked: what was still running is cut.
		hs.Close()
	}
	return nil
}

// PinConnections gives each client connection of hs an auth.Pin in its
// requests' context, closed with the connection: an upstream connection
// on which a client authenticated itself (NTLM or Negotiate with an
// origin) then serves that client connection alone, and is closed with
// it (squid's connection pinning). It sets hs.ConnContext and
// hs.ConnState, calling any that were set before.
func PinConnections(hs *http.Server) {
	var pins sync.Map // net.Conn -> *auth.Pin
	prevContext, prevState := hs.ConnContext, hs.ConnState
	hs.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if prevContext != nil {
			ctx = prevContext(ctx, c)
		}
		p := auth.NewPin()
		pins.Store(c, p)
		return auth.WithPin(ctx, p)
	}
	hs.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateClosed || st == http.StateHijacked {
			if p, ok := pins.LoadAndDelete(c); ok {
				p.(*auth.Pin).Close()
			}
		}
		if prevState != nil {
			prevState(c, st)
		}
	}
}

// Switch is an http.Handler that serves each request with the current
// Server, so that a reloaded configuration takes over for new requests
// while listeners, and requests already running, carry on.
type Switch struct{ cur atomic.Pointer[Server] }

// Store makes s the Server for new requests.
func (sw *Switch) Store(s *Server) { sw.cur.Store(s) }

// Load returns the current Server.
func (sw *Switch) Load() *Server { return sw.cur.Load() }

// ServeHTTP implements http.Handler.
func (sw *Switch) ServeHTTP(w http.ResponseWriter, r *http.Request) { sw.cur.Load().ServeHTTP(w, r) }
