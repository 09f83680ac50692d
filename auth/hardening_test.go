package auth_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/auth"
)

// dropServer answers the first request of each connection with 200 and
// keep-alive, and on the second reads the whole request and closes the
// connection without a byte of response: a peer that saw a request and
// dropped it. It counts the requests it read, per method.
type dropServer struct {
	ln    net.Listener
	mu    sync.Mutex
	count map[string]int
}

func startDropServer(t *testing.T) *dropServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dropServer{ln: ln, count: map[string]int{}}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *dropServer) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	for n := 0; ; n++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		s.mu.Lock()
		s.count[req.Method]++
		s.mu.Unlock()
		if n == 1 {
			return // read, then dropped
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	}
}

func (s *dropServer) seen(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count[method]
}

// A request whose connection dies is sent again only as net/http would:
// idempotent methods (or with an Idempotency-Key), on a reused
// connection, when not one byte of a response arrived. A server that
// reads a POST and drops the connection receives it once, not four times.
func TestTransportResendsOnlyIdempotentRequests(t *testing.T) {
	for _, tc := range []struct {
		method string
		key    bool
		sent   int  // times the server must see the request
		ok     bool // whether the caller gets a response
	}{
		{"GET", false, 2, true},
		{"HEAD", false, 2, true},
		{"PUT", true, 2, true}, // Idempotency-Key
		{"POST", false, 1, false},
		{"DELETE", false, 1, false},
		{"PATCH", false, 1, false},
	} {
		t.Run(tc.method, func(t *testing.T) {
			s := startDropServer(t)
			tr := &auth.Transport{Proxy: noProxy}
			defer tr.CloseIdleConnections()
			url := "http://" + s.ln.Addr().String() + "/"
			// First request: answered, and the connection kept.
			do(t, tr, "GET", url, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, tc.method, url, strings.NewReader("payload"))
			if tc.key {
				req.Header.Set("Idempotency-Key", "k1")
			}
			resp, err := tr.RoundTrip(req)
			if resp != nil {
				resp.Body.Close()
			}
			if tc.ok != (err == nil) {
				t.Fatalf("%s on a dropped connection: err %v, want success %v", tc.method, err, tc.ok)
			}
			want := tc.sent
			if tc.method == "GET" {
				want++ // the first, answered request
			}
			if got := s.seen(tc.method); got != want {
				t.Errorf("server read %s %d times, want %d", tc.method, got, want)
			}
		})
	}
}

// A fresh connection that fails is not a keep-alive race: a GET on it is
// not sent again either.
func TestTransportNoResendOnFreshConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	reads := 0
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					mu.Lock()
					reads++
					mu.Unlock()
				}
			}()
		}
	}()
	tr := &auth.Transport{Proxy: noProxy}
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/", nil)
	if _, err := tr.RoundTrip(req); err == nil {
		t.Fatal("a dropped request on a new connection succeeded")
	}
	mu.Lock()
	defer mu.Unlock()
	if reads != 1 {
		t.Errorf("server read the GET %d times, want 1", reads)
	}
}

// What a peer accepted is remembered with its URL scheme: Basic learned
// for https://h:p is never sent pre-emptively, in clear, to http://h:p.
func TestTransportKnownPeersKeepTheirScheme(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	var mu sync.Mutex
	var plainAuth []string
	basic := func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "ok")
	}
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(basic))
	tlsSrv.Listener = ln
	tlsSrv.StartTLS()
	tr := &auth.Transport{
		Proxy:           noProxy,
		Credentials:     []auth.Credential{&auth.Basic{User: "alice", Password: "AlicePass123"}},
		TLSClientConfig: &tls.Config{RootCAs: tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs},
	}
	defer tr.CloseIdleConnections()
	for i := 0; i < 2; i++ {
		if resp, _ := do(t, tr, "GET", "https://"+addr+"/", nil); resp.StatusCode != 200 {
			t.Fatalf("https with Basic: %s", resp.Status)
		}
	}
	tlsSrv.Close()
	tr.CloseIdleConnections()

	// The same host and port, now plain HTTP.
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	plain := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		plainAuth = append(plainAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		basic(w, r)
	}))
	plain.Listener = ln2
	plain.Start()
	defer plain.Close()
	resp, _ := do(t, tr, "GET", "http://"+addr+"/", nil)
	mu.Lock()
	defer mu.Unlock()
	for _, a := range plainAuth {
		if a != "" {
			t.Fatalf("the password learned for https://%s went in clear to http://%s", addr, addr)
		}
	}
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("plain HTTP with Basic not allowed: %s, want the 401", resp.Status)
	}
}

// connAuthOrigin authenticates connections, as IIS and mod_auth_gssapi
// with GssapiConnectionBound do: after "Authorization: NTLM <user>" on a
// connection, every later request on it passes as that user.
func connAuthOrigin(t *testing.T) *httptest.Server {
	type connKey struct{}
	type state struct{ user string }
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := r.Context().Value(connKey{}).(*state)
		if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "NTLM "); ok {
			b, _ := base64.StdEncoding.DecodeString(v)
			st.user = string(b)
		}
		if st.user == "" {
			w.Header().Set("WWW-Authenticate", "NTLM")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "hello %s", st.user)
	}))
	srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, &state{})
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func getWith(t *testing.T, tr *auth.Transport, ctx context.Context, url, authz string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A connection on which the caller authenticated itself goes to the
// caller's Pin, never to the pool: another caller (another Pin, or none)
// gets a connection of its own and the origin's 401.
func TestTransportPinsCallerAuthenticatedConnections(t *testing.T) {
	origin := connAuthOrigin(t)
	tr := &auth.Transport{Proxy: noProxy}
	defer tr.CloseIdleConnections()
	alice, other := auth.NewPin(), auth.NewPin()
	defer alice.Close()
	defer other.Close()
	actx := auth.WithPin(context.Background(), alice)
	token := "NTLM " + base64.StdEncoding.EncodeToString([]byte("alice"))
	if code, body := getWith(t, tr, actx, origin.URL, token); code != 200 || body != "hello alice" {
		t.Fatalf("alice: %d %q", code, body)
	}
	if alice.Len() != 1 {
		t.Fatalf("alice's pin holds %d connections, want 1", alice.Len())
	}
	for name, ctx := range map[string]context.Context{"no pin": context.Background(), "another pin": auth.WithPin(context.Background(), other)} {
		if code, body := getWith(t, tr, ctx, origin.URL, ""); code != 401 {
			t.Errorf("%s: %d %q; want 401: alice's connection was handed on", name, code, body)
		}
	}
	// Alice's own next request, without credentials, rides her connection.
	if code, body := getWith(t, tr, actx, origin.URL, ""); code != 200 || body != "hello alice" {
		t.Errorf("alice again on her pinned connection: %d %q", code, body)
	}
	// Without a Pin, a caller-authenticated connection is closed, not pooled.
	if code, _ := getWith(t, tr, context.Background(), origin.URL, token); code != 200 {
		t.Fatalf("unpinned alice: %d", code)
	}
	if code, body := getWith(t, tr, context.Background(), origin.URL, ""); code != 401 {
		t.Errorf("after an unpinned caller authenticated, the next caller got %d %q; want 401", code, body)
	}
	alice.Close()
	if code, _ := getWith(t, tr, actx, origin.URL, ""); code != 401 {
		t.Errorf("a closed pin's connection was used again: %d", code)
	}
}
