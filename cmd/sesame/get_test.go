//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/internal/lab"
)

const getPassword = "AlicePass123"

// getApache starts an Apache whose /ntlm/, /basic/ and /digest/ know
// alice (CORP\alice for NTLM).
func getApache(t *testing.T) *lab.Apache {
	t.Helper()
	return lab.StartApache(t, lab.ApacheOptions{
		NTLMUsers:  []lab.NTLMUser{{Domain: "CORP", User: "alice", Password: getPassword}},
		BasicUsers: []lab.BasicUser{{User: "alice", Password: getPassword}},
	})
}

// count401 waits until Apache's access log has at least want 401 lines for
// requests whose line contains marker, then returns how many there are
// (Apache writes the line after the response, so it may lag the client).
func count401(t *testing.T, ap *lab.Apache, marker string, want int) int {
	t.Helper()
	count := func() int {
		data, _ := os.ReadFile(filepath.Join(ap.Dir, "logs", "access.log"))
		n := 0
		for _, l := range strings.Split(string(data), "\n") {
			if strings.Contains(l, marker) && strings.Contains(l, "\" 401 ") {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(3 * time.Second)
	for count() < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// A little longer, so that a surplus attempt would show up too.
	time.Sleep(200 * time.Millisecond)
	return count()
}

// The three schemes against Apache: the right password gives 200 and the
// CGI's user=, a wrong one exit 67 after exactly one attempt (Apache's
// log: the challenge, then the refused credentials; for NTLM the bare
// 401, the CHALLENGE and the refused AUTHENTICATE).
func TestGetApacheAuth(t *testing.T) {
	ap := getApache(t)
	for _, tc := range []struct {
		scheme, path, user string
		refused401         int
	}{
		{"ntlm", "/ntlm/", `CORP\alice`, 3},
		{"basic", "/basic/", "alice", 2},
		{"digest", "/digest/", "alice", 2},
	} {
		t.Run(tc.scheme, func(t *testing.T) {
			code, out, errOut := sesame(t, "", nil, "get", "-u", tc.user+":"+getPassword, "--auth", tc.scheme, ap.URL+tc.path)
			if code != 0 || !strings.Contains(out, "user="+tc.user+"\n") {
				t.Fatalf("right password: exit %d\nstdout:\n%s\nstderr:\n%s\n%s", code, out, errOut, ap.ErrorLog())
			}
			marker := "case=wrong-" + tc.scheme
			code, out, errOut = sesame(t, "", nil, "get", "-u", tc.user+":wrong", "--auth", tc.scheme, ap.URL+tc.path+"?"+marker)
			if code != exitAuthFailed || out != "" || !strings.Contains(errOut, "authentication failed") {
				t.Fatalf("wrong password: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitAuthFailed, out, errOut)
			}
			if n := count401(t, ap, marker, tc.refused401); n != tc.refused401 {
				t.Errorf("wrong password: %d 401s in the access log, want %d (one attempt)", n, tc.refused401)
			}
		})
	}

	t.Run("any picks NTLM", func(t *testing.T) {
		code, out, errOut := sesame(t, "", nil, "get", "-u", `CORP\alice:`+getPassword, ap.URL+"/ntlm/")
		if code != 0 || !strings.Contains(out, "auth_type=NTLM\n") {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
	})
	t.Run("password on stdin", func(t *testing.T) {
		code, out, errOut := sesame(t, getPassword+"\n", nil, "get", ap.URL+"/digest/", "-u", "alice")
		if code != 0 || !strings.Contains(out, "user=alice\n") {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
	})
	t.Run("password in env", func(t *testing.T) {
		code, out, errOut := sesame(t, "", map[string]string{"PW": getPassword}, "get", "-u", `CORP\alice`, "--password-env", "PW", ap.URL+"/ntlm/")
		if code != 0 || !strings.Contains(out, "user=CORP\\alice\n") {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
	})
	t.Run("NT hash", func(t *testing.T) {
		code, out, errOut := sesame(t, "", nil, "get", "-u", `CORP\alice`, "--nt-hash", "874649a24f9823fa52d36adfabf89d8e", ap.URL+"/ntlm/")
		if code != 0 || !strings.Contains(out, "user=CORP\\alice\n") {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
	})
	t.Run("password in URL", func(t *testing.T) {
		u := strings.Replace(ap.URL, "http://", "http://alice:"+getPassword+"@", 1) + "/digest/"
		code, out, errOut := sesame(t, "", nil, "get", u)
		if code != 0 || !strings.Contains(out, "user=alice\n") {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
	})
	// Basic over plain http only when asked for by name: "any" withholds
	// the password and says why.
	t.Run("basic over http needs --auth basic", func(t *testing.T) {
		marker := "case=basic-any"
		code, out, errOut := sesame(t, "", nil, "get", "-u", "alice:"+getPassword, ap.URL+"/basic/?"+marker)
		if code != exitAuthFailed || out != "" || !strings.Contains(errOut, "--auth basic") {
			t.Fatalf("exit %d, want %d\n%s\n%s", code, exitAuthFailed, out, errOut)
		}
		if n := count401(t, ap, marker, 1); n != 1 {
			t.Errorf("%d 401s, want 1: no credentials may have been sent", n)
		}
	})
	// No credentials: a 401 is an ordinary answer (curl prints it), or
	// 22 with --fail.
	t.Run("no credentials", func(t *testing.T) {
		if code, _, errOut := sesame(t, "", nil, "get", ap.URL+"/basic/"); code != 0 {
			t.Errorf("without -f: exit %d\n%s", code, errOut)
		}
		if code, _, errOut := sesame(t, "", nil, "get", "-f", ap.URL+"/basic/"); code != exitHTTPError {
			t.Errorf("with -f: exit %d, want 22\n%s", code, errOut)
		}
	})
	t.Run("kerberos flags with NTLM", func(t *testing.T) {
		// --delegation and --spn concern Kerberos only; with NTLM they
		// are accepted and change nothing.
		code, _, errOut := sesame(t, "", nil, "get", "--delegation", "policy", "--spn", "HTTP/x", "-u", `CORP\alice:`+getPassword, ap.URL+"/ntlm/")
		if code != 0 {
			t.Errorf("--delegation/--spn with NTLM: exit %d\n%s", code, errOut)
		}
	})
}

// Negotiate (Kerberos) with a real MIT KDC: single sign-on from the
// credential cache with "-u :" (curl's idiom) and with --auth negotiate,
// a password-based login, and through squid demanding Negotiate with
// "-U :". A missing ticket is exit 67 after one attempt.
func TestGetNegotiate(t *testing.T) {
	const pw = "KrbPass-789"
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: pw}}})
	ap := lab.StartApache(t, lab.ApacheOptions{KerberosKeytab: k.ServiceKeytab, Krb5Conf: k.Krb5Conf})
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "negotiate", KDC: k})
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	ccache := k.Kinit(t, "alice", pw)
	env := map[string]string{"KRB5_CONFIG": k.Krb5Conf, "KRB5CCNAME": "FILE:" + ccache, "PW": pw}
	for _, args := range [][]string{
		{"-u", ":", ap.URL + "/negotiate/"},
		{"--auth", "negotiate", ap.URL + "/negotiate/"},
		{"--auth", "negotiate", "-u", "alice", "--password-env", "PW", ap.URL + "/negotiate/"},
	} {
		code, out, errOut := sesame(t, "", env, append([]string{"get"}, args...)...)
		if code != 0 || !strings.Contains(out, "user=alice@CORP.TEST") {
			t.Errorf("sesame get %v: exit %d\n%s\n%s", args, code, out, errOut)
		}
	}
	code, out, errOut := sesame(t, "", env, "get", "-x", sq.URL, "-U", ":", origin.URL+"/via-squid")
	if code != 0 || !strings.Contains(out, "proxy_user=alice@CORP.TEST") {
		t.Errorf("through squid Negotiate: exit %d\n%s\n%s", code, out, errOut)
	}
	noTicket := map[string]string{"KRB5_CONFIG": k.Krb5Conf, "KRB5CCNAME": "FILE:" + filepath.Join(t.TempDir(), "none")}
	code, _, errOut = sesame(t, "", noTicket, "get", "--auth", "negotiate", ap.URL+"/negotiate/")
	if code != 67 {
		t.Errorf("no ticket: exit %d, want 67\n%s", code, errOut)
	}
}

// -v logs each request, status and handshake scheme, and never a
// password, token or Basic/Digest credential; also not when the
// password is wrong.
func TestGetVerboseLeaksNoSecret(t *testing.T) {
	ap := getApache(t)
	basic := base64.StdEncoding.EncodeToString([]byte("alice:" + getPassword))
	for _, tc := range []struct {
		scheme, path, user string
	}{
		{"NTLM", "/ntlm/", `CORP\alice`},
		{"Digest", "/digest/", "alice"},
		{"Basic", "/basic/", "alice"},
	} {
		for _, pw := range []string{getPassword, "WrongPass456"} {
			code, out, errOut := sesame(t, "", nil, "get", "-v", "--auth", strings.ToLower(tc.scheme), "-u", tc.user+":"+pw, ap.URL+tc.path)
			want := 0
			if pw != getPassword {
				want = exitAuthFailed
			}
			if code != want {
				t.Fatalf("%s %s: exit %d, want %d\n%s\n%s", tc.scheme, pw, code, want, out, errOut)
			}
			for _, w := range []string{"scheme=" + tc.scheme, "status=401", "msg=request"} {
				if !strings.Contains(errOut, w) {
					t.Errorf("%s: -v output lacks %q:\n%s", tc.scheme, w, errOut)
				}
			}
			if pw == getPassword && !strings.Contains(errOut, "status=\"200 OK\"") {
				t.Errorf("%s: -v output lacks the 200:\n%s", tc.scheme, errOut)
			}
			for _, secret := range []string{pw, "TlRMTVNT", basic, "response=", "nonce="} {
				if strings.Contains(errOut, secret) {
					t.Errorf("%s: -v output contains %q:\n%s", tc.scheme, secret, errOut)
				}
			}
		}
	}
}

// A 2 MB upload arrives intact (the CGI's sha256), streamed from a file
// and from stdin, through Basic and through NTLM (whose first legs carry
// no body).
func TestGetUpload(t *testing.T) {
	ap := getApache(t)
	data := make([]byte, 2<<20)
	rand.Read(data)
	sum := sha256.Sum256(data)
	file := filepath.Join(t.TempDir(), "upload.bin")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("length=%d\nsha256=%s\n", len(data), hex.EncodeToString(sum[:]))
	for _, tc := range []struct {
		name, stdin string
		args        []string
	}{
		{"basic file", "", []string{"--auth", "basic", "-u", "alice:" + getPassword, "--data-binary", "@" + file, ap.URL + "/basic/sha256.cgi"}},
		{"ntlm file", "", []string{"-u", `CORP\alice:` + getPassword, "--data-binary", "@" + file, ap.URL + "/ntlm/sha256.cgi"}},
		{"basic stdin", string(data), []string{"--auth", "basic", "-u", "alice:" + getPassword, "--data-binary", "@-", ap.URL + "/basic/sha256.cgi"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := sesame(t, tc.stdin, nil, append([]string{"get"}, tc.args...)...)
			// (sha256.cgi's echo mangles CORP\alice: only the sums count.)
			if code != 0 || !strings.Contains(out, want) {
				t.Fatalf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", code, out, want, errOut)
			}
		})
	}
}

// -o and -O write the body to a file; -f on a 404 exits 22 and creates
// no file.
func TestGetOutputAndFail(t *testing.T) {
	ap := getApache(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	code, stdout, errOut := sesame(t, "", nil, "get", ap.URL+"/public/", "-o", out)
	got, _ := os.ReadFile(out)
	if code != 0 || stdout != "" || !strings.HasPrefix(string(got), "user=\n") {
		t.Fatalf("-o: exit %d, stdout %q, file %q\n%s", code, stdout, got, errOut)
	}

	t.Chdir(dir)
	code, _, errOut = sesame(t, "", nil, "get", "-O", ap.URL+"/public/whoami.cgi")
	got, _ = os.ReadFile(filepath.Join(dir, "whoami.cgi"))
	if code != 0 || !strings.HasPrefix(string(got), "user=\n") {
		t.Fatalf("-O: exit %d, file %q\n%s", code, got, errOut)
	}
	if code, _, _ := sesame(t, "", nil, "get", "-O", ap.URL+"/public/"); code != 2 {
		t.Errorf("-O without a file name: exit %d, want 2", code)
	}

	missing := filepath.Join(dir, "missing.txt")
	code, stdout, errOut = sesame(t, "", nil, "get", "-f", "-o", missing, ap.URL+"/public/nope")
	if code != exitHTTPError || !strings.Contains(errOut, "404") {
		t.Errorf("-f on 404: exit %d, want 22\n%s", code, errOut)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("-f on 404 created the output file (%v)", err)
	}
	if code, stdout, _ = sesame(t, "", nil, "get", ap.URL+"/public/nope"); code != 0 || !strings.Contains(stdout, "Not Found") {
		t.Errorf("404 without -f: exit %d, body %q; want 0 and the error page", code, stdout)
	}
}

func TestGetNetworkErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/"
	l.Close()
	if code, _, errOut := sesame(t, "", nil, "get", closed); code != exitConnect {
		t.Errorf("connection refused: exit %d, want 7\n%s", code, errOut)
	}
	if code, _, errOut := sesame(t, "", nil, "get", "-x", closed, "http://127.0.0.1:9/"); code != exitConnect {
		t.Errorf("proxy refused: exit %d, want 7\n%s", code, errOut)
	}

	// --max-time on a server that never answers.
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer slow.Close()
	defer close(release)
	start := time.Now()
	if code, _, errOut := sesame(t, "", nil, "get", "--max-time", "0.5", slow.URL); code != exitTimeout {
		t.Errorf("--max-time: exit %d, want 28\n%s", code, errOut)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("--max-time 0.5 took %v", d)
	}

	// TLS: an unknown CA is 35; -k or --cacert make it work.
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secure\n") }))
	defer tlsSrv.Close()
	if code, _, errOut := sesame(t, "", nil, "get", tlsSrv.URL); code != exitTLS {
		t.Errorf("unknown CA: exit %d, want 35\n%s", code, errOut)
	}
	if code, out, errOut := sesame(t, "", nil, "get", "-k", tlsSrv.URL); code != 0 || out != "secure\n" {
		t.Errorf("-k: exit %d %q\n%s", code, out, errOut)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o644)
	if code, out, errOut := sesame(t, "", nil, "get", "--cacert", ca, tlsSrv.URL); code != 0 || out != "secure\n" {
		t.Errorf("--cacert: exit %d %q\n%s", code, out, errOut)
	}
	if code, _, _ := sesame(t, "", nil, "get", "--cacert", ca+".missing", tlsSrv.URL); code != exitCACert {
		t.Errorf("missing --cacert: exit %d, want 77", code)
	}
}

// Errors map to curl's statuses, also those no loopback test can cause
// (a name that does not resolve would ask a DNS server).
func TestGetErrorStatus(t *testing.T) {
	for _, tc := range []struct {
		err   error
		proxy string
		creds bool
		want  int
	}{
		{&net.OpError{Op: "dial", Err: &net.DNSError{Name: "nohost.example", IsNotFound: true}}, "", false, exitResolveHost},
		{&net.OpError{Op: "dial", Err: &net.DNSError{Name: "proxy.example", IsNotFound: true}}, "proxy.example", false, exitResolveProxy},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), "", false, exitTimeout},
		{&url.Error{Op: "Get", Err: x509.UnknownAuthorityError{}}, "", false, exitTLS},
		{&auth.ProxyConnectError{StatusCode: 407, Status: "407"}, "", true, exitAuthFailed},
		{&auth.ProxyConnectError{StatusCode: 403, Status: "403"}, "", true, exitRecvError},
		{fmt.Errorf("x: %w", auth.ErrRejected), "", false, exitAuthFailed},
		{errors.New("other"), "", false, 0},
	} {
		if got := exitStatus(classifyGetError(tc.err, tc.proxy, tc.creds)); got != tc.want {
			t.Errorf("%v: status %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestGetUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"http://a/", "http://b/"},
		{"--bogus", "http://a/"},
		{"--auth", "kerberos5", "http://a/"},
		{"--proxy-auth", "x", "http://a/"},
		{"-H", "no colon", "http://a/"},
		{"-H", "Bad Name: x", "http://a/"},
		{"-X", "GET X", "http://a/"},
		{"--delegation", "sometimes", "http://a/"},
		{"--max-time", "-1", "http://a/"},
		{"--max-time", "soon", "http://a/"},
		{"-o", "a", "-O", "http://a/b"},
		{"-u", "alice:x", "--nt-hash", "874649a24f9823fa52d36adfabf89d8e", "http://a/"},
		{"-u", "alice", "--nt-hash", "874649a24f9823fa52d36adfabf89d8e", "--auth", "basic", "http://a/"},
		{"-u", "alice", "--nt-hash", "zz", "http://a/"},
		{"--password-stdin", "http://a/"},
		{"-u", "alice", "--data-binary", "@-", "http://a/"},
		{"-x", "socks5://p:1", "http://a/"},
	} {
		code, _, errOut := sesame(t, "", nil, append([]string{"get"}, args...)...)
		if code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, code, errOut)
		}
	}
	if code, _, _ := sesame(t, "", nil, "get", "ftp://a/"); code != 1 {
		t.Errorf("ftp: exit %d, want 1", code)
	}
	if code, _, _ := sesame(t, "", nil, "get", "http://[::1"); code != exitURLMalformed {
		t.Errorf("malformed URL: exit %d, want 3", code)
	}
	code, _, errOut := sesame(t, "", nil, "get", "-h")
	if code != 0 || !strings.Contains(errOut, "67  authentication failed") {
		t.Errorf("-h: exit %d\n%s", code, errOut)
	}
}

// -d, --data-binary, -X and -H shape the request as curl's do.
func TestGetRequestShape(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "method=%s\ntype=%s\nua=%s\nx=%s\nhost=%s\nbody=%s\n", r.Method, r.Header.Get("Content-Type"), r.UserAgent(), r.Header.Values("X-Test"), r.Host, b)
	}))
	defer echo.Close()
	form := filepath.Join(t.TempDir(), "form.txt")
	os.WriteFile(form, []byte("c=3\r\nd=4\n"), 0o644)
	for _, tc := range []struct {
		stdin string
		args  []string
		want  []string
	}{
		{"", nil, []string{"method=GET\n", "ua=sesame\n", "body=\n"}},
		{"", []string{"-d", "a=1", "-d", "b=2"}, []string{"method=POST\n", "type=application/x-www-form-urlencoded\n", "body=a=1&b=2\n"}},
		{"", []string{"-d", "@" + form}, []string{"body=c=3d=4\n"}},
		{"", []string{"--data-binary", "@" + form}, []string{"body=c=3\r\nd=4\n\n"}},
		{"e=5", []string{"-d", "@-", "-d", "f=6"}, []string{"body=e=5&f=6\n"}},
		{"", []string{"-X", "PUT", "-H", "Content-Type: text/plain", "--data-binary", "raw"}, []string{"method=PUT\n", "type=text/plain\n", "body=raw\n"}},
		{"", []string{"-H", "X-Test: 1", "-H", "X-Test: 2", "-H", "User-Agent:", "-H", "Host: example.test"}, []string{"x=[1 2]\n", "ua=\n", "host=example.test\n"}},
		{"", []string{"-H", "X-Test;"}, []string{"x=[]\n"}},
	} {
		code, out, errOut := sesame(t, tc.stdin, nil, append(append([]string{"get"}, tc.args...), echo.URL)...)
		if code != 0 {
			t.Errorf("%q: exit %d\n%s", tc.args, code, errOut)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%q: response lacks %q:\n%s", tc.args, w, out)
			}
		}
	}
}

