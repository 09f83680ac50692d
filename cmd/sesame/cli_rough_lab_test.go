//go:build linux

package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// A 401 offering Negotiate while a ticket is at hand, without -u: one
// line on stderr says that -u : would use it (and whose it is); the
// request is otherwise curl's (the 401 body, exit 0; exit 22 with -f).
// With -u : the ticket is used and the line is not printed; without a
// ticket there is nothing to say.
func TestGetHintsNegotiateTicket(t *testing.T) {
	const pw = "KrbPass-789"
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: pw}}})
	ap := lab.StartApache(t, lab.ApacheOptions{KerberosKeytab: k.ServiceKeytab, Krb5Conf: k.Krb5Conf})
	ccache := k.Kinit(t, "alice", pw)
	env := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=FILE:" + ccache}
	const hint = "sesame: the server offers Negotiate; -u : would use the ticket of alice@CORP.TEST\n"

	code, _, errOut := cli(t, env, "", "get", ap.URL+"/negotiate/")
	if code != 0 || errOut != hint {
		t.Errorf("no -u: exit %d, stderr %q; want 0 and %q", code, errOut, hint)
	}
	code, _, errOut = cli(t, env, "", "get", "-fsS", ap.URL+"/negotiate/")
	if code != exitHTTPError || !strings.HasPrefix(errOut, hint) {
		t.Errorf("-fsS: exit %d, stderr %q", code, errOut)
	}
	code, out, errOut := cli(t, env, "", "get", "-u", ":", ap.URL+"/negotiate/")
	if code != 0 || !strings.Contains(out, "user=alice@CORP.TEST") || strings.Contains(errOut, "offers Negotiate") {
		t.Errorf("-u : exit %d, %q %q", code, out, errOut)
	}
	noTicket := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=FILE:" + filepath.Join(t.TempDir(), "none")}
	if code, _, errOut = cli(t, noTicket, "", "get", ap.URL+"/negotiate/"); code != 0 || errOut != "" {
		t.Errorf("no ticket: exit %d, stderr %q; want no hint", code, errOut)
	}
}

