//go:build linux

package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"net"
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

// Tests of issue 9, "Hardening".

// whoOriginAuthz is whoOrigin that also shows the Authorization header
// the origin received.
func whoOriginAuthz(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "proxy_user=%s\npath=%s\nauthorization=%s\n", r.Header.Get("X-Proxy-User"), r.URL.Path, r.Header.Get("Authorization"))
}

// waitLog waits until the proxy's log contains s n times.
func waitLog(t *testing.T, p *proxyProcess, s string, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for strings.Count(p.stderr.String(), s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the log does not have %q %d times:\n%s", s, n, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// NTLM-to-Basic reads the client's account from Proxy-Authorization only:
// an Authorization header (a web page's, or the user's intranet
// password) is the origin's, reaches it untouched, and is never used
// upstream.
func TestProxyNTLMToBasicAuthorizationIsTheOrigins(t *testing.T) {
	bin := buildSesame(t)
	origin := httptest.NewServer(http.HandlerFunc(whoOriginAuthz))
	defer origin.Close()
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "ntlm", Users: []lab.ProxyUser{
		{Domain: "CORP", User: "alice", Password: "AlicePass123"}, {Domain: "CORP", User: "bob", Password: "BobPass456"}}})
	p := startProxy(t, bin, nil, "--upstream", sq.Addr, "--ntlm-to-basic")
	web := "Basic " + base64.StdEncoding.EncodeToString([]byte(`CORP\alice:AlicePass123`))
	// Both headers: the proxy account is bob's; the origin gets its own
	// Authorization as sent.
	out, err := curl(t, "-x", p.URL, "--proxy-basic", "-U", `CORP\bob:BobPass456`, "-H", "Authorization: "+web, origin.URL+"/both")
	if err != nil || !strings.Contains(out, "proxy_user=CORP\\bob\n") || !strings.Contains(out, "authorization="+web+"\n") {
		t.Fatalf("with Proxy-Authorization and Authorization: %v %q\n%s", err, out, p.stderr.String())
	}
	// Authorization alone is not an account for the upstream: sesame asks
	// for Proxy-Authorization, and squid never sees alice.
	out, err = curl(t, "-x", p.URL, "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: "+web, origin.URL+"/authz-only")
	if err != nil || out != "407" {
		t.Fatalf("with Authorization only: %v %q, want sesame's 407", err, out)
	}
	sq.WaitAccessEntry(t, func(e lab.SquidAccess) bool { return strings.HasSuffix(e.URL, "/both") && e.Status == 200 })
	for _, e := range sq.AccessEntries() {
		if strings.HasSuffix(e.URL, "/authz-only") || e.User == `CORP\alice` {
			t.Errorf("squid saw %+v: the origin's Authorization was used upstream", e)
		}
	}
}

// NTLM-to-Basic honours the credential allow-list (auth.upstreams): a
// client's password does not go to a proxy that a PAC file names but
// nobody vetted.
func TestProxyNTLMToBasicCredentialAllowList(t *testing.T) {
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
	os.WriteFile(conf, []byte(fmt.Sprintf("pac = %q\nntlm_to_basic = true\n[auth]\nschemes = [\"basic\"]\nupstreams = [%q]\n", pacFile, trusted.Addr)), 0o600)
	p := startProxy(t, bin, nil, "--config", conf)
	if out, err := curl(t, "-x", p.URL, "--proxy-basic", "-U", "alice:AlicePass123", originA+"/trusted"); err != nil || !strings.Contains(out, "proxy_user=alice\n") {
		t.Fatalf("trusted upstream: %v %q\n%s", err, out, p.stderr.String())
	}
	if out, err := curl(t, "-x", p.URL, "--proxy-basic", "-U", "alice:AlicePass123", "-o", "/dev/null", "-w", "%{http_code}", originB+"/other"); err != nil || out != "407" {
		t.Fatalf("other upstream: %v %q, want 407 (no credentials sent)", err, out)
	}
	other.WaitAccessEntry(t, func(e lab.SquidAccess) bool { return strings.HasSuffix(e.URL, "/other") })
	for _, e := range other.AccessEntries() {
		if e.User != "" && e.User != "-" {
			t.Errorf("the untrusted proxy got a client's credentials: %+v", e)
		}
	}
}

