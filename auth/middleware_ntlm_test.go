package auth_test

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/ntlm"
)

// rawConn is one client TCP connection, to control which connection each
// handshake leg goes on.
type rawConn struct {
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, srvURL string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(srvURL, "http://"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{c: c, br: bufio.NewReader(c)}
}

// do sends a GET with the given Authorization header ("" for none) and
// returns the response with its body read.
func (rc *rawConn) do(t testing.TB, path, authz string) (*http.Response, string) {
	t.Helper()
	rc.c.SetDeadline(time.Now().Add(20 * time.Second))
	req := "GET " + path + " HTTP/1.1\r\nHost: test\r\n"
	if authz != "" {
		req += "Authorization: " + authz + "\r\n"
	}
	if _, err := io.WriteString(rc.c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// ntlmChallenge sends a NEGOTIATE on rc and returns the CHALLENGE.
func (rc *rawConn) ntlmChallenge(t testing.TB, neg []byte) []byte {
	t.Helper()
	resp, _ := rc.do(t, "/", "NTLM "+base64.StdEncoding.EncodeToString(neg))
	v, ok := strings.CutPrefix(resp.Header.Get("WWW-Authenticate"), "NTLM ")
	if resp.StatusCode != 401 || !ok {
		t.Fatalf("NEGOTIATE: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	chal, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	return chal
}

// The NTLM state of one connection is not visible to another: an
// AUTHENTICATE answering connection A's CHALLENGE is refused on
// connection B, and still completes on A. The authenticated identity
// stays with A.
func TestMiddlewareNTLMStatePerConnection(t *testing.T) {
	srv := startMiddleware(t, &auth.Middleware{NTLM: ntlmServer(t)}, whoami)
	c := &ntlm.Client{User: `CORP\alice`, Password: alicePass}
	neg, err := c.Negotiate()
	if err != nil {
		t.Fatal(err)
	}
	a, b := dialRaw(t, srv.URL), dialRaw(t, srv.URL)
	chal := a.ntlmChallenge(t, neg)
	msg, err := c.Authenticate(neg, chal)
	if err != nil {
		t.Fatal(err)
	}
	leg3 := "NTLM " + base64.StdEncoding.EncodeToString(msg.Message)
	if resp, body := b.do(t, "/", leg3); resp.StatusCode != 401 {
		t.Fatalf("leg 3 on another connection: %d %q", resp.StatusCode, body)
	}
	if resp, body := a.do(t, "/", leg3); resp.StatusCode != 200 || body != `user=CORP\alice scheme=NTLM verified=ntlm user file` {
		t.Fatalf("leg 3 on its own connection: %d %q", resp.StatusCode, body)
	}
	if resp, body := a.do(t, "/next", ""); resp.StatusCode != 200 || !strings.Contains(body, `CORP\alice`) {
		t.Fatalf("same connection, no header: %d %q", resp.StatusCode, body)
	}
	if resp, body := b.do(t, "/next", ""); resp.StatusCode != 401 {
		t.Fatalf("other connection, no header: %d %q", resp.StatusCode, body)
	}
	// The same AUTHENTICATE again on A: its handshake is used up.
	if resp, _ := a.do(t, "/", leg3); resp.StatusCode != 401 {
		t.Fatalf("replayed leg 3: %d", resp.StatusCode)
	}
}

// A client that opens 2000 connections and sends only NEGOTIATE on each
// does not lock a legitimate client out, neither with the default bound
// nor with a bound far below the flood (the oldest are dropped).
func TestMiddlewareNTLMNegotiateFlood(t *testing.T) {
	for _, bound := range []int{0, 100} {
		t.Run(fmt.Sprint("bound=", bound), func(t *testing.T) {
			m := &auth.Middleware{NTLM: ntlmServer(t), MaxPendingHandshakes: bound}
			srv := startMiddleware(t, m, whoami)
			neg, _ := (&ntlm.Client{User: "mallory", Password: "x"}).Negotiate()
			const flood = 2000
			var wg sync.WaitGroup
			sem := make(chan struct{}, 64)
			conns := make([]*rawConn, flood)
			for i := range flood {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					conns[i] = dialRaw(t, srv.URL)
					conns[i].ntlmChallenge(t, neg)
				}()
			}
			wg.Wait()
			nconn, pending := m.OpenConnections()
			t.Logf("after the flood: %d connections, %d pending handshakes", nconn, pending)
			if limit := max(bound, 1); bound > 0 && pending > limit {
				t.Fatalf("%d pending handshakes beyond the bound %d", pending, bound)
			}
			code, body := curlStatus(t, "--ntlm", "-u", `CORP\bob:`+mwBobPass, srv.URL+"/")
			if code != 200 || !strings.Contains(body, `CORP\bob`) {
				t.Fatalf("legitimate client during the flood: %d %q", code, body)
			}
			for _, c := range conns {
				c.c.Close()
			}
		})
	}
}
