package httpconn

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hang bounds the waits below: they end as soon as the awaited thing
// happens, and fail only if it never does.
const hang = 30 * time.Second

// oneShotServer answers one request on each connection with "ok", then
// calls after(conn); it reports on closed when it reads EOF from the
// client afterwards, which is how the test sees the client's descriptor
// closed.
func oneShotServer(t *testing.T, after func(net.Conn)) (addr string, closed <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		after(c)
		io.Copy(io.Discard, br) // until the client closes
		close(ch)
	}()
	return ln.Addr().String(), ch
}

// useOnce sends one request on a connection from the pool and gives the
// connection back.
func useOnce(t *testing.T, p *Pool, key Key) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	c, _, err := p.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+key.Addr+"/", nil)
	resp, err := c.RoundTrip(ctx, req, false)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	p.Put(c)
	return c
}

func testPool(interval, idle time.Duration) *Pool {
	return &Pool{
		Dial: func(ctx context.Context, key Key) (*Conn, error) {
			return Dial(ctx, nil, key, nil)
		},
		ReapInterval: interval,
		IdleTimeout:  idle,
	}
}

// waitReaped waits until the pool holds no idle connection and the server
// saw c closed, with no Get in between.
func waitReaped(t *testing.T, p *Pool, c *Conn, serverSawClose <-chan struct{}) {
	t.Helper()
	select {
	case <-serverSawClose:
	case <-time.After(hang):
		t.Fatalf("idle connection never closed by the pool (stats %+v)", p.Stats())
	}
	if st := p.Stats(); st.Idle != 0 {
		t.Errorf("stats %+v, want no idle connection", st)
	}
	// The descriptor is closed, not merely forgotten.
	if err := c.NetConn().SetReadDeadline(time.Time{}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("connection still open: %v", err)
	}
}

// A peer that closes an idle connection gets it closed by the pool
// without anyone asking for that key again: no descriptor is left in
// CLOSE_WAIT.
func TestPoolReapsPeerClosed(t *testing.T) {
	addr, serverSawClose := oneShotServer(t, func(c net.Conn) {
		c.(*net.TCPConn).CloseWrite() // FIN: the client's side goes to CLOSE_WAIT
	})
	p := testPool(20*time.Millisecond, time.Hour)
	defer p.Close()
	c := useOnce(t, p, Key{Addr: addr})
	waitReaped(t, p, c, serverSawClose)
}

// An idle connection past IdleTimeout is closed by the reaper, not only
// when its key is asked for again.
func TestPoolReapsIdleTimeout(t *testing.T) {
	addr, serverSawClose := oneShotServer(t, func(net.Conn) {})
	p := testPool(20*time.Millisecond, 50*time.Millisecond)
	defer p.Close()
	c := useOnce(t, p, Key{Addr: addr})
	waitReaped(t, p, c, serverSawClose)
}

// The reaper runs only while connections are idle, and Close stops it.
func TestPoolReaperStops(t *testing.T) {
	addr, serverSawClose := oneShotServer(t, func(net.Conn) {})
	p := testPool(time.Hour, time.Hour)
	if p.reaper != nil {
		t.Fatal("reaper started before any connection was idle")
	}
	c := useOnce(t, p, Key{Addr: addr})
	p.mu.Lock()
	started := p.reaper != nil
	p.mu.Unlock()
	if !started {
		t.Fatal("no reaper with a connection idle")
	}
	p.Close()
	p.mu.Lock()
	stopped := p.reaper == nil
	p.mu.Unlock()
	if !stopped {
		t.Error("Close left the reaper armed")
	}
	waitReaped(t, p, c, serverSawClose)
}

// A live idle connection survives the reaper's checks and is reused.
func TestPoolReaperKeepsLive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	p := testPool(time.Millisecond, time.Hour)
	defer p.Close()
	key := Key{Addr: ln.Addr().String()}
	useOnce(t, p, key)
	// Let the reaper look at the connection a number of times.
	for i := 0; i < 20; i++ {
		time.Sleep(5 * time.Millisecond)
		if p.Stats().Idle != 1 {
			t.Fatalf("live connection reaped: %+v", p.Stats())
		}
	}
	useOnce(t, p, key)
	if st := p.Stats(); st.Dials != 1 || st.Reuses != 1 {
		t.Errorf("stats %+v, want 1 dial and 1 reuse", st)
	}
}

