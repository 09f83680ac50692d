package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sesame-auth/sesame/auth"
)

// ContextRoute is the Proxy function of every Transport a Server uses:
// the route the Server chose for an attempt travels in the request's
// context. It never changes, so a Transport handed from one Server to the
// next (a reload that keeps the credentials) needs no new one.
func ContextRoute(r *http.Request) (*url.URL, error) {
	u, _ := r.Context().Value(routeKey{}).(*url.URL)
	return u, nil
}

// adopted holds, for each Transport given to a Server as its Transport,
// what the Servers keep beside it. A Transport may outlive its Server (a
// reload hands it on), so it is configured (Proxy, OnReject) only once,
// by the first Server that meets it, and its fields are never written
// again: a write while another Server's requests read them is a data
// race. Server.Close forgets it.
var adopted sync.Map // *auth.Transport -> *transportState

// transportState follows one adopted Transport across Servers.
type transportState struct {
	// sink is the current Server's: counters, log, hint.
	sink atomic.Pointer[Server]

	mu      sync.Mutex
	refused map[string]RefusedCredential // peer|scheme|identity -> refusal
}

// RefusedCredential is a credential an upstream refused, for the status
// page: never a secret.
type RefusedCredential struct {
	Time     time.Time
	Upstream string // host:port of the proxy that refused
	Scheme   string
	Identity string
	// Client is set for NTLM-to-Basic mode: the client address whose
	// account was refused.
	Client string
	// MutualFailed: the upstream took the credential but failed to prove
	// its own identity (auth.Rejection.MutualFailed); the account itself
	// was not refused.
	MutualFailed bool
}

// adopt configures s.Transport for the Server once per Transport, and
// makes this Server the one that hears of its refused credentials.
func (s *Server) adopt(tr *auth.Transport) *transportState {
	st := &transportState{refused: make(map[string]RefusedCredential)}
	v, loaded := adopted.LoadOrStore(tr, st)
	st = v.(*transportState)
	st.sink.Store(s)
	if !loaded {
		tr.Proxy = ContextRoute
		prev := tr.OnReject
		tr.OnReject = func(r auth.Rejection) {
			if prev != nil {
				prev(r)
			}
			st.reject(r)
		}
	}
	return st
}

func (st *transportState) reject(r auth.Rejection) {
	if !r.Proxy {
		return
	}
	r.Peer = peerHostPort(r.Peer)
	s := st.sink.Load()
	rc := RefusedCredential{Time: time.Now(), Upstream: r.Peer, Scheme: r.Scheme, Identity: r.Identity, MutualFailed: r.MutualFailed}
	st.mu.Lock()
	st.refused[r.Peer+"|"+r.Scheme+"|"+r.Identity] = rc
	st.mu.Unlock()
	s.stats.AuthRejected.Add(1)
	attrs := []any{"upstream", r.Peer, "scheme", r.Scheme, "identity", r.Identity}
	if s.RefusedHint != "" {
		attrs = append(attrs, "fix", s.RefusedHint)
	}
	if r.MutualFailed {
		s.logger().Warn("proxy: the upstream proxy failed mutual authentication (it did not prove it holds the service key of its SPN); no more tokens are sent to it until a reload (SIGHUP)", attrs...)
		return
	}
	s.logger().Warn("proxy: the upstream proxy refused the configured credential; it is not offered there again until corrected", attrs...)
}

// refusedAt reports whether the upstream at peer (host:port) refused one
// of the Transport's credentials since the last reset, and whether every
// such refusal was a failed mutual authentication rather than a refused
// account.
func (st *transportState) refusedAt(peer string) (refused, mutualOnly bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	mutualOnly = true
	for _, rc := range st.refused {
		if rc.Upstream == peer {
			refused = true
			mutualOnly = mutualOnly && rc.MutualFailed
		}
	}
	return refused, refused && mutualOnly
}

func (st *transportState) list() []RefusedCredential {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]RefusedCredential, 0, len(st.refused))
	for _, rc := range st.refused {
		out = append(out, rc)
	}
	return out
}

// clientRefusals keeps the latest refusals of NTLM-to-Basic clients'
// accounts for the status page.
type clientRefusals struct {
	mu   sync.Mutex
	list []RefusedCredential
}

func (c *clientRefusals) add(rc RefusedCredential) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, rc)
	if len(c.list) > maxRecentErrors {
		c.list = c.list[len(c.list)-maxRecentErrors:]
	}
}

func (c *clientRefusals) snapshot() []RefusedCredential {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.list)
}

