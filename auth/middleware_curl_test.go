package auth_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/auth"
)

// curl --ntlm against the Middleware: the right password gets the page
// with the name, a wrong one 401.
func TestMiddlewareCurlNTLM(t *testing.T) {
	m := &auth.Middleware{NTLM: ntlmServer(t)}
	srv := startMiddleware(t, m, whoami)
	code, body := curlStatus(t, "--ntlm", "-u", `CORP\alice:`+alicePass, srv.URL+"/page")
	if code != 200 || body != `user=CORP\alice scheme=NTLM verified=ntlm user file` {
		t.Fatalf("alice: %d %q", code, body)
	}
	code, body = curlStatus(t, "--ntlm", "-u", `CORP\alice:wrong`, srv.URL+"/page")
	if code != 401 || strings.Contains(body, "alice") {
		t.Fatalf("wrong password: %d %q", code, body)
	}
	if c, p := m.OpenConnections(); p != 0 {
		t.Errorf("after the clients left: %d connections, %d pending handshakes", c, p)
	}
}

// curl --basic against htpasswd files written by Apache's htpasswd in
// bcrypt, SHA and MD5-crypt.
func TestMiddlewareCurlBasicHtpasswd(t *testing.T) {
	for _, format := range []string{"-B", "-s", "-m"} {
		t.Run(format, func(t *testing.T) {
			hf, err := auth.LoadHtpasswd(htpasswdFile(t, format))
			if err != nil {
				t.Fatal(err)
			}
			srv := startMiddleware(t, &auth.Middleware{Basic: hf}, whoami)
			code, body := curlStatus(t, "--basic", "-u", "alice:"+alicePass, srv.URL+"/")
			if code != 200 || body != "user=alice scheme=Basic verified=htpasswd" {
				t.Fatalf("alice: %d %q", code, body)
			}
			if code, _ := curlStatus(t, "--basic", "-u", "alice:"+mwBobPass, srv.URL+"/"); code != 401 {
				t.Fatalf("wrong password: %d", code)
			}
			if code, _ := curlStatus(t, "--basic", "-u", "carol:"+mwBobPass, srv.URL+"/"); code != 401 {
				t.Fatalf("unknown user: %d", code)
			}
		})
	}
}

// curl --digest against a file written by Apache's htdigest (MD5), and
// against a SHA-256 line, which makes the server offer only SHA-256.
func TestMiddlewareCurlDigest(t *testing.T) {
	sha := filepath.Join(t.TempDir(), "htdigest-sha256")
	sum := sha256.Sum256([]byte("alice:" + digestRealm + ":" + alicePass))
	if err := os.WriteFile(sha, []byte("alice:"+digestRealm+":"+hex.EncodeToString(sum[:])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{"MD5": htdigestFile(t), "SHA-256": sha} {
		t.Run(name, func(t *testing.T) {
			store, err := auth.LoadHTDigest(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := store.Algorithms(); len(got) != 1 || got[0] != name {
				t.Fatalf("algorithms %v", got)
			}
			srv := startMiddleware(t, &auth.Middleware{Digest: &auth.DigestVerifier{Store: store, Realm: digestRealm}}, whoami)
			code, body := curlStatus(t, "--digest", "-u", "alice:"+alicePass, srv.URL+"/a/b?c=d")
			if code != 200 || body != "user=alice scheme=Digest verified=htdigest" {
				t.Fatalf("alice: %d %q", code, body)
			}
			if code, _ := curlStatus(t, "--digest", "-u", "alice:wrong", srv.URL+"/"); code != 401 {
				t.Fatalf("wrong password: %d", code)
			}
		})
	}
}

// opensslLegacy turns on OpenSSL 3's legacy provider, where MD4 lives:
// python3-ntlm-auth hashes passwords with hashlib.new('md4'), which
// Debian 12's OpenSSL refuses by default.
const opensslLegacy = `openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
legacy = legacy_sect
[default_sect]
activate = 1
[legacy_sect]
activate = 1
`

// python3-requests-ntlm as the client.
func TestMiddlewarePythonRequestsNTLM(t *testing.T) {
	cnf := filepath.Join(t.TempDir(), "openssl.cnf")
	if err := os.WriteFile(cnf, []byte(opensslLegacy), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OPENSSL_CONF", cnf)
	srv := startMiddleware(t, &auth.Middleware{NTLM: ntlmServer(t)}, whoami)
	script := `import sys, requests, requests_ntlm
r = requests.get(sys.argv[1], auth=requests_ntlm.HttpNtlmAuth(sys.argv[2], sys.argv[3]), timeout=20)
print(r.status_code, r.text)`
	out, err := mwRun(t, "/usr/bin/python3", "-c", script, srv.URL+"/", `CORP\bob`, mwBobPass)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out); got != `200 user=CORP\bob scheme=NTLM verified=ntlm user file` {
		t.Fatalf("requests-ntlm: %q", got)
	}
	out, err = mwRun(t, "/usr/bin/python3", "-c", script, srv.URL+"/", `CORP\bob`, "nope")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "401 ") {
		t.Fatalf("requests-ntlm, wrong password: %q", out)
	}
}
