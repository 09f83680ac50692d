package auth_test

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/auth"
)

// sessionCookie reads the session cookie from a response.
func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == auth.DefaultSessionCookie && c.Value != "" {
			return c
		}
	}
	t.Fatalf("no session cookie in %q", resp.Header.Values("Set-Cookie"))
	return nil
}

// dialRawFrom is dialRaw from a given local address.
func dialRawFrom(t *testing.T, srvURL, localIP string) *rawConn {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}}
	c, err := d.Dial("tcp", strings.TrimPrefix(srvURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{c: c, br: bufio.NewReader(c)}
}

// doCookie sends a GET with only a Cookie header.
func (rc *rawConn) doCookie(t *testing.T, path string, c *http.Cookie) (*http.Response, string) {
	t.Helper()
	return rc.doHeader(t, path, "Cookie: "+c.Name+"="+c.Value)
}

func (rc *rawConn) doHeader(t *testing.T, path, header string) (*http.Response, string) {
	t.Helper()
	rc.c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := rc.c.Write([]byte("GET " + path + " HTTP/1.1\r\nHost: test\r\n" + header + "\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
	resp.Body.Close()
	return resp, b.String()
}

// A session cookie issued after an NTLM logon (curl --ntlm, cookie jar)
// lets a new connection in without a handshake; a tampered cookie, an
// expired one, one sealed with a retired key and one presented from
// another address are refused.
func TestMiddlewareSessionCookie(t *testing.T) {
	k1, _ := auth.NewSessionKey()
	k2, _ := auth.NewSessionKey()
	clk := &clock{t: time.Now()}
	sess := &auth.SessionCookies{Keys: [][]byte{k1}, MaxAge: time.Hour, Bind: auth.BindClientIP, Now: clk.now}
	m := &auth.Middleware{NTLM: ntlmServer(t), Sessions: sess}
	srv := startMiddleware(t, m, whoami)

	jar := filepath.Join(t.TempDir(), "jar")
	code, body := curlStatus(t, "--ntlm", "-u", `CORP\alice:`+alicePass, "-c", jar, srv.URL+"/login")
	if code != 200 || !strings.Contains(body, `CORP\alice`) {
		t.Fatalf("logon: %d %q", code, body)
	}
	code, body = curlStatus(t, "-b", jar, srv.URL+"/page")
	if code != 200 || body != `user=CORP\alice scheme=NTLM verified=session cookie` {
		t.Fatalf("new connection with the cookie: %d %q", code, body)
	}
	jarText, _ := os.ReadFile(jar)
	if !strings.Contains(string(jarText), "#HttpOnly_") {
		t.Errorf("cookie is not HttpOnly: %s", jarText)
	}

	// Issue one directly for the raw tests.
	cookie := issue(t, sess, "127.0.0.1:1")
	rc := dialRaw(t, srv.URL)
	if resp, body := rc.doCookie(t, "/", cookie); resp.StatusCode != 200 || !strings.Contains(body, "session cookie") {
		t.Fatalf("raw cookie: %d %q", resp.StatusCode, body)
	}
	tampered := *cookie
	b := []byte(tampered.Value)
	b[len(b)/2] ^= 1
	if b[len(b)/2] == '-' || b[len(b)/2] == '_' || b[len(b)/2] > 'z' {
		b[len(b)/2] = 'A'
	}
	tampered.Value = string(b)
	resp, _ := rc.doCookie(t, "/", &tampered)
	if resp.StatusCode != 401 || !strings.Contains(strings.Join(resp.Header.Values("Set-Cookie"), ";"), "Max-Age=0") {
		t.Fatalf("tampered cookie: %d %q", resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}
	if resp, _ := dialRawFrom(t, srv.URL, "127.0.0.2").doCookie(t, "/", cookie); resp.StatusCode != 401 {
		t.Fatalf("cookie from another address: %d", resp.StatusCode)
	}
	sess.Keys = [][]byte{k2, k1} // rotation: the old key still opens
	if resp, _ := rc.doCookie(t, "/", cookie); resp.StatusCode != 200 {
		t.Fatalf("after rotation: %d", resp.StatusCode)
	}
	sess.Keys = [][]byte{k2} // the old key retired
	if resp, _ := rc.doCookie(t, "/", cookie); resp.StatusCode != 401 {
		t.Fatalf("retired key: %d", resp.StatusCode)
	}
	sess.Keys = [][]byte{k2, k1}
	clk.add(time.Hour + time.Second)
	if resp, _ := rc.doCookie(t, "/", cookie); resp.StatusCode != 401 {
		t.Fatalf("expired cookie: %d", resp.StatusCode)
	}
}

// A session never outlives the credential it came from.
func TestSessionCookieLifetimeBoundByCredential(t *testing.T) {
	k, _ := auth.NewSessionKey()
	now := time.Now()
	s := &auth.SessionCookies{Keys: [][]byte{k}, MaxAge: 10 * time.Hour, Now: func() time.Time { return now }}
	r, _ := http.NewRequest("GET", "http://x/", nil)
	c, err := s.Issue(r, &auth.User{Name: "alice", Expires: now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxAge != 60 || !c.HttpOnly || c.Secure {
		t.Fatalf("cookie %+v", c)
	}
	if _, err := s.Issue(r, &auth.User{Name: "alice", Expires: now.Add(-time.Second)}); err == nil {
		t.Fatal("session issued for an expired credential")
	}
}

func issue(t *testing.T, s *auth.SessionCookies, remote string) *http.Cookie {
	t.Helper()
	r, _ := http.NewRequest("GET", "http://x/", nil)
	r.RemoteAddr = remote
	c, err := s.Issue(r, &auth.User{Name: "alice", Domain: "CORP", Principal: `CORP\alice`, Scheme: "NTLM", Mechanism: "ntlm", Verified: "ntlm user file"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
