package lab

import (
	"bytes"
	"context"
	"crypto/md5"
	"embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"
)

// Debian's squid and its helpers, by absolute path.
const (
	squidBin        = "/usr/sbin/squid"
	squidHelperDir  = "/usr/lib/squid"
	basicNCSAAuth   = squidHelperDir + "/basic_ncsa_auth"
	digestFileAuth  = squidHelperDir + "/digest_file_auth"
	negotiateKrb5   = squidHelperDir + "/negotiate_kerberos_auth"
	squidUnprivUser = "proxy" // Debian's squid user; squid refuses to serve as root
)

// Timeouts for the squid fixture. squid answers after about a second; the
// limits only matter on a loaded CI box.
const (
	squidReadyTimeout = 30 * time.Second
	squidStopGrace    = 3 * time.Second // SIGTERM to exit (shutdown_lifetime 0), before SIGKILL
	squidStartTries   = 3
)

// squidTemplates are squid's configuration and the NTLM helper.
//
//go:embed templates/squid.conf.tmpl templates/ntlm_gss_helper.py
var squidTemplates embed.FS

var squidConfTmpl = template.Must(template.ParseFS(squidTemplates, "templates/squid.conf.tmpl"))

// ProxyUser is an account squid accepts. Basic and Digest log in with User
// alone (Domain is ignored); NTLM with Domain\User (Domain defaults to
// SquidOptions.NetBIOSDomain). Negotiate users live in the KDC instead.
type ProxyUser struct{ Domain, User, Password string }

// SquidOptions configures StartSquid.
type SquidOptions struct {
	// Auth is the Proxy-Authenticate scheme squid demands:
	//   "none"      no authentication (the default)
	//   "basic"     basic_ncsa_auth against an htpasswd file of Users
	//   "digest"    digest_file_auth -c against an htdigest file of Users
	//               (realm Realm; squid offers MD5 with qop=auth only)
	//   "negotiate" negotiate_kerberos_auth with KDC's service keytab
	//               (HTTP/localhost and HTTP/127.0.0.1; -s GSS_C_NO_NAME)
	//   "ntlm"      gss-ntlmssp (real NTLMv2 verification) against Users,
	//               through the lab's stateful helper ntlm_gss_helper.py
	Auth string
	// Users are the accounts for basic, digest and ntlm.
	Users []ProxyUser
	// Realm is the Basic and Digest realm. Default "CORP.TEST".
	Realm string
	// KDC provides krb5.conf and the service keytab; required for
	// "negotiate", and used for the helpers' KRB5_CONFIG otherwise.
	KDC *KDC
	// NTLMShim makes the NTLM helper pad compact NTLM messages (a 32-byte
	// NEGOTIATE, an AUTHENTICATE without room for Version and MIC) to the
	// full size gss-ntlmssp insists on, so that curl and cntlm can be used
	// as reference clients. Off by default: gss-ntlmssp is then exactly as
	// strict as on a real server, and sesame's client must pass it as is.
	// The shim changes no byte the NTLM responses cover, so passwords are
	// still really verified.
	NTLMShim bool
	// NetBIOSDomain is the domain gss-ntlmssp announces in its CHALLENGE
	// message and the default domain of Users for NTLM. Default "CORP".
	NetBIOSDomain string
	// NetBIOSComputer is the server name in the CHALLENGE. Default "AUTHLAB".
	NetBIOSComputer string
	// ConnectPorts, if not empty, are the only ports CONNECT may reach
	// (other ports get 403). By default any port on loopback may be
	// tunnelled to, since test origins listen on random ports.
	ConnectPorts []int
}

// Squid is a running squid forward proxy on 127.0.0.1, private to one test.
// It forwards only to loopback destinations (127.0.0.0/8, ::1; anything
// else gets 403 before authentication), caches nothing, and adds the
// header "X-Proxy-User: <user>" ("-" without authentication) to every
// request it forwards, so the origin can tell whom squid authenticated.
type Squid struct {
	// URL is the proxy URL, "http://127.0.0.1:PORT".
	URL string
	// Addr is "127.0.0.1:PORT".
	Addr string
	// Dir is the instance's temporary directory: squid.conf, auth/
	// (password files, keytab copy, NTLM helper), logs/ (access.log,
	// cache.log, stderr.log, gssntlmssp.log), run/.
	Dir string

	t        testing.TB
	name     string // squid's service name (-n), unique per instance
	proc     *peerProc
	stopOnce sync.Once
}

