package lab

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// isolateEnv tells a test binary started by Isolate which test it runs
// isolated; isolateNetNSEnv and isolateMntNSEnv carry the parent's
// namespaces, so the child can prove it is not in them.
const (
	isolateEnv      = "SESAME_LAB_ISOLATED_TEST"
	isolateNetNSEnv = "SESAME_LAB_PARENT_NETNS"
	isolateMntNSEnv = "SESAME_LAB_PARENT_MNTNS"
)

// isolateSetup runs in the new namespaces, as root, before the test binary:
// a fresh network namespace has only lo, and down; the bind mount replaces
// /etc/hosts in the private mount namespace only, and so does the one of
// /etc/resolv.conf if $2 is not "-". $1 is the hosts file, $2 the
// resolv.conf, the rest the test binary's command line.
const isolateSetup = `set -e
ip link set lo up
mount --bind "$1" /etc/hosts
if [ "$2" != - ]; then mount --bind "$2" /etc/resolv.conf; fi
shift 2
exec "$@"`

// IsolateOptions configures Isolate.
type IsolateOptions struct {
	// Hosts are names to add to the isolated /etc/hosts, name → address.
	// The addresses must be loopback addresses: the namespace has no
	// other interface, so nothing else could be reached anyway.
	Hosts map[string]string
	// ResolvConf, if set, is the isolated /etc/resolv.conf, e.g.
	// "nameserver 127.0.0.1\n" for a StartDNS server. Default: the
	// system's, whose servers are out of reach in the namespace.
	ResolvConf string
}

var hostNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`)

// Isolate runs the calling test in a child process of the test binary that
// has a network namespace of its own, with nothing but a loopback
// interface, and a private mount namespace in which /etc/hosts is replaced
// by localhost plus opts.Hosts. It returns true in that child, where the
// test goes on, and false in the parent, after the child ran the test: the
// parent passes if the child's test passed and fails with its output
// otherwise. Use it as
//
//	if !lab.Isolate(t, opts) {
//		return
//	}
//
// first thing in a top-level test, before starting any peer.
//
// Why: some clients never send a request for a loopback destination to a
// proxy (Go's net/http skips the proxy for "localhost" and loopback IP
// literals whatever NO_PROXY says), while the lab's squid only forwards to
// loopback. A name that only the isolated /etc/hosts maps to 127.0.0.2 is
// neither: the client proxies it, and squid (started inside, reading the
// same /etc/hosts through hosts_file) resolves it to a loopback address it
// may reach. Everything the test starts inherits the namespaces; whatever
// it tries, no packet can leave the namespace, and the system's
// /etc/hosts is never written. Both namespaces disappear with their last
// process, so there is nothing to remove.
//
// It needs root (unshare, ip, mount). Like Require, it fails the test
// rather than skip it when something is missing.
func Isolate(t *testing.T, opts IsolateOptions) (inside bool) {
	t.Helper()
	if os.Getenv(isolateEnv) == t.Name() {
		checkIsolated(t, opts)
		return true
	}
	Require(t, "unshare", "ip", "mount", "/bin/sh")
	if os.Geteuid() != 0 {
		t.Fatalf("lab: Isolate needs root to create network and mount namespaces (run the tests as root, as scripts/test does)")
	}
	netNS, mntNS := readNS(t, "net"), readNS(t, "mnt")

	hosts := hostsFile(t, opts.Hosts)
	hostsPath := t.TempDir() + "/hosts"
	// World-readable: squid and its helpers run as user proxy.
	writeFile(t, hostsPath, hosts, 0o644)
	before, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	resolvPath := "-"
	if opts.ResolvConf != "" {
		if !strings.HasSuffix(opts.ResolvConf, "\n") || strings.ContainsRune(opts.ResolvConf, 0) {
			t.Fatalf("lab: Isolate: ResolvConf must be lines of text ending in a newline")
		}
		resolvPath = t.TempDir() + "/resolv.conf"
		writeFile(t, resolvPath, []byte(opts.ResolvConf), 0o644)
	}
	resolvBefore, err := os.ReadFile("/etc/resolv.conf")
	if err != nil && opts.ResolvConf != "" {
		t.Fatalf("lab: Isolate: %v", err)
	}

	// -test.run matches each level of the name separately.
	var pattern []string
	for _, part := range strings.Split(t.Name(), "/") {
		pattern = append(pattern, "^"+regexp.QuoteMeta(part)+"$")
	}
	ctx := context.Background()
	args := []string{"-test.run=" + strings.Join(pattern, "/"), "-test.count=1", "-test.v"}
	if d, ok := t.Deadline(); ok {
		// The child stops itself, with a stack dump, a little before the
		// parent's deadline; the context kills it if that fails.
		left := time.Until(d)
		args = append(args, fmt.Sprintf("-test.timeout=%v", left-left/10))
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-left/20))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, "unshare", append([]string{"--net", "--mount", "--propagation", "private",
		"--", "/bin/sh", "-c", isolateSetup, "lab-isolate", hostsPath, resolvPath, os.Args[0]}, args...)...)
	cmd.Env = append(os.Environ(), isolateEnv+"="+t.Name(), isolateNetNSEnv+"="+netNS, isolateMntNSEnv+"="+mntNS)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// If the child is killed, its peers' watchdogs stop them; the output
	// pipe must not keep us waiting for them.
	cmd.WaitDelay = 10 * time.Second
	begin := time.Now()
	err = cmd.Run()

	if after, rerr := os.ReadFile("/etc/hosts"); rerr != nil || !bytes.Equal(before, after) {
		t.Errorf("lab: the system's /etc/hosts changed while %s ran isolated (%v)", t.Name(), rerr)
	}
	if opts.ResolvConf != "" {
		if after, rerr := os.ReadFile("/etc/resolv.conf"); rerr != nil || !bytes.Equal(resolvBefore, after) {
			t.Errorf("lab: the system's /etc/resolv.conf changed while %s ran isolated (%v)", t.Name(), rerr)
		}
	}
	passed := strings.Contains(out.String(), "--- PASS: "+t.Name()+" ")
	if err != nil || !passed {
		t.Fatalf("lab: %s in its own network and mount namespaces: %v, passed %v; its output:\n%s", t.Name(), err, passed, out.String())
	}
	t.Logf("lab: %s ran in its own network and mount namespaces in %v; its output:\n%s", t.Name(), time.Since(begin).Round(time.Millisecond), out.String())
	return false
}

// checkIsolated makes sure the child really is in namespaces of its own
// before the test runs there: a test that needs isolation must never run
// without it.
func checkIsolated(t *testing.T, opts IsolateOptions) {
	t.Helper()
	if ns := readNS(t, "net"); ns == os.Getenv(isolateNetNSEnv) {
		t.Fatalf("lab: Isolate: still in the parent's network namespace %s", ns)
	}
	if ns := readNS(t, "mnt"); ns == os.Getenv(isolateMntNSEnv) {
		t.Fatalf("lab: Isolate: still in the parent's mount namespace %s", ns)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatalf("lab: Isolate: %v", err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 || i.Flags&net.FlagUp == 0 {
			t.Fatalf("lab: Isolate: the namespace has interface %s (%v); want only lo, up", i.Name, i.Flags)
		}
	}
	got, err := os.ReadFile("/etc/hosts")
	if err != nil || !bytes.Equal(got, hostsFile(t, opts.Hosts)) {
		t.Fatalf("lab: Isolate: /etc/hosts is not the isolated one (%v):\n%s", err, got)
	}
	if opts.ResolvConf != "" {
		if got, err := os.ReadFile("/etc/resolv.conf"); err != nil || string(got) != opts.ResolvConf {
			t.Fatalf("lab: Isolate: /etc/resolv.conf is not the isolated one (%v):\n%s", err, got)
		}
	}
}

// readNS returns the identity of this process's namespace of a kind, such
// as "net:[4026531840]".
func readNS(t testing.TB, kind string) string {
	t.Helper()
	ns, err := os.Readlink("/proc/self/ns/" + kind)
	if err != nil {
		t.Fatalf("lab: Isolate: %v", err)
	}
	return ns
}

// hostsFile renders the isolated /etc/hosts: localhost, then hosts sorted
// by name.
func hostsFile(t testing.TB, hosts map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("# lab.Isolate: this test's own /etc/hosts\n127.0.0.1 localhost\n::1 localhost\n")
	names := make([]string, 0, len(hosts))
	for n := range hosts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ip := net.ParseIP(hosts[n])
		if !hostNameRE.MatchString(n) || n == "localhost" || ip == nil || !ip.IsLoopback() {
			t.Fatalf("lab: Isolate: host %q → %q: want a lower-case DNS name other than localhost and a loopback address", n, hosts[n])
		}
		fmt.Fprintf(&b, "%s %s\n", ip, n)
	}
	return b.Bytes()
}
