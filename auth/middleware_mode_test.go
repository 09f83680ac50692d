package auth_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/auth"
)

// Optional mode: an anonymous visitor gets the page with no challenge;
// the login path answers 401 with NTLM (and Basic, configured here);
// after the handshake the login path redirects back, and the connection
// stays authenticated for the page. An unprompted Authorization header
// outside the login path is ignored; Opportunistic accepts it.
func TestMiddlewareOptionalMode(t *testing.T) {
	hf, err := auth.LoadHtpasswd(htpasswdFile(t, "-B"))
	if err != nil {
		t.Fatal(err)
	}
	m := &auth.Middleware{NTLM: ntlmServer(t), Basic: hf, DefaultMode: auth.Optional, LoginPath: "/login",
		Paths: []auth.PathMode{{Prefix: "/api", Mode: auth.Opportunistic}, {Prefix: "/admin/", Mode: auth.Required}, {Prefix: "/static", Mode: auth.Off}}}
	srv := startMiddleware(t, m, whoami)
	c := dialRaw(t, srv.URL)
	resp, body := c.do(t, "/page", "")
	if resp.StatusCode != 200 || body != "anonymous" || resp.Header.Get("WWW-Authenticate") != "" {
		t.Fatalf("anonymous: %d %q %q", resp.StatusCode, body, resp.Header.Values("WWW-Authenticate"))
	}
	resp, _ = c.do(t, "/login?return=/page", "")
	got := resp.Header.Values("WWW-Authenticate")
	if resp.StatusCode != 401 || len(got) != 2 || got[0] != "NTLM" || !strings.HasPrefix(got[1], "Basic ") {
		t.Fatalf("login path: %d %q", resp.StatusCode, got)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+alicePass))
	if resp, body := c.do(t, "/page", basic); resp.StatusCode != 200 || body != "anonymous" {
		t.Fatalf("unprompted header in optional mode: %d %q", resp.StatusCode, body)
	}
	if resp, body := c.do(t, "/api/x", basic); resp.StatusCode != 200 || body != "user=alice scheme=Basic verified=htpasswd" {
		t.Fatalf("unprompted header in opportunistic mode: %d %q", resp.StatusCode, body)
	}
	if resp, _ := c.do(t, "/api/x", "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:no"))); resp.StatusCode != 401 {
		t.Fatalf("wrong password in opportunistic mode: %d", resp.StatusCode)
	}
	if resp, body := c.do(t, "/api/x", ""); resp.StatusCode != 200 || body != "anonymous" {
		t.Fatalf("anonymous in opportunistic mode: %d %q", resp.StatusCode, body)
	}
	if resp, _ := c.do(t, "/admin/x", ""); resp.StatusCode != 401 {
		t.Fatalf("required path: %d", resp.StatusCode)
	}
	if resp, body := c.do(t, "/static/x", basic); resp.StatusCode != 200 || body != "anonymous" {
		t.Fatalf("off path: %d %q", resp.StatusCode, body)
	}

	// curl follows the login: NTLM at /login, 303 to /page on the same
	// connection, which is then alice's.
	code, body := curlStatus(t, "--ntlm", "-u", `CORP\alice:`+alicePass, "-L", srv.URL+"/login?return=/page")
	if code != 200 || body != `user=CORP\alice scheme=NTLM verified=ntlm user file` {
		t.Fatalf("login and back: %d %q", code, body)
	}
	// An open redirect is not followed: the login page itself is served.
	code, body = curlStatus(t, "--ntlm", "-u", `CORP\alice:`+alicePass, srv.URL+"/login?return=//evil.example/")
	if code != 200 || !strings.Contains(body, "alice") {
		t.Fatalf("login with a foreign return: %d %q", code, body)
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []auth.Mode{auth.Required, auth.Optional, auth.Opportunistic, auth.Off} {
		got, err := auth.ParseMode(strings.ToUpper(m.String()))
		if err != nil || got != m {
			t.Errorf("%v: %v %v", m, got, err)
		}
	}
	if _, err := auth.ParseMode("sometimes"); err == nil {
		t.Error("sometimes parsed")
	}
}