// Refused lists the credentials that upstreams refused and that are not
// offered to them again: the configured ones (until ResetRejections or a
// new Transport) and the latest of NTLM-to-Basic clients (for
// refusedWindow). Newest first.
func (s *Server) Refused() []RefusedCredential {
	s.init()
	out := s.state.list()
	for _, rc := range s.stats.clientRefused.snapshot() {
		if time.Since(rc.Time) <= refusedWindow {
			out = append(out, rc) // not tried again yet
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out
}

// ResetRejections makes the Server offer refused credentials again, for
// instance after a reload: the password may have been corrected where
// sesame reads it (the OS keyring, a file).
func (s *Server) ResetRejections() {
	s.init()
	s.Transport.ResetRejections()
	s.state.mu.Lock()
	clear(s.state.refused)
	s.state.mu.Unlock()
}

// Close closes the idle upstream connections of every Transport the
// Server made or was given, and forgets them: for a reload that replaces
// the Transport, and at shutdown. Connections in use close when their
// requests end. Do not Close a Server whose Transport a newer Server
// took over (CloseClients closes only what the Server made itself).
func (s *Server) Close() {
	s.init()
	s.CloseClients()
	s.Transport.CloseIdleConnections()
	adopted.Delete(s.Transport)
}

// CloseClients closes the idle connections of the Transports the Server
// made itself (the credential-less one and NTLM-to-Basic clients') and
// forgets the clients' Transports.
func (s *Server) CloseClients() {
	s.init()
	s.plain.CloseIdleConnections()
	c := &s.clients
	c.mu.Lock()
	trs := make([]*auth.Transport, 0, len(c.byKey))
	for _, tr := range c.byKey {
		trs = append(trs, tr)
	}
	c.byKey, c.order = nil, nil
	c.mu.Unlock()
	for _, tr := range trs {
		tr.CloseIdleConnections()
	}
}

// ourCredentialsFor reports whether requests on route carry the
// configured credentials (not NTLM-to-Basic, not an upstream off the
// credential allow-list, not DIRECT).
func (s *Server) ourCredentialsFor(route *url.URL) bool {
	if route == nil || s.FromClient != nil || len(s.Transport.ProxyCredentials) == 0 {
		return false
	}
	return len(s.CredentialUpstreams) == 0 || slices.Contains(s.CredentialUpstreams, route.Host)
}

// explainRefusal answers a client whose request met the upstream's 407
// although sesame holds credentials for that upstream: they were refused
// (now or earlier), or none fits the schemes it offers. Passing the 407
// on would say nothing useful (squid's "Cache Access Denied", and a 407
// the client cannot answer: it does not authenticate to sesame), so the
// client gets a 502 from sesame saying what went wrong and how to fix
// it. It returns false, writing nothing, when the 407 is not about
// sesame's credentials.
func (s *Server) explainRefusal(w http.ResponseWriter, r *http.Request, route *url.URL, start time.Time) bool {
	if !s.ourCredentialsFor(route) {
		return false
	}
	var msg, details string
	refused, mutualOnly := s.state.refusedAt(canonicalHostPort(route))
	switch {
	case waitingForTicket(s.Transport.ProxyCredentials):
		details = "no Kerberos ticket yet"
		msg = fmt.Sprintf("the upstream proxy %s asks for Kerberos (Negotiate), and sesame has no ticket yet: run kinit; sesame uses the ticket as soon as it is there, without a restart.", route.Host)
	case mutualOnly:
		details = "the upstream proxy failed mutual authentication"
		msg = fmt.Sprintf("the upstream proxy %s took sesame's credential (%s) but did not prove its own identity (mutual authentication failed: for Negotiate no valid AP-REP, for Digest a wrong rspauth), so sesame sends it no more tokens: it may not be the proxy its name says, or its key does not match. If this proxy is known never to answer Negotiate with an AP-REP, set auth.mutual = \"optional\"; after fixing, reload with SIGHUP.",
			route.Host, describeList(s.Transport.ProxyCredentials))
	case refused:
		details = "the upstream proxy refused the configured credentials"
		msg = fmt.Sprintf("the upstream proxy %s refused the account sesame is configured with (%s), so sesame stopped offering it (an account locks after a few failures).",
			route.Host, describeList(s.Transport.ProxyCredentials))
		if s.RefusedHint != "" {
			msg += " To fix: " + s.RefusedHint + "."
		}
	default:
		details = "no configured credential fits the upstream proxy's challenge"
		msg = fmt.Sprintf("the upstream proxy %s asks for authentication that sesame's configured account (%s) cannot answer: see `sesame doctor` for which schemes it offers, and auth.schemes in the configuration.",
			route.Host, describeList(s.Transport.ProxyCredentials))
	}
	s.stats.Errors.Add(1)
	s.access(r, route, http.StatusBadGateway, 0, start, errors.New(msg))
	// Plain text: curl and pip print it as it is; browsers show it too
	// (for a CONNECT they show only the status).
	w.Header().Set("Proxy-Status", fmt.Sprintf("sesame; error=http_request_denied; details=%q", details))
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, "sesame: "+msg, http.StatusBadGateway)
	return true
}

// explainConnectRefusal is explainRefusal for a CONNECT that failed with
// err.
func (s *Server) explainConnectRefusal(w http.ResponseWriter, r *http.Request, route *url.URL, start time.Time, err error) bool {
	var pce *auth.ProxyConnectError
	if !errors.As(err, &pce) || pce.StatusCode != http.StatusProxyAuthRequired {
		return false
	}
	return s.explainRefusal(w, r, route, start)
}

// peerHostPort turns a Rejection's Peer ("host:port", or a URL
// "http://host:port") into host:port.
func peerHostPort(peer string) string {
	if strings.Contains(peer, "://") {
		if u, err := url.Parse(peer); err == nil && u.Host != "" {
			return canonicalHostPort(u)
		}
	}
	return peer
}

func canonicalHostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// CheckCredentials sends one request through the first configured
// upstream, to learn at once whether it accepts the configured
// credentials, as `sesame doctor` does. The request is a HEAD for the
// upstream's own address: it goes nowhere else whatever the answer, and
// needs no DNS (a proxy may resolve the target before it authenticates).
// It returns the refusals it caused (none: accepted, or nothing to
// check) and an error when the upstream could not be asked.
func (s *Server) CheckCredentials(ctx context.Context) ([]RefusedCredential, error) {
	s.init()
	var route *url.URL
	if s.Upstreams != nil && len(s.Upstreams.List) > 0 {
		route = s.Upstreams.List[0]
	}
	if !s.ourCredentialsFor(route) {
		return nil, nil
	}
	target := "http://" + canonicalHostPort(route) + "/sesame-credential-check"
	req, err := http.NewRequestWithContext(context.WithValue(ctx, routeKey{}, route), http.MethodHead, target, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.Transport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	var out []RefusedCredential
	peer := canonicalHostPort(route)
	for _, rc := range s.state.list() {
		if rc.Upstream == peer {
			out = append(out, rc)
		}
	}
	return out, nil
}

// DescribeCredentials describes credentials for people: "NTLM as
// CORP\alice", and for a Kerberos credential cache without a ticket yet
// "Kerberos single sign-on (waiting for a ticket)". Never a secret.
func DescribeCredentials(creds []auth.Credential) []string {
	var out []string
	for _, c := range creds {
		if n, ok := c.(*auth.Negotiate); ok && n.NTLM == nil && n.Kerberos != nil && n.Kerberos.CCache() != "" {
			if p := n.Kerberos.Principal(); p != "" {
				out = append(out, "Negotiate as "+p)
			} else {
				out = append(out, "Kerberos single sign-on (waiting for a ticket: run kinit)")
			}
			continue
		}
		out = append(out, c.Scheme()+" as "+c.Identity())
	}
	return out
}

// waitingForTicket reports credentials that are all Kerberos single
// sign-on without a ticket yet.
func waitingForTicket(creds []auth.Credential) bool {
	for _, c := range creds {
		n, ok := c.(*auth.Negotiate)
		if !ok || n.NTLM != nil || n.Kerberos == nil || n.Kerberos.CCache() == "" || n.Kerberos.Principal() != "" {
			return false
		}
	}
	return len(creds) > 0
}

func describeList(creds []auth.Credential) string {
	d := DescribeCredentials(creds)
	if len(d) == 0 {
		return "none"
	}
	return strings.Join(d, ", ")
}

// logRefusedClient records a refusal of an NTLM-to-Basic client's
// account.
func (s *Server) logRefusedClient(r auth.Rejection, user string) {
	r.Peer = peerHostPort(r.Peer)
	s.stats.AuthRejected.Add(1)
	s.stats.clientRefused.add(RefusedCredential{Time: time.Now(), Upstream: r.Peer, Scheme: r.Scheme, Identity: r.Identity, Client: user})
	s.logger().Warn("proxy: the upstream proxy refused a client's account (NTLM-to-Basic)", "upstream", r.Peer, "scheme", r.Scheme, "identity", r.Identity)
}
