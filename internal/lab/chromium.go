package lab

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// chromiumBin is Debian's Chromium itself. The /usr/bin/chromium launcher
// is deliberately not used: it sources /etc/chromium.d, which exports
// Debian's Google API keys (they switch Google services on) and adds
// --enable-remote-extensions and --load-extension, so the command line
// would no longer be the one this file vouches for.
const chromiumBin = "/usr/lib/chromium/chromium"

// Defaults of ChromiumOptions.
const (
	chromiumTimeout      = 60 * time.Second
	chromiumWindowWidth  = 1280
	chromiumWindowHeight = 900
)

// chromiumBaseFlags are on every run. Together with the proxy flags that
// runChromium adds, they keep Chromium on loopback: on this project's
// machines nothing but loopback may be contacted, and headless Chromium
// makes background requests to Google even with
// --disable-background-networking. Two remain that no flag was found to
// stop (Chromium 156): an on-demand component install
// (update.googleapis.com, the optimization guide's model manifest) and
// accounts.google.com/ListAccounts. They go to the proxy on loopback like
// everything else: the sink refuses them, and the lab squid behind a
// ProxyServer refuses non-loopback destinations.
var chromiumBaseFlags = []string{
	// --headless=new is the full browser without a window (the old
	// headless shell is no longer part of Chromium).
	"--headless=new",
	// The tests run as root in CI, and Chromium's sandbox refuses root.
	// The pages are the tests' own.
	"--no-sandbox",
	"--disable-gpu",
	// QUIC is UDP, which an HTTP proxy does not carry.
	"--disable-quic",
	"--no-first-run",
	"--no-default-browser-check",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--disable-extensions",
	"--disable-breakpad",
	// Two requests that survive --disable-background-networking: the
	// network time tracker's clients2.google.com/time query, and autofill
	// asking content-autofill.googleapis.com about a page with a form.
	"--disable-features=NetworkTimeServiceQuerying,AutofillServerCommunication",
	// Chromium's own resolver answers "not found" for every name but the
	// loopback ones, without sending a DNS query: whatever request still
	// slips past the proxy settings cannot even look a host up.
	"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
	// No keyring over D-Bus (there is no session bus).
	"--password-store=basic",
	"--mute-audio",
	// Screenshots: one CSS pixel is one PNG pixel, and no scrollbar.
	"--force-device-scale-factor=1",
	"--hide-scrollbars",
	// Shared memory in the profile's /tmp rather than /dev/shm, which is
	// small in some containers (Debian's launcher adds it then too).
	"--disable-dev-shm-usage",
}

// ChromiumOptions configures ChromiumDumpDOM and ChromiumScreenshot.
type ChromiumOptions struct {
	// ProxyServer is the proxy every request goes to, loopback URLs
	// included (Chromium's implicit loopback bypass is removed with
	// --proxy-bypass-list=<-loopback>): "http://127.0.0.1:PORT", e.g. a
	// running `sesame proxy`. It must be an http:// URL on a loopback IP
	// address.
	//
	// Empty: loopback URLs are loaded directly, and every other request
	// (Chromium's background requests) goes to a sink proxy on loopback
	// that refuses it, so nothing leaves the machine.
	ProxyServer string
	// ExtraFlags are added to the command line, e.g.
	// "--ignore-certificate-errors" for an httptest TLS origin. Flags
	// that would change where Chromium connects (--proxy*,
	// --host-resolver-rules, --user-data-dir, ...) are refused.
	ExtraFlags []string
	// Env are environment variables added to Chromium's own (which is
	// built from scratch): only Kerberos's, KRB5CCNAME=FILE:path and
	// KRB5_CONFIG=path for single sign-on with an auth-server allow-list
	// (--auth-server-allowlist in ExtraFlags). Others are refused, so no
	// *_proxy variable can send Chromium elsewhere.
	Env []string
	// Timeout is how long one run may take; 60 s if zero. Past it, the
	// run's whole process group is killed and the test fails.
	Timeout time.Duration
	// WindowWidth and WindowHeight are the window (and screenshot) size
	// in pixels; 1280 x 900 if zero.
	WindowWidth, WindowHeight int
}

// chromiumRun is what one Chromium run left behind.
type chromiumRun struct {
	// Stdout is what Chromium printed on stdout (the DOM for --dump-dom).
	Stdout string
	// Stderr is Chromium's log, for failure messages.
	Stderr string
	// Refused lists the requests the sink proxy turned away
	// ("CONNECT accounts.google.com:443"); only without ProxyServer.
	Refused []string
	// PGID is the run's process group, empty by the time runChromium
	// returns.
	PGID int
}

