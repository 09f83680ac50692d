package proxy

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/auth"
)

// basicUpstream is a minimal upstream proxy demanding Basic
// alice:AlicePass123 (a real squid is in cmd/sesame's tests); it counts
// its open connections.
type basicUpstream struct {
	*httptest.Server
	open atomic.Int64
}

func newBasicUpstream(t *testing.T) *basicUpstream {
	u := &basicUpstream{}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, pw, ok := proxyBasicAuth(r); !ok || user != "alice" || pw != "AlicePass123" {
			w.Header().Set("Proxy-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusProxyAuthRequired)
			return
		}
		fmt.Fprintf(w, "via upstream: %s", r.URL)
	}))
	u.Config.ConnState = func(c net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			u.open.Add(1)
		case http.StateClosed, http.StateHijacked:
			u.open.Add(-1)
		}
	}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

func get(t *testing.T, proxyURL, target string, header http.Header) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", proxyURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req, _ := http.NewRequest("GET", target, nil)
	req.Header = header
	if err := req.WriteProxy(c); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A reload hands the Transport to a new Server while requests run on the
// old one: no Server writes the shared Transport's fields then (run with
// -race).
func TestReloadSharesTransportWithoutRace(t *testing.T) {
	up := newBasicUpstream(t)
	upURL, _ := url.Parse(up.URL)
	tr := &auth.Transport{ProxyCredentials: []auth.Credential{&auth.Basic{User: "alice", Password: "AlicePass123"}}}
	ups := &Upstreams{List: []*url.URL{upURL}}
	newServer := func(prev *Server) *Server {
		s := &Server{Router: &StaticRouter{Upstreams: ups}, Upstreams: ups, Transport: tr}
		if prev != nil {
			s.Counters = prev.Stats()
		}
		return s
	}
	sw := &Switch{}
	sw.Store(newServer(nil))
	front := httptest.NewServer(sw)
	defer front.Close()
	addr := front.Listener.Addr().String()
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if code, body := get(t, addr, "http://origin.test/x", http.Header{}); code != 200 {
					t.Errorf("%d %s", code, body)
					return
				}
			}
		}()
	}
	for i := 0; i < 50; i++ {
		// Each Server serves requests, while others run on its
		// predecessor.
		if code, body := get(t, addr, "http://origin.test/y", http.Header{}); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		old := sw.Load()
		s := newServer(old)
		sw.Store(s)
		s.ResetRejections()
		old.CloseClients()
	}
	cancel()
	wg.Wait()
	if n := sw.Load().Stats().Requests.Load(); n == 0 {
		t.Error("no requests went through")
	}
}

// Close closes the upstream connections of every Transport the Server
// used, NTLM-to-Basic clients' included.
func TestServerCloseClosesClientTransports(t *testing.T) {
	up := newBasicUpstream(t)
	upURL, _ := url.Parse(up.URL)
	ups := &Upstreams{List: []*url.URL{upURL}}
	srv := &Server{
		Router: &StaticRouter{Upstreams: ups}, Upstreams: ups, Transport: &auth.Transport{},
		FromClient: func(user, password string) []auth.Credential {
			return []auth.Credential{&auth.Basic{User: user, Password: password}}
		},
	}
	front := httptest.NewServer(srv)
	defer front.Close()
	h := http.Header{}
	h.Set("Proxy-Authorization", "Basic "+basicToken("alice", "AlicePass123"))
	if code, body := get(t, front.Listener.Addr().String(), "http://origin.test/x", h); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if up.open.Load() == 0 {
		t.Fatal("no upstream connection open")
	}
	srv.Close()
	for i := 0; up.open.Load() != 0; i++ {
		if i > 1000 { // 10 s
			t.Fatalf("%d upstream connections still open after Close", up.open.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func basicToken(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}
