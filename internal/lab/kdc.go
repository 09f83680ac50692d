package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/template"
	"time"
)

// Debian's MIT Kerberos binaries, by absolute path: a Heimdal kinit (or one
// in /usr/local) earlier on PATH would read other config and speak other
// defaults. kdb5_util and kadmin.local (krb5-admin-server) only edit the
// database file; kadmind never runs.
const (
	krb5kdcBin     = "/usr/sbin/krb5kdc"
	kdb5UtilBin    = "/usr/sbin/kdb5_util"
	kadminLocalBin = "/usr/sbin/kadmin.local"
	kinitBin       = "/usr/bin/kinit"
	klistBin       = "/usr/bin/klist"
	kvnoBin        = "/usr/bin/kvno"
	// libfaketime (Debian faketime), for KDCOptions.ClockOffset.
	libfaketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
)

// Timeouts for the KDC fixture. krb5kdc is up in a few milliseconds; the
// limits only matter on a loaded CI box.
const (
	kdcReadyTimeout = 10 * time.Second // exec to "TCP port accepts"
	kdcStopGrace    = 2 * time.Second  // SIGTERM to exit, before SIGKILL
	peerGoneTimeout = 5 * time.Second  // SIGKILL to no process left
	kdcStartTries   = 3                // the free port can be taken meanwhile
	kadminTimeout   = 30 * time.Second // any one kdb5_util/kadmin.local/kinit run
)

// kdcTemplates are the KDC's and the clients' configuration.
//
//go:embed templates/krb5.conf.tmpl templates/kdc.conf.tmpl
var kdcTemplates embed.FS

var (
	krb5ConfTmpl = template.Must(template.ParseFS(kdcTemplates, "templates/krb5.conf.tmpl"))
	kdcConfTmpl  = template.Must(template.ParseFS(kdcTemplates, "templates/kdc.conf.tmpl"))
)

// KerberosUser is a user principal StartKDC creates, with a password
// (name@REALM, or Name as is if it already contains '@').
type KerberosUser struct{ Name, Password string }

// KDCOptions configures StartKDC.
type KDCOptions struct {
	// Realm is the Kerberos realm. Default "CORP.TEST".
	Realm string
	// Users are the user principals, created with their password and
	// +requires_preauth, as Active Directory does: the KDC answers an
	// AS-REQ without encrypted timestamp with PREAUTH_REQUIRED.
	Users []KerberosUser
	// Services are extra service principals ("HTTP/web.corp.test") with
	// random keys, exported to ServiceKeytab together with the default
	// HTTP/localhost and HTTP/127.0.0.1.
	Services []string
	// MaxLife and MaxRenewableLife are the realm's longest ticket and
	// renewable lifetimes (kdc.conf max_life, max_renewable_life; also
	// the krbtgt's and the users'). Default 10h and 7d. A MaxLife of a
	// minute or two makes tests of renewal short.
	MaxLife, MaxRenewableLife time.Duration
	// ClockOffset, if set, runs krb5kdc under faketime with its clock
	// that far ahead (negative: behind) of the machine's, for tests of
	// clock skew errors.
	ClockOffset time.Duration
	// MaxDatagramReply, if set, is kdc.conf's kdc_max_dgram_reply_size:
	// replies larger than that go over UDP as KRB_ERR_RESPONSE_TOO_BIG,
	// making clients retry over TCP.
	MaxDatagramReply int
	// Enctypes, if set, are the only encryption types of the realm
	// (e.g. "rc4-hmac"): kdc.conf's supported_enctypes, so every
	// principal's keys (krbtgt's, the services', the users') are of these
	// types, and the client krb5.conf's default_tkt_enctypes,
	// default_tgs_enctypes and permitted_enctypes, with allow_weak_crypto.
	// Default: the AES types, as a current AD domain.
	Enctypes []string
}