// A password the upstream refused is not tried upstream again, and a
// user whose passwords it refused maxRefusedPerUser times gets no
// upstream attempt for another one for a while: a client guessing cannot
// lock the account out at sesame's speed.
func TestProxyNTLMToBasicGuessing(t *testing.T) {
	bin := buildSesame(t)
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "basic", Users: []lab.ProxyUser{{User: "alice", Password: "AlicePass123"}, {User: "bob", Password: "BobPass456"}}})
	p := startProxy(t, bin, nil, "--upstream", sq.Addr, "--ntlm-to-basic")
	try := func(account, path string) string {
		t.Helper()
		out, err := curl(t, "-x", p.URL, "--proxy-basic", "-U", account, "-o", "/dev/null", "-w", "%{http_code}", origin.URL+path)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for i, path := range []string{"/guess1", "/guess1-again", "/guess2", "/guess3", "/guess4"} {
		pw := []string{"Wrong-1", "Wrong-1", "Wrong-2", "Wrong-3", "Wrong-4"}[i]
		if code := try("alice:"+pw, path); code != "407" {
			t.Fatalf("%s: %s, want 407", path, code)
		}
	}
	// A request squid certainly logs, after which it has logged the
	// others too.
	if code := try("bob:BobPass456", "/bob"); code != "200" {
		t.Fatalf("bob: %s", code)
	}
	sq.WaitAccessEntry(t, func(e lab.SquidAccess) bool { return strings.HasSuffix(e.URL, "/bob") && e.Status == 200 })
	seen := map[string]int{}
	for _, e := range sq.AccessEntries() {
		seen[e.URL[strings.LastIndex(e.URL, "/"):]]++
	}
	// An attempt is two requests (the challenge, the answer); none means
	// sesame answered the client itself.
	for path, want := range map[string]int{"/guess1": 2, "/guess1-again": 0, "/guess2": 2, "/guess3": 2, "/guess4": 0} {
		if seen[path] != want {
			t.Errorf("squid saw %s %d times, want %d\n%s", path, seen[path], want, sq.AccessLog())
		}
	}
	if n := strings.Count(p.stderr.String(), "refused a client's account"); n != 3 {
		t.Errorf("%d refusals logged, want 3:\n%s", n, p.stderr.String())
	}
}

// A configured password that the upstream refuses is loud: one WARN
// line, the admin page's "Refused credentials", sesame_auth_rejected_total,
// and a page of sesame's own for clients saying what to do; `sesame
// login` with the right one and SIGHUP take it without a restart.
func TestProxyRefusedPasswordIsLoud(t *testing.T) {
	bin := buildSesame(t)
	ss := lab.StartSecretService(t)
	keyringEnv := ss.Env()
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	tlsOrigin := httptest.NewTLSServer(http.HandlerFunc(whoOrigin))
	defer tlsOrigin.Close()
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "basic", Users: []lab.ProxyUser{{User: "alice", Password: "AlicePass123"}}})
	if code, _, errOut := runBin(t, bin, keyringEnv, "Wrong-Pass-1\n", "login", "--user", "alice", "--password-stdin"); code != 0 {
		t.Fatalf("login: %d %s", code, errOut)
	}
	admin := fmt.Sprintf("127.0.0.1:%d", lab.FreePort(t))
	p := startProxy(t, bin, keyringEnv, "--upstream", sq.Addr, "--user", "alice", "--admin", admin)
	for i := 0; i < 2; i++ {
		out, err := curl(t, "-x", p.URL, "-w", "\n%{http_code}", origin.URL+fmt.Sprintf("/refused/%d", i))
		if err != nil || !strings.HasSuffix(out, "\n502") || !strings.Contains(out, "refused") || !strings.Contains(out, "sesame login --user") || !strings.Contains(out, "kill -HUP") {
			t.Fatalf("request %d with a refused password: %v %q\n%s", i, err, out, p.stderr.String())
		}
	}
	out, err := curl(t, "-x", p.URL, "--cacert", writeCert(t, tlsOrigin.Certificate()), "-o", "/dev/null", "-w", "%{http_code}", tlsOrigin.URL+"/refused-tls")
	if err == nil || !strings.Contains(err.Error(), "CONNECT tunnel failed, response 502") {
		t.Errorf("CONNECT with a refused password: %v %q, want 502", err, out)
	}
	if n := strings.Count(p.stderr.String(), "refused the configured credential"); n != 1 {
		t.Errorf("%d WARN lines about the refusal, want 1:\n%s", n, p.stderr.String())
	}
	page, err := curl(t, "http://"+admin+"/")
	if err != nil || !strings.Contains(page, `<table id="refused">`) || !strings.Contains(page, "<td>alice</td>") || !strings.Contains(page, "REFUSED") {
		t.Errorf("status page does not show the refusal: %v\n%s", err, page)
	}
	metrics, err := curl(t, "http://"+admin+"/metrics")
	if err != nil || !strings.Contains(metrics, "sesame_auth_rejected_total 1\n") || !strings.Contains(metrics, "sesame_errors_total 3\n") {
		t.Errorf("metrics: %v\n%s", err, metrics)
	}
	// The right password, stored with sesame login, and a reload.
	if code, _, errOut := runBin(t, bin, keyringEnv, "AlicePass123\n", "login", "--user", "alice", "--password-stdin"); code != 0 {
		t.Fatalf("login: %d %s", code, errOut)
	}
	p.signal(t, syscall.SIGHUP)
	waitLog(t, p, "configuration reloaded", 1)
	out, err = curl(t, "-x", p.URL, origin.URL+"/corrected")
	if err != nil || !strings.Contains(out, "proxy_user=alice\n") {
		t.Fatalf("after login and SIGHUP: %v %q\n%s", err, out, p.stderr.String())
	}
	page, _ = curl(t, "http://"+admin+"/")
	if strings.Contains(page, `<table id="refused">`) || strings.Contains(page, "REFUSED") {
		t.Errorf("status page still shows a refusal after the correction:\n%s", page)
	}
	if strings.Contains(p.stderr.String(), "Wrong-Pass-1") {
		t.Error("the log shows the wrong password")
	}
}