// ChromiumDumpDOM loads url in a fresh headless Chromium and returns the
// DOM after the load event (--dump-dom): the page as the browser built it,
// its scripts run. It fails the test (never skips it) if Chromium is
// missing, the page does not load, or the run takes longer than the
// timeout.
func ChromiumDumpDOM(t testing.TB, opts ChromiumOptions, url string) string {
	t.Helper()
	run := mustRunChromium(t, opts, []string{"--dump-dom", url})
	if strings.TrimSpace(run.Stdout) == "" {
		t.Fatalf("lab: chromium --dump-dom %s printed no DOM\n%s", url, chromiumLogTail(run.Stderr))
	}
	return run.Stdout
}

// ChromiumScreenshot loads url in a fresh headless Chromium and writes a
// PNG of the window (WindowWidth x WindowHeight) to file. It fails the
// test like ChromiumDumpDOM.
func ChromiumScreenshot(t testing.TB, opts ChromiumOptions, url, file string) {
	t.Helper()
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	// A stale file must not pass for this run's screenshot.
	if err := os.Remove(abs); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lab: %v", err)
	}
	run := mustRunChromium(t, opts, []string{"--screenshot=" + abs, url})
	if fi, err := os.Stat(abs); err != nil || fi.Size() == 0 {
		t.Fatalf("lab: chromium --screenshot %s wrote no PNG (%v)\n%s", url, err, chromiumLogTail(run.Stderr))
	}
}

// mustRunChromium is runChromium failing the test on error.
func mustRunChromium(t testing.TB, opts ChromiumOptions, args []string) *chromiumRun {
	t.Helper()
	Require(t, chromiumBin)
	run, err := runChromium(t, opts, args)
	if err != nil {
		msg := ""
		if run != nil {
			msg = chromiumLogTail(run.Stderr)
		}
		t.Fatalf("lab: chromium %v: %v\n%s", args, err, msg)
	}
	if len(run.Refused) > 0 {
		t.Logf("lab: chromium's background requests, refused on loopback: %s", strings.Join(run.Refused, ", "))
	}
	return run
}

// checkChromiumOptions refuses options that could let Chromium talk to
// anything but loopback.
func checkChromiumOptions(opts ChromiumOptions) error {
	if opts.ProxyServer != "" {
		u, err := url.Parse(opts.ProxyServer)
		if err != nil {
			return fmt.Errorf("ProxyServer %q: %v", opts.ProxyServer, err)
		}
		ip := net.ParseIP(u.Hostname())
		if u.Scheme != "http" || ip == nil || !ip.IsLoopback() || u.Port() == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("ProxyServer %q: want http://127.0.0.1:PORT (an http proxy on a loopback IP address)", opts.ProxyServer)
		}
	}
	for _, f := range opts.ExtraFlags {
		name, _, _ := strings.Cut(strings.TrimLeft(f, "-"), "=")
		if !strings.HasPrefix(f, "--") {
			return fmt.Errorf("ExtraFlags: %q is not a --flag (the URL is an argument of its own)", f)
		}
		// A repeated switch replaces the earlier one, so a second
		// --disable-features would drop the features lab disables.
		for _, bad := range []string{"proxy", "no-proxy", "host-resolver", "host-rules", "user-data-dir", "remote-debugging",
			"dump-dom", "screenshot", "enable-features", "disable-features", "headless"} {
			if strings.HasPrefix(name, bad) {
				return fmt.Errorf("ExtraFlags: %q is set by lab (it decides where Chromium connects or what a run does)", f)
			}
		}
	}
	for _, kv := range opts.Env {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "KRB5") {
			return fmt.Errorf("Env: %q: only KRB5* variables (KRB5CCNAME, KRB5_CONFIG) may be set", kv)
		}
	}
	if opts.Timeout < 0 || opts.WindowWidth < 0 || opts.WindowHeight < 0 {
		return fmt.Errorf("negative Timeout or window size")
	}
	return nil
}

