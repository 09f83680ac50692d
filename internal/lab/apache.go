package lab

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	osuser "os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"
)

// Debian's layout. The fixture uses these absolute paths rather than PATH
// so that it never picks up some other httpd (e.g. a locally built one in
// /usr/local) whose modules would not match.
const (
	apacheBin          = "/usr/sbin/apache2"
	apacheModules      = "/usr/lib/apache2/modules"
	modAuthGSSAPI      = apacheModules + "/mod_auth_gssapi.so"
	gssNTLMSSPMechConf = "/etc/gss/mech.d/mech.ntlmssp.conf"
)

// Timeouts for everything the fixture waits on. Apache is usually ready in
// well under a second; the generous limits only matter on a loaded CI box.
const (
	apacheReadyTimeout = 15 * time.Second // from exec to "GET /public/ -> 200"
	apacheStopGrace    = time.Second      // SIGTERM to exit, before SIGKILL
	apacheGoneTimeout  = 5 * time.Second  // SIGKILL to no process left
	apacheStartTries   = 3                // FreePort can race; retry on EADDRINUSE
)

// templates are compiled into the test binary so that a fixture does not
// depend on the working directory the test runs in.
//
//go:embed templates/httpd.conf.tmpl templates/whoami.cgi templates/sha256.cgi
var templates embed.FS

// httpdConf renders Apache's config; parsed once, so a template error
// fails every test at init rather than one of them at random.
var httpdConf = template.Must(template.ParseFS(templates, "templates/httpd.conf.tmpl"))

// NTLMUser is one line of gss-ntlmssp's NTLM_USER_FILE: DOMAIN:user:password.
//
// As observed with gss-ntlmssp 1.2.0: the user name matches
// case-insensitively, the domain in effect case-sensitively (CORP\ALICE is
// alice, corp\alice gets 401), and a client that sends an empty domain
// matches by user name alone.
type NTLMUser struct{ Domain, User, Password string }

// line renders u for NTLM_USER_FILE, or explains why gss-ntlmssp would read
// it differently: it splits at the first two colons, ends the password at
// CR/LF, skips lines starting with '#' and reads at most 1023 bytes a line.
func (u NTLMUser) line() (string, error) {
	if strings.ContainsAny(u.Domain, ":\r\n") || strings.ContainsAny(u.User, ":\r\n") ||
		strings.ContainsAny(u.Password, "\r\n") || strings.HasPrefix(u.Domain, "#") {
		return "", fmt.Errorf("NTLM user %q\\%q: domain and user must not contain ':' or line breaks (nor the domain start with '#'), the password no line breaks", u.Domain, u.User)
	}
	l := u.Domain + ":" + u.User + ":" + u.Password + "\n"
	if len(l) > 1023 {
		return "", fmt.Errorf("NTLM user %q\\%q: line longer than gss-ntlmssp's 1023 bytes", u.Domain, u.User)
	}
	return l, nil
}

// DigestRealm is the AuthName of the /digest/ and /basic/ locations: the
// realm in their challenges, and part of every htdigest line.
const DigestRealm = "CORP.TEST"

// BasicUser is a user of the /basic/ and /digest/ locations, verified by
// mod_authn_file against files the fixture writes: an htpasswd file (Basic)
// and an htdigest file (Digest, realm DigestRealm).
type BasicUser struct{ User, Password string }

// lines renders u for the htpasswd and htdigest files, or explains why
// mod_authn_file would read it differently: it splits at the first ':',
// and a line ends at a line break. The password is stored hashed, so it
// may hold anything.
//
// htpasswd uses the "{SHA}" format (base64 of the SHA-1 of the password):
// weak, but the one Apache verifies that Go's standard library can write;
// apr's MD5 and bcrypt formats would need code or a dependency, and it
// only guards a throw-away test server.
func (u BasicUser) lines() (htpasswd, htdigest string, err error) {
	if u.User == "" || strings.ContainsAny(u.User, ":\r\n") {
		return "", "", fmt.Errorf("basic user %q: the user name must be non-empty, without ':' or line breaks", u.User)
	}
	sum := sha1.Sum([]byte(u.Password))
	htpasswd = u.User + ":{SHA}" + base64.StdEncoding.EncodeToString(sum[:]) + "\n"
	ha1 := md5.Sum([]byte(u.User + ":" + DigestRealm + ":" + u.Password))
	htdigest = u.User + ":" + DigestRealm + ":" + hex.EncodeToString(ha1[:]) + "\n"
	return htpasswd, htdigest, nil
}