// A broken local PAC file stops the proxy at start-up (exit 2, one line
// naming the file) instead of letting it run and answer every request
// with 502; with pac_fail = "direct" it starts, with a loud warning, and
// goes DIRECT. A good PAC is named as the route in the start-up line.
func TestProxyChecksPACAtStart(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.pac")
	good := filepath.Join(dir, "good.pac")
	writeFile(t, broken, `function FindProxyForURL(url, host) { return "PROXY p.corp:8080"; `)
	writeFile(t, good, `function FindProxyForURL(url, host) { return "DIRECT"; }`)
	for _, pacFile := range []string{broken, filepath.Join(dir, "missing.pac")} {
		code, out, errOut := cli(t, nil, "", "proxy", "--listen", "127.0.0.1:0", "--pac", pacFile)
		if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "sesame proxy: PAC file "+pacFile) {
			t.Errorf("--pac %s: exit %d, stdout %q, stderr %q; want exit 2 and one line naming the PAC", filepath.Base(pacFile), code, out, errOut)
		}
	}

	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	bin := cliBinary(t)
	conf := filepath.Join(dir, "sesame.toml")
	writeFile(t, conf, "pac = \""+broken+"\"\npac_fail = \"direct\"\n")
	p := startProxy(t, bin, nil, "--config", conf)
	waitLog(t, p, "sesame proxy listening", 1)
	if log := p.stderr.String(); !strings.Contains(log, "level=WARN msg=\"THE PAC FILE CANNOT BE USED: every request goes DIRECT") || !strings.Contains(log, "upstream=\"PAC "+broken+"\"") {
		t.Errorf("pac_fail = direct: no loud warning, or the PAC not named as the route:\n%s", log)
	}
	if out, err := curl(t, "-x", p.URL, origin.URL+"/direct"); err != nil || !strings.Contains(out, "path=/direct") {
		t.Errorf("pac_fail = direct: %v %q", err, out)
	}

	p = startProxy(t, bin, nil, "--pac", good)
	waitLog(t, p, "sesame proxy listening", 1)
	if log := p.stderr.String(); !strings.Contains(log, "upstream=\"PAC "+good+"\"") || strings.Contains(log, "WARN") {
		t.Errorf("good PAC: start-up line does not name it:\n%s", log)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// --upstream DIRECT is a route, not the host DIRECT:8080: alone (or as
// --upstream ”) no proxy and no discovery from HTTPS_PROXY; last, the
// fallback after the proxies before it; anywhere else a usage error.
func TestProxyUpstreamDirect(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	bin := cliBinary(t)
	dead := fmt.Sprintf("127.0.0.1:%d", lab.FreePort(t))
	code, out, errOut := cli(t, nil, "", "proxy", "--upstream", "DIRECT", "--print-config")
	if code != 0 || !strings.Contains(out, `upstreams = ["DIRECT"]`) {
		t.Errorf("--print-config: exit %d\n%s%s", code, out, errOut)
	}
	for _, tc := range []struct {
		args  []string
		route string
	}{
		{[]string{"--upstream", "DIRECT"}, `upstream=DIRECT`},
		{[]string{"--upstream", ""}, `upstream=DIRECT`},
		{[]string{"--upstream", dead, "--upstream", "direct"}, `upstream="` + dead + `, DIRECT"`},
	} {
		// A proxy in the environment that discovery would take.
		p := startProxy(t, bin, []string{"HTTPS_PROXY=http://" + dead, "HTTP_PROXY=http://" + dead}, tc.args...)
		if out, err := curl(t, "-x", p.URL, origin.URL+"/direct"); err != nil || !strings.Contains(out, "path=/direct") {
			t.Errorf("%q: %v %q\n%s", tc.args, err, out, p.stderr.String())
		}
		waitLog(t, p, "sesame proxy listening", 1)
		if log := p.stderr.String(); !strings.Contains(log, tc.route+" ") || strings.Contains(log, "DIRECT:8080") {
			t.Errorf("%q: start-up line lacks %s:\n%s", tc.args, tc.route, log)
		}
	}
	code, _, errOut = cli(t, nil, "", "proxy", "--listen", "127.0.0.1:0", "--upstream", "DIRECT", "--upstream", dead)
	if code != 2 || !strings.Contains(errOut, "DIRECT must come last") {
		t.Errorf("DIRECT first: exit %d %q", code, errOut)
	}
}

// Ctrl-C with a transfer in flight: the proxy says it drains, lets the
// transfer finish and exits 0; a second Ctrl-C stops at once (exit 0
// too: the stop was asked for); idle, it stops at once, without the
// message.
func TestProxyShutdownDrains(t *testing.T) {
	bin := cliBinary(t)
	release := make(chan struct{})
	started := make(chan struct{}, 4)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("first half\n"))
		w.(http.Flusher).Flush()
		started <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
		}
		w.Write([]byte("second half\n"))
	}))
	defer origin.Close()
	defer close(release)

	exitCode := func(p *proxyProcess) int {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		select {
		case <-done:
			return p.cmd.ProcessState.ExitCode()
		case <-time.After(15 * time.Second):
			t.Fatalf("the proxy did not stop:\n%s", p.stderr.String())
			return -1
		}
	}
	slowCurl := func(p *proxyProcess, path string) (*exec.Cmd, *bytes.Buffer) {
		c := exec.Command("curl", "-sS", "--max-time", "30", "-x", p.URL, origin.URL+path)
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatalf("the transfer did not start:\n%s", p.stderr.String())
		}
		return c, &out
	}

	t.Run("drain", func(t *testing.T) {
		p := startProxy(t, bin, nil)
		c, out := slowCurl(p, "/slow")
		p.signal(t, os.Interrupt)
		waitLog(t, p, "draining 1 request (Ctrl-C again to stop now)", 1)
		time.Sleep(200 * time.Millisecond)
		if err := p.cmd.Process.Signal(syscall.Signal(0)); err != nil {
			t.Fatalf("exited before the transfer ended: %v\n%s", err, p.stderr.String())
		}
		release <- struct{}{}
		if err := c.Wait(); err != nil || out.String() != "first half\nsecond half\n" {
			t.Errorf("the transfer was cut: %v %q", err, out.String())
		}
		if code := exitCode(p); code != 0 {
			t.Errorf("exit %d after a drain, want 0:\n%s", code, p.stderr.String())
		}
	})
	t.Run("second signal", func(t *testing.T) {
		p := startProxy(t, bin, nil)
		c, _ := slowCurl(p, "/slow")
		p.signal(t, syscall.SIGTERM)
		waitLog(t, p, "draining 1 request", 1)
		start := time.Now()
		p.signal(t, os.Interrupt)
		if code := exitCode(p); code != 0 || time.Since(start) > 5*time.Second {
			t.Errorf("second signal: exit %d after %v, want 0 at once:\n%s", code, time.Since(start), p.stderr.String())
		}
		if err := c.Wait(); err == nil {
			t.Errorf("the transfer completed although the proxy stopped at once")
		}
	})
	t.Run("idle", func(t *testing.T) {
		p := startProxy(t, bin, nil)
		p.signal(t, syscall.SIGTERM)
		if code := exitCode(p); code != 0 || strings.Contains(p.stderr.String(), "draining") {
			t.Errorf("idle: exit %d:\n%s", code, p.stderr.String())
		}
	})
}