// KDC is a running MIT krb5kdc on 127.0.0.1, private to one test, with a
// database of its own.
type KDC struct {
	// Realm is the realm the KDC serves, e.g. "CORP.TEST".
	Realm string
	// Addr is "127.0.0.1:PORT", where the KDC listens on UDP and TCP.
	Addr string
	// Krb5Conf is the client configuration (KRB5_CONFIG) pointing at the
	// KDC: no DNS, rdns = false, dns_canonicalize_hostname = false, and
	// localhost and 127.0.0.1 mapped to Realm, so that the service
	// principal for http://localhost:N/ is HTTP/localhost@Realm and for
	// http://127.0.0.1:N/ HTTP/127.0.0.1@Realm. World-readable, so that a
	// peer running as another user (squid's helper) can use it.
	Krb5Conf string
	// KDCProfile is the KDC's own configuration (KRB5_KDC_PROFILE).
	KDCProfile string
	// ServiceKeytab holds the random keys of HTTP/localhost,
	// HTTP/127.0.0.1 and KDCOptions.Services. Mode 0600, owned by the test
	// user: a peer running as someone else needs its own copy (StartSquid
	// makes one for user proxy).
	ServiceKeytab string
	// Services lists the service principals in ServiceKeytab, with realm.
	Services []string
	// Dir is the instance's temporary directory: krb5.conf, kdc.conf,
	// db/ (database, stash, keytabs; 0700), logs/, ccache files.
	Dir string

	t        testing.TB
	maxLife  time.Duration
	maxRenew time.Duration
	maxDgram int
	enctypes []string
	proc     *peerProc
	ccacheN  atomic.Int64
	adminEnv []string
}

// StartKDC creates a Kerberos realm in a temporary directory (kdb5_util,
// kadmin.local), starts MIT krb5kdc in the foreground on a free port on
// 127.0.0.1 (UDP and TCP) and waits until it accepts connections. The KDC is
// stopped in t.Cleanup. It fails the test (never skips it) if MIT Kerberos
// is not installed or the KDC does not come up, quoting its log.
//
// No process it starts reads /etc/krb5.conf: every child gets an
// environment built from scratch with KRB5_CONFIG (and KRB5_KDC_PROFILE).
func StartKDC(t testing.TB, opts KDCOptions) *KDC {
	t.Helper()
	Require(t, krb5kdcBin, kdb5UtilBin, kadminLocalBin, kinitBin)
	begin := time.Now()
	if opts.Realm == "" {
		opts.Realm = "CORP.TEST"
	}
	for _, e := range opts.Enctypes {
		if err := checkKrbName("encryption type", e); err != nil || strings.ContainsAny(e, ":,") {
			t.Fatalf("lab: StartKDC: bad encryption type %q", e)
		}
	}
	if err := checkKrbName("realm", opts.Realm); err != nil || strings.ContainsAny(opts.Realm, "/@") {
		t.Fatalf("lab: StartKDC: bad realm %q", opts.Realm)
	}
	services := append([]string{"HTTP/localhost", "HTTP/127.0.0.1"}, opts.Services...)
	for _, s := range services {
		if err := checkKrbName("service principal", s); err != nil {
			t.Fatalf("lab: StartKDC: %v", err)
		}
	}
	for _, u := range opts.Users {
		if err := checkKrbName("user principal", u.Name); err != nil {
			t.Fatalf("lab: StartKDC: %v", err)
		}
		// kadmin.local reads the password as a line from stdin.
		if strings.ContainsAny(u.Password, "\r\n") || u.Password == "" {
			t.Fatalf("lab: StartKDC: user %q: the password must be non-empty and have no line breaks", u.Name)
		}
	}

	dir := peerDir(t)
	// The paths go into profile files, where these would end or split a
	// value (the profile syntax has no quoting).
	if strings.ContainsAny(dir, " \t\"\\#;{}=\n\r") {
		t.Fatalf("lab: temp dir %q contains characters krb5.conf cannot hold; set GOTMPDIR to a plain path", dir)
	}
	mkdirs(t, dir, "db", "logs", "run")
	if err := os.Chmod(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatalf("lab: %v", err)
	}
	if opts.MaxLife <= 0 {
		opts.MaxLife = 10 * time.Hour
	}
	if opts.MaxRenewableLife <= 0 {
		opts.MaxRenewableLife = 7 * 24 * time.Hour
	}
	k := &KDC{
		Realm:         opts.Realm,
		maxLife:       opts.MaxLife,
		maxDgram:      opts.MaxDatagramReply,
		enctypes:      opts.Enctypes,
		maxRenew:      opts.MaxRenewableLife,
		Dir:           dir,
		Krb5Conf:      filepath.Join(dir, "krb5.conf"),
		KDCProfile:    filepath.Join(dir, "kdc.conf"),
		ServiceKeytab: filepath.Join(dir, "db", "http.keytab"),
		t:             t,
	}
	k.adminEnv = []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C",
		"KRB5_CONFIG=" + k.Krb5Conf,
		"KRB5_KDC_PROFILE=" + k.KDCProfile,
		"KRB5CCNAME=FILE:" + filepath.Join(dir, "ccache"),
	}
	writeFile(t, filepath.Join(dir, "db", "kadm5.acl"), []byte("*/admin@"+opts.Realm+" *\n"), 0o600)

	var lastErr error
	for try := 1; try <= kdcStartTries; try++ {
		port := freeUDPTCPPort(t)
		k.Addr = "127.0.0.1:" + strconv.Itoa(port)
		k.render(port)
		if try == 1 {
			// The database does not depend on the port: created once.
			k.createDB(opts, services)
		}
		var err error
		env := k.adminEnv
		if opts.ClockOffset != 0 {
			// libfaketime preloaded into krb5kdc itself (the faketime
			// wrapper would fork, and signals would reach the wrapper).
			if _, err := os.Stat(libfaketime); err != nil {
				t.Fatalf("lab: KDCOptions.ClockOffset needs libfaketime (apt-get install faketime): %v", err)
			}
			env = append(append([]string(nil), env...), "LD_PRELOAD="+libfaketime,
				fmt.Sprintf("FAKETIME=%+ds", int64(opts.ClockOffset/time.Second)), "FAKETIME_DONT_FAKE_MONOTONIC=1")
		}
		k.proc, err = startPeer(t, "krb5kdc", dir, filepath.Join(dir, "logs", "stderr.log"), env, kdcStopGrace,
			krb5kdcBin, "-n", "-r", k.Realm, "-P", filepath.Join(dir, "run", "krb5kdc.pid"))
		if err != nil {
			t.Fatalf("lab: starting %s: %v", krb5kdcBin, err)
		}
		lastErr = k.waitReady(kdcReadyTimeout)
		if lastErr == nil {
			t.Logf("lab: KDC for %s ready at %s in %v (dir %s)", k.Realm, k.Addr, time.Since(begin).Round(time.Millisecond), dir)
			return k
		}
		log := k.Log()
		k.proc.stop()
		if !strings.Contains(log, "Address already in use") {
			t.Fatalf("lab: krb5kdc did not come up: %v\n%s", lastErr, log)
		}
		t.Logf("lab: port %d was taken (%v); retrying", port, lastErr)
		for _, f := range []string{"krb5kdc.log", "stderr.log"} {
			os.Remove(filepath.Join(dir, "logs", f))
		}
	}
	t.Fatalf("lab: krb5kdc did not come up after %d tries: %v", kdcStartTries, lastErr)
	return nil
}

