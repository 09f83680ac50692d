package lab

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// cntlmBin is Debian's cntlm, by absolute path (it lives in /usr/sbin,
// which is not on a non-root user's PATH).
const cntlmBin = "/usr/sbin/cntlm"

// Timeouts for the cntlm fixture. cntlm is ready in milliseconds; the
// limits only matter on a loaded CI box.
const (
	cntlmReadyTimeout = 10 * time.Second
	// cntlm's first SIGTERM only stops accepting: it then waits for every
	// client thread, and a client's idle keep-alive connection can keep
	// one alive indefinitely. A second signal forces the shutdown; it is
	// sent after cntlmSecondSignal. Past the grace, the group gets
	// SIGKILL, which loses nothing (cntlm keeps no state on disk).
	cntlmSecondSignal = 200 * time.Millisecond
	cntlmStopGrace    = 2 * time.Second
	cntlmStartTries   = 3 // FreePort can race; retry when the port was taken
)

// cntlmReady is what cntlm prints (through syslog's LOG_PERROR, i.e. to
// stderr) in the foreground once its listening socket is bound. A bind
// failure makes it exit with "Exitting with error" instead.
const cntlmReady = "Cntlm ready, staying in the foreground"

// cntlmTemplates is cntlm's configuration.
//
//go:embed templates/cntlm.conf.tmpl
var cntlmTemplates embed.FS

var cntlmConfTmpl = template.Must(template.ParseFS(cntlmTemplates, "templates/cntlm.conf.tmpl"))

// CntlmOptions configures StartCntlm.
type CntlmOptions struct {
	// Upstream is the parent proxy, "host:port" (e.g. a [Squid]'s Addr).
	// Required.
	Upstream string
	// Domain, User and Password are the account cntlm authenticates to
	// the parent with. User and Password are required; Domain defaults
	// to "CORP".
	Domain, User, Password string
	// Auth is cntlm's Auth setting: "NTLMv2" (the default), "NTLM2SR",
	// "NTLM", "NT" or "LM".
	Auth string
	// Verbose runs cntlm with -v: every request and header it handles
	// goes to Log. For debugging only; it slows cntlm down markedly.
	Verbose bool
}

// Cntlm is a running cntlm 0.92 local proxy on 127.0.0.1, private to one
// test: clients connect without authentication, cntlm authenticates them
// to the parent proxy with NTLM (the competitor of `sesame proxy`).
//
// cntlm sends compact NTLM messages (a 32-byte NEGOTIATE, an AUTHENTICATE
// without Version and MIC), which stock gss-ntlmssp rejects: a [Squid]
// parent must run with SquidOptions.NTLMShim.
type Cntlm struct {
	// URL is the proxy URL, "http://127.0.0.1:PORT".
	URL string
	// Addr is "127.0.0.1:PORT".
	Addr string
	// Dir is the instance's temporary directory: cntlm.conf (0600: it
	// holds the password) and logs/cntlm.log.
	Dir string

	t        testing.TB
	proc     *peerProc
	stopOnce sync.Once
}