// -L follows redirects, sends credentials only to the URL's own origin
// (another port is another origin, as in curl), and stops after 20.
func TestGetRedirects(t *testing.T) {
	var sawAuth []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := r.Header.Get("Authorization"); h != "" {
			sawAuth = append(sawAuth, h)
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="other"`)
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, "other wants auth\n")
	}))
	defer other.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != getPassword {
			w.Header().Set("WWW-Authenticate", `Basic realm="main"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, "/next", http.StatusFound)
	})
	mux.HandleFunc("/next", func(w http.ResponseWriter, r *http.Request) {
		if u, _, ok := r.BasicAuth(); !ok || u != "alice" {
			w.Header().Set("WWW-Authenticate", `Basic realm="main"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, other.URL+"/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	args := []string{"get", "--auth", "basic", "-u", "alice:" + getPassword}
	code, out, errOut := sesame(t, "", nil, append(args, srv.URL+"/start")...)
	if code != 0 || !strings.Contains(out, "Found") {
		t.Errorf("without -L: exit %d, body %q; want the 302's page\n%s", code, out, errOut)
	}
	code, out, errOut = sesame(t, "", nil, append(args, "-L", srv.URL+"/start")...)
	if code != 0 || out != "other wants auth\n" {
		t.Errorf("-L: exit %d, body %q (want the other origin's 401 page, exit 0)\n%s", code, out, errOut)
	}
	if len(sawAuth) > 0 {
		t.Errorf("credentials went to another origin: %q", sawAuth)
	}
	if code, _, errOut := sesame(t, "", nil, "get", "-L", srv.URL+"/loop"); code != exitTooManyRedirects {
		t.Errorf("redirect loop: exit %d, want 47\n%s", code, errOut)
	}
}

// -x and -U through squid demanding Basic: plain http and https (CONNECT)
// pass as alice; a wrong proxy password exits 67; the proxy and origin
// passwords can both come from stdin, one line each.
func TestGetThroughSquid(t *testing.T) {
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "basic", Users: []lab.ProxyUser{{User: "alice", Password: getPassword}}})
	who := func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); r.URL.Path == "/private" && (!ok || u != "bob" || p != "BobPass") {
			w.Header().Set("WWW-Authenticate", `Basic realm="origin"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "proxy_user=%s\n", r.Header.Get("X-Proxy-User"))
	}
	origin := httptest.NewServer(http.HandlerFunc(who))
	defer origin.Close()
	tlsOrigin := httptest.NewTLSServer(http.HandlerFunc(who))
	defer tlsOrigin.Close()

	code, out, errOut := sesame(t, "", nil, "get", "-x", sq.URL, "-U", "alice:"+getPassword, origin.URL+"/")
	if code != 0 || out != "proxy_user=alice\n" {
		t.Fatalf("plain http: exit %d %q\n%s\n%s", code, out, errOut, sq.CacheLog())
	}
	code, out, errOut = sesame(t, "", nil, "get", "-k", "-x", sq.URL, "-U", "alice:"+getPassword, tlsOrigin.URL+"/")
	if code != 0 || out != "proxy_user=\n" {
		t.Fatalf("https: exit %d %q\n%s", code, out, errOut)
	}
	for _, u := range []string{origin.URL + "/", tlsOrigin.URL + "/"} {
		code, _, errOut = sesame(t, "", nil, "get", "-k", "-x", sq.URL, "-U", "alice:wrong", u)
		if code != exitAuthFailed {
			t.Errorf("%s, wrong proxy password: exit %d, want 67\n%s", u, code, errOut)
		}
	}
	code, out, errOut = sesame(t, "BobPass\n"+getPassword+"\n", nil, "get", "-x", sq.URL, "-U", "alice", "-u", "bob", "--auth", "basic", origin.URL+"/private")
	if code != 0 || out != "proxy_user=alice\n" {
		t.Fatalf("both passwords on stdin: exit %d %q\n%s", code, out, errOut)
	}
	// The proxy URL may carry the account, as curl takes it.
	pu := strings.Replace(sq.URL, "http://", "http://alice:"+getPassword+"@", 1)
	if code, out, errOut = sesame(t, "", nil, "get", "-x", pu, origin.URL+"/"); code != 0 || out != "proxy_user=alice\n" {
		t.Errorf("account in -x: exit %d %q\n%s", code, out, errOut)
	}
	// -x '' and --noproxy '*' go direct.
	for _, args := range [][]string{{"-x", ""}, {"-x", sq.URL, "--noproxy", "*"}} {
		if code, out, _ = sesame(t, "", nil, append(append([]string{"get"}, args...), origin.URL+"/")...); code != 0 || out != "proxy_user=\n" {
			t.Errorf("%q: exit %d %q, want direct", args, code, out)
		}
	}
}

// Without -x the proxy comes from the environment (read through env, so
// tests can set it) with Go's rules. No request is sent.
func TestGetProxyFromEnvironment(t *testing.T) {
	environ := map[string]string{"HTTP_PROXY": "http://proxy.example:3128", "https_proxy": "http://tls-proxy.example:8080", "NO_PROXY": "intranet.example"}
	e := &env{getenv: func(k string) string { return environ[k] }}
	for _, tc := range []struct {
		opts      getOptions
		url, want string
	}{
		{getOptions{}, "http://www.example/", "http://proxy.example:3128"},
		{getOptions{}, "https://www.example/", "http://tls-proxy.example:8080"},
		{getOptions{}, "http://intranet.example/", ""},
		{getOptions{}, "http://127.0.0.1/", ""},
		{getOptions{noProxy: optString{true, "www.example"}}, "http://www.example/", ""},
		{getOptions{noProxy: optString{true, "www.example"}}, "http://intranet.example/", "http://proxy.example:3128"},
		{getOptions{noProxy: optString{true, "*"}}, "http://www.example/", ""},
		{getOptions{proxy: optString{true, ""}}, "http://www.example/", ""},
		{getOptions{proxy: optString{true, "other:1"}}, "http://intranet.example/", "http://other:1"},
	} {
		f, _, err := tc.opts.proxyFunc(e)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", tc.url, nil)
		got, err := f(req)
		if err != nil {
			t.Fatal(err)
		}
		gotS := ""
		if got != nil {
			gotS = got.String()
		}
		if gotS != tc.want {
			t.Errorf("%+v %s: proxy %q, want %q", tc.opts, tc.url, gotS, tc.want)
		}
	}
}

func TestGetProgress(t *testing.T) {
	for _, tc := range []struct {
		term, silent, file bool
		size               int64
		want               bool
	}{
		{true, false, true, 10 << 20, true},
		{true, false, true, -1, true},
		{true, false, true, 1000, false},
		{false, false, true, 10 << 20, false},
		{true, true, true, 10 << 20, false},
		{true, false, false, 10 << 20, false},
	} {
		if got := showProgress(tc.term, tc.silent, tc.file, tc.size); got != tc.want {
			t.Errorf("showProgress%+v = %v", tc, got)
		}
	}
	var buf bytes.Buffer
	p := startProgress(&buf, 4<<20, "big.iso")
	for i := 0; i < 4; i++ {
		p.Write(make([]byte, 1<<20))
	}
	p.done(true)
	if s := buf.String(); !strings.Contains(s, "big.iso") || !strings.Contains(s, "100%") || !strings.HasSuffix(s, "\n") {
		t.Errorf("progress output %q", s)
	}
}
