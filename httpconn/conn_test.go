package httpconn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func dialTest(t *testing.T, addr string) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, nil, Key{Addr: addr}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func get(t *testing.T, c *Conn, url string, proxyForm bool) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.RoundTrip(ctx, req, proxyForm)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp, string(b)
}

// Every request of a keep-alive exchange arrives on the same server-side
// connection, which is what lets an NTLM handshake span requests.
func TestKeepAliveOneConnection(t *testing.T) {
	var remotes []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		remotes = append(remotes, r.RemoteAddr)
		switch r.URL.Path {
		case "/chunked":
			w.(http.Flusher).Flush()
			fmt.Fprint(w, "chunk1")
			w.(http.Flusher).Flush()
			fmt.Fprint(w, "chunk2")
		case "/empty":
			w.WriteHeader(204)
		default:
			fmt.Fprint(w, "hello ", r.URL.Path)
		}
	}))
	defer srv.Close()
	c := dialTest(t, srv.Listener.Addr().String())
	for _, p := range []string{"/a", "/chunked", "/empty", "/b"} {
		resp, body := get(t, c, srv.URL+p, false)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s: %s", p, resp.Status)
		}
		if p == "/chunked" && body != "chunk1chunk2" || p == "/b" && body != "hello /b" {
			t.Errorf("%s: body %q", p, body)
		}
		if !c.Reusable() {
			t.Fatalf("not reusable after %s", p)
		}
	}
	for _, r := range remotes[1:] {
		if r != remotes[0] {
			t.Fatalf("requests came from %v, want one connection", remotes)
		}
	}
	if c.Requests() != 4 {
		t.Errorf("Requests() = %d", c.Requests())
	}
}

func TestBusyAndClose(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		if r.URL.Path == "/big" {
			w.Write(make([]byte, 4*maxDrainBytes))
			return
		}
		fmt.Fprint(w, "small body")
	}))
	defer srv.Close()
	c := dialTest(t, srv.Listener.Addr().String())
	req, _ := http.NewRequest("GET", srv.URL+"/x", nil)
	resp, err := c.RoundTrip(context.Background(), req, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RoundTrip(context.Background(), req, false); !errors.Is(err, ErrBusy) {
		t.Fatalf("second request with a body open: %v, want ErrBusy", err)
	}
	resp.Body.Close() // unread but small: drained, connection kept
	if !c.Reusable() {
		t.Fatal("small unread body should be drained and the connection kept")
	}
	req, _ = http.NewRequest("GET", srv.URL+"/big", nil)
	resp, err = c.RoundTrip(context.Background(), req, false)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c.Reusable() {
		t.Fatal("a large unread body must break the connection, not be drained")
	}

	c = dialTest(t, srv.Listener.Addr().String())
	get(t, c, srv.URL+"/close", false)
	if c.Reusable() {
		t.Fatal("Connection: close must end reuse")
	}
	if _, err := c.RoundTrip(context.Background(), req, false); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

// A forward proxy gets the absolute URL in the request line.
func TestProxyForm(t *testing.T) {
	lines := make(chan string, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		br := bufio.NewReader(nc)
		l, _ := br.ReadString('\n')
		lines <- strings.TrimSpace(l)
		for {
			h, err := br.ReadString('\n')
			if err != nil || h == "\r\n" {
				break
			}
		}
		io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	}()
	c := dialTest(t, ln.Addr().String())
	_, body := get(t, c, "http://origin.test:8080/path?q=1", true)
	if got := <-lines; got != "GET http://origin.test:8080/path?q=1 HTTP/1.1" || body != "ok" {
		t.Fatalf("request line %q body %q", got, body)
	}
}

// A server that never answers cannot hold the caller past its context,
// and one that sends an endless head cannot exhaust memory.
func TestContextAndHeadLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mode atomic.Int32
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				bufio.NewReader(nc).ReadString('\n')
				if mode.Load() == 1 {
					io.WriteString(nc, "HTTP/1.1 200 OK\r\n")
					line := "X-Junk: " + strings.Repeat("a", 1000) + "\r\n"
					for i := 0; i < 2000; i++ {
						if _, err := io.WriteString(nc, line); err != nil {
							return
						}
					}
				}
				time.Sleep(10 * time.Second)
			}()
		}
	}()
	c := dialTest(t, ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/", nil)
	if _, err := c.RoundTrip(ctx, req, false); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent server: %v, want DeadlineExceeded", err)
	}
	mode.Store(1)
	c = dialTest(t, ln.Addr().String())
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if _, err := c.RoundTrip(ctx2, req, false); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("endless head: %v", err)
	}
}

func TestPoolReuseByKey(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "x") }))
	defer srv.Close()
	p := &Pool{Dial: func(ctx context.Context, k Key) (*Conn, error) { return Dial(ctx, nil, k, nil) }}
	defer p.Close()
	ctx := context.Background()
	alice := Key{Addr: srv.Listener.Addr().String(), Identity: "ntlm:CORP\\alice"}
	bob := Key{Addr: alice.Addr, Identity: "ntlm:CORP\\bob"}
	c1, reused, err := p.Get(ctx, alice)
	if err != nil || reused {
		t.Fatal(err, reused)
	}
	get(t, c1, srv.URL, false)
	p.Put(c1)
	c2, _, _ := p.Get(ctx, bob)
	if c2 == c1 {
		t.Fatal("alice's connection handed to bob")
	}
	c3, reused, _ := p.Get(ctx, alice)
	if c3 != c1 || !reused {
		t.Fatal("alice's idle connection not reused")
	}
	if s := p.Stats(); s.Dials != 2 || s.Reuses != 1 {
		t.Errorf("stats %+v", s)
	}
	// A connection with an open body is not pooled.
	req, _ := http.NewRequest("GET", srv.URL, nil)
	resp, err := c3.RoundTrip(ctx, req, false)
	if err != nil {
		t.Fatal(err)
	}
	p.Put(c3)
	if s := p.Stats(); s.Idle != 0 {
		t.Errorf("busy connection was pooled: %+v", s)
	}
	resp.Body.Close()
	p.Put(c2)
}