// ApacheOptions configures StartApache.
type ApacheOptions struct {
	// NTLMUsers are written to the NTLM_USER_FILE gss-ntlmssp verifies
	// against. With none, every NTLM login fails.
	NTLMUsers []NTLMUser
	// BasicUsers are the users of /basic/ (htpasswd) and /digest/
	// (htdigest). With none, every Basic and Digest login fails.
	BasicUsers []BasicUser
	// NetBIOSDomain is NETBIOS_DOMAIN_NAME, the domain gss-ntlmssp
	// advertises in its CHALLENGE (Type-2) message. Default "CORP".
	NetBIOSDomain string
	// NetBIOSComputer is NETBIOS_COMPUTER_NAME, the server name in the
	// CHALLENGE message. Default "AUTHLAB".
	NetBIOSComputer string
	// MaxConnections is MaxRequestWorkers: how many connections Apache
	// serves at once (default 32). The event MPM closes keep-alive
	// connections, NTLM handshakes among them, once all are busy, so a
	// test with more concurrent clients must raise it.
	MaxConnections int
	// KerberosKeytab, if set, enables /negotiate/: Negotiate with
	// Kerberos only (mod_auth_gssapi, GssapiAllowedMech krb5), accepting
	// any service key in this keytab (e.g. KDC.ServiceKeytab). The fixture
	// gives Apache its own copy (readable by www-data when root).
	KerberosKeytab string
	// Krb5Conf is the KRB5_CONFIG Apache runs with (e.g. KDC.Krb5Conf),
	// for /negotiate/ and for the delegated credentials it stores.
	Krb5Conf string
	// NTLMProxy, if set, starts a forward proxy (mod_proxy, ProxyURL)
	// demanding Proxy-Authenticate the way /ntlm/ demands
	// WWW-Authenticate: "Negotiate" and "NTLM" offered, gss-ntlmssp
	// behind both (GssapiAllowedMech ntlmssp), so its Negotiate takes
	// only NTLM inside SPNEGO. Only loopback targets are served.
	NTLMProxy bool
}

// Apache is a running httpd on 127.0.0.1, private to one test.
type Apache struct {
	// URL is "http://127.0.0.1:PORT", no trailing slash. Locations:
	//   /ntlm/   NTLM via stock mod_auth_gssapi + gss-ntlmssp
	//            (GssapiAllowedMech ntlmssp, GssapiConnectionBound On):
	//            401 with "WWW-Authenticate: NTLM" (and Negotiate) until the
	//            connection has authenticated; then whoami.cgi and the
	//            response headers X-Remote-User and X-Auth-Type.
	//   /basic/  Basic (mod_auth_basic + mod_authn_file), realm
	//            DigestRealm, users from ApacheOptions.BasicUsers.
	//   /digest/ Digest (mod_auth_digest + mod_authn_file), realm
	//            DigestRealm, MD5 with qop=auth, the same users. Apache
	//            checks nonce counts (AuthDigestNcCheck On): a replayed
	//            nc is refused.
	//            Both set X-Remote-User and X-Auth-Type like /ntlm/.
	//   /negotiate/ only with ApacheOptions.KerberosKeytab: Negotiate with
	//            Kerberos (GssapiAllowedMech krb5, GssapiConnectionBound
	//            On), mutual authentication (an AP-REP in the 200's
	//            WWW-Authenticate) when the client asks for it; delegated
	//            credentials are stored in DelegCcacheDir/<user@REALM>.
	//   /public/ no authentication, same content.
	// sha256.cgi answers "user=", "length=" and "sha256=" of the request
	// body, for upload tests.
	// Both serve Dir/www, whose index is whoami.cgi ("user=", "auth_type="
	// lines); files a test writes there (mode 0644) are served too.
	URL string
	// Dir is the instance's own temporary directory: httpd.conf,
	// ntlm_users, htpasswd, htdigest, www/, run/, logs/ (error.log, access.log, stderr.log,
	// gssntlmssp.log).
	Dir string
	// ProxyURL is "http://127.0.0.1:PORT" of the forward proxy
	// (ApacheOptions.NTLMProxy), "" without. It adds the request header
	// X-Proxy-User with the authenticated user (e.g. "CORP\alice").
	ProxyURL string
	// DelegCcacheDir is where /negotiate/ stores credentials a client
	// delegated (GssapiDelegCcacheDir), one ccache file per user principal;
	// "" without KerberosKeytab.
	DelegCcacheDir string

	t               testing.TB
	cmd             *exec.Cmd
	exited          chan struct{} // closed when cmd.Wait returns
	waitErr         error         // cmd.Wait's result, valid once exited is closed
	dismissWatchdog func()        // see startWatchdog
	stopOnce        sync.Once
}