// StartSquid starts a private squid ("squid -N", no daemon) on a free port
// on 127.0.0.1, demanding the authentication opts.Auth, and waits until it
// answers. It is stopped, with its helper processes, in t.Cleanup. It fails
// the test (never skips it) if squid or a helper's dependency is missing or
// squid does not come up, quoting cache.log.
//
// Running as root, squid serves as user proxy (it refuses to serve as
// root); every file it or its helpers read or write is made accessible to
// that user. The helpers inherit squid's environment, which is built from
// scratch: KRB5_CONFIG (the KDC's, or an empty file), KRB5RCACHEDIR,
// NTLM_USER_FILE, NETBIOS_*, GSSNTLMSSP_DEBUG.
func StartSquid(t testing.TB, opts SquidOptions) *Squid {
	t.Helper()
	Require(t, squidBin)
	begin := time.Now()
	if opts.Auth == "" {
		opts.Auth = "none"
	}
	if opts.Realm == "" {
		opts.Realm = "CORP.TEST"
	}
	if opts.NetBIOSDomain == "" {
		opts.NetBIOSDomain = "CORP"
	}
	if opts.NetBIOSComputer == "" {
		opts.NetBIOSComputer = "AUTHLAB"
	}
	if strings.ContainsAny(opts.Realm, "\"\\\r\n") {
		t.Fatalf("lab: StartSquid: bad realm %q", opts.Realm)
	}

	dir := peerDir(t)
	// squid.conf has no quoting worth relying on: paths must be plain.
	if strings.ContainsAny(dir, " \t\"\\$%#\n\r") {
		t.Fatalf("lab: temp dir %q contains characters squid.conf cannot hold; set GOTMPDIR to a plain path", dir)
	}
	mkdirs(t, dir, "auth", "logs", "run")
	s := &Squid{Dir: dir, t: t}

	// The squid user, when running as root: it must be able to write
	// logs/ and run/ and read auth/.
	uid, gid := -1, -1
	runAs := ""
	if os.Geteuid() == 0 {
		u, err := user.Lookup(squidUnprivUser)
		if err != nil {
			t.Fatalf("lab: squid drops root privileges to user %q: %v (is the squid package installed?)", squidUnprivUser, err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		runAs = squidUnprivUser
	}

	krb5Conf := filepath.Join(dir, "auth", "krb5.conf")
	if opts.KDC != nil {
		krb5Conf = opts.KDC.Krb5Conf
	} else {
		// Even the NTLM helper loads MIT's GSSAPI library, which reads a
		// krb5 profile; the system's /etc/krb5.conf is not ours to use.
		writeFile(t, krb5Conf, nil, 0o644)
	}
	gssLog := filepath.Join(dir, "logs", "gssntlmssp.log")
	env := []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C",
		"HOME=" + filepath.Join(dir, "run"),
		"KRB5_CONFIG=" + krb5Conf,
		// The Kerberos acceptor's replay cache would otherwise go to
		// /var/tmp and outlive the test.
		"KRB5RCACHEDIR=" + filepath.Join(dir, "run"),
		"NTLM_USER_FILE=" + filepath.Join(dir, "auth", "ntlm_users"),
		"NETBIOS_DOMAIN_NAME=" + opts.NetBIOSDomain,
		"NETBIOS_COMPUTER_NAME=" + opts.NetBIOSComputer,
	}

	switch opts.Auth {
	case "none":
	case "basic":
		Require(t, basicNCSAAuth, "htpasswd")
		writeFile(t, filepath.Join(dir, "auth", "htpasswd"), htpasswdFile(t, opts.Users), 0o644)
	case "digest":
		Require(t, digestFileAuth)
		writeFile(t, filepath.Join(dir, "auth", "htdigest"), htdigestFile(t, opts.Realm, opts.Users), 0o644)
	case "negotiate":
		Require(t, negotiateKrb5)
		if opts.KDC == nil {
			t.Fatalf("lab: StartSquid: Auth \"negotiate\" needs SquidOptions.KDC")
		}
		// The KDC's keytab is root's and 0600; the helper runs as proxy.
		kt, err := os.ReadFile(opts.KDC.ServiceKeytab)
		if err != nil {
			t.Fatalf("lab: %v", err)
		}
		p := filepath.Join(dir, "auth", "http.keytab")
		writeFile(t, p, kt, 0o400)
		chown(t, p, uid, gid)
	case "ntlm":
		Require(t, gssNTLMSSPMechConf)
		RequirePython(t, "gssapi")
		helper, err := squidTemplates.ReadFile("templates/ntlm_gss_helper.py")
		if err != nil {
			t.Fatalf("lab: %v", err)
		}
		writeFile(t, filepath.Join(dir, "auth", "ntlm_gss_helper.py"), helper, 0o755)
		writeFile(t, filepath.Join(dir, "auth", "ntlm_users"), ntlmUsersFile(t, opts.NetBIOSDomain, opts.Users), 0o644)
		// gss-ntlmssp's trace: which check rejected a message.
		env = append(env, "GSSNTLMSSP_DEBUG="+gssLog)
	default:
		t.Fatalf("lab: StartSquid: unknown Auth %q (want none, basic, digest, negotiate or ntlm)", opts.Auth)
	}
	for _, p := range opts.ConnectPorts {
		if p <= 0 || p > 65535 {
			t.Fatalf("lab: StartSquid: bad CONNECT port %d", p)
		}
	}
	for _, d := range []string{"logs", "run"} {
		chown(t, filepath.Join(dir, d), uid, gid)
	}

	sweepSquidShm()
	var lastErr error
	for try := 1; try <= squidStartTries; try++ {
		port := FreePort(t)
		// squid names its shared memory segments (/dev/shm/NAME-cf__*.shm,
		// created even with -N and one worker) after the service name: it
		// must be unique, or a second instance would truncate the first's.
		s.name = fmt.Sprintf("%s%dx%s", squidShmPrefix, port, randomSecret(t)[:8])
		s.Addr = "127.0.0.1:" + strconv.Itoa(port)
		s.URL = "http://" + s.Addr
		var conf bytes.Buffer
		err := squidConfTmpl.Execute(&conf, struct {
			Dir, Name, User, Auth, Realm, ProbeURL string
			Port                                   int
			NTLMShim                               bool
			ConnectPorts                           []int
		}{dir, s.name, runAs, opts.Auth, opts.Realm, regexp.QuoteMeta(readyProbeURL), port, opts.NTLMShim, opts.ConnectPorts})
		if err != nil {
			t.Fatalf("lab: rendering squid.conf: %v", err)
		}
		writeFile(t, filepath.Join(dir, "squid.conf"), conf.Bytes(), 0o644)
		// Created (and chowned) up front: squid, once it is user proxy,
		// and the helpers open them for append.
		for _, f := range []string{"cache.log", "access.log", "gssntlmssp.log"} {
			p := filepath.Join(dir, "logs", f)
			writeFile(t, p, nil, 0o644)
			chown(t, p, uid, gid)
		}

		// A pid file left by a killed earlier try makes squid refuse to
		// start ("Squid is already running").
		os.Remove(filepath.Join(dir, "run", "squid.pid"))

		// -N: no daemon, no master/kid pair: one process (plus helpers)
		// that stays our child. -n: the instance's service name.
		s.proc, err = startPeer(t, "squid", dir, filepath.Join(dir, "logs", "stderr.log"), env, squidStopGrace,
			squidBin, "-N", "-n", s.name, "-f", filepath.Join(dir, "squid.conf"))
		if err != nil {
			t.Fatalf("lab: starting %s: %v", squidBin, err)
		}
		// Registered after startPeer's cleanup, so it runs first.
		s.stopOnce = sync.Once{}
		t.Cleanup(s.stop)
		lastErr = s.waitReady(squidReadyTimeout)
		if lastErr == nil {
			t.Logf("lab: squid (%s) ready at %s in %v (dir %s)", opts.Auth, s.URL, time.Since(begin).Round(time.Millisecond), dir)
			return s
		}
		log := s.CacheLog()
		s.stop()
		if !strings.Contains(log, "Address already in use") {
			t.Fatalf("lab: squid did not come up: %v\n%s", lastErr, log)
		}
		t.Logf("lab: port %d was taken (%v); retrying", port, lastErr)
	}
	t.Fatalf("lab: squid did not come up after %d tries: %v", squidStartTries, lastErr)
	return nil
}

// stop stops squid and its helpers. squid starts every helper in a session
// of its own (setsid), outside squid's process group, so killing the group
// is not enough: the helpers are found as squid's descendants before
// squid stops, and, as a backstop, as processes whose command line names
// the instance's directory (every helper's does: its password file, keytab
// or script is there). They normally exit by themselves once squid closes
// their stdin. Safe to call more than once.
func (s *Squid) stop() {
	s.stopOnce.Do(func() {
		helpers := descendants(s.proc.pgid())
		s.proc.stop()
		killAt := time.Now().Add(time.Second) // time to see EOF and exit
		deadline := time.Now().Add(peerGoneTimeout)
		for {
			var left []procInfo
			for _, p := range append(helpers, procsMentioning(s.Dir)...) {
				if p.alive() {
					left = append(left, p)
				}
			}
			if len(left) == 0 {
				// squid removes its shared memory segments on a clean
				// exit, not when it was killed.
				removeSquidShm(s.name)
				return
			}
			if time.Now().After(deadline) {
				s.t.Errorf("lab: squid helpers still running after SIGKILL: %v", left)
				return
			}
			if time.Now().After(killAt) {
				for _, p := range left {
					p.kill()
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// squidShmPrefix starts the service name of every squid StartSquid runs.
const squidShmPrefix = "sesamelab"

// removeSquidShm removes the shared memory segments of squid service name.
func removeSquidShm(name string) {
	files, _ := filepath.Glob("/dev/shm/" + name + "-*.shm")
	for _, f := range files {
		os.Remove(f)
	}
}

// sweepSquidShm removes the segments of fixture squids that no longer run:
// those killed with the test binary (by the watchdog, where no cleanup
// runs). A squid is identified by "-n NAME" on its command line.
func sweepSquidShm() {
	files, _ := filepath.Glob("/dev/shm/" + squidShmPrefix + "*-*.shm")
	if len(files) == 0 {
		return
	}
	running := map[string]bool{}
	for _, p := range allPids() {
		cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-n" {
				running[args[i+1]] = true
			}
		}
	}
	for _, f := range files {
		name, _, _ := strings.Cut(filepath.Base(f), "-")
		if !running[name] {
			os.Remove(f)
		}
	}
}

// procInfo identifies a process: its pid, and its start time (in clock
// ticks since boot) so that a recycled pid is never mistaken for it.
type procInfo struct {
	pid   int
	start string
	comm  string
}

func (p procInfo) String() string { return fmt.Sprintf("%d %s", p.pid, p.comm) }

// readProc reads pid's parent, start time and name from /proc/PID/stat;
// ok is false if it is gone or a zombie.
func readProc(pid int) (info procInfo, ppid int, ok bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, 0, false
	}
	// "pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
	// majflt cmajflt utime stime cutime cstime priority nice threads
	// itrealvalue starttime ...": comm may contain anything, so split
	// after the last ')'.
	i := bytes.LastIndexByte(data, ')')
	j := bytes.IndexByte(data, '(')
	if i < 0 || j < 0 {
		return procInfo{}, 0, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 || f[0] == "Z" {
		return procInfo{}, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	return procInfo{pid: pid, start: f[19], comm: string(data[j : i+1])}, ppid, true
}

// alive reports whether p still runs (same pid, same start time).
func (p procInfo) alive() bool {
	q, _, ok := readProc(p.pid)
	return ok && q.start == p.start
}

// kill sends SIGKILL to p if it is still the same process.
func (p procInfo) kill() {
	if p.alive() {
		if proc, err := os.FindProcess(p.pid); err == nil {
			_ = proc.Kill()
		}
	}
}

// allPids lists the pids in /proc (none where there is no /proc).
func allPids() []int {
	names, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, n := range names {
		if pid, err := strconv.Atoi(filepath.Base(n)); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// descendants lists the live descendants of pid.
func descendants(pid int) []procInfo {
	children := map[int][]procInfo{}
	for _, p := range allPids() {
		if info, ppid, ok := readProc(p); ok {
			children[ppid] = append(children[ppid], info)
		}
	}
	var out []procInfo
	queue := []int{pid}
	for len(queue) > 0 {
		for _, c := range children[queue[0]] {
			out = append(out, c)
			queue = append(queue, c.pid)
		}
		queue = queue[1:]
	}
	return out
}

// procsMentioning lists the live processes whose command line contains dir.
func procsMentioning(dir string) []procInfo {
	var out []procInfo
	for _, p := range allPids() {
		cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
		if err != nil || !bytes.Contains(cmdline, []byte(dir)) {
			continue
		}
		if info, _, ok := readProc(p); ok {
			out = append(out, info)
		}
	}
	return out
}

// chown gives path to uid:gid when both are set (running as root).
func chown(t testing.TB, path string, uid, gid int) {
	t.Helper()
	if uid < 0 {
		return
	}
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatalf("lab: %v", err)
	}
}

// htpasswdFile renders users with apr1-MD5 hashes (htpasswd -nim, the
// password on stdin), a format basic_ncsa_auth reads.
func htpasswdFile(t testing.TB, users []ProxyUser) []byte {
	t.Helper()
	htpasswd, err := lookup("htpasswd")
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	var b bytes.Buffer
	for _, u := range users {
		if u.User == "" || strings.ContainsAny(u.User, ":\r\n") || strings.ContainsAny(u.Password, "\r\n") {
			t.Fatalf("lab: basic user %q: the name must be non-empty without ':' or line breaks, the password without line breaks", u.User)
		}
		ctx, cancel := context.WithTimeout(context.Background(), kadminTimeout)
		cmd := exec.CommandContext(ctx, htpasswd, "-n", "-i", "-m", u.User)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C"}
		cmd.Stdin = strings.NewReader(u.Password)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		cancel()
		if err != nil {
			t.Fatalf("lab: htpasswd -n %s: %v\n%s", u.User, err, stderr.Bytes())
		}
		b.Write(bytes.TrimRight(out, "\r\n"))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// htdigestFile renders users as user:realm:HA1 lines, HA1 = MD5(user ":"
// realm ":" password): the htdigest format digest_file_auth -c reads.
func htdigestFile(t testing.TB, realm string, users []ProxyUser) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, u := range users {
		if u.User == "" || strings.ContainsAny(u.User, ":\r\n") || strings.ContainsAny(u.Password, "\r\n") {
			t.Fatalf("lab: digest user %q: the name must be non-empty without ':' or line breaks, the password without line breaks", u.User)
		}
		fmt.Fprintf(&b, "%s:%s:%x\n", u.User, realm, md5.Sum([]byte(u.User+":"+realm+":"+u.Password)))
	}
	return b.Bytes()
}

// ntlmUsersFile renders users as gss-ntlmssp's NTLM_USER_FILE lines,
// DOMAIN:user:password. gss-ntlmssp splits at the first two colons, ends
// the password at a line break, skips '#' lines and reads at most 1023
// bytes a line; the user name matches case-insensitively, the domain (in
// effect) case-sensitively.
func ntlmUsersFile(t testing.TB, defaultDomain string, users []ProxyUser) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, u := range users {
		d := u.Domain
		if d == "" {
			d = defaultDomain
		}
		l := d + ":" + u.User + ":" + u.Password + "\n"
		if u.User == "" || strings.ContainsAny(d, ":\r\n") || strings.ContainsAny(u.User, ":\r\n") ||
			strings.ContainsAny(u.Password, "\r\n") || strings.HasPrefix(d, "#") || len(l) > 1023 {
			t.Fatalf("lab: NTLM user %q\\%q: domain and user must not contain ':' or line breaks (nor the domain start with '#'), the password no line breaks, the line at most 1023 bytes", d, u.User)
		}
		b.WriteString(l)
	}
	return b.Bytes()
}

// readyProbeURL is what waitReady asks squid for; AccessEntries skips it.
const readyProbeURL = "http://127.0.0.1:1/lab-ready-probe"

// waitReady sends a request through squid until it answers. squid.conf
// denies this one URL first thing, so the answer is an immediate 403 from
// squid itself whatever the scheme (and no helper or origin is involved).
func (s *Squid) waitReady(timeout time.Duration) error {
	proxy, _ := url.Parse(s.URL)
	client := &http.Client{
		Transport: &http.Transport{Proxy: http.ProxyURL(proxy), DisableKeepAlives: true},
		Timeout:   2 * time.Second,
	}
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-s.proc.exited:
			return fmt.Errorf("squid exited during startup: %v", s.proc.waitErr)
		default:
		}
		resp, err := client.Get(readyProbeURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Header.Get("Server"), "squid") {
				return fmt.Errorf("unexpected answer on %s to the readiness probe: %s, Server %q", s.Addr, resp.Status, resp.Header.Get("Server"))
			}
			return nil
		}
		if strings.Contains(s.CacheLog(), "Address already in use") {
			return fmt.Errorf("squid cannot bind %s: %v", s.Addr, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v", timeout, err)
		}
		select {
		case <-s.proc.exited:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// AccessLog returns squid's access log (format in squid.conf.tmpl, parsed
// by AccessEntries).
func (s *Squid) AccessLog() string {
	data, err := os.ReadFile(filepath.Join(s.Dir, "logs", "access.log"))
	if err != nil {
		return fmt.Sprintf("[lab: %v]", err)
	}
	return string(data)
}

// CacheLog returns squid's cache.log (its error and debug log), anything
// squid wrote to stderr, and gss-ntlmssp's ERROR trace lines (which check
// rejected an NTLM message), for test failure messages.
func (s *Squid) CacheLog() string {
	var b strings.Builder
	for _, f := range []string{"cache.log", "stderr.log", "gssntlmssp.log"} {
		data, err := os.ReadFile(filepath.Join(s.Dir, "logs", f))
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			fmt.Fprintf(&b, "[lab: reading %s: %v]\n", f, err)
		case len(data) == 0:
		case f == "gssntlmssp.log":
			var errs []string
			for _, l := range strings.SplitAfter(string(data), "\n") {
				if strings.Contains(l, "ERROR: ") {
					errs = append(errs, l)
				}
			}
			if len(errs) > 0 {
				fmt.Fprintf(&b, "--- gss-ntlmssp errors ---\n%s", strings.Join(errs, ""))
			}
		default:
			fmt.Fprintf(&b, "--- %s ---\n%s", f, data)
		}
	}
	return b.String()
}

// SquidAccess is one access.log entry: one request as squid finished it.
type SquidAccess struct {
	// ClientPort is the client's source port: entries with the same port
	// came over the same client connection (ports are reused only after
	// the connection closed, rarely within one test).
	ClientPort int
	// Method is the request method ("GET", "CONNECT").
	Method string
	// URL is the request target (absolute URL, or host:port for CONNECT).
	URL string
	// User is the name squid authenticated ("" if none): "alice" (Basic,
	// Digest), "alice@CORP.TEST" (Negotiate), "CORP\alice" (NTLM).
	User string
	// Status is the HTTP status squid sent: 407 while authenticating;
	// 200 for an established CONNECT tunnel.
	Status int
}

// AccessEntries parses the access log. squid writes an entry when a request
// is finished, i.e. after the client got the response (a CONNECT only when
// its tunnel closed), so a test reads it after closing its connections, or
// uses WaitAccessEntries.
func (s *Squid) AccessEntries() []SquidAccess {
	entries, err := ParseSquidAccessLog(strings.NewReader(s.AccessLog()))
	if err != nil {
		s.t.Errorf("lab: %v", err)
	}
	return entries
}

// WaitAccessEntries waits up to 10 seconds until the access log has at
// least n entries and returns them; it fails t if it does not.
func (s *Squid) WaitAccessEntries(t testing.TB, n int) []SquidAccess {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e := s.AccessEntries()
		if len(e) >= n {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("lab: squid access log has %d entries, want at least %d:\n%s", len(e), n, s.AccessLog())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitAccessEntry waits up to 10 seconds for an access log entry for which
// match returns true and returns it; it fails t if none appears. Use it for
// a CONNECT, whose entry squid writes only after the tunnel closed, a
// moment after the client saw the connection end.
func (s *Squid) WaitAccessEntry(t testing.TB, match func(SquidAccess) bool) SquidAccess {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, e := range s.AccessEntries() {
			if match(e) {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("lab: no matching entry in squid's access log:\n%s", s.AccessLog())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ParseSquidAccessLog parses an access log in the fixture's format, one
// entry a line:
//
//	time client-ip client-port status method URL user
//	1700000000.123 127.0.0.1 40512 407 GET http://127.0.0.1:8080/ -
//
// (logformat "%ts.%03tu %>a %>p %>Hs %rm %ru %ul"). squid 5.7 logs
// CORP\alice as is, but may URL-encode unsafe characters in a user name
// (CORP%5Calice); the name is URL-decoded here. StartSquid's readiness
// probe (a request for http://127.0.0.1:1/lab-ready-probe) is left out.
func ParseSquidAccessLog(r io.Reader) ([]SquidAccess, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var entries []SquidAccess
	for i, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 7 {
			return entries, fmt.Errorf("squid access log line %d: %d fields, want 7: %q", i+1, len(f), line)
		}
		port, err1 := strconv.Atoi(f[2])
		status, err2 := strconv.Atoi(f[3])
		user, err3 := url.PathUnescape(f[6])
		if err := errors.Join(err1, err2, err3); err != nil {
			return entries, fmt.Errorf("squid access log line %d: %v: %q", i+1, err, line)
		}
		if user == "-" {
			user = ""
		}
		if f[5] == readyProbeURL {
			continue // StartSquid's own request
		}
		entries = append(entries, SquidAccess{ClientPort: port, Method: f[4], URL: f[5], User: user, Status: status})
	}
	return entries, nil
}

// SquidConn summarises the access log entries of one client connection.
type SquidConn struct {
	// ClientPort identifies the connection (see SquidAccess.ClientPort).
	ClientPort int
	// Requests is the number of requests on the connection, 407s included.
	Requests int
	// Challenges is the number of 407 responses. One authentication
	// handshake costs one 407 for Basic, Digest and Negotiate and two for
	// NTLM (NEGOTIATE and CHALLENGE legs), one fewer if the client sends
	// credentials (or its NEGOTIATE message) before being asked.
	Challenges int
	// Users are the distinct user names of the connection's entries.
	Users []string
}

// Connections groups the access log by client connection, in order of first
// appearance: a client that keeps its authenticated connection shows one
// handshake's worth of Challenges and then only passed requests on one
// ClientPort; one that re-authenticates shows Challenges growing with
// Requests.
func (s *Squid) Connections() []SquidConn {
	return GroupSquidConnections(s.AccessEntries())
}

// GroupSquidConnections is Connections for entries a test has selected
// (e.g. only those for one origin URL).
func GroupSquidConnections(entries []SquidAccess) []SquidConn {
	var conns []SquidConn
	index := map[int]int{}
	for _, e := range entries {
		i, ok := index[e.ClientPort]
		if !ok {
			i = len(conns)
			index[e.ClientPort] = i
			conns = append(conns, SquidConn{ClientPort: e.ClientPort})
		}
		c := &conns[i]
		c.Requests++
		if e.Status == http.StatusProxyAuthRequired {
			c.Challenges++
		}
		if e.User != "" {
			seen := false
			for _, u := range c.Users {
				seen = seen || u == e.User
			}
			if !seen {
				c.Users = append(c.Users, e.User)
			}
		}
	}
	return conns
}