// interimServer answers each request with n interim responses (n < 0:
// without end), then 200.
func interimServer(t *testing.T, n int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				for i := 0; n < 0 || i < n; i++ {
					if _, err := io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
						return
					}
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// A peer that sends 100 Continue without end gets an error after the
// fifth (net/http's limit), not a request that never ends; five are
// still fine.
func TestTooManyInterimResponses(t *testing.T) {
	for _, tc := range []struct {
		n       int
		wantErr bool
	}{{-1, true}, {6, true}, {5, false}, {1, false}} {
		c := dialTest(t, interimServer(t, tc.n))
		req, _ := http.NewRequest("GET", "http://example.test/", nil)
		ctx, cancel := context.WithTimeout(context.Background(), hang)
		resp, err := c.RoundTrip(ctx, req, false)
		cancel()
		switch {
		case tc.wantErr && !errors.Is(err, ErrTooManyInterim):
			t.Errorf("%d interim responses: err %v, want %v", tc.n, err, ErrTooManyInterim)
		case tc.wantErr && !strings.Contains(err.Error(), "interim (1xx)"):
			t.Errorf("unclear error: %v", err)
		case !tc.wantErr && err != nil:
			t.Errorf("%d interim responses: %v", tc.n, err)
		case !tc.wantErr:
			if resp.StatusCode != 200 {
				t.Errorf("%d interim responses: %s", tc.n, resp.Status)
			}
			resp.Body.Close()
		}
		if tc.wantErr && c.Reusable() {
			t.Errorf("%d interim responses: connection still reusable", tc.n)
		}
	}
}

// A check in the context sees the resolved address of every dial and can
// refuse it; the dialer's own Control still runs after it.
func TestDialCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	refused := errors.New("refused by the test")
	var seen []string
	ctx := WithDialCheck(context.Background(), func(_ context.Context, network, address string) error {
		seen = append(seen, address)
		return refused
	})
	if _, err := Dial(ctx, nil, Key{Addr: "localhost:" + port}, nil); !errors.Is(err, refused) {
		t.Fatalf("dial: %v, want the check's error", err)
	}
	if len(seen) == 0 || !strings.HasSuffix(seen[0], ":"+port) || strings.HasPrefix(seen[0], "localhost") {
		t.Errorf("check saw %q, want resolved addresses", seen)
	}
	controlRan := false
	d := &net.Dialer{Control: func(string, string, syscall.RawConn) error { controlRan = true; return nil }}
	ok := WithDialCheck(context.Background(), func(context.Context, string, string) error { return nil })
	c, err := Dial(ok, d, Key{Addr: ln.Addr().String()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if !controlRan {
		t.Error("the dialer's own Control was skipped")
	}
}

// The peer-closed check looks through TLS to the socket underneath.
func TestPoolReapsPeerClosedTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	srv.StartTLS()
	defer srv.Close()
	cfg := srv.Client().Transport.(*http.Transport).TLSClientConfig
	p := &Pool{
		Dial:         func(ctx context.Context, key Key) (*Conn, error) { return Dial(ctx, nil, key, cfg) },
		ReapInterval: 20 * time.Millisecond,
		IdleTimeout:  time.Hour,
	}
	defer p.Close()
	key := Key{Addr: srv.Listener.Addr().String(), TLS: true}
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	c, _, err := p.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "https://"+key.Addr+"/", nil)
	resp, err := c.RoundTrip(ctx, req, false)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	p.Put(c)
	srv.CloseClientConnections()
	// The reaper drops the connection from the idle list under the pool's
	// lock and closes it just after, so wait for both.
	deadline := time.Now().Add(hang)
	for p.Stats().Idle != 0 || !errors.Is(c.NetConn().SetReadDeadline(time.Time{}), net.ErrClosed) {
		if time.Now().After(deadline) {
			t.Fatalf("TLS connection closed by the server not closed by the pool: %+v", p.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
