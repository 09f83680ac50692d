//go:build linux

package main

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// proxyProcess is a `sesame proxy` started as a user would, on a free
// loopback port, stopped (SIGTERM) at cleanup.
type proxyProcess struct {
	URL    string
	stderr *lockedBuffer
	cmd    *exec.Cmd
}

func (p *proxyProcess) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

type lockedBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

func startProxy(t *testing.T, bin string, env []string, args ...string) *proxyProcess {
	t.Helper()
	return startProxyWith(t, bin, env, "", args...)
}

// testSecrets are every password, hash and token prefix the tests use.
var testSecrets = []string{
	"AlicePass123", "BobPass456", "KrbPass-789", "874649a24f9823fa52d36adfabf89d8e", // alice's NT hash
	"431d0a1ce0217bb22111069bf6954bdd", // alice's NTLMv2 hash
	"TlRMTVNT",                         // base64 of "NTLMSS": any NTLM token
	"YIIB", "YIIC", "oYIB",             // base64 starts of GSS/SPNEGO tokens
}

// secretsIn names the first test secret found in log, or "".
func secretsIn(log string) string {
	lower := strings.ToLower(log)
	for _, s := range testSecrets {
		if strings.Contains(lower, strings.ToLower(s)) {
			return fmt.Sprintf("%q", s)
		}
	}
	return ""
}

// curl runs curl through the proxy with an environment of its own (curl
// honours NO_PROXY even with -x) and returns its output and error.
func curl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	lab.Require(t, "curl")
	cmd := exec.Command("curl", append([]string{"-sS", "--max-time", "30"}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("curl %v: %v: %s", args, err, errOut.String())
	}
	return out.String(), err
}

func whoOrigin(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "proxy_user=%s\npath=%s\n", r.Header.Get("X-Proxy-User"), r.URL.Path)
}

func writeCert(t *testing.T, cert *x509.Certificate) string {
	p := filepath.Join(t.TempDir(), "origin.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// curl → sesame proxy → squid demanding Basic, Digest or NTLM → origin:
// plain HTTP and HTTPS through CONNECT. Five separate curl runs (five
// client connections) cost squid one NTLM handshake, on one upstream
// connection: the pool keeps it authenticated.
func TestProxyCurlThroughSquid(t *testing.T) {
	bin := buildSesame(t)
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	t.Cleanup(origin.Close)
	tlsOrigin := httptest.NewTLSServer(http.HandlerFunc(whoOrigin))
	t.Cleanup(tlsOrigin.Close)
	caFile := writeCert(t, tlsOrigin.Certificate())
	users := []lab.ProxyUser{{Domain: "CORP", User: "alice", Password: "AlicePass123"}}
	for _, tc := range []struct{ scheme, user, want string }{
		{"basic", "alice", "alice"},
		{"digest", "alice", "alice"},
		{"ntlm", `CORP\alice`, `CORP\alice`},
	} {
		t.Run(tc.scheme, func(t *testing.T) {
			t.Parallel()
			sq := lab.StartSquid(t, lab.SquidOptions{Auth: tc.scheme, Users: users})
			p := startProxy(t, bin, []string{"PW=AlicePass123"}, "--upstream", sq.Addr, "--user", tc.user, "--password-env", "PW")
			for i := 0; i < 5; i++ {
				out, err := curl(t, "-x", p.URL, fmt.Sprintf("%s/plain/%d", origin.URL, i))
				if err != nil || !strings.Contains(out, "proxy_user="+tc.want+"\n") {
					t.Fatalf("plain request %d: %v %q\nsesame:\n%s\nsquid:\n%s", i, err, out, p.stderr.String(), sq.CacheLog())
				}
			}
			out, err := curl(t, "-x", p.URL, "--cacert", caFile, tlsOrigin.URL+"/tls")
			if err != nil || !strings.Contains(out, "path=/tls") {
				t.Fatalf("https through CONNECT: %v %q\nsesame:\n%s", err, out, p.stderr.String())
			}
			if tc.scheme == "ntlm" {
				var plain []lab.SquidAccess
				for _, e := range sq.AccessEntries() {
					if e.Method != "CONNECT" {
						plain = append(plain, e)
					}
				}
				conns := lab.GroupSquidConnections(plain)
				if len(conns) != 1 || conns[0].Challenges > 2 {
					t.Errorf("squid saw %+v; want the 5 requests on one upstream connection with one handshake", conns)
				}
			}
			if strings.Contains(p.stderr.String(), "AlicePass123") {
				t.Errorf("sesame logged the password")
			}
		})
	}
}

// Failover and NoProxy: a dead first upstream is passed over; a NoProxy
// host goes direct (the origin sees no X-Proxy-User).
func TestProxyFailoverAndNoProxy(t *testing.T) {
	bin := buildSesame(t)
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "basic", Users: []lab.ProxyUser{{User: "alice", Password: "AlicePass123"}}})
	dead := fmt.Sprintf("127.0.0.1:%d", lab.FreePort(t)) // nothing listens there
	p := startProxy(t, bin, []string{"PW=AlicePass123"}, "--upstream", dead, "--upstream", sq.Addr,
		"--user", "alice", "--password-env", "PW", "--no-proxy", "localhost")
	for i := 0; i < 3; i++ {
		out, err := curl(t, "-x", p.URL, origin.URL+"/failover")
		if err != nil || !strings.Contains(out, "proxy_user=alice\n") {
			t.Fatalf("request %d with the first upstream down: %v %q\n%s", i, err, out, p.stderr.String())
		}
	}
	if n := strings.Count(p.stderr.String(), "upstream unreachable"); n != 1 {
		t.Errorf("dead upstream tried %d times, want once (then blocked)\n%s", n, p.stderr.String())
	}
	direct := strings.Replace(origin.URL, "127.0.0.1", "localhost", 1)
	out, err := curl(t, "-x", p.URL, direct+"/direct")
	if err != nil || !strings.Contains(out, "proxy_user=\n") {
		t.Fatalf("NoProxy host: %v %q", err, out)
	}
}