// StartApache starts a private Apache httpd with stock mod_auth_gssapi and
// gss-ntlmssp on a free port on 127.0.0.1 and waits until it serves. It is
// stopped, with every process it started, in t.Cleanup. It fails the test
// (never skips it) if Apache is not installed or does not come up, quoting
// the error log.
//
// Running as root, Apache serves as www-data (it refuses to serve as root);
// otherwise as the test's own user.
func StartApache(t testing.TB, opts ApacheOptions) *Apache {
	t.Helper()
	Require(t, apacheBin, modAuthGSSAPI, gssNTLMSSPMechConf)
	begin := time.Now()

	if opts.NetBIOSDomain == "" {
		opts.NetBIOSDomain = "CORP"
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = 32
	}
	if opts.NetBIOSComputer == "" {
		opts.NetBIOSComputer = "AUTHLAB"
	}
	var users strings.Builder
	for _, u := range opts.NTLMUsers {
		l, err := u.line()
		if err != nil {
			t.Fatalf("lab: StartApache: %v", err)
		}
		users.WriteString(l)
	}
	var htpasswd, htdigest strings.Builder
	for _, u := range opts.BasicUsers {
		p, d, err := u.lines()
		if err != nil {
			t.Fatalf("lab: StartApache: %v", err)
		}
		htpasswd.WriteString(p)
		htdigest.WriteString(d)
	}

	dir := peerDir(t)
	// The path goes into httpd.conf inside double quotes, where Apache
	// would interpret these characters; and mod_cgid's socket path must fit
	// in sockaddr_un (108 bytes with the NUL).
	if strings.ContainsAny(dir, "\"\\$\n\r") {
		t.Fatalf("lab: temp dir %q contains characters Apache's config cannot quote; set GOTMPDIR to a plain path", dir)
	}
	if n := len(dir + "/run/cgisock"); n > 100 {
		t.Fatalf("lab: temp dir %q is too long for mod_cgid's unix socket path (%d bytes); set GOTMPDIR to a shorter path such as /tmp", dir, n)
	}
	mkdirs(t, dir, "www", "logs", "run")
	writeFile(t, filepath.Join(dir, "ntlm_users"), []byte(users.String()), 0o644)
	writeFile(t, filepath.Join(dir, "htpasswd"), []byte(htpasswd.String()), 0o644)
	writeFile(t, filepath.Join(dir, "htdigest"), []byte(htdigest.String()), 0o644)
	for _, name := range []string{"whoami.cgi", "sha256.cgi"} {
		cgi, err := templates.ReadFile("templates/" + name)
		if err != nil {
			t.Fatalf("lab: %v", err)
		}
		writeFile(t, filepath.Join(dir, "www", name), cgi, 0o755)
	}

	// Apache refuses to serve as root, and the User/Group directives only
	// take effect when it starts as root; otherwise name ourselves so the
	// config is valid and says what happens.
	user, group := "www-data", "www-data"
	if os.Geteuid() != 0 {
		user, group = "#"+strconv.Itoa(os.Geteuid()), "#"+strconv.Itoa(os.Getegid())
	}
	// Built from scratch rather than inherited: the test's environment
	// (proxies, KRB5_*, a stray NTLM_USER_FILE, a pyenv PATH) must not leak
	// into the server and change what it verifies.
	env := []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C",
		"NTLM_USER_FILE=" + filepath.Join(dir, "ntlm_users"),
		"NETBIOS_DOMAIN_NAME=" + opts.NetBIOSDomain,
		"NETBIOS_COMPUTER_NAME=" + opts.NetBIOSComputer,
		// gss-ntlmssp's trace: the only place that says which check
		// rejected a message (ErrorLog quotes its ERROR lines). Apache's
		// own log just says "Invalid argument" for a wrong password.
		"GSSNTLMSSP_DEBUG=" + filepath.Join(dir, "logs", "gssntlmssp.log"),
	}
	// Opened for append by the children (www-data when root), which
	// cannot create files in logs/: create it world-writable up front.
	writeFile(t, filepath.Join(dir, "logs", "gssntlmssp.log"), nil, 0o666)

	// /negotiate/: a keytab copy, the replay cache and the delegated
	// credentials, all owned by the user Apache's children run as.
	keytab, delegDir := "", ""
	if opts.KerberosKeytab != "" {
		kt, err := os.ReadFile(opts.KerberosKeytab)
		if err != nil {
			t.Fatalf("lab: StartApache: KerberosKeytab: %v", err)
		}
		keytab, delegDir = filepath.Join(dir, "http.keytab"), filepath.Join(dir, "deleg")
		mkdirs(t, dir, "deleg", "rcache")
		writeFile(t, keytab, kt, 0o400)
		uid, gid := -1, -1
		if os.Geteuid() == 0 {
			u, err := osuser.Lookup(user)
			if err != nil {
				t.Fatalf("lab: StartApache: user %s: %v", user, err)
			}
			uid, _ = strconv.Atoi(u.Uid)
			gid, _ = strconv.Atoi(u.Gid)
		}
		for _, p := range []string{keytab, delegDir, filepath.Join(dir, "rcache")} {
			chown(t, p, uid, gid)
		}
		if err := os.Chmod(delegDir, 0o700); err != nil {
			t.Fatalf("lab: %v", err)
		}
		env = append(env, "KRB5RCACHEDIR="+filepath.Join(dir, "rcache"))
	}
	if opts.Krb5Conf != "" {
		env = append(env, "KRB5_CONFIG="+opts.Krb5Conf)
	}

	var lastErr error
	for try := 1; try <= apacheStartTries; try++ {
		port := FreePort(t)
		proxyPort := 0
		if opts.NTLMProxy {
			proxyPort = FreePort(t)
		}
		var conf bytes.Buffer
		err := httpdConf.Execute(&conf, struct {
			Dir, Modules, User, Group, Realm  string
			Port, ServerLimit, MaxConnections int
			Keytab, DelegDir                  string
			ProxyPort                         int
		}{dir, apacheModules, user, group, DigestRealm, port, (opts.MaxConnections + 15) / 16, opts.MaxConnections, keytab, delegDir, proxyPort})
		if err != nil {
			t.Fatalf("lab: rendering httpd.conf: %v", err)
		}
		writeFile(t, filepath.Join(dir, "httpd.conf"), conf.Bytes(), 0o644)

		a := &Apache{URL: "http://127.0.0.1:" + strconv.Itoa(port), Dir: dir, DelegCcacheDir: delegDir, t: t}
		if proxyPort != 0 {
			a.ProxyURL = "http://127.0.0.1:" + strconv.Itoa(proxyPort)
		}
		if err := a.start(env); err != nil {
			t.Fatalf("lab: starting %s: %v", apacheBin, err)
		}
		lastErr = a.waitReady(apacheReadyTimeout)
		if lastErr == nil {
			t.Logf("lab: Apache ready at %s in %v (dir %s)", a.URL, time.Since(begin).Round(time.Millisecond), dir)
			return a
		}
		log := a.ErrorLog()
		a.stop()
		// Another process took the port between FreePort and bind: try a
		// new one. Anything else is a real failure.
		if !strings.Contains(log, "Address already in use") {
			t.Fatalf("lab: Apache did not come up: %v\nApache error log (%s/logs):\n%s", lastErr, dir, log)
		}
		t.Logf("lab: port %d was taken (%v); retrying", port, lastErr)
		for _, f := range []string{"error.log", "stderr.log"} {
			os.Remove(filepath.Join(dir, "logs", f))
		}
	}
	t.Fatalf("lab: Apache did not come up after %d tries: %v", apacheStartTries, lastErr)
	return nil
}