// runChromium runs Chromium once with args (the mode flag and the URL) in
// a fresh profile, in a process group of its own, and waits for it. The
// group is killed on timeout and, in any case, before it returns: the
// browser's helpers (zygote, renderer, GPU and network processes) must
// not outlive the run. A watchdog kills the group if the test binary dies
// meanwhile.
func runChromium(t testing.TB, opts ChromiumOptions, args []string) (*chromiumRun, error) {
	if err := checkChromiumOptions(opts); err != nil {
		return nil, err
	}
	if opts.Timeout == 0 {
		opts.Timeout = chromiumTimeout
	}
	if opts.WindowWidth == 0 {
		opts.WindowWidth = chromiumWindowWidth
	}
	if opts.WindowHeight == 0 {
		opts.WindowHeight = chromiumWindowHeight
	}
	dir, err := os.MkdirTemp(t.TempDir(), "chromium")
	if err != nil {
		return nil, err
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		return nil, err
	}
	// TMPDIR of its own, short: Chromium puts its singleton socket there,
	// and a unix socket path may not exceed 107 bytes, which a t.TempDir()
	// below a long test name easily does. Removed after the run, also
	// when a killed browser could not clean up.
	tmp, err := os.MkdirTemp("", "lab-chromium-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	argv := append([]string{}, chromiumBaseFlags...)
	argv = append(argv,
		"--user-data-dir="+filepath.Join(dir, "profile"),
		fmt.Sprintf("--window-size=%d,%d", opts.WindowWidth, opts.WindowHeight))
	run := &chromiumRun{}
	if opts.ProxyServer != "" {
		// Chromium bypasses any proxy for localhost and 127.0.0.0/8
		// unless told otherwise: <-loopback> sends them to the proxy too.
		argv = append(argv, "--proxy-server="+opts.ProxyServer, "--proxy-bypass-list=<-loopback>")
	} else {
		sink, err := startSinkProxy()
		if err != nil {
			return nil, err
		}
		defer func() { run.Refused = sink.close() }()
		// The implicit loopback bypass stays: loopback URLs go directly,
		// everything else to the sink.
		argv = append(argv, "--proxy-server=http://"+sink.addr())
	}
	argv = append(argv, opts.ExtraFlags...)
	argv = append(argv, args...)

	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		return nil, err
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		return nil, err
	}
	defer stderr.Close()
	cmd := exec.Command(chromiumBin, argv...)
	// An environment of its own: no *_proxy variables, no DISPLAY, no
	// API keys; HOME (~/.cache, ~/.pki) inside the run's directory.
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8", "TMPDIR=" + tmp}, opts.Env...)
	cmd.Dir = dir
	// Files, not pipes: a helper process holding a pipe open could make
	// Wait hang after the browser exited.
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pgid := cmd.Process.Pid
	run.PGID = pgid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	dismiss, err := startWatchdog(pgid)
	if err != nil {
		killGroup(pgid)
		<-exited
		return nil, fmt.Errorf("starting watchdog: %v", err)
	}
	defer dismiss()
	var runErr error
	select {
	case err := <-exited:
		if err != nil {
			runErr = fmt.Errorf("chromium: %v", err)
		}
	case <-time.After(opts.Timeout):
		killGroup(pgid)
		<-exited
		runErr = fmt.Errorf("chromium did not finish within %v; its process group was killed", opts.Timeout)
	}
	// Whatever is left of the group (normally nothing) goes too.
	if err := reapGroup(pgid); err != nil && runErr == nil {
		runErr = err
	}
	out, _ := os.ReadFile(stdout.Name())
	log, _ := os.ReadFile(stderr.Name())
	run.Stdout, run.Stderr = string(out), string(log)
	// Chromium exits 0 when the page failed to load; it says so in its log.
	if runErr == nil {
		for _, l := range strings.Split(run.Stderr, "\n") {
			if i := strings.Index(l, "Page load failed"); i >= 0 {
				runErr = errors.New(strings.TrimSpace(l[i:]))
				break
			}
		}
	}
	return run, runErr
}

// reapGroup kills whatever is left in process group pgid and waits until
// nothing is.
func reapGroup(pgid int) error {
	left := groupMembers(pgid)
	if len(left) == 0 {
		return nil
	}
	killGroup(pgid)
	deadline := time.Now().Add(peerGoneTimeout)
	for len(left) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		left = groupMembers(pgid)
	}
	if len(left) > 0 {
		return fmt.Errorf("chromium processes still running after SIGKILL: %v", left)
	}
	return nil
}

// chromiumLogTail is the end of Chromium's log without the D-Bus noise
// (there is no system or session bus here), for failure messages.
func chromiumLogTail(log string) string {
	var keep []string
	for _, l := range strings.Split(log, "\n") {
		if l != "" && !strings.Contains(l, "dbus") {
			keep = append(keep, l)
		}
	}
	if len(keep) > 40 {
		keep = keep[len(keep)-40:]
	}
	return "chromium log:\n" + strings.Join(keep, "\n")
}

// sinkProxy is a proxy on 127.0.0.1 that answers every request with 403
// and closes the connection: where Chromium's background requests go when
// a run has no ProxyServer. It records what it refused.
type sinkProxy struct {
	ln      net.Listener
	mu      sync.Mutex
	refused []string
	wg      sync.WaitGroup
}

func startSinkProxy() (*sinkProxy, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sinkProxy{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.refuse(c)
			}()
		}
	}()
	return s, nil
}

func (s *sinkProxy) addr() string { return s.ln.Addr().String() }

func (s *sinkProxy) refuse(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return
	}
	target := req.RequestURI
	s.mu.Lock()
	s.refused = append(s.refused, req.Method+" "+target)
	s.mu.Unlock()
	fmt.Fprint(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
}

// close stops the sink and returns what it refused.
func (s *sinkProxy) close() []string {
	s.ln.Close()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}
