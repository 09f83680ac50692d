package lab

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These tests check the squid fixture with curl as the reference client:
// each scheme lets the right credentials through (and the origin learns the
// user from X-Proxy-User), turns wrong or missing ones away with 407,
// tunnels CONNECT, logs what the handshake tests rely on, and leaves no
// process behind.

var proxyUsers = []ProxyUser{
	{Domain: "CORP", User: "alice", Password: "AlicePass123"},
	{Domain: "CORP", User: "bob", Password: "BobPass456"},
}

// origin is a plain HTTP server on 127.0.0.1 that echoes the X-Proxy-User
// header squid adds ("proxy_user=alice").
func origin(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "proxy_user=%s\nvia=%s\n", r.Header.Get("X-Proxy-User"), r.Header.Get("Via"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// tlsOrigin is an HTTPS server on 127.0.0.1 (on a random port: CONNECT to
// it must be allowed).
func tlsOrigin(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls=yes\n")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// curl runs curl with args and env (built from scratch: no *_proxy or
// NO_PROXY variables, which would override or bypass -x; no ~/.curlrc,
// thanks to -q) and returns the last HTTP status and the body.
func curl(t *testing.T, env []string, args ...string) (status int, body string) {
	t.Helper()
	Require(t, "curl")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	argv := append([]string{"-q", "-sS", "--max-time", "20", "-w", "\n%{http_code}"}, args...)
	cmd := exec.CommandContext(ctx, "curl", argv...)
	if env == nil {
		env = []string{"PATH=/usr/bin:/bin", "LANG=C"}
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	s := string(out)
	i := strings.LastIndexByte(s, '\n')
	code, perr := strconv.Atoi(s[i+1:])
	if err != nil || perr != nil {
		t.Fatalf("curl %q: %v\n%s", args, err, out)
	}
	return code, s[:i]
}

// schemeCase is one authentication scheme and the curl options for it.
type schemeCase struct {
	opts  SquidOptions
	good  []string // curl options with the right credentials
	bad   []string // curl options with wrong credentials
	user  string   // what squid reports for good
	env   []string // curl's environment for good (nil: minimal)
	badEv []string // curl's environment for bad
}

func schemeCases(t *testing.T) map[string]func(t *testing.T) schemeCase {
	return map[string]func(t *testing.T) schemeCase{
		"basic": func(t *testing.T) schemeCase {
			return schemeCase{
				opts: SquidOptions{Auth: "basic", Users: proxyUsers},
				good: []string{"--proxy-basic", "-U", "alice:AlicePass123"},
				bad:  []string{"--proxy-basic", "-U", "alice:wrong"},
				user: "alice",
			}
		},
		"digest": func(t *testing.T) schemeCase {
			return schemeCase{
				opts: SquidOptions{Auth: "digest", Users: proxyUsers},
				good: []string{"--proxy-digest", "-U", "bob:BobPass456"},
				bad:  []string{"--proxy-digest", "-U", "bob:wrong"},
				user: "bob",
			}
		},
		"negotiate": func(t *testing.T) schemeCase {
			k := StartKDC(t, KDCOptions{Users: kdcUsers})
			cc := k.Kinit(t, "alice", "AlicePass123")
			// Without a ticket: an empty ccache.
			return schemeCase{
				opts:  SquidOptions{Auth: "negotiate", KDC: k},
				good:  []string{"--proxy-negotiate", "-U", ":"},
				bad:   []string{"--proxy-negotiate", "-U", ":"},
				user:  "alice@CORP.TEST",
				env:   append(k.Env(), "KRB5CCNAME=FILE:"+cc),
				badEv: append(k.Env(), "KRB5CCNAME=FILE:"+k.Dir+"/no-such-ccache"),
			}
		},
		"ntlm": func(t *testing.T) schemeCase {
			// curl sends compact NTLM messages: it needs the shim.
			return schemeCase{
				opts: SquidOptions{Auth: "ntlm", Users: proxyUsers, NTLMShim: true},
				good: []string{"--proxy-ntlm", "-U", `CORP\alice:AlicePass123`},
				bad:  []string{"--proxy-ntlm", "-U", `CORP\alice:wrong`},
				user: `CORP\alice`,
			}
		},
	}
}

func TestSquidSchemes(t *testing.T) {
	plain := origin(t)
	tls := tlsOrigin(t)
	for _, name := range []string{"basic", "digest", "negotiate", "ntlm"} {
		t.Run(name, func(t *testing.T) {
			// Independent instances: most of each subtest is squid's
			// ~2 s shutdown, which need not be waited out one by one.
			t.Parallel()
			c := schemeCases(t)[name](t)
			s := StartSquid(t, c.opts)
			proxy := []string{"-x", s.URL}

			code, body := curl(t, c.env, append(append(proxy, c.good...), plain.URL+"/good")...)
			if code != 200 || !strings.Contains(body, "proxy_user="+c.user+"\n") {
				t.Fatalf("good credentials: %d %q, want 200 with proxy_user=%s\n%s", code, body, c.user, s.CacheLog())
			}
			if code, body := curl(t, c.badEv, append(append(proxy, c.bad...), plain.URL+"/bad")...); code != 407 {
				t.Errorf("wrong credentials: %d %q, want 407", code, body)
			}
			if code, body := curl(t, nil, append(proxy, plain.URL+"/none")...); code != 407 {
				t.Errorf("no credentials: %d %q, want 407", code, body)
			}
			code, body = curl(t, c.env, append(append(proxy, "-k", "-p"), append(c.good, tls.URL+"/tls")...)...)
			if code != 200 || body != "tls=yes\n" {
				t.Errorf("CONNECT: %d %q, want 200 tls=yes\n%s", code, body, s.CacheLog())
			}

			find := func(method, url string, status int, user string) {
				t.Helper()
				s.WaitAccessEntry(t, func(e SquidAccess) bool {
					return e.Method == method && e.URL == url && e.Status == status && e.User == user
				})
			}
			find("GET", plain.URL+"/good", 200, c.user)
			find("GET", plain.URL+"/none", 407, "")
			find("CONNECT", strings.TrimPrefix(tls.URL, "https://"), 200, c.user)
		})
	}
}

// TestSquidStopLeavesNothing checks the cleanup: after stop neither squid
// nor any of its helpers runs, and the port is closed.
func TestSquidStopLeavesNothing(t *testing.T) {
	Require(t, "pgrep")
	plain := origin(t)
	s := StartSquid(t, SquidOptions{Auth: "ntlm", Users: proxyUsers, NTLMShim: true})
	// Use the helper once, and hold an idle connection open across the
	// stop, as an interop test that fails midway would.
	if code, body := curl(t, nil, "-x", s.URL, "--proxy-ntlm", "-U", `CORP\alice:AlicePass123`, plain.URL); code != 200 {
		t.Fatalf("curl: %d %q\n%s", code, body, s.CacheLog())
	}
	conn, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pgid := s.proc.pgid()
	// squid puts its helpers in sessions of their own: look for them
	// among its descendants, not in its process group.
	helpers := descendants(pgid)
	found := false
	for _, h := range helpers {
		found = found || h.comm == "(python3)"
	}
	if !found {
		t.Fatalf("no NTLM helper among squid's descendants: %v", helpers)
	}
	t.Logf("squid %d, helpers %v", pgid, helpers)

	begin := time.Now()
	s.stop()
	t.Logf("stop took %v", time.Since(begin).Round(time.Millisecond))

	if left := groupMembers(pgid); len(left) > 0 {
		t.Fatalf("processes left in group %d: %v", pgid, left)
	}
	for _, h := range helpers {
		if h.alive() {
			t.Fatalf("helper %v still running", h)
		}
	}
	if out, err := exec.Command("pgrep", "-af", s.Dir).Output(); err == nil {
		t.Fatalf("processes still mention %s:\n%s", s.Dir, out)
	}
	if shm, _ := filepath.Glob("/dev/shm/" + s.name + "-*"); len(shm) > 0 {
		t.Fatalf("shared memory segments left: %v", shm)
	}
	if c, err := net.DialTimeout("tcp", s.Addr, 2*time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after stop", s.Addr)
	}
}

// TestSquidHandshakesPerConnection checks what the connection-affinity
// tests read from the access log: curl fetching three URLs over one
// connection authenticates NTLM once, and the other requests pass on the
// same client port. (curl sends its NEGOTIATE unasked, so the handshake
// costs one 407, not two.)
func TestSquidHandshakesPerConnection(t *testing.T) {
	plain := origin(t)
	s := StartSquid(t, SquidOptions{Auth: "ntlm", Users: proxyUsers, NTLMShim: true})
	code, body := curl(t, nil, "-x", s.URL, "--proxy-ntlm", "-U", `CORP\bob:BobPass456`,
		plain.URL+"/1", plain.URL+"/2", plain.URL+"/3")
	if code != 200 || strings.Count(body, "proxy_user=CORP\\bob\n") != 3 {
		t.Fatalf("curl: %d %q\n%s", code, body, s.CacheLog())
	}
	entries := s.WaitAccessEntries(t, 4)
	for _, e := range entries {
		if strings.Contains(e.URL, "lab-ready-probe") {
			t.Errorf("readiness probe in AccessEntries: %+v", e)
		}
	}
	conns := s.Connections()
	if len(conns) != 1 || conns[0].Requests != 4 || conns[0].Challenges != 1 ||
		len(conns[0].Users) != 1 || conns[0].Users[0] != `CORP\bob` {
		t.Fatalf("connections %+v, want one with 4 requests, 1 challenge, user CORP\\bob; access log:\n%s", conns, s.AccessLog())
	}
	if last := entries[len(entries)-1]; last.Method != "GET" || last.URL != plain.URL+"/3" || last.Status != 200 || last.ClientPort != conns[0].ClientPort {
		t.Errorf("last entry %+v", last)
	}
}

// fullSizeNTLMProxyClient authenticates to an NTLM proxy with messages made
// by gss-ntlmssp itself (40-byte NEGOTIATE, AUTHENTICATE with Version and
// MIC), as Windows and sesame's client send them, and prints
// "status=N" and the body. Arguments: proxy host, port, URL, user, password.
const fullSizeNTLMProxyClient = `import base64, http.client, sys
import gssapi, gssapi.raw
NTLMSSP = gssapi.OID.from_int_seq('1.3.6.1.4.1.311.2.2.10')
host, port, url, user, pw = sys.argv[1:6]
conn = http.client.HTTPConnection(host, int(port), timeout=15)
creds = gssapi.raw.acquire_cred_with_password(gssapi.Name(user, gssapi.NameType.user), pw.encode(), usage='initiate', mechs=[NTLMSSP]).creds
ctx = gssapi.SecurityContext(name=gssapi.Name('HTTP@' + host, gssapi.NameType.hostbased_service), creds=creds, mech=NTLMSSP, usage='initiate')
t1 = ctx.step()
conn.request('GET', url, headers={'Proxy-Authorization': 'NTLM ' + base64.b64encode(t1).decode()})
r = conn.getresponse(); r.read()
chal = [h for h in (r.msg.get_all('Proxy-Authenticate') or []) if h.startswith('NTLM ')]
if r.status != 407 or not chal:
    print('status=%d (no NTLM challenge)' % r.status); sys.exit(1)
t3 = ctx.step(base64.b64decode(chal[0][5:]))
conn.request('GET', url, headers={'Proxy-Authorization': 'NTLM ' + base64.b64encode(t3).decode()})
r = conn.getresponse()
print('status=%d type1_len=%d' % (r.status, len(t1)))
print(r.read().decode(errors='replace'), end='')
`

// TestSquidNTLMStrict checks the default, shim-free NTLM proxy: full-size
// messages from gss-ntlmssp pass with the right password only, and curl's
// compact ones are rejected even with the right password (gss-ntlmssp's
// "Failed to decode data"), exactly as a real gss-ntlmssp server does.
func TestSquidNTLMStrict(t *testing.T) {
	RequirePython(t, "gssapi")
	plain := origin(t)
	s := StartSquid(t, SquidOptions{Auth: "ntlm", Users: proxyUsers})
	run := func(user, pw string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "/usr/bin/python3", "-c", fullSizeNTLMProxyClient,
			"127.0.0.1", strings.TrimPrefix(s.Addr, "127.0.0.1:"), plain.URL+"/strict", user, pw)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C", "KRB5_CONFIG=/dev/null"}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(`CORP\alice`, "AlicePass123"); err != nil || !strings.HasPrefix(out, "status=200 type1_len=40\n") ||
		!strings.Contains(out, "proxy_user=CORP\\alice\n") {
		t.Fatalf("full-size NTLM client: %v\n%s\n%s", err, out, s.CacheLog())
	}
	if out, err := run(`CORP\alice`, "wrong"); !strings.HasPrefix(out, "status=407 ") {
		t.Fatalf("full-size NTLM client, wrong password: %v\n%s", err, out)
	}
	if code, body := curl(t, nil, "-x", s.URL, "--proxy-ntlm", "-U", `CORP\alice:AlicePass123`, plain.URL+"/curl"); code != 407 {
		t.Fatalf("curl's compact NTLM through the strict helper: %d %q, want 407", code, body)
	}
	// The helper writes its reason to cache.log on its own time: wait.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.CacheLog(), "Failed to decode data") {
		if time.Now().After(deadline) {
			t.Errorf("logs do not say why curl was rejected (want \"Failed to decode data\"):\n%s", s.CacheLog())
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSquidAccessControl checks the ACLs that keep tests on loopback and
// the CONNECT port restriction, without authentication.
func TestSquidAccessControl(t *testing.T) {
	plain := origin(t)
	tls := tlsOrigin(t)
	other := tlsOrigin(t)
	tlsPort := tls.Listener.Addr().(*net.TCPAddr).Port
	s := StartSquid(t, SquidOptions{ConnectPorts: []int{tlsPort}})
	proxy := []string{"-x", s.URL}

	if code, body := curl(t, nil, append(proxy, plain.URL+"/open")...); code != 200 || !strings.Contains(body, "proxy_user=-\n") {
		t.Errorf("no auth: %d %q, want 200 with proxy_user=-", code, body)
	}
	if code, body := curl(t, nil, append(proxy, "-k", tls.URL)...); code != 200 || body != "tls=yes\n" {
		t.Errorf("CONNECT to an allowed port: %d %q, want 200", code, body)
	}
	// curl reports a refused CONNECT as exit 56 with the proxy's status in
	// http_connect; ask for that rather than for http_code.
	for _, target := range []string{other.URL, "https://" + strings.TrimPrefix(plain.URL, "http://")} {
		cmd := exec.Command("curl", "-q", "-s", "--max-time", "20", "-k", "-x", s.URL, "-o", "/dev/null",
			"-w", "%{http_connect}", target)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C"} // a NO_PROXY would bypass -x
		out, _ := cmd.Output()
		if string(out) != "403" {
			t.Errorf("CONNECT to %s (port not in ConnectPorts): %q, want 403", target, out)
		}
	}
	// Denied before squid connects anywhere: nothing leaves the machine
	// (192.0.2.0/24 is TEST-NET-1 and routes nowhere anyway).
	if code, _ := curl(t, nil, append(proxy, "http://192.0.2.1/")...); code != 403 {
		t.Errorf("non-loopback destination: %d, want 403", code)
	}

	t.Run("loopback only", func(t *testing.T) {
		addrs, out := listeningSockets(t, s.proc.pgid())
		for _, a := range addrs {
			if !strings.HasPrefix(a, "127.0.0.1:") {
				t.Errorf("squid has a socket beyond loopback: %s", a)
			}
		}
		if len(addrs) == 0 {
			t.Fatalf("no socket of squid pid %d in:\n%s", s.proc.pgid(), out)
		}
	})
}

func TestParseSquidAccessLog(t *testing.T) {
	log := "1700000000.123 127.0.0.1 40512 407 GET http://127.0.0.1:8080/ -\n" +
		"1700000000.200 127.0.0.1 40512 200 GET http://127.0.0.1:8080/ CORP%5Calice\n" +
		"\n" +
		"1700000001.000 127.0.0.1 40514 200 CONNECT 127.0.0.1:8443 alice@CORP.TEST\n"
	got, err := ParseSquidAccessLog(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	want := []SquidAccess{
		{40512, "GET", "http://127.0.0.1:8080/", "", 407},
		{40512, "GET", "http://127.0.0.1:8080/", `CORP\alice`, 200},
		{40514, "CONNECT", "127.0.0.1:8443", "alice@CORP.TEST", 200},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	conns := GroupSquidConnections(got)
	if fmt.Sprint(conns) != fmt.Sprint([]SquidConn{{40512, 2, 1, []string{`CORP\alice`}}, {40514, 1, 0, []string{"alice@CORP.TEST"}}}) {
		t.Fatalf("connections %+v", conns)
	}
	if _, err := ParseSquidAccessLog(strings.NewReader("1700000000.123 127.0.0.1 x 200 GET / -\n")); err == nil {
		t.Error("bad port parsed")
	}
	if _, err := ParseSquidAccessLog(strings.NewReader("squid native format line\n")); err == nil {
		t.Error("wrong field count parsed")
	}
}

// TestSquidTestBinaryKilled checks the case t.Cleanup cannot handle: the
// test binary dies. The watchdog kills squid's process group; squid's
// helpers, which squid puts in sessions of their own, must then go too
// (they see EOF on stdin once squid is gone).
func TestSquidTestBinaryKilled(t *testing.T) {
	if os.Getenv("LAB_SQUID_KILLED_HELPER") == "1" {
		s := StartSquid(t, SquidOptions{Auth: "ntlm", Users: proxyUsers})
		fmt.Printf("\nLAB %d %s %s\n", s.proc.pgid(), s.Dir, s.name)
		time.Sleep(time.Minute)
		return
	}
	if runtime.GOOS != "linux" {
		t.Fatalf("lab fixtures need Linux (Debian)")
	}
	l, helper := startHelperBinary(t, "TestSquidTestBinaryKilled", "LAB_SQUID_KILLED_HELPER")
	var pgid int
	var dir, name string
	if _, err := fmt.Sscanf(l, "LAB %d %s %s", &pgid, &dir, &name); err != nil {
		t.Fatalf("helper said %q: %v", l, err)
	}
	t.Cleanup(func() {
		killGroup(pgid)
		for _, p := range procsMentioning(dir) {
			p.kill()
		}
		removeSquidShm(name)
		removeHelperTempDir(dir, "TestSquidTestBinaryKilled")
	})
	procs := procsMentioning(dir)
	found := false
	for _, p := range procs {
		found = found || p.comm == "(python3)"
	}
	if !found {
		t.Fatalf("helper's squid has no NTLM helper running: %v", procs)
	}

	helper.Process.Kill() // SIGKILL: no cleanup runs in the helper
	helper.Wait()

	deadline := time.Now().Add(5 * time.Second)
	for len(procsMentioning(dir)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if left := procsMentioning(dir); len(left) > 0 {
		t.Fatalf("squid or its helpers outlived the killed test binary: %v", left)
	}
	// A killed squid leaves its shared memory segments; the next
	// StartSquid sweeps those of squids no longer running.
	if shm, _ := filepath.Glob("/dev/shm/" + name + "-*"); len(shm) == 0 {
		t.Logf("killed squid left no shared memory segments (expected some)")
	}
	sweepSquidShm()
	if shm, _ := filepath.Glob("/dev/shm/" + name + "-*"); len(shm) > 0 {
		t.Fatalf("sweepSquidShm left %v", shm)
	}
}