// start execs Apache in the foreground (-DFOREGROUND: it stays our child,
// so we know its pid, see its exit and cannot leak a daemonized copy) in a
// process group of its own (see sysProcAttr), starts the watchdog that
// kills that group should the test binary die without cleaning up, and
// registers the cleanup.
func (a *Apache) start(env []string) error {
	out, err := os.OpenFile(filepath.Join(a.Dir, "logs", "stderr.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer out.Close() // the child has its own copy
	a.cmd = exec.Command(apacheBin, "-d", a.Dir, "-f", filepath.Join(a.Dir, "httpd.conf"), "-DFOREGROUND")
	a.cmd.Dir = a.Dir
	a.cmd.Env = env
	// Startup errors (config syntax, bind failures before ErrorLog is open)
	// go to stderr; a file, not a pipe, so nothing can block on it.
	a.cmd.Stdout, a.cmd.Stderr = out, out
	a.cmd.SysProcAttr = sysProcAttr()
	if err := a.cmd.Start(); err != nil {
		return err
	}
	a.exited = make(chan struct{})
	go func() {
		a.waitErr = a.cmd.Wait()
		close(a.exited)
	}()
	dismiss, err := startWatchdog(a.cmd.Process.Pid)
	if err != nil {
		killGroup(a.cmd.Process.Pid)
		<-a.exited
		return fmt.Errorf("starting watchdog: %v", err)
	}
	a.dismissWatchdog = dismiss
	a.t.Cleanup(a.stop)
	return nil
}

// waitReady polls GET /public/ until it answers 200, Apache exits, or the
// timeout passes. Polling the real URL (not just a TCP connect) also proves
// that the config, the CGI and the privilege drop work.
func (a *Apache) waitReady(timeout time.Duration) error {
	client := &http.Client{
		// No proxy from the environment, no connection reuse, and a bound
		// on every attempt so that a stuck accept cannot eat the deadline.
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		Timeout:   2 * time.Second,
	}
	deadline := time.Now().Add(timeout)
	last := errors.New("no attempt made")
	for {
		select {
		case <-a.exited:
			return fmt.Errorf("apache2 exited during startup: %v", a.waitErr)
		default:
		}
		resp, err := client.Get(a.URL + "/public/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /public/: %s", resp.Status)
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v", timeout, last)
		}
		select {
		case <-a.exited:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop shuts Apache down and makes sure no process of it is left: SIGTERM
// to the parent (Apache's "stop": it terminates its children and mod_cgid's
// daemon, then exits), SIGKILL to the whole process group if that takes
// longer than apacheStopGrace, and finally a check that nothing in the
// group survived. Safe to call more than once.
func (a *Apache) stop() {
	a.stopOnce.Do(func() {
		defer a.dismissWatchdog()
		pgid := a.cmd.Process.Pid
		_ = a.cmd.Process.Signal(terminateSignal)
		select {
		case <-a.exited:
		case <-time.After(apacheStopGrace):
			// Not a failure of the test: Apache's parent waits for every
			// child, and a child that is still starting its threads when
			// SIGTERM arrives ignores it until Apache's own escalation
			// (seen under load: 2 s instead of ~35 ms). SIGKILL loses
			// nothing here: no pid file, IPC or shared memory outlives
			// the processes, and the directory is deleted anyway.
			a.t.Logf("lab: Apache (pid %d) still running %v after SIGTERM; sending SIGKILL to its process group", pgid, apacheStopGrace)
			killGroup(pgid)
			select {
			case <-a.exited:
			case <-time.After(apacheGoneTimeout):
				a.t.Errorf("lab: Apache (pid %d) survived SIGKILL for %v", pgid, apacheGoneTimeout)
				return
			}
		}
		// Children are normally gone with the parent; a straggler (a CGI
		// stuck on I/O) is killed rather than left running after the test.
		if left := groupMembers(pgid); len(left) > 0 {
			killGroup(pgid)
			deadline := time.Now().Add(apacheGoneTimeout)
			for len(left) > 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				left = groupMembers(pgid)
			}
			if len(left) > 0 {
				a.t.Errorf("lab: Apache processes still running after SIGKILL: %v", left)
			}
		}
	})
}

// ErrorLog returns the contents of Apache's error log, for test failure
// messages, followed by anything Apache wrote to stderr before opening it
// and by gss-ntlmssp's ERROR trace lines (function and source line of the
// check that failed, e.g. "gssntlm_srv_auth() @ src/gss_auth.c:388").
func (a *Apache) ErrorLog() string {
	var b strings.Builder
	for _, f := range []string{"error.log", "stderr.log", "gssntlmssp.log"} {
		data, err := os.ReadFile(filepath.Join(a.Dir, "logs", f))
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			fmt.Fprintf(&b, "[lab: reading %s: %v]\n", f, err)
		case len(data) == 0:
		case f == "stderr.log":
			fmt.Fprintf(&b, "--- stderr ---\n%s", data)
		case f == "gssntlmssp.log":
			var errs []string
			for _, l := range strings.SplitAfter(string(data), "\n") {
				if strings.Contains(l, "ERROR: ") {
					errs = append(errs, l)
				}
			}
			if len(errs) > 0 {
				fmt.Fprintf(&b, "--- gss-ntlmssp errors (GSSNTLMSSP_DEBUG) ---\n%s", strings.Join(errs, ""))
			}
		default:
			b.Write(data)
		}
	}
	return b.String()
}