// A password given on stdin is tried once at start-up: a typo is in the
// log before any client meets it.
func TestProxyStdinPasswordCheckedAtStart(t *testing.T) {
	bin := buildSesame(t)
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "basic", Users: []lab.ProxyUser{{User: "alice", Password: "AlicePass123"}}})
	p := startProxyWith(t, bin, nil, "Wrong-Pass-2\n", "--upstream", sq.Addr, "--user", "alice", "--password-stdin")
	waitLog(t, p, "refused the configured credential", 1)
}

// Single sign-on survives a late kinit: started before the user has a
// ticket, the proxy waits for one (and says so), and uses it as soon as
// kinit writes the cache, without a restart or SIGHUP.
func TestProxyKerberosLateKinit(t *testing.T) {
	bin := buildSesame(t)
	const pw = "KrbPass-789"
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: pw}}})
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "negotiate", KDC: k})
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	ccache := filepath.Join(t.TempDir(), "krb5cc")
	p := startProxy(t, bin, []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=FILE:" + ccache}, "--upstream", sq.Addr)
	if !strings.Contains(p.stderr.String(), "waiting for a ticket") {
		t.Errorf("the start-up line does not say it waits for a ticket:\n%s", p.stderr.String())
	}
	out, err := curl(t, "-x", p.URL, "-w", "\n%{http_code}", origin.URL+"/before-kinit")
	if err != nil || strings.HasSuffix(out, "\n200") || !strings.Contains(out, "kinit") {
		t.Fatalf("before kinit: %v %q, want an error page saying to run kinit", err, out)
	}
	// kinit: the cache appears (written elsewhere and renamed, as kinit
	// does).
	b, err := os.ReadFile(k.Kinit(t, "alice", pw))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ccache+".new", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(ccache+".new", ccache); err != nil {
		t.Fatal(err)
	}
	out, err = curl(t, "-x", p.URL, origin.URL+"/after-kinit")
	if err != nil || !strings.Contains(out, "proxy_user=alice@CORP.TEST\n") {
		t.Fatalf("after kinit: %v %q\n%s", err, out, p.stderr.String())
	}
}