// profileSeconds writes d as a krb5 profile duration ("600s").
func profileSeconds(d time.Duration) string {
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// checkKrbName rejects names that kadmin.local's command line parser or a
// profile file would split or misread.
func checkKrbName(what, name string) error {
	if name == "" || strings.ContainsAny(name, " \t\r\n\"'\\#;{}=") {
		return fmt.Errorf("%s %q: must be non-empty, without blanks, quotes, backslashes or profile syntax", what, name)
	}
	return nil
}

// render writes krb5.conf and kdc.conf for port.
func (k *KDC) render(port int) {
	data := struct {
		Dir, Realm, Domain string
		Port               int
		MaxLife, MaxRenew  string
		MaxDgram           int
		Enctypes           string
		EnctypeList        []string
	}{k.Dir, k.Realm, strings.ToLower(k.Realm), port, profileSeconds(k.maxLife), profileSeconds(k.maxRenew), k.maxDgram, strings.Join(k.enctypes, " "), k.enctypes}
	for _, f := range []struct {
		tmpl *template.Template
		path string
	}{{krb5ConfTmpl, k.Krb5Conf}, {kdcConfTmpl, k.KDCProfile}} {
		var b bytes.Buffer
		if err := f.tmpl.Execute(&b, data); err != nil {
			k.t.Fatalf("lab: rendering %s: %v", f.path, err)
		}
		writeFile(k.t, f.path, b.Bytes(), 0o644)
	}
}

// createDB creates the realm's database with a stash file (so krb5kdc
// starts without asking for the master password), the principals, and the
// service keytab.
func (k *KDC) createDB(opts KDCOptions, services []string) {
	k.t.Helper()
	master := randomSecret(k.t)
	if out, err := k.admin(kdb5UtilBin, "", "-r", k.Realm, "create", "-s", "-P", master); err != nil {
		k.t.Fatalf("lab: kdb5_util create: %v\n%s\n%s", err, out, k.Log())
	}
	for _, u := range opts.Users {
		// The password goes through stdin (asked twice), not -pw: that
		// way no quoting rules of kadmin's command parser apply to it.
		//
		// "+requires_preauth" sets the flag; "-requires_preauth" (as in
		// the shared lab recipe) CLEARS it, and the KDC then hands out
		// TGTs to anyone who asks, encrypted in the user's key.
		pw := u.Password + "\n"
		if out, err := k.admin(kadminLocalBin, pw+pw, "-r", k.Realm, "-q", "addprinc +requires_preauth "+k.principal(u.Name)); err != nil || !strings.Contains(out, "created") {
			k.t.Fatalf("lab: kadmin.local addprinc %s: %v\n%s", u.Name, err, out)
		}
	}
	for _, s := range services {
		p := k.principal(s)
		if out, err := k.admin(kadminLocalBin, "", "-r", k.Realm, "-q", "addprinc -randkey "+p); err != nil || !strings.Contains(out, "created") {
			k.t.Fatalf("lab: kadmin.local addprinc %s: %v\n%s", p, err, out)
		}
		k.Services = append(k.Services, p)
	}
	// One ktadd for all: each ktadd (without -norandkey) makes new keys.
	if out, err := k.admin(kadminLocalBin, "", "-r", k.Realm, "-q", "ktadd -k "+k.ServiceKeytab+" "+strings.Join(k.Services, " ")); err != nil {
		k.t.Fatalf("lab: kadmin.local ktadd: %v\n%s", err, out)
	}
	if err := os.Chmod(k.ServiceKeytab, 0o600); err != nil {
		k.t.Fatalf("lab: %v", err)
	}
}

// principal qualifies name with the realm unless it has one.
func (k *KDC) principal(name string) string {
	if strings.Contains(name, "@") {
		return name
	}
	return name + "@" + k.Realm
}

// admin runs one of the KDC's tools with the KDC's environment and stdin,
// returning its combined output. kadmin.local exits 0 even when its -q
// command failed, so callers also check the output.
func (k *KDC) admin(bin, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), kadminTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = k.adminEnv
	cmd.Dir = k.Dir
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// waitReady waits until the KDC accepts TCP connections. krb5kdc binds its
// UDP and TCP sockets together before it serves either, so this covers UDP.
func (k *KDC) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-k.proc.exited:
			return fmt.Errorf("krb5kdc exited during startup: %v", k.proc.waitErr)
		default:
		}
		c, err := net.DialTimeout("tcp", k.Addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v", timeout, err)
		}
		select {
		case <-k.proc.exited:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Env returns a complete environment for a Kerberos client (kinit, curl,
// a test helper) of this realm, built from scratch: PATH, LANG=C,
// KRB5_CONFIG, KRB5_KDC_PROFILE, and KRB5CCNAME=FILE:Dir/ccache, a ccache
// of this test only (empty until something writes it). To use a ccache from
// Kinit, append "KRB5CCNAME=FILE:"+path: in os/exec the last of duplicate
// keys wins.
func (k *KDC) Env() []string {
	return append([]string(nil), k.adminEnv...)
}

// Kinit gets a TGT for user (name or name@REALM) with password, running MIT
// kinit with the password on stdin, into a fresh FILE ccache in Dir, and
// returns the ccache's path (use as KRB5CCNAME, with or without "FILE:").
// It fails t if kinit fails.
func (k *KDC) Kinit(t testing.TB, user, password string) (ccachePath string) {
	t.Helper()
	cc, out, err := k.TryKinit(user, password)
	if err != nil {
		t.Fatalf("lab: kinit %s: %v\n%s\n%s", user, err, out, k.Log())
	}
	return cc
}

// TryKinit is Kinit for a test that expects it may fail (a wrong
// password): it returns the ccache path, kinit's output and its error.
func (k *KDC) TryKinit(user, password string) (ccachePath, output string, err error) {
	n := k.ccacheN.Add(1)
	safe := strings.Map(func(r rune) rune {
		if r == '/' || r == '@' || r == ' ' || r == '\\' {
			return '_'
		}
		return r
	}, user)
	cc := filepath.Join(k.Dir, fmt.Sprintf("ccache-%d-%s", n, safe))
	ctx, cancel := context.WithTimeout(context.Background(), kadminTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, kinitBin, "-c", "FILE:"+cc, k.principal(user))
	cmd.Env = append(k.Env(), "KRB5CCNAME=FILE:"+cc)
	cmd.Dir = k.Dir
	cmd.Stdin = strings.NewReader(password + "\n")
	b, err := cmd.CombinedOutput()
	return cc, string(b), err
}

// UserKeytab exports user's current keys (those derived from the password,
// "ktadd -norandkey") to a keytab in Dir and returns its path: "kinit -kt"
// with it works, and the password keeps working too.
func (k *KDC) UserKeytab(t testing.TB, user string) string {
	t.Helper()
	if err := checkKrbName("user principal", user); err != nil {
		t.Fatalf("lab: UserKeytab: %v", err)
	}
	kt := filepath.Join(k.Dir, "db", fmt.Sprintf("user-%d.keytab", k.ccacheN.Add(1)))
	out, err := k.admin(kadminLocalBin, "", "-r", k.Realm, "-q", "ktadd -norandkey -k "+kt+" "+k.principal(user))
	if err != nil || !strings.Contains(out, "added to keytab") {
		t.Fatalf("lab: kadmin.local ktadd -norandkey %s: %v\n%s", user, err, out)
	}
	return kt
}

// Log returns the KDC's log (one line per AS-REQ/TGS-REQ with the result,
// e.g. "PREAUTH_FAILED", "ISSUE"), what krb5kdc wrote to stderr and the
// kadmin log, for test failure messages.
func (k *KDC) Log() string {
	var b strings.Builder
	for _, f := range []string{"krb5kdc.log", "stderr.log", "kadmin.log", "krb5lib.log"} {
		data, err := os.ReadFile(filepath.Join(k.Dir, "logs", f))
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			fmt.Fprintf(&b, "[lab: reading %s: %v]\n", f, err)
		case len(data) > 0:
			fmt.Fprintf(&b, "--- %s ---\n%s", f, data)
		}
	}
	return b.String()
}

// freeUDPTCPPort returns a port on 127.0.0.1 that was free for both TCP and
// UDP a moment ago: krb5kdc listens on both with one number.
func freeUDPTCPPort(t testing.TB) int {
	t.Helper()
	for range 20 {
		port := FreePort(t)
		u, err := net.ListenPacket("udp4", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatalf("lab: no port on 127.0.0.1 free for both TCP and UDP")
	return 0
}

// randomSecret returns a random password-like string (the KDC's master key
// password; never needed again thanks to the stash file).
func randomSecret(t testing.TB) string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("lab: %v", err)
	}
	return fmt.Sprintf("%x", b)
}

// peerProc is a peer daemon running in the foreground as a child of the
// test, in a process group of its own watched by a watchdog (see
// sysProcAttr, startWatchdog): the mechanism of StartApache, shared by the
// KDC and squid fixtures.
type peerProc struct {
	name            string
	t               testing.TB
	cmd             *exec.Cmd
	grace           time.Duration
	exited          chan struct{} // closed when cmd.Wait returns
	waitErr         error         // valid once exited is closed
	dismissWatchdog func()
	stopOnce        sync.Once
}

// startPeer starts argv with env in dir, stdout and stderr to the file
// stderrPath, and registers its stop in t.Cleanup. grace is how long stop
// waits after SIGTERM before it kills the process group.
func startPeer(t testing.TB, name, dir, stderrPath string, env []string, grace time.Duration, argv ...string) (*peerProc, error) {
	out, err := os.OpenFile(stderrPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer out.Close() // the child has its own copy
	p := &peerProc{name: name, t: t, grace: grace}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Dir = dir
	p.cmd.Env = env
	// A file, not a pipe: nothing can block on it, and no grandchild
	// holding it open can make cmd.Wait hang.
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.SysProcAttr = sysProcAttr()
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	p.exited = make(chan struct{})
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	dismiss, err := startWatchdog(p.cmd.Process.Pid)
	if err != nil {
		killGroup(p.cmd.Process.Pid)
		<-p.exited
		return nil, fmt.Errorf("starting watchdog: %v", err)
	}
	p.dismissWatchdog = dismiss
	t.Cleanup(p.stop)
	return p, nil
}

// pgid is the peer's process group id (its pid).
func (p *peerProc) pgid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM, then SIGKILL to the whole process group if the peer
// has not exited within its grace period, then kills and waits out whatever
// is left in the group (helpers, children). Safe to call more than once.
func (p *peerProc) stop() {
	p.stopOnce.Do(func() {
		defer p.dismissWatchdog()
		pgid := p.pgid()
		_ = p.cmd.Process.Signal(terminateSignal)
		select {
		case <-p.exited:
		case <-time.After(p.grace):
			p.t.Logf("lab: %s (pid %d) still running %v after SIGTERM; sending SIGKILL to its process group", p.name, pgid, p.grace)
			killGroup(pgid)
			select {
			case <-p.exited:
			case <-time.After(peerGoneTimeout):
				p.t.Errorf("lab: %s (pid %d) survived SIGKILL for %v", p.name, pgid, peerGoneTimeout)
				return
			}
		}
		if left := groupMembers(pgid); len(left) > 0 {
			killGroup(pgid)
			deadline := time.Now().Add(peerGoneTimeout)
			for len(left) > 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				left = groupMembers(pgid)
			}
			if len(left) > 0 {
				p.t.Errorf("lab: %s processes still running after SIGKILL: %v", p.name, left)
			}
		}
	})
}

// Trust makes a one-way cross-realm trust: users of k's realm may reach
// services of other's realm. Both databases get krbtgt/OTHER@K with one
// random password (the same keys, as MIT's cross-realm setup wants). A
// client then needs a krb5.conf naming both KDCs and mapping the
// service's host to other's realm; see CrossRealmKrb5Conf.
func (k *KDC) Trust(t testing.TB, other *KDC) {
	t.Helper()
	p := "krbtgt/" + other.Realm + "@" + k.Realm
	pw := randomSecret(t) + "\n"
	for _, db := range []*KDC{k, other} {
		if out, err := db.admin(kadminLocalBin, pw+pw, "-r", db.Realm, "-q", "addprinc "+p); err != nil || !strings.Contains(out, "created") {
			t.Fatalf("lab: kadmin.local addprinc %s in %s: %v\n%s", p, db.Realm, err, out)
		}
	}
}

// CrossRealmKrb5Conf writes a client krb5.conf for a user of k's realm
// (the default realm) that knows other's KDC and maps hosts to other's
// realm, and returns its path. Without rdns or DNS, as Krb5Conf.
func (k *KDC) CrossRealmKrb5Conf(t testing.TB, other *KDC, hosts ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "[libdefaults]\n    default_realm = %s\n    dns_lookup_realm = false\n    dns_lookup_kdc = false\n    rdns = false\n    dns_canonicalize_hostname = false\n    forwardable = true\n    default_ccache_name = FILE:%s/ccache\n", k.Realm, k.Dir)
	fmt.Fprintf(&b, "[realms]\n    %s = {\n        kdc = %s\n    }\n    %s = {\n        kdc = %s\n    }\n", k.Realm, k.Addr, other.Realm, other.Addr)
	fmt.Fprintf(&b, "[capaths]\n    %s = {\n        %s = .\n    }\n[domain_realm]\n", k.Realm, other.Realm)
	for _, h := range hosts {
		fmt.Fprintf(&b, "    %s = %s\n", h, other.Realm)
	}
	path := filepath.Join(k.Dir, fmt.Sprintf("krb5-cross-%d.conf", k.ccacheN.Add(1)))
	writeFile(t, path, []byte(b.String()), 0o644)
	return path
}