// StartCntlm starts a private cntlm in the foreground on a free port on
// 127.0.0.1, forwarding everything (origins on 127.0.0.1 included) to
// opts.Upstream, and waits until it listens. It is stopped in t.Cleanup.
// It fails the test (never skips it) if cntlm is missing or does not come
// up, quoting its output.
//
// cntlm runs as the test's own user: without -U it keeps its uid, and it
// needs no privilege for a port above 1024.
func StartCntlm(t testing.TB, opts CntlmOptions) *Cntlm {
	t.Helper()
	Require(t, cntlmBin)
	begin := time.Now()
	if opts.Auth == "" {
		opts.Auth = "NTLMv2"
	}
	if opts.Domain == "" {
		opts.Domain = "CORP"
	}
	switch strings.ToUpper(opts.Auth) {
	case "NTLMV2", "NTLM2SR", "NTLM", "NT", "LM":
	default:
		t.Fatalf("lab: StartCntlm: unknown Auth %q (want NTLMv2, NTLM2SR, NTLM, NT or LM)", opts.Auth)
	}
	if _, _, err := net.SplitHostPort(opts.Upstream); err != nil {
		t.Fatalf("lab: StartCntlm: Upstream %q is not host:port: %v", opts.Upstream, err)
	}
	for _, v := range []struct{ name, value string }{
		{"Upstream", opts.Upstream}, {"Domain", opts.Domain}, {"User", opts.User}, {"Password", opts.Password},
	} {
		// cntlm.conf cannot quote (see the template).
		if v.value == "" || strings.ContainsAny(v.value, "#\r\n") || strings.TrimSpace(v.value) != v.value {
			t.Fatalf("lab: StartCntlm: %s %q must be non-empty, without '#', line breaks or surrounding blanks (cntlm.conf cannot quote them)", v.name, v.value)
		}
	}

	dir := t.TempDir()
	mkdirs(t, dir, "logs")
	c := &Cntlm{Dir: dir, t: t}
	logPath := filepath.Join(dir, "logs", "cntlm.log")
	argv := []string{cntlmBin, "-c", filepath.Join(dir, "cntlm.conf"), "-f"}
	if opts.Verbose {
		argv = append(argv, "-v")
	}

	var lastErr error
	for try := 1; try <= cntlmStartTries; try++ {
		port := FreePort(t)
		c.Addr = "127.0.0.1:" + strconv.Itoa(port)
		c.URL = "http://" + c.Addr
		var conf bytes.Buffer
		err := cntlmConfTmpl.Execute(&conf, struct {
			Dir, Upstream, Domain, User, Password, Auth string
			Port                                        int
		}{dir, opts.Upstream, opts.Domain, opts.User, opts.Password, opts.Auth, port})
		if err != nil {
			t.Fatalf("lab: rendering cntlm.conf: %v", err)
		}
		writeFile(t, filepath.Join(dir, "cntlm.conf"), conf.Bytes(), 0o600)

		// An empty environment: cntlm reads none, and the test's proxy
		// variables have no business near it.
		c.proc, err = startPeer(t, "cntlm", dir, logPath, []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"},
			cntlmStopGrace, argv...)
		if err != nil {
			t.Fatalf("lab: starting %s: %v", cntlmBin, err)
		}
		// Registered after startPeer's cleanup, so it runs first.
		c.stopOnce = sync.Once{}
		t.Cleanup(c.Stop)
		lastErr = c.waitReady(cntlmReadyTimeout)
		if lastErr == nil {
			t.Logf("lab: cntlm (%s) ready at %s -> %s in %v (dir %s)", opts.Auth, c.URL, opts.Upstream, time.Since(begin).Round(time.Millisecond), dir)
			return c
		}
		log := c.Log()
		c.Stop()
		// cntlm says only "Exitting with error" when it cannot bind
		// (the reason goes to syslog): find out whether the port was
		// taken, and if so try another one.
		if !portInUse(port) {
			t.Fatalf("lab: cntlm did not come up: %v\n%s", lastErr, log)
		}
		t.Logf("lab: port %d was taken (%v); retrying", port, lastErr)
	}
	t.Fatalf("lab: cntlm did not come up after %d tries: %v", cntlmStartTries, lastErr)
	return nil
}

// portInUse reports whether something listens on 127.0.0.1:port, i.e.
// whether binding it fails with EADDRINUSE.
func portInUse(port int) bool {
	l, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(port))
	if err == nil {
		l.Close()
		return false
	}
	return errors.Is(err, syscall.EADDRINUSE)
}

// waitReady waits for cntlm's ready message and then for its port to
// accept a connection. The message comes first because a connection alone
// could reach whoever else took the port while cntlm failed to bind it.
func (c *Cntlm) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-c.proc.exited:
			return fmt.Errorf("cntlm exited during startup: %v", c.proc.waitErr)
		default:
		}
		if strings.Contains(c.Log(), cntlmReady) {
			conn, err := net.DialTimeout("tcp", c.Addr, time.Second)
			if err == nil {
				conn.Close()
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("cntlm says it is ready but %s does not accept: %v", c.Addr, err)
			}
		} else if time.Now().After(deadline) {
			return fmt.Errorf("no %q from cntlm after %v", cntlmReady, timeout)
		}
		select {
		case <-c.proc.exited:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Pid is the process id of cntlm (one process: it serves clients in
// threads), e.g. for reading its memory use from /proc.
func (c *Cntlm) Pid() int { return c.proc.pgid() }

// Log returns what cntlm wrote to stdout and stderr: its startup and
// shutdown messages, errors, and with CntlmOptions.Verbose a trace of
// every request. (It would send the same to syslog; in the foreground it
// copies it to stderr.)
func (c *Cntlm) Log() string {
	data, err := os.ReadFile(filepath.Join(c.Dir, "logs", "cntlm.log"))
	if err != nil {
		return fmt.Sprintf("[lab: %v]", err)
	}
	return string(data)
}

// Stop stops cntlm now, e.g. to check something after it is gone;
// t.Cleanup does the same, and calling both is fine. It sends SIGTERM and,
// if cntlm is still waiting for client connections to end, a second
// SIGTERM (cntlm's "forcing shutdown"), and finally SIGKILL to its process
// group after a grace period.
func (c *Cntlm) Stop() {
	c.stopOnce.Do(func() {
		_ = c.proc.cmd.Process.Signal(terminateSignal)
		select {
		case <-c.proc.exited:
		case <-time.After(cntlmSecondSignal):
			_ = c.proc.cmd.Process.Signal(terminateSignal)
		}
		c.proc.stop()
	})
}