// Reload toggling ntlm_to_basic both ways: each mode gets a Transport
// with its own credentials (the configured account, or the clients').
func TestProxyReloadTogglesNTLMToBasic(t *testing.T) {
	bin := buildSesame(t)
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "basic", Users: []lab.ProxyUser{{User: "alice", Password: "AlicePass123"}, {User: "bob", Password: "BobPass456"}}})
	conf := filepath.Join(t.TempDir(), "sesame.toml")
	write := func(n2b bool) {
		t.Helper()
		err := os.WriteFile(conf, []byte(fmt.Sprintf("upstreams = [%q]\nntlm_to_basic = %v\n[auth]\nuser = \"alice\"\npassword_env = \"PW\"\nschemes = [\"basic\"]\n", sq.Addr, n2b)), 0o600)
		if err != nil {
			t.Fatal(err)
		}
	}
	write(true)
	p := startProxy(t, bin, []string{"PW=AlicePass123"}, "--config", conf)
	through := func(path, want string, args ...string) {
		t.Helper()
		out, err := curl(t, append(append([]string{"-x", p.URL}, args...), origin.URL+path)...)
		if err != nil || !strings.Contains(out, "proxy_user="+want+"\n") {
			t.Fatalf("%s: %v %q, want proxy_user=%s\n%s", path, err, out, want, p.stderr.String())
		}
	}
	through("/n2b", "bob", "--proxy-basic", "-U", "bob:BobPass456")
	write(false)
	p.signal(t, syscall.SIGHUP)
	waitLog(t, p, "configuration reloaded", 1)
	through("/configured", "alice")
	write(true)
	p.signal(t, syscall.SIGHUP)
	waitLog(t, p, "configuration reloaded", 2)
	through("/n2b-again", "bob", "--proxy-basic", "-U", "bob:BobPass456")
}

// startProxyWith starts `sesame proxy` like a user would, with stdin
// ("" for none), on a free loopback port; stopped (SIGINT) at cleanup,
// its log checked for secrets and data races.
func startProxyWith(t *testing.T, bin string, env []string, stdin string, args ...string) *proxyProcess {
	t.Helper()
	port := lab.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, append([]string{"proxy", "--listen", addr, "--log-level", "debug"}, args...)...)
	cmd.Env = append(append([]string{"PATH=/usr/bin:/bin"}, hermeticKerberosEnv...), env...)
	out := &lockedBuffer{mu: make(chan struct{}, 1)}
	cmd.Stdout, cmd.Stderr = out, out
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Whatever the test did, the log may never carry a secret.
		defer func() {
			if leaked := secretsIn(out.String()); leaked != "" {
				t.Errorf("sesame proxy's log contains %s", leaked)
			}
			if strings.Contains(out.String(), "WARNING: DATA RACE") {
				t.Errorf("sesame proxy (built with -race) found a data race:\n%s", out.String())
			}
		}()
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			t.Errorf("sesame proxy did not stop on SIGINT\n%s", out.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sesame proxy did not listen on %s:\n%s", addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &proxyProcess{URL: "http://" + addr, stderr: out, cmd: cmd}
}

// A password typed at the prompt is tried once at start-up: a typo is
// asked for again at once, on the terminal (script(1) gives sesame one).
func TestProxyTypedPasswordAskedAgain(t *testing.T) {
	lab.Require(t, "script")
	bin := buildSesame(t)
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "basic", Users: []lab.ProxyUser{{User: "alice", Password: "AlicePass123"}}})
	addr := fmt.Sprintf("127.0.0.1:%d", lab.FreePort(t))
	cmd := exec.Command("script", "-q", "-e", "-c", strings.Join([]string{bin, "proxy", "--config", "/dev/null", "--listen", addr,
		"--upstream", sq.Addr, "--user", "alice", "--auth", "basic"}, " "), "/dev/null")
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}, hermeticKerberosEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &lockedBuffer{mu: make(chan struct{}, 1)}
	cmd.Stdout, cmd.Stderr = out, out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		cmd.Wait()
		if strings.Contains(out.String(), "Wrong-Pass-3") || strings.Contains(out.String(), "AlicePass123") {
			t.Errorf("a password was echoed or logged:\n%s", out.String())
		}
	})
	wait := func(s string, n int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for strings.Count(out.String(), s) < n {
			if time.Now().After(deadline) {
				t.Fatalf("no %q (%d) in:\n%s", s, n, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	wait("Password for alice:", 1)
	io.WriteString(stdin, "Wrong-Pass-3\n")
	wait("refused the password for alice", 1)
	wait("Password for alice:", 2)
	io.WriteString(stdin, "AlicePass123\n")
	wait("sesame proxy listening", 1)
	o, err := curl(t, "-x", "http://"+addr, origin.URL+"/typed")
	if err != nil || !strings.Contains(o, "proxy_user=alice\n") {
		t.Fatalf("with the password typed again: %v %q\n%s", err, o, out.String())
	}
}
