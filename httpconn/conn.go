package httpconn

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Limits of a Conn.
const (
	// MaxResponseHeaderBytes bounds a response's status line and headers.
	MaxResponseHeaderBytes = 1 << 20
	// maxDrainBytes is how much of an unread response body Close reads to
	// keep the connection; a larger remainder closes it instead, since
	// reading it would cost more than a new connection.
	maxDrainBytes = 256 << 10
)

// ErrBusy reports a RoundTrip on a Conn whose previous response body is
// still open: HTTP/1.1 without pipelining answers in order, one at a time.
var ErrBusy = errors.New("httpconn: connection busy with an earlier response")

// ErrClosed reports use of a Conn that was closed or broken.
var ErrClosed = errors.New("httpconn: connection closed")

// ErrNothingReceived is wrapped into a RoundTrip error when not one byte
// of a response arrived before the connection failed: the peer may then
// have closed an idle connection without seeing the request, which is
// the one case where sending an idempotent request again is safe.
var ErrNothingReceived = errors.New("httpconn: no response received")

// Conn is one client connection speaking HTTP/1.1 with keep-alive. It
// serves one request at a time; the response body must be read to EOF or
// closed before the next request. It is safe to pass between goroutines
// but not to use from two at once.
type Conn struct {
	nc net.Conn
	lr *io.LimitedReader // between nc and br; bounds response heads
	br *bufio.Reader
	bw *bufio.Writer

	// Key is what the connection leads to and who it speaks for; the
	// Pool files it under this.
	Key Key
	// Authenticated records that a handshake succeeded on this
	// connection, so later requests need none. Set by the caller.
	Authenticated bool
	// Scheme is the authentication scheme that authenticated it (for
	// logs and metrics). Set by the caller.
	Scheme string
	// Mechanism and Principal say how and as whom it was authenticated
	// ("kerberos", "alice@CORP.TEST"), so that a request reusing it can
	// report them. Set by the caller; never a secret.
	Mechanism, Principal string
	// Handshakes counts the authentication handshakes begun on this
	// connection. Updated by the caller.
	Handshakes int

	mu           sync.Mutex
	busy         bool // a response body is open
	bodyWithheld bool // see BodyWithheld
	broken       bool // unusable: error, Connection: close, or undrained body
	closed       bool
	lastUsed     time.Time
	requests     int
	received     bool // a byte of the current response has arrived
}

// NewConn wraps an established connection (TCP, or TLS over TCP, or a
// tunnel) for HTTP/1.1 use.
func NewConn(nc net.Conn, key Key) *Conn {
	lr := &io.LimitedReader{R: nc, N: math.MaxInt64}
	return &Conn{
		nc:       nc,
		lr:       lr,
		br:       bufio.NewReaderSize(lr, 32<<10),
		bw:       bufio.NewWriterSize(nc, 32<<10),
		Key:      key,
		lastUsed: time.Now(),
	}
}

// Dial opens a connection to key.Addr, with TLS when key.TLS is set, and
// honours ctx for the whole of the dial and TLS handshake.
func Dial(ctx context.Context, d *net.Dialer, key Key, tlsConfig *tls.Config) (*Conn, error) {
	if d == nil {
		d = &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	}
	if check, ok := ctx.Value(dialCheckKey{}).(DialCheck); ok {
		d = withCheck(d, check)
	}
	nc, err := d.DialContext(ctx, "tcp", key.Addr)
	if err != nil {
		return nil, fmt.Errorf("httpconn: dial %s: %w", key.Addr, err)
	}
	if key.TLS {
		cfg := tlsConfig.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(key.Addr)
			cfg.ServerName = host
		}
		// NTLM and Negotiate bind to the connection: HTTP/2 multiplexing
		// would break them, so this connection speaks HTTP/1.1 only.
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("httpconn: TLS handshake with %s: %w", key.Addr, err)
		}
		nc = tc
	}
	return NewConn(nc, key), nil
}

// DialCheck vets an address Dial is about to connect to: address is the
// IP and port after name resolution, one call per address tried. An error
// refuses that address; the dial fails with it (wrapped in a
// *net.OpError) unless another address of the name passes.
type DialCheck func(ctx context.Context, network, address string) error

type dialCheckKey struct{}

// WithDialCheck returns a context under which Dial runs check on every
// address before connecting to it. Because the check sees the very
// address the socket connects to, a name that resolves differently from
// one lookup to the next (DNS rebinding) cannot slip past it, as it could
// past a lookup made beforehand.
func WithDialCheck(ctx context.Context, check DialCheck) context.Context {
	return context.WithValue(ctx, dialCheckKey{}, check)
}