// The access log has one line per request and never a credential.
func TestProxyAccessLog(t *testing.T) {
	bin := buildSesame(t)
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "ntlm", Users: []lab.ProxyUser{{Domain: "CORP", User: "alice", Password: "AlicePass123"}}})
	p := startProxy(t, bin, []string{"PW=AlicePass123"}, "--upstream", sq.Addr, "--user", `CORP\alice`, "--password-env", "PW")
	for _, path := range []string{"/logged", "/logged-again"} {
		if _, err := curl(t, "-x", p.URL, origin.URL+path); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	log := p.stderr.String()
	// The first request's upstream connection did the NTLM handshake; the
	// second reused it, authenticated.
	for path, want := range map[string][]string{
		"/logged ":       {"auth=NTLM ", "mechanism=ntlm ", `principal=CORP\alice `, "handshake=true "},
		"/logged-again ": {"auth=NTLM ", "mechanism=ntlm ", `principal=CORP\alice `, "handshake=false "},
	} {
		sc := bufio.NewScanner(strings.NewReader(log))
		found := false
		for sc.Scan() {
			l := sc.Text() + " "
			ok := strings.Contains(l, "msg=access") && strings.Contains(l, path) && strings.Contains(l, "status=200") &&
				strings.Contains(l, "upstream="+sq.Addr+" ")
			for _, w := range want {
				ok = ok && strings.Contains(l, w)
			}
			found = found || ok
		}
		if !found {
			t.Errorf("no access line for %s with %s:\n%s", path, want, log)
		}
	}
	for _, secret := range []string{"AlicePass123", "TlRMTVNT", "874649a24f9823fa52d36adfabf89d8e"} {
		if strings.Contains(strings.ToLower(log), strings.ToLower(secret)) {
			t.Errorf("log contains %q:\n%s", secret, log)
		}
	}
}

