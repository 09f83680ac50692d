package auth

import (
	"context"
	"strings"
	"sync"

	"github.com/sesame-auth/sesame/httpconn"
)

// maxPinned bounds the upstream connections one Pin holds; a client that
// authenticates with more peers than this at once loses the oldest.
const maxPinned = 16

// Pin holds the upstream connections that belong to one client: those on
// which the client itself authenticated (its own "Authorization: NTLM" or
// "Negotiate", or a peer's NTLM or Negotiate challenge handed back to it).
// NTLM and Negotiate authenticate a connection, not a request, so such a
// connection must never be pooled for anyone else: the next user would
// be let in as the one before (squid calls this connection pinning).
//
// A proxy makes one Pin per client connection, passes it in each
// request's context (WithPin), and closes it when the client connection
// closes. A request whose context has no Pin gets no connection that a
// caller authenticated: such a connection is closed after its response.
// A Pin is safe for concurrent use.
type Pin struct {
	mu     sync.Mutex
	conns  []*httpconn.Conn // idle pinned connections, oldest first
	closed bool
}

// NewPin returns an empty Pin.
func NewPin() *Pin { return &Pin{} }

type pinKey struct{}

// WithPin returns a context that makes the Transport keep the connections
// a caller authenticated in p, and use them again for requests with p.
func WithPin(ctx context.Context, p *Pin) context.Context {
	return context.WithValue(ctx, pinKey{}, p)
}

// PinFrom returns the Pin attached to ctx, or nil.
func PinFrom(ctx context.Context) *Pin {
	p, _ := ctx.Value(pinKey{}).(*Pin)
	return p
}

// take removes and returns the pinned connection for key, if any.
func (p *Pin) take(key httpconn.Key) *httpconn.Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, c := range p.conns {
		if c.Key == key {
			p.conns = append(p.conns[:i], p.conns[i+1:]...)
			if !c.Reusable() {
				go c.Close()
				return nil
			}
			return c
		}
	}
	return nil
}

// put keeps c for the client; a connection that cannot carry another
// request, or one given to a closed Pin, is closed.
func (p *Pin) put(c *httpconn.Conn) {
	if !c.Reusable() {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		return
	}
	var evict []*httpconn.Conn
	for i := 0; i < len(p.conns); {
		// One connection per key: a second one for the same peer (the
		// first died and was replaced) supersedes it.
		if p.conns[i].Key == c.Key {
			evict = append(evict, p.conns[i])
			p.conns = append(p.conns[:i], p.conns[i+1:]...)
			continue
		}
		i++
	}
	if len(p.conns) >= maxPinned {
		evict = append(evict, p.conns[0])
		p.conns = p.conns[1:]
	}
	p.conns = append(p.conns, c)
	p.mu.Unlock()
	for _, e := range evict {
		e.Close()
	}
}

// Len returns how many connections the Pin holds now.
func (p *Pin) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Close closes the pinned connections; connections handed back later are
// closed too.
func (p *Pin) Close() error {
	p.mu.Lock()
	conns := p.conns
	p.conns, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	return nil
}

// connectionAuth reports whether an Authorization-style header value
// starts a connection-bound scheme (NTLM or Negotiate).
func connectionAuth(v string) bool {
	scheme, _, _ := strings.Cut(strings.TrimSpace(v), " ")
	return scheme != "" && ConnectionBound(scheme)
}

// offersConnectionAuth reports whether challenge header values offer a
// connection-bound scheme. It reads scheme names only, so it works on
// headers that do not parse in full.
func offersConnectionAuth(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			if connectionAuth(part) {
				return true
			}
		}
	}
	return false
}