// withCheck returns a copy of d that runs check before its own Control.
func withCheck(d *net.Dialer, check DialCheck) *net.Dialer {
	dd := *d
	prev, prevPlain := d.ControlContext, d.Control
	dd.Control = nil
	dd.ControlContext = func(ctx context.Context, network, address string, c syscall.RawConn) error {
		if err := check(ctx, network, address); err != nil {
			return err
		}
		switch {
		case prev != nil:
			return prev(ctx, network, address, c)
		case prevPlain != nil:
			return prevPlain(network, address, c)
		}
		return nil
	}
	return &dd
}

// NetConn returns the underlying connection, for the TLS state (channel
// bindings) and for taking over a tunnel after CONNECT.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Requests returns how many requests have been sent on the connection.
func (c *Conn) Requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests
}

// Reusable reports whether another request may be sent: the last response
// was read completely and did not ask to close the connection.
func (c *Conn) Reusable() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.busy && !c.broken && !c.closed
}

// peerGone reports whether an idle connection is unusable because the
// peer closed or reset it, or sent bytes while no request was out (a 408
// before closing, typically). It never blocks and consumes nothing; a
// connection it cannot look at (no socket underneath) counts as alive.
// Only for idle connections: nobody else may be reading.
func (c *Conn) peerGone() bool {
	if c.br.Buffered() > 0 {
		return true
	}
	nc := c.nc
	for {
		switch v := nc.(type) {
		case *tls.Conn:
			// Pending TLS records on an idle connection are almost
			// always close_notify; a late session ticket would cost
			// only a fresh connection.
			nc = v.NetConn()
			continue
		case *bufferedConn:
			nc = v.Conn
			continue
		case syscall.Conn:
			gone, _ := peekGone(v)
			return gone
		}
		return false
	}
}

// Close closes the connection.
func (c *Conn) Close() error {
	c.mu.Lock()
	already := c.closed
	c.closed, c.broken = true, true
	c.mu.Unlock()
	if already {
		return nil
	}
	return c.nc.Close()
}

// RoundTrip sends req and reads the response head. With proxyForm the
// request line carries the absolute URL, as a request to a forward proxy
// must; otherwise it is origin-form (or authority-form for CONNECT).
// Header fields are sent as they are in req.Header (plus Host, and a
// Content-Length or chunked framing for the body); req.Body is sent and
// closed.
//
// Every wait is bounded by ctx: cancelling it interrupts a blocked write
// or read and breaks the connection. The response body reads from the
// connection; reading it to EOF or closing it frees the connection for the
// next request (see Reusable).
func (c *Conn) RoundTrip(ctx context.Context, req *http.Request, proxyForm bool) (*http.Response, error) {
	c.mu.Lock()
	switch {
	case c.closed || c.broken:
		c.mu.Unlock()
		return nil, ErrClosed
	case c.busy:
		c.mu.Unlock()
		return nil, ErrBusy
	}
	c.busy = true
	c.bodyWithheld = false
	c.received = false
	c.requests++
	c.mu.Unlock()

	stop := c.watch(ctx)
	resp, err := c.roundTrip(req, proxyForm)
	if err != nil {
		stop()
		c.fail()
		if !c.received {
			err = fmt.Errorf("%w (%w)", err, ErrNothingReceived)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("httpconn: %s %s: %w", req.Method, req.URL.Redacted(), ctx.Err())
		}
		if _, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) {
			// The connection's deadline is the context's; it can fire
			// a moment before the context's own timer does.
			return nil, fmt.Errorf("httpconn: %s %s: %w", req.Method, req.URL.Redacted(), context.DeadlineExceeded)
		}
		return nil, fmt.Errorf("httpconn: %s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	if resp.Close || req.Close {
		c.markBroken()
	}
	if (req.Method == http.MethodConnect && resp.StatusCode/100 == 2) || resp.StatusCode == http.StatusSwitchingProtocols {
		// The connection is now a tunnel (or speaks the protocol the
		// request upgraded to): it belongs to the caller, who takes it
		// with Tunnel, and never goes back to a pool.
		stop()
		c.markBroken()
		c.mu.Lock()
		c.busy = false
		c.mu.Unlock()
		return resp, nil
	}
	if resp.Body == http.NoBody {
		stop()
		c.release(true)
		return resp, nil
	}
	resp.Body = &body{rc: resp.Body, c: c, stop: stop}
	return resp, nil
}

