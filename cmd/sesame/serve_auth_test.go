//go:build linux

package main

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/internal/lab"
	"github.com/sesame-auth/sesame/ntlm"
)

// serveAccounts writes alice's and bob's accounts as an NTLM user file,
// an htpasswd file (bcrypt, by Apache's htpasswd) and an htdigest file
// (realm "intranet"), and returns the flags naming them.
func serveAccounts(t *testing.T) []string {
	t.Helper()
	lab.Require(t, "htpasswd")
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var htpasswd, htdigest strings.Builder
	for _, u := range [][2]string{{"alice", "AlicePass123"}, {"bob", "BobPass456"}} {
		out, err := exec.Command("htpasswd", "-nbB", u[0], u[1]).Output()
		if err != nil {
			t.Fatalf("htpasswd: %v", err)
		}
		htpasswd.WriteString(strings.TrimSpace(string(out)) + "\n")
		ha1 := md5.Sum([]byte(u[0] + ":intranet:" + u[1]))
		htdigest.WriteString(u[0] + ":intranet:" + hex.EncodeToString(ha1[:]) + "\n")
	}
	return []string{
		"--ntlm-users", write("ntlm-users", "CORP:alice:AlicePass123\nCORP:bob:BobPass456\n"), "--ntlm-domain", "CORP",
		"--htpasswd", write("htpasswd", htpasswd.String()),
		"--htdigest", write("htdigest", htdigest.String()), "--realm", "intranet",
	}
}

// curl --ntlm, --basic and --digest through sesame serve: 200 with the
// right X-Remote-User at the backend (a spoofed one dropped, the
// Authorization header not forwarded); a wrong password is 401.
func TestServeCurlSchemes(t *testing.T) {
	backend := echoBackend(t)
	bin := buildSesame(t)
	srv := startServe(t, bin, nil, "http", append(serveAccounts(t), "--backend", backend.URL)...)
	for _, tc := range []struct {
		scheme, user, password, want string
		ok                           bool
	}{
		{"--ntlm", `CORP\alice`, "AlicePass123", `CORP\alice`, true},
		{"--ntlm", `CORP\bob`, "BobPass456", `CORP\bob`, true},
		{"--ntlm", `CORP\alice`, "wrong", "", false},
		{"--basic", "alice", "AlicePass123", "alice", true},
		{"--basic", "alice", "wrong", "", false},
		{"--digest", "bob", "BobPass456", "bob", true},
		{"--digest", "bob", "wrong", "", false},
	} {
		body, status := curlStatus(t, tc.scheme, "-u", tc.user+":"+tc.password,
			"-H", "X-Remote-User: mallory", "-H", "X_Remote_User: mallory", "-H", "x-remote-groups: Domain Admins", srv.URL+"/app")
		if !tc.ok {
			if status != 401 {
				t.Errorf("%s %s with a wrong password: status %d, want 401", tc.scheme, tc.user, status)
			}
			continue
		}
		if status != 200 {
			t.Errorf("%s %s: status %d: %s", tc.scheme, tc.user, status, body)
			continue
		}
		h := echoed(t, body)
		if got := h.Values("X-Remote-User"); len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s %s: backend got X-Remote-User %q, want %q", tc.scheme, tc.user, got, tc.want)
		}
		if found := identityHeadersIn(h, "X-Remote-Groups"); len(found) > 0 || len(identityHeadersIn(h, "X-Remote-User")) != 1 {
			t.Errorf("%s: spoofed headers reached the backend: %v", tc.scheme, h)
		}
		if h.Get("Authorization") != "" {
			t.Errorf("%s: the backend got the Authorization header", tc.scheme)
		}
	}
	log := srv.log.String()
	if !strings.Contains(log, `user="CORP\\alice"`) && !strings.Contains(log, `user=CORP\alice`) {
		t.Errorf("access log names no user:\n%s", log)
	}
	if !strings.Contains(log, "auth=NTLM") || !strings.Contains(log, "auth=Digest") {
		t.Errorf("access log names no scheme:\n%s", log)
	}
}