// The admin page's uptime counts from the start, not from the first
// page view; requests the client gave up on are counted and listed as
// cancellations, not as errors (page and /metrics).
func TestAdminUptimeAndCancellations(t *testing.T) {
	bin := cliBinary(t)
	release := make(chan struct{})
	defer close(release)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/mid-body" {
			w.Write([]byte("first half\n"))
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer origin.Close()
	admin := fmt.Sprintf("127.0.0.1:%d", lab.FreePort(t))
	p := startProxy(t, bin, nil, "--admin", admin)
	time.Sleep(2100 * time.Millisecond)
	// The client gives up before the answer, and in the middle of the body.
	for _, path := range []string{"/headers", "/mid-body"} {
		if _, err := curl(t, "--max-time", "0.5", "-x", p.URL, origin.URL+path); err == nil {
			t.Fatalf("%s: curl did not time out", path)
		}
	}
	waitLog(t, p, "access", 2)
	get := func(path string) string {
		out, err := curl(t, "http://"+admin+path)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	var page, metrics string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if metrics = get("/metrics"); strings.Contains(metrics, "sesame_client_canceled_total 2\n") {
			break
		}
	}
	page = get("/")
	if !strings.Contains(metrics, "sesame_client_canceled_total 2\n") || !strings.Contains(metrics, "sesame_errors_total 0\n") {
		t.Errorf("metrics: want 2 cancellations and 0 errors:\n%s\n%s", metrics, p.stderr.String())
	}
	if !strings.Contains(page, `<td id="canceled">2</td>`) || !strings.Contains(page, `<td id="errors">0</td>`) || !strings.Contains(page, `id="canceled-list"`) {
		t.Errorf("status page: cancellations not apart from errors:\n%s", page)
	}
	if i := strings.Index(page, "<h2>Recent errors</h2>\n<p>None.</p>"); i < 0 {
		t.Errorf("the cancellations are listed as errors:\n%s", page)
	}
	m := regexp.MustCompile(` · up ([0-9.]+)s · `).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no uptime on the page:\n%s", page)
	}
	if up, _ := strconv.ParseFloat(m[1], 64); up < 2 {
		t.Errorf("uptime %ss at the first page view, 2s after the start: it counts from the first view", m[1])
	}
}

// doctor's "Proxy settings" say where each setting came from, also when
// the upstream is a flag; a Negotiate credential with Kerberos and NTLM
// shows each mechanism's identity on a line of its own.
func TestDoctorSettingsSources(t *testing.T) {
	const pw = "KrbPass-789"
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: pw}}})
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "negotiate", KDC: k})
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	code, out, errOut := cli(t, []string{"KRB5_CONFIG=" + k.Krb5Conf, "PW=" + pw}, "",
		"doctor", "--upstream", sq.Addr, "--user", "alice@CORP.TEST", "--password-env", "PW", "--auth", "negotiate", "--url", origin.URL+"/")
	for _, want := range []string{
		"upstream: " + sq.Addr + " (flag --upstream)\n",
		"user:     alice@CORP.TEST (flag --user)\n",
		"auth:     negotiate (flag --auth)\n",
		"  credentials:\n    Negotiate\n      kerberos: alice@CORP.TEST\n      ntlm: ",
		"  Negotiate: ok (200 OK), kerberos as alice@CORP.TEST\n    kerberos: alice@CORP.TEST\n    ntlm: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q", want)
		}
	}
	if code != 0 || strings.Contains(out, "+") || strings.Contains(out+errOut, pw) {
		t.Errorf("exit %d (want 0), identities joined with + or the password shown:\n%s%s", code, out, errOut)
	}

	conf := filepath.Join(t.TempDir(), "sesame.toml")
	writeFile(t, conf, "upstreams = [\""+sq.Addr+"\"]\n")
	_, out, errOut = cli(t, []string{"SESAME_CONFIG=" + conf, "SESAME_AUTH=ntlm", "NO_PROXY=.corp.example"}, "", "doctor", "--url", origin.URL+"/")
	for _, want := range []string{
		"upstream: " + sq.Addr + " (config file " + conf + ")\n",
		"auth:     ntlm (environment SESAME_AUTH)\n",
		"no proxy: .corp.example (environment NO_PROXY/no_proxy)\n",
		"user:     none (single sign-on) (default)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s%s", want, out, errOut)
		}
	}
}

