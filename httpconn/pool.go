package httpconn

import (
	"context"
	"sync"
	"time"
)

// Defaults of a Pool. Idle connections are kept generously: for NTLM and
// Negotiate each one is an authenticated connection, and one closed for
// want of room costs a handshake when the next burst of clients comes.
const (
	DefaultMaxIdlePerKey = 64
	DefaultIdleTimeout   = 90 * time.Second
	// DefaultReapInterval is how often idle connections are checked
	// while there are any: closed when idle too long, or when the peer
	// closed its end (else each would hold a descriptor in CLOSE_WAIT
	// until the next Get for its key, which may never come).
	DefaultReapInterval = 5 * time.Second
)

// Pool keeps idle connections for reuse, filed by Key. It is safe for
// concurrent use. A connection taken with Get belongs to the caller until
// it is given back with Put; the Pool never hands one connection to two
// callers.
type Pool struct {
	// Dial opens a new connection for key. Required.
	Dial func(ctx context.Context, key Key) (*Conn, error)
	// MaxIdlePerKey bounds the idle connections kept per key; default
	// DefaultMaxIdlePerKey.
	MaxIdlePerKey int
	// IdleTimeout closes connections idle for longer; default
	// DefaultIdleTimeout. Proxies drop idle connections after a while
	// too, and a request on a dead connection costs a retry.
	IdleTimeout time.Duration
	// ReapInterval is how often idle connections are checked; default
	// DefaultReapInterval. The check runs only while connections are
	// idle (a timer, started by Put, that stops itself when the pool is
	// empty and for good with Close), so a Pool that is dropped without
	// Close leaks nothing once its connections are gone.
	ReapInterval time.Duration

	mu     sync.Mutex
	idle   map[Key][]*Conn
	closed bool
	stats  Stats
	reaper *time.Timer // armed while connections are idle
}

// Stats are the pool's counters since it was made.
type Stats struct {
	Dials  int // new connections opened
	Reuses int // idle connections handed out again
	Idle   int // connections idle now
}

// Get returns an idle connection for key, most recently used first, or
// dials a new one. reused tells which, since a request that fails on a
// reused connection (the peer closed it while idle) may be retried once on
// a fresh one.
func (p *Pool) Get(ctx context.Context, key Key) (c *Conn, reused bool, err error) {
	if c := p.takeIdle(key); c != nil {
		return c, true, nil
	}
	c, err = p.Dial(ctx, key)
	if err != nil {
		return nil, false, err
	}
	c.Key = key
	p.mu.Lock()
	p.stats.Dials++
	p.mu.Unlock()
	return c, false, nil
}

func (p *Pool) takeIdle(key Key) *Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	for list := p.idle[key]; len(list) > 0; list = p.idle[key] {
		c := list[len(list)-1]
		p.idle[key] = list[:len(list)-1]
		c.mu.Lock()
		stale := now.Sub(c.lastUsed) > p.idleTimeout()
		c.mu.Unlock()
		if stale || !c.Reusable() || c.peerGone() {
			go c.Close()
			continue
		}
		p.stats.Reuses++
		return c
	}
	return nil
}

// Put gives a connection back. One that cannot carry another request
// (body unread, peer asked to close, broken) is closed instead.
func (p *Pool) Put(c *Conn) {
	if c == nil {
		return
	}
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
	if p.idle == nil {
		p.idle = make(map[Key][]*Conn)
	}
	list := p.idle[c.Key]
	var evict *Conn
	if len(list) >= p.maxIdle() {
		evict, list = list[0], list[1:]
	}
	p.idle[c.Key] = append(list, c)
	if p.reaper == nil {
		p.reaper = time.AfterFunc(p.reapInterval(), p.reap)
	}
	p.mu.Unlock()
	if evict != nil {
		evict.Close()
	}
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	for _, l := range p.idle {
		s.Idle += len(l)
	}
	return s
}

// CloseIdle closes every idle connection, for example after the
// credentials changed. Connections in use are not affected.
func (p *Pool) CloseIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, l := range idle {
		for _, c := range l {
			c.Close()
		}
	}
}

// Close closes the idle connections, stops the reaper and makes Put
// close what it is given.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	if p.reaper != nil {
		p.reaper.Stop()
		p.reaper = nil
	}
	p.mu.Unlock()
	p.CloseIdle()
}

// reap closes idle connections that timed out or whose peer closed (or
// sent something unasked, which leaves them unusable too), and re-arms
// the timer while connections remain idle.
func (p *Pool) reap() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	now := time.Now()
	timeout := p.idleTimeout()
	var dead []*Conn
	for key, list := range p.idle {
		keep := list[:0]
		for _, c := range list {
			c.mu.Lock()
			stale := now.Sub(c.lastUsed) > timeout
			c.mu.Unlock()
			// The check is a non-blocking peek under p.mu: no Get can
			// take the connection meanwhile, and no byte is consumed.
			if stale || !c.Reusable() || c.peerGone() {
				dead = append(dead, c)
				continue
			}
			keep = append(keep, c)
		}
		clear(list[len(keep):]) // no references to closed conns
		if len(keep) == 0 {
			delete(p.idle, key)
		} else {
			p.idle[key] = keep
		}
	}
	if len(p.idle) > 0 {
		p.reaper.Reset(p.reapInterval())
	} else {
		p.reaper = nil
	}
	p.mu.Unlock()
	for _, c := range dead {
		c.Close()
	}
}

func (p *Pool) reapInterval() time.Duration {
	if p.ReapInterval > 0 {
		return p.ReapInterval
	}
	return DefaultReapInterval
}

func (p *Pool) maxIdle() int {
	if p.MaxIdlePerKey > 0 {
		return p.MaxIdlePerKey
	}
	return DefaultMaxIdlePerKey
}

func (p *Pool) idleTimeout() time.Duration {
	if p.IdleTimeout > 0 {
		return p.IdleTimeout
	}
	return DefaultIdleTimeout
}