// python3-requests-ntlm as a client of sesame serve.
func TestServePythonRequestsNTLM(t *testing.T) {
	lab.RequirePython(t, "requests_ntlm")
	backend := echoBackend(t)
	bin := buildSesame(t)
	srv := startServe(t, bin, nil, "http", append(serveAccounts(t), "--backend", backend.URL)...)
	script := `import sys, requests
from requests_ntlm import HttpNtlmAuth
for pw in ("AlicePass123", "wrong"):
    # A session (a connection) each: NTLM authenticates the connection.
    s = requests.Session()
    s.trust_env = False
    r = s.get(sys.argv[1], auth=HttpNtlmAuth("CORP\\alice", pw), timeout=30)
    print(r.status_code, r.json().get("X-Remote-User") if r.status_code == 200 else "")
`
	cmd := exec.Command("/usr/bin/python3", "-c", script, srv.URL+"/py")
	// python3-ntlm-auth hashes with hashlib.new('md4'), which lives in
	// OpenSSL 3's legacy provider, off by default on Debian 12.
	cnf := filepath.Join(t.TempDir(), "openssl.cnf")
	legacy := "openssl_conf = openssl_init\n[openssl_init]\nproviders = provider_sect\n[provider_sect]\ndefault = default_sect\nlegacy = legacy_sect\n[default_sect]\nactivate = 1\n[legacy_sect]\nactivate = 1\n"
	if err := os.WriteFile(cnf, []byte(legacy), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd.Env = []string{"PATH=/usr/bin:/bin", "OPENSSL_CONF=" + cnf}
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "200 ['CORP\\\\alice']\n401 \n" {
		t.Errorf("requests-ntlm: %v\n%s", err, out)
	}
}

// Optional mode: an anonymous request gets the page with no challenge
// and no identity; the login path answers 401 offering NTLM (and the
// other configured schemes), and after the login redirects to ?return=.
func TestServeOptionalMode(t *testing.T) {
	backend := echoBackend(t)
	bin := buildSesame(t)
	srv := startServe(t, bin, nil, "http", append(serveAccounts(t), "--backend", backend.URL, "--mode", "optional")...)
	resp, err := http.Get(srv.URL + "/page")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(resp.Header.Values("WWW-Authenticate")) != 0 {
		t.Errorf("anonymous: %d %v", resp.StatusCode, resp.Header)
	}
	if h := echoed(t, string(body)); h.Get("X-Remote-User") != "" {
		t.Errorf("anonymous request carried a user: %v", h)
	}
	resp, err = http.Get(srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	offers := strings.Join(resp.Header.Values("WWW-Authenticate"), "; ")
	if resp.StatusCode != 401 || !strings.Contains(offers, "NTLM") || !strings.Contains(offers, "Basic") {
		t.Errorf("/login: %d, WWW-Authenticate %q", resp.StatusCode, offers)
	}
	out, err := curl(t, "--ntlm", "-u", `CORP\alice:AlicePass123`, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", srv.URL+"/login?return=/back/here")
	if err != nil || !strings.HasPrefix(out, "303 ") || !strings.HasSuffix(out, "/back/here") {
		t.Errorf("login: %q %v", out, err)
	}
	out, err = curl(t, "--ntlm", "-u", `CORP\alice:AlicePass123`, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", srv.URL+"/login?return=//evil.example/")
	if err != nil || strings.Contains(out, "evil") {
		t.Errorf("login with a foreign return: %q %v", out, err)
	}
}

// Two identities at once through one sesame serve, with sesame's own
// client: every answer carries the user of the connection it came on.
func TestServeParallelIdentities(t *testing.T) {
	backend := echoBackend(t)
	bin := buildSesame(t)
	srv := startServe(t, bin, nil, "http", append(serveAccounts(t), "--backend", backend.URL)...)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for _, u := range [][2]string{{"alice", "AlicePass123"}, {"bob", "BobPass456"}} {
		client := &http.Client{Transport: &auth.Transport{Credentials: []auth.Credential{
			&auth.NTLM{Client: ntlm.Client{User: u[0], Domain: "CORP", Password: u[1]}}}}}
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 10; i++ {
					resp, err := client.Get(fmt.Sprintf("%s/%s/%d", srv.URL, u[0], i))
					if err != nil {
						errs <- err
						return
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						errs <- fmt.Errorf("%s: status %d", u[0], resp.StatusCode)
						return
					}
					if got := echoed(t, string(body)).Get("X-Remote-User"); got != `CORP\`+u[0] {
						errs <- fmt.Errorf("%s's request reached the backend as %q", u[0], got)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// With session_key_file, one NTLM login gives a cookie that carries the
// identity to later connections, which send no credentials.
func TestServeSessionCookie(t *testing.T) {
	backend := echoBackend(t)
	bin := buildSesame(t)
	dir := t.TempDir()
	keyFile, conf := filepath.Join(dir, "session.key"), filepath.Join(dir, "sesame.toml")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("[serve]\nsession_key_file = '"+keyFile+"'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, bin, nil, "http", append(serveAccounts(t), "--backend", backend.URL, "--config", conf)...)
	jar := filepath.Join(dir, "jar")
	if _, status := curlStatus(t, "--ntlm", "-u", `CORP\alice:AlicePass123`, "-c", jar, srv.URL+"/first"); status != 200 {
		t.Fatalf("login: %d", status)
	}
	body, status := curlStatus(t, "-b", jar, srv.URL+"/second")
	if status != 200 || echoed(t, body).Get("X-Remote-User") != `CORP\alice` {
		t.Errorf("with the cookie: %d %s", status, body)
	}
	if _, status := curlStatus(t, srv.URL+"/third"); status != 401 {
		t.Errorf("without the cookie: %d, want 401", status)
	}
}

// sesame serve with an htdigest file answers a Digest success with
// Authentication-Info: sesame's own Transport as alice and bob at once
// (each verifying the rspauth of every response: it would fail the
// request otherwise) and curl --digest, which receives the header.
func TestServeDigestAuthenticationInfo(t *testing.T) {
	backend := echoBackend(t)
	bin := buildSesame(t)
	srv := startServe(t, bin, nil, "http", append(serveAccounts(t), "--backend", backend.URL)...)
	var wg sync.WaitGroup
	for _, u := range [][2]string{{"alice", "AlicePass123"}, {"bob", "BobPass456"}} {
		tr := &auth.Transport{Credentials: []auth.Credential{&auth.Digest{User: u[0], Password: u[1]}}, Proxy: func(*http.Request) (*url.URL, error) { return nil, nil }}
		defer tr.CloseIdleConnections()
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 5 {
					resp, err := (&http.Client{Transport: tr}).Get(fmt.Sprintf("%s/app/%d/%d", srv.URL, g, i))
					if err != nil {
						t.Errorf("%s: %v", u[0], err)
						return
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Authentication-Info"), "rspauth=") {
						t.Errorf("%s: %s, Authentication-Info %q", u[0], resp.Status, resp.Header.Values("Authentication-Info"))
						return
					}
					if got := echoed(t, string(body)).Get("X-Remote-User"); got != u[0] {
						t.Errorf("%s: backend got X-Remote-User %q", u[0], got)
					}
				}
			}()
		}
	}
	wg.Wait()

	hdr := filepath.Join(t.TempDir(), "headers")
	if _, status := curlStatus(t, "--digest", "-u", "alice:AlicePass123", "-D", hdr, srv.URL+"/app"); status != 200 {
		t.Fatalf("curl --digest: %d", status)
	}
	h, _ := os.ReadFile(hdr)
	if !regexp.MustCompile(`(?mi)^Authentication-Info: rspauth="[0-9a-f]{32}", qop=auth, nc=00000001, cnonce="[^"]+"\r$`).Match(h) {
		t.Fatalf("curl --digest: no Authentication-Info in\n%s", h)
	}
}