func (c *Conn) roundTrip(req *http.Request, proxyForm bool) (*http.Response, error) {
	write := func(req *http.Request) error {
		var err error
		if proxyForm {
			err = req.WriteProxy(c.bw)
		} else {
			err = req.Write(c.bw)
		}
		if err == nil {
			err = c.bw.Flush()
		}
		return err
	}
	if req.Body == nil || req.Body == http.NoBody {
		if err := write(req); err != nil {
			return nil, fmt.Errorf("write request: %w", err)
		}
		resp, err := c.readFinal(req, nil)
		if err != nil {
			return nil, fmt.Errorf("read response: %w", err)
		}
		return resp, nil
	}
	// With a body, the request is written by a goroutine while the
	// response is read here: a server may answer (401, 407, 413) before
	// it has read the body, and must not deadlock against our write.
	var gate *gatedBody
	if strings.EqualFold(req.Header.Get("Expect"), "100-continue") {
		gate = &gatedBody{rc: req.Body, opened: make(chan struct{}), aborted: make(chan struct{})}
		req = req.WithContext(req.Context()) // a copy: Body is ours to swap
		req.Body = gate
		timer := time.AfterFunc(ExpectContinueTimeout, gate.open)
		defer timer.Stop()
	}
	written := make(chan error, 1)
	go func() { written <- write(req) }()
	resp, err := c.readFinal(req, gate)
	if err != nil {
		if gate != nil {
			gate.abort()
		}
		select {
		case werr := <-written:
			if werr != nil && !errors.Is(werr, errWithheld) {
				return nil, fmt.Errorf("write request: %w", werr)
			}
		default:
		}
		return nil, fmt.Errorf("read response: %w", err)
	}
	if gate != nil && gate.abort() {
		// A final answer before 100 Continue: the body was not sent,
		// and the caller may send it elsewhere. The server may still
		// expect it, so the connection is done.
		c.bodyWithheld = true
		c.markBroken()
		<-written
		return resp, nil
	}
	select {
	case werr := <-written:
		if werr != nil {
			c.markBroken()
		}
	case <-time.After(writeDrainTimeout):
		// The server answered without reading the whole body and is
		// not reading the rest: this connection cannot be reused.
		c.markBroken()
		go func() { <-written }()
	}
	return resp, nil
}

// ExpectContinueTimeout is how long a request with "Expect: 100-continue"
// waits for the interim response before sending its body anyway (RFC 9110
// 10.1.1: servers may ignore Expect). curl waits 1 s; a proxy that checks
// an NTLM AUTHENTICATE through a helper process can take longer under load.
var ExpectContinueTimeout = 2 * time.Second

// writeDrainTimeout bounds how long a final response waits for the
// request body's upload to finish before the connection is given up.
const writeDrainTimeout = 5 * time.Second

// BodyWithheld reports whether the last RoundTrip, sent with "Expect:
// 100-continue", got its final response before the body was sent: the
// request body is then unread and can be sent again.
func (c *Conn) BodyWithheld() bool { return c.bodyWithheld }

// MaxInterimResponses bounds the interim (1xx) responses read before the
// final one, as net/http does (5): a peer that sends 100 Continue
// forever must not hold the request forever.
const MaxInterimResponses = 5

// ErrTooManyInterim reports a peer that sent more than
// MaxInterimResponses interim (1xx) responses to one request.
var ErrTooManyInterim = fmt.Errorf("httpconn: more than %d interim (1xx) responses to one request", MaxInterimResponses)

// readFinal reads responses until a final (non-1xx) one, opening the
// gate on 100 Continue.
func (c *Conn) readFinal(req *http.Request, gate *gatedBody) (*http.Response, error) {
	for interim := 0; ; interim++ {
		resp, err := c.readResponse(req)
		if err != nil {
			return nil, err
		}
		// 1xx (100 Continue, 103 Early Hints) are interim: the real
		// answer follows. 101 is final.
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			if interim == MaxInterimResponses {
				return nil, ErrTooManyInterim
			}
			if resp.StatusCode == http.StatusContinue && gate != nil {
				gate.open()
			}
			continue
		}
		return resp, nil
	}
}

// errWithheld ends the body of a request whose final response came
// before 100 Continue.
var errWithheld = errors.New("httpconn: request body withheld after an early response")

// gatedBody holds back a request body until 100 Continue (or the
// timeout) opens the gate, or an early final response aborts it.
type gatedBody struct {
	rc              io.ReadCloser
	opened, aborted chan struct{}
	mu              sync.Mutex
	state           int // 0 waiting, 1 open, 2 aborted
}

