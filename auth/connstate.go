package auth

import (
	"container/list"
	"context"
	"net"
	"net/http"
	"strconv"
	"time"
)

// DefaultMaxPendingHandshakes is the default of
// Middleware.MaxPendingHandshakes.
const DefaultMaxPendingHandshakes = 10000

// connState is what the Middleware keeps for one TCP connection: the
// handshake that is half done on it and the identity a connection-bound
// handshake (NTLM, Negotiate with NTLM inside) proved on it. All fields
// are guarded by Middleware.connMu.
type connState struct {
	id     string
	remote string

	// pending is the handshake waiting for the client's next leg
	// (*ntlm.ServerHandshake or a Negotiate context), scheme its
	// auth-scheme; elem is its place in Middleware.pending.
	pending any
	scheme  string
	elem    *list.Element

	// user is the identity the connection was authenticated as by a
	// connection-bound scheme; later requests on the connection without
	// an Authorization header are that user (what IIS and
	// mod_auth_gssapi's GssapiConnectionBound do).
	user   *User
	closed bool
}

type connKey struct{}

// ConnContext gives each accepted connection its state; set it as
// http.Server.ConnContext (together with ConnState), or call it from
// one's own ConnContext. Without it, the Middleware cannot run
// connection-bound handshakes (NTLM, multi-leg Negotiate) and does not
// offer them.
func (m *Middleware) ConnContext(ctx context.Context, c net.Conn) context.Context {
	cs := &connState{id: strconv.FormatUint(m.connIDs.Add(1), 10), remote: c.RemoteAddr().String()}
	m.connMu.Lock()
	if m.conns == nil {
		m.conns = make(map[net.Conn]*connState)
	}
	m.conns[c] = cs
	m.connMu.Unlock()
	return context.WithValue(ctx, connKey{}, cs)
}

// ConnState drops a connection's handshake and identity when it closes
// (or is hijacked); set it as http.Server.ConnState, or call it from
// one's own.
func (m *Middleware) ConnState(c net.Conn, s http.ConnState) {
	if s != http.StateClosed && s != http.StateHijacked {
		return
	}
	m.connMu.Lock()
	defer m.connMu.Unlock()
	cs := m.conns[c]
	if cs == nil {
		return
	}
	delete(m.conns, c)
	m.dropPendingLocked(cs)
	cs.user = nil
	cs.closed = true
}

// Install sets srv's ConnContext and ConnState to the Middleware's,
// chaining any that srv already has (theirs run after the Middleware's).
func (m *Middleware) Install(srv *http.Server) {
	prevCtx, prevState := srv.ConnContext, srv.ConnState
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		ctx = m.ConnContext(ctx, c)
		if prevCtx != nil {
			ctx = prevCtx(ctx, c)
		}
		return ctx
	}
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		m.ConnState(c, s)
		if prevState != nil {
			prevState(c, s)
		}
	}
}

// OpenConnections reports how many connections the Middleware keeps
// state for, and how many of them have a handshake pending.
func (m *Middleware) OpenConnections() (conns, pending int) {
	m.connMu.Lock()
	defer m.connMu.Unlock()
	n := 0
	if m.pending != nil {
		n = m.pending.Len()
	}
	return len(m.conns), n
}

func connFrom(ctx context.Context) *connState {
	cs, _ := ctx.Value(connKey{}).(*connState)
	return cs
}

// setPending makes h the connection's pending handshake, replacing any
// earlier one. The number of pending handshakes of the whole server is
// bounded: beyond MaxPendingHandshakes the oldest is dropped, so a
// client opening thousands of connections that never finish costs only
// handshakes older than every legitimate one in progress (a handshake
// takes one round trip; the flood would have to outpace that).
func (m *Middleware) setPending(cs *connState, scheme string, h any) {
	m.connMu.Lock()
	defer m.connMu.Unlock()
	if cs.closed {
		return
	}
	m.dropPendingLocked(cs)
	if m.pending == nil {
		m.pending = list.New()
	}
	for m.pending.Len() >= m.maxPending() {
		old := m.pending.Front().Value.(*connState)
		m.dropPendingLocked(old)
		m.evicted.Add(1)
	}
	cs.pending, cs.scheme = h, scheme
	cs.elem = m.pending.PushBack(cs)
}

// takePending removes and returns the connection's pending handshake if
// it is of scheme.
func (m *Middleware) takePending(cs *connState, scheme string) any {
	m.connMu.Lock()
	defer m.connMu.Unlock()
	if cs.scheme != scheme {
		return nil
	}
	h := cs.pending
	m.dropPendingLocked(cs)
	return h
}

func (m *Middleware) dropPendingLocked(cs *connState) {
	if cs.elem != nil {
		m.pending.Remove(cs.elem)
	}
	cs.pending, cs.scheme, cs.elem = nil, "", nil
}

// connUser returns the connection's identity, nil once the credential
// behind it (a Kerberos ticket) has expired.
func (m *Middleware) connUser(cs *connState) *User {
	m.connMu.Lock()
	defer m.connMu.Unlock()
	if u := cs.user; u != nil && !u.Expires.IsZero() && !time.Now().Before(u.Expires) {
		cs.user = nil
	}
	return cs.user
}

func (m *Middleware) setConnUser(cs *connState, u *User) {
	m.connMu.Lock()
	defer m.connMu.Unlock()
	if !cs.closed {
		cs.user = u
	}
}

func (m *Middleware) maxPending() int {
	if m.MaxPendingHandshakes > 0 {
		return m.MaxPendingHandshakes
	}
	return DefaultMaxPendingHandshakes
}