// `sesame proxy --import cntlm.conf` runs with a cntlm user's existing
// file (PassNTLMv2 hash from `sesame hash`/`cntlm -H`) against squid NTLM,
// and reports what it does not map.
func TestProxyImportCntlmConf(t *testing.T) {
	bin := buildSesame(t)
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "ntlm", Users: []lab.ProxyUser{{Domain: "CORP", User: "alice", Password: "AlicePass123"}}})
	conf := filepath.Join(t.TempDir(), "cntlm.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`# cntlm.conf of a user moving to sesame
Username	alice
Domain		CORP
PassNTLMv2      431D0A1CE0217BB22111069BF6954BDD
Proxy		%s
NoProxy		localhost
Listen		3128
Header		User-Agent: Mozilla/4.0
`, sq.Addr)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	// --print-config shows the translation without running.
	code, out, errOut := sesame(t, "", nil, "proxy", "--import", conf, "--print-config")
	if code != 0 || !strings.Contains(out, `ntlmv2_hash = "431D0A1CE0217BB22111069BF6954BDD"`) || !strings.Contains(out, sq.Addr) {
		t.Fatalf("--print-config: exit %d\n%s\n%s", code, out, errOut)
	}
	p := startProxy(t, bin, nil, "--import", conf)
	out, err = curl(t, "-x", p.URL, origin.URL+"/imported")
	if err != nil || !strings.Contains(out, `proxy_user=CORP\alice`) {
		t.Fatalf("through the imported config: %v %q\n%s", err, out, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "key=Header") {
		t.Errorf("the unsupported Header line was not reported:\n%s", p.stderr.String())
	}
}

func TestProxyConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("listn = ['x']\n"), 0o600)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"proxy", "--config", bad}, 1, "unknown key listn"},
		{[]string{"proxy", "--config", filepath.Join(dir, "missing.toml")}, 1, "no such file"},
		{[]string{"proxy", "--config", bad, "--import", bad}, 2, "exclude"},
		{[]string{"proxy", "--listen", "0.0.0.0:3999"}, 2, "--allow"},
		{[]string{"proxy", "--log-level", "loud"}, 2, "log_level"},
	} {
		code, _, errOut := sesame(t, "", nil, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d %q, want %d mentioning %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
	code, out, _ := sesame(t, "", nil, "proxy", "--example-config")
	if code != 0 || !strings.Contains(out, "[auth]") {
		t.Errorf("--example-config: %d %q", code, out)
	}
}

// The admin listener of a running proxy: status page, metrics that count
// the traffic just sent, and the PAC file.
func TestProxyAdmin(t *testing.T) {
	bin := buildSesame(t)
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "ntlm", Users: []lab.ProxyUser{{Domain: "CORP", User: "alice", Password: "AlicePass123"}}})
	admin := fmt.Sprintf("127.0.0.1:%d", lab.FreePort(t))
	p := startProxy(t, bin, []string{"PW=AlicePass123"}, "--upstream", sq.Addr, "--user", `CORP\alice`, "--password-env", "PW", "--admin", admin)
	for i := 0; i < 3; i++ {
		if _, err := curl(t, "-x", p.URL, origin.URL+"/counted"); err != nil {
			t.Fatal(err)
		}
	}
	page, err := curl(t, "http://"+admin+"/")
	if err != nil || !strings.Contains(page, sq.Addr) || !strings.Contains(page, `CORP\alice`) {
		t.Fatalf("status page: %v\n%s", err, page)
	}
	metrics, err := curl(t, "http://"+admin+"/metrics")
	if err != nil || !strings.Contains(metrics, "sesame_requests_total 3") || !strings.Contains(metrics, "sesame_upstream_handshakes_total 1") {
		t.Fatalf("metrics: %v\n%s", err, metrics)
	}
	pac, err := curl(t, "http://"+admin+"/proxy.pac")
	if err != nil || !strings.Contains(pac, "PROXY "+strings.TrimPrefix(p.URL, "http://")) {
		t.Fatalf("proxy.pac: %v\n%s", err, pac)
	}
	if code, _, errOut := sesame(t, "", nil, "proxy", "--admin", "0.0.0.0:3129"); code != 2 || !strings.Contains(errOut, "loopback") {
		t.Errorf("admin beyond loopback: exit %d %q", code, errOut)
	}
}

// SIGHUP reloads the configuration file: a new upstream takes over for new
// requests without a restart.
func TestProxyReloadOnSIGHUP(t *testing.T) {
	bin := buildSesame(t)
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	users := []lab.ProxyUser{{User: "alice", Password: "AlicePass123"}}
	first := lab.StartSquid(t, lab.SquidOptions{Auth: "basic", Users: users})
	second := lab.StartSquid(t, lab.SquidOptions{Auth: "basic", Users: users})
	conf := filepath.Join(t.TempDir(), "sesame.toml")
	write := func(upstream string) {
		t.Helper()
		err := os.WriteFile(conf, []byte(fmt.Sprintf("upstreams = [%q]\n[auth]\nuser = \"alice\"\npassword_env = \"PW\"\n", upstream)), 0o600)
		if err != nil {
			t.Fatal(err)
		}
	}
	write(first.Addr)
	p := startProxy(t, bin, []string{"PW=AlicePass123"}, "--config", conf)
	if _, err := curl(t, "-x", p.URL, origin.URL+"/before"); err != nil {
		t.Fatal(err)
	}
	write(second.Addr)
	p.signal(t, syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.stderr.String(), "configuration reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload logged:\n%s", p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := curl(t, "-x", p.URL, origin.URL+"/after"); err != nil {
		t.Fatal(err)
	}
	sawAfter := func(sq *lab.Squid) bool {
		for _, e := range sq.AccessEntries() {
			if strings.HasSuffix(e.URL, "/after") {
				return true
			}
		}
		return false
	}
	second.WaitAccessEntry(t, func(e lab.SquidAccess) bool { return strings.HasSuffix(e.URL, "/after") })
	if sawAfter(first) || !sawAfter(second) {
		t.Fatalf("after reload the request went to the old upstream\nfirst:\n%s\nsecond:\n%s", first.AccessLog(), second.AccessLog())
	}
}

// Single sign-on: `sesame proxy` with no account at all answers squid's
// Negotiate with the Kerberos ticket from the credential cache, for curl
// (plain HTTP and CONNECT); doctor finds the same way through.
func TestProxyKerberosSSO(t *testing.T) {
	bin := buildSesame(t)
	const pw = "KrbPass-789"
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: pw}}})
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "negotiate", KDC: k})
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	tlsOrigin := httptest.NewTLSServer(http.HandlerFunc(whoOrigin))
	defer tlsOrigin.Close()
	ccache := k.Kinit(t, "alice", pw)
	krbEnv := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=FILE:" + ccache}
	p := startProxy(t, bin, krbEnv, "--upstream", sq.Addr)
	for i := 0; i < 3; i++ {
		out, err := curl(t, "-x", p.URL, fmt.Sprintf("%s/sso/%d", origin.URL, i))
		if err != nil || !strings.Contains(out, "proxy_user=alice@CORP.TEST\n") {
			t.Fatalf("request %d: %v %q\n%s", i, err, out, p.stderr.String())
		}
	}
	out, err := curl(t, "-x", p.URL, "--cacert", writeCert(t, tlsOrigin.Certificate()), tlsOrigin.URL+"/sso-tls")
	if err != nil || !strings.Contains(out, "path=/sso-tls") {
		t.Fatalf("https: %v %q", err, out)
	}
	if !strings.Contains(p.stderr.String(), "Negotiate as alice@CORP.TEST") && !strings.Contains(p.stderr.String(), "Negotiate as ccache:") {
		t.Errorf("startup line does not name the Kerberos identity:\n%s", p.stderr.String())
	}
	code, dout, derr := sesame(t, "", map[string]string{"KRB5_CONFIG": k.Krb5Conf, "KRB5CCNAME": "FILE:" + ccache},
		"doctor", "--url", origin.URL+"/doctor", "--upstream", sq.Addr)
	if code != 0 || !strings.Contains(dout, "offers: Negotiate") || !strings.Contains(dout, "Negotiate as") || !strings.Contains(dout, `schemes = ["negotiate"]`) {
		t.Errorf("doctor with SSO: exit %d\n%s\n%s", code, dout, derr)
	}
}

// NTLM-to-Basic (cntlm's NTLMToBasic): clients give sesame DOMAIN\user and
// password in Basic; sesame answers squid's NTLM as that user, each user
// on upstream connections of their own.
func TestProxyNTLMToBasic(t *testing.T) {
	bin := buildSesame(t)
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	tlsOrigin := httptest.NewTLSServer(http.HandlerFunc(whoOrigin))
	defer tlsOrigin.Close()
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "ntlm", Users: []lab.ProxyUser{
		{Domain: "CORP", User: "alice", Password: "AlicePass123"}, {Domain: "CORP", User: "bob", Password: "BobPass456"}}})
	p := startProxy(t, bin, nil, "--upstream", sq.Addr, "--ntlm-to-basic")
	for _, tc := range []struct{ account, want string }{
		{`CORP\alice:AlicePass123`, `CORP\alice`}, {`CORP\bob:BobPass456`, `CORP\bob`}, {`CORP\alice:AlicePass123`, `CORP\alice`},
	} {
		out, err := curl(t, "-x", p.URL, "--proxy-basic", "-U", tc.account, origin.URL+"/n2b")
		if err != nil || !strings.Contains(out, "proxy_user="+tc.want+"\n") {
			t.Fatalf("as %s: %v %q\n%s", tc.want, err, out, p.stderr.String())
		}
	}
	out, err := curl(t, "-x", p.URL, "--proxy-basic", "-U", `CORP\bob:BobPass456`, "--cacert", writeCert(t, tlsOrigin.Certificate()), tlsOrigin.URL+"/n2b-tls")
	if err != nil || !strings.Contains(out, "path=/n2b-tls") {
		t.Fatalf("CONNECT as bob: %v %q", err, out)
	}
	for _, args := range [][]string{{}, {"--proxy-basic", "-U", `CORP\alice:wrong`}} {
		out, err := curl(t, append(append([]string{"-x", p.URL, "-o", "/dev/null", "-w", "%{http_code}"}, args...), origin.URL+"/n2b-denied")...)
		if err != nil || out != "407" {
			t.Errorf("curl %v: %v %q, want 407 asking for Basic", args, err, out)
		}
	}
	if strings.Contains(p.stderr.String(), "AlicePass123") || strings.Contains(p.stderr.String(), "BobPass456") {
		t.Error("a client's password reached the log")
	}
}

// With auth.upstreams set, only those upstreams get the credentials: a
// PAC file that names another proxy does not receive the account.
func TestProxyCredentialAllowList(t *testing.T) {
	bin := buildSesame(t)
	users := []lab.ProxyUser{{User: "alice", Password: "AlicePass123"}}
	trusted := lab.StartSquid(t, lab.SquidOptions{Auth: "basic", Users: users})
	other := lab.StartSquid(t, lab.SquidOptions{Auth: "basic", Users: users})
	originA := serveOn(t, "127.0.0.3", http.HandlerFunc(whoOrigin))
	originB := serveOn(t, "127.0.0.4", http.HandlerFunc(whoOrigin))
	pacFile := filepath.Join(t.TempDir(), "proxy.pac")
	os.WriteFile(pacFile, []byte(fmt.Sprintf(`function FindProxyForURL(url, host) {
  return host == "127.0.0.3" ? "PROXY %s" : "PROXY %s";
}`, trusted.Addr, other.Addr)), 0o644)
	conf := filepath.Join(t.TempDir(), "sesame.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf("pac = %q\n[auth]\nuser = \"alice\"\npassword_env = \"PW\"\nschemes = [\"basic\"]\nupstreams = [%q]\n", pacFile, trusted.Addr)), 0o600)
	p := startProxy(t, bin, []string{"PW=AlicePass123"}, "--config", conf)
	if out, err := curl(t, "-x", p.URL, originA+"/trusted"); err != nil || !strings.Contains(out, "proxy_user=alice\n") {
		t.Fatalf("trusted upstream: %v %q\n%s", err, out, p.stderr.String())
	}
	if out, err := curl(t, "-x", p.URL, "-o", "/dev/null", "-w", "%{http_code}", originB+"/other"); err != nil || out != "407" {
		t.Fatalf("other upstream: %v %q, want its 407 (no credentials sent)", err, out)
	}
	for _, e := range other.AccessEntries() {
		if e.User != "" && e.User != "-" {
			t.Errorf("the untrusted proxy got credentials: %+v", e)
		}
	}
}

// Every upstream down: without --direct-fallback the client gets a clear
// 502 naming the failure; with it, the request goes DIRECT.
func TestProxyAllUpstreamsDown(t *testing.T) {
	bin := buildSesame(t)
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	dead1 := fmt.Sprintf("127.0.0.1:%d", lab.FreePort(t))
	dead2 := fmt.Sprintf("127.0.0.1:%d", lab.FreePort(t))
	p := startProxy(t, bin, nil, "--upstream", dead1, "--upstream", dead2)
	out, err := curl(t, "-x", p.URL, "-w", "\n%{http_code}", origin.URL+"/down")
	if err != nil || !strings.HasSuffix(out, "\n502") || !strings.Contains(out, "connect") {
		t.Fatalf("all down, no fallback: %v %q", err, out)
	}
	p = startProxy(t, bin, nil, "--upstream", dead1, "--upstream", dead2, "--direct-fallback")
	out, err = curl(t, "-x", p.URL, origin.URL+"/fallback")
	if err != nil || !strings.Contains(out, "path=/fallback") || !strings.Contains(out, "proxy_user=\n") {
		t.Fatalf("all down, --direct-fallback: %v %q", err, out)
	}
}

// `--import px.ini` runs with a px user's file; px keeps the password in
// the OS keyring, so the secret comes from --password-env here.
func TestProxyImportPxIni(t *testing.T) {
	bin := buildSesame(t)
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "ntlm", Users: []lab.ProxyUser{{Domain: "CORP", User: "alice", Password: "AlicePass123"}}})
	ini := filepath.Join(t.TempDir(), "px.ini")
	err := os.WriteFile(ini, []byte(fmt.Sprintf(`[proxy]
server = %s
port = 3128
listen = 127.0.0.1
gateway = 0
noproxy = localhost
username = CORP\alice
auth = NTLM

[settings]
workers = 2
threads = 32
`, sq.Addr)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, bin, []string{"PW=AlicePass123"}, "--import", ini, "--password-env", "PW")
	out, err := curl(t, "-x", p.URL, origin.URL+"/px")
	if err != nil || !strings.Contains(out, `proxy_user=CORP\alice`) {
		t.Fatalf("through the imported px.ini: %v %q\n%s", err, out, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "key=workers") {
		t.Errorf("px's workers setting was not reported:\n%s", p.stderr.String())
	}
}