// Keyring look-ups take DOMAIN\user case-insensitively, as Windows and AD
// do: what `sesame login` stored for CORP\alice is found by --check
// --user 'corp\ALICE', and --delete under that spelling removes it.
func TestLoginKeyringCaseInsensitive(t *testing.T) {
	bin := cliBinary(t)
	ss := lab.StartSecretService(t)
	env := ss.Env()
	if code, out, errOut := runBin(t, bin, env, "AlicePass123\n", "login", "--user", `CORP\alice`, "--password-stdin"); code != 0 {
		t.Fatalf("login: exit %d %q %q", code, out, errOut)
	}
	for _, user := range []string{`corp\ALICE`, `Corp\Alice`, `CORP\alice`} {
		code, out, errOut := runBin(t, bin, env, "", "login", "--check", "--user", user)
		if code != 0 || !strings.Contains(out, "is stored") {
			t.Errorf("login --check --user %s: exit %d %q %q", user, code, out, errOut)
		}
	}
	if code, out, errOut := runBin(t, bin, env, "", "login", "--delete", "--user", `corp\ALICE`); code != 0 || !strings.Contains(out, "removed") {
		t.Errorf("login --delete --user corp\\ALICE: exit %d %q %q", code, out, errOut)
	}
	if _, err := ss.SecretTool(t, "", "lookup", "service", "sesame", "username", `CORP\alice`); err == nil {
		t.Errorf("the entry for CORP\\alice is still there after --delete under another spelling")
	}
	if code, _, errOut := runBin(t, bin, env, "", "login", "--check", "--user", `corp\ALICE`); code != 1 {
		t.Errorf("--check after --delete: exit %d %q, want 1", code, errOut)
	}
}

// sesame run shares stderr with the command it runs: its own proxy logs
// at WARN unless a level is asked for (--log-level or SESAME_LOG_LEVEL);
// a warning still shows.
func TestRunLogsAtWarn(t *testing.T) {
	pacFile := filepath.Join(t.TempDir(), "broken.pac")
	writeFile(t, pacFile, "function FindProxyForURL(url, host) {")
	conf := filepath.Join(t.TempDir(), "sesame.toml")
	writeFile(t, conf, "pac = \""+pacFile+"\"\npac_fail = \"direct\"\n")
	listen := fmt.Sprintf("127.0.0.1:%d", lab.FreePort(t))
	for _, tc := range []struct {
		env      []string
		args     []string
		infoWant bool
	}{
		{nil, nil, false},
		{nil, []string{"--log-level", "info"}, true},
		{[]string{"SESAME_LOG_LEVEL=info"}, nil, true},
	} {
		args := append(append([]string{"run", "--listen", listen, "--config", conf}, tc.args...), "--", "sh", "-c", "echo child output")
		code, out, errOut := cli(t, tc.env, "", args...)
		if code != 0 || out != "child output\n" {
			t.Errorf("%v %v: exit %d, stdout %q, stderr %q", tc.env, tc.args, code, out, errOut)
		}
		if got := strings.Contains(errOut, "level=INFO"); got != tc.infoWant {
			t.Errorf("%v %v: INFO lines on stderr: %v, want %v:\n%s", tc.env, tc.args, got, tc.infoWant, errOut)
		}
		if !strings.Contains(errOut, "level=WARN") || !strings.Contains(errOut, "THE PAC FILE CANNOT BE USED") {
			t.Errorf("%v %v: the warning is missing:\n%s", tc.env, tc.args, errOut)
		}
	}
}