func (g *gatedBody) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == 0 {
		g.state = 1
		close(g.opened)
	}
}

// abort stops the body if it has not started; it reports whether it did.
func (g *gatedBody) abort() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == 0 {
		g.state = 2
		close(g.aborted)
		return true
	}
	return false
}

func (g *gatedBody) Read(p []byte) (int, error) {
	select {
	case <-g.opened:
		return g.rc.Read(p)
	case <-g.aborted:
		return 0, errWithheld
	}
}

// Close does not close the caller's body when it was withheld: the
// caller still owns it and may send it on another connection.
func (g *gatedBody) Close() error {
	g.mu.Lock()
	withheld := g.state == 2
	g.mu.Unlock()
	if withheld {
		return nil
	}
	return g.rc.Close()
}

// readResponse is http.ReadResponse with a bound on the head's size: a
// peer that streams header lines forever must not grow memory without end.
// The limit applies to bytes pulled from the network while the head is
// parsed; the body is unbounded (it streams).
func (c *Conn) readResponse(req *http.Request) (*http.Response, error) {
	buffered := c.br.Buffered()
	c.lr.N = MaxResponseHeaderBytes
	resp, err := http.ReadResponse(c.br, req)
	if buffered > 0 || c.lr.N < MaxResponseHeaderBytes {
		c.received = true
	}
	exhausted := c.lr.N == 0
	c.lr.N = math.MaxInt64
	if err != nil && exhausted {
		return nil, fmt.Errorf("response head exceeds %d bytes", MaxResponseHeaderBytes)
	}
	return resp, err
}

// watch makes ctx's deadline and cancellation interrupt blocked I/O on the
// connection. The returned stop must be called once the exchange is over;
// it clears the deadline again.
func (c *Conn) watch(ctx context.Context) (stop func()) {
	if d, ok := ctx.Deadline(); ok {
		c.nc.SetDeadline(d)
	}
	stopAfter := context.AfterFunc(ctx, func() {
		// A deadline in the past wakes every blocked Read and Write.
		c.nc.SetDeadline(time.Unix(1, 0))
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			if !stopAfter() && ctx.Err() != nil {
				// The AfterFunc ran: the connection is in an unknown
				// state mid-message and cannot be reused.
				c.markBroken()
				return
			}
			c.nc.SetDeadline(time.Time{})
		})
	}
}

// fail marks the connection unusable after an I/O error and closes it.
func (c *Conn) fail() {
	c.mu.Lock()
	c.busy = false
	c.mu.Unlock()
	c.Close()
}

func (c *Conn) markBroken() {
	c.mu.Lock()
	c.broken = true
	c.mu.Unlock()
}

// release ends the current exchange: the body was read to EOF (clean) or
// abandoned.
func (c *Conn) release(clean bool) {
	c.mu.Lock()
	c.busy = false
	c.lastUsed = time.Now()
	if !clean {
		c.broken = true
	}
	broken := c.broken
	c.mu.Unlock()
	if broken {
		c.Close()
	}
}

// Tunnel returns the connection as a net.Conn for use as a tunnel after a
// successful CONNECT: bytes the peer sent after the response head (already
// buffered) are read first. The Conn must not be used for HTTP afterwards.
func (c *Conn) Tunnel() net.Conn {
	c.markBroken()
	if c.br.Buffered() == 0 {
		return c.nc
	}
	return &bufferedConn{Conn: c.nc, r: io.MultiReader(io.LimitReader(c.br, int64(c.br.Buffered())), c.nc)}
}

type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// body is a response body that hands the connection back when it is read
// to the end, and breaks it when abandoned with much left unread.
type body struct {
	rc   io.ReadCloser
	c    *Conn
	stop func()
	mu   sync.Mutex
	done bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.finish(true)
	} else if err != nil {
		b.finish(false)
	}
	return n, err
}

// Close drains a small remainder so the connection can be reused (an
// authenticated connection is worth keeping), or breaks it.
func (b *body) Close() error {
	b.mu.Lock()
	done := b.done
	b.mu.Unlock()
	if done {
		return nil
	}
	n, err := io.CopyN(io.Discard, b.rc, maxDrainBytes+1)
	clean := err == io.EOF && n <= maxDrainBytes
	b.rc.Close()
	b.finish(clean)
	return nil
}

func (b *body) finish(clean bool) {
	b.mu.Lock()
	if b.done {
		b.mu.Unlock()
		return
	}
	b.done = true
	b.mu.Unlock()
	b.stop()
	b.c.release(clean)
}
