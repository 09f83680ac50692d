//go:build linux

package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"golang.org/x/sys/unix"
)

// Debian's Samba AD DC binaries and files, by absolute path.
const (
	sambaBin         = "/usr/sbin/samba"
	sambaToolBin     = "/usr/bin/samba-tool"
	winbinddBin      = "/usr/sbin/winbindd"
	wbinfoBin        = "/usr/bin/wbinfo"
	ntlmAuthBin      = "/usr/bin/ntlm_auth"
	ldbmodifyBin     = "/usr/bin/ldbmodify"
	sambaProvisionLD = "/usr/share/samba/setup/provision.ldif" // the schema files: samba-ad-provision
	wbinfoGroupACL   = squidHelperDir + "/ext_wbinfo_group_acl"
)

func init() {
	// Keep in step with PKGS in scripts/install-test-deps.sh.
	for k, v := range map[string]string{
		sambaBin:         "samba",
		sambaToolBin:     "samba-common-bin",
		winbinddBin:      "winbind",
		wbinfoBin:        "winbind",
		ntlmAuthBin:      "winbind",
		ldbmodifyBin:     "ldb-tools",
		sambaProvisionLD: "samba-ad-provision",
		wbinfoGroupACL:   "squid",
		"/bin/sh":        "dash",
	} {
		debPackages[k] = v
	}
}

// The lab domain. The values are fixed: tests name these accounts.
const (
	ADDCRealm  = "CORP.TEST"
	ADDCDomain = "CORP" // NetBIOS domain
	ADDCHost   = "dc1"  // the DC's host name
	ADDCFQDN   = "dc1.corp.test"
	ADDCGroup  = "webusers" // the AD group GroupProxyURL requires
	addcAdmPW  = "AdminPass-123"
	addcProxy  = 3128          // squid: any authenticated AD user
	addcGroupP = addcProxy + 1 // squid: members of ADDCGroup only
	addcOrigin = 8080          // the origin, in the test process
)

// ADUser is an account of the lab domain.
type ADUser struct {
	Name, Password string
	// InGroup tells whether the user is in ADDCGroup.
	InGroup bool
}

// The lab domain's users. Their passwords are also in cmd/sesame's list of
// secrets that no output may contain.
var (
	ADDCAlice = ADUser{Name: "alice", Password: "AlicePass123", InGroup: true}
	ADDCBob   = ADUser{Name: "bob", Password: "BobPass456"}
)

// Timeouts of the AD DC fixture. Provisioning takes 5-10 s on 2 cores and
// the DC answers a few seconds after it starts; the limits only matter on
// a loaded CI box.
const (
	addcToolTimeout  = 120 * time.Second // one samba-tool/ldbmodify/kinit/ip run
	addcReadyTimeout = 90 * time.Second  // samba start to "winbindd reaches the DC"
	addcSquidReady   = 30 * time.Second
	addcSambaGrace   = 10 * time.Second
)

//go:embed templates/addc-krb5.conf.tmpl templates/addc-squid.conf.tmpl
var addcTemplates embed.FS

var (
	addcKrb5Tmpl  = template.Must(template.ParseFS(addcTemplates, "templates/addc-krb5.conf.tmpl"))
	addcSquidTmpl = template.Must(template.ParseFS(addcTemplates, "templates/addc-squid.conf.tmpl"))
)

// addcExecSetup runs as root inside the lab's network namespace (ip netns
// exec, which also gives it a mount namespace of its own) and a UTS
// namespace of its own, before the command: the lab's files replace
// /etc/hosts, /etc/resolv.conf, /etc/krb5.conf, /etc/samba/smb.conf and
// /run/samba (libwbclient, used by wbinfo and ntlm_auth, hard-codes
// /run/samba/winbindd) in that mount namespace only, and the host name is
// the DC's. $1 is the lab's directory, $2 the host name, the rest the
// command.
const addcExecSetup = `set -e
d=$1
hostname "$2"
shift 2
mount --bind "$d/etc/hosts" /etc/hosts
mount --bind "$d/etc/resolv.conf" /etc/resolv.conf
if [ -e /etc/krb5.conf ]; then mount --bind "$d/etc/krb5.conf" /etc/krb5.conf; fi
if [ -f "$d/samba/etc/smb.conf" ] && [ -e /etc/samba/smb.conf ]; then mount --bind "$d/samba/etc/smb.conf" /etc/samba/smb.conf; fi
[ -d /run/samba ] || mkdir -p /run/samba
mount --bind "$d/run" /run/samba
exec "$@"`

// addcWatchdogScript waits for EOF on stdin, i.e. for the test process to
// close the pipe or to die (where no t.Cleanup runs), and then removes the
// lab: every process in its network namespace, the veth pair, the
// namespace and the directory (and its parent, Go's per-test temporary
// directory, if that is empty then). $1 is the namespace, $2 the host's veth
// end, $3 the directory.
const addcWatchdogScript = `trap '' HUP INT QUIT TERM PIPE
read _ || :
for i in 1 2 3 4 5 6 7 8 9 10; do
  pids=$(ip netns pids "$1" 2>/dev/null) || break
  [ -n "$pids" ] || break
  kill -s KILL $pids 2>/dev/null
  sleep 0.3
done
ip link del "$2" 2>/dev/null
ip netns del "$1" 2>/dev/null
rm -rf "$3"
rmdir "${3%/*}" 2>/dev/null # the test's temp dir, if now empty
exit 0`

// ADDC is a running Samba Active Directory domain controller (realm
// CORP.TEST, NetBIOS domain CORP, DC dc1.corp.test) with squid in front
// as an authenticating forward proxy, in a network namespace of its own
// that exists for one test. Nothing of it is reachable from the host's
// network namespace except through the veth pair (HostIP ↔ DCIP), and
// nothing in the namespace can reach anything else (no default route).
//
// Clients that need the DC's name (Kerberos: the service ticket for
// HTTP/dc1.corp.test) run inside the lab through [ADDC.Command]; Go code
// of the test reaches the lab through [ADDC.DialContext], [ADDC.HTTPClient]
// and [ADDC.Listen].
type ADDC struct {
	// Realm, Domain and FQDN are ADDCRealm, ADDCDomain and ADDCFQDN.
	Realm, Domain, FQDN string
	// DCIP is the DC's address in the namespace, 10.231.X.Y+2 of a /30
	// chosen per lab; HostIP is the host's end of the veth pair (+1).
	DCIP, HostIP string
	// NetNS is the network namespace's name (ip netns), unique per lab.
	NetNS string
	// ProxyURL is squid demanding Negotiate, NTLM or Basic of any AD user:
	// "http://dc1.corp.test:3128". GroupProxyURL ("…:3129") also demands
	// membership of AD group ADDCGroup (others get 403).
	ProxyURL, GroupProxyURL string
	// OriginURL is a small origin in the namespace, "http://DCIP:8080":
	// /hello.txt answers "hello from the addc lab origin\n", every other
	// path "proxy_user=<user squid authenticated>\npath=<path>\n".
	OriginURL string
	// Krb5Conf is the clients' krb5.conf (KDC: the DC, by address).
	Krb5Conf string
	// HTTPKeytab holds HTTP/dc1.corp.test (AES), squid's service key.
	HTTPKeytab string
	// Dir is the lab's directory: etc/ (hosts, resolv.conf, krb5.conf),
	// samba/ (the provisioned domain), run/, log/, squid/.
	Dir string

	t         testing.TB
	vethHost  string
	vethNS    string
	squidName string
	samba     *peerProc
	squid     *peerProc
	origin    *http.Server
}

// StartADDC provisions a fresh AD domain (samba-tool domain provision into
// a temporary directory, users ADDCAlice, in group ADDCGroup, and ADDCBob,
// not in it, and service account httpsvc with SPN HTTP/dc1.corp.test and an
// AES keytab), creates a uniquely named network namespace with a veth pair
// to the host on a free 10.231.0.0/16 /30, starts samba (KDC, LDAP, DNS,
// SMB, winbindd) and squid in it, and an origin (in the test process,
// listening in the namespace), and waits until samba's KDC, LDAP, DNS and
// SMB listen, winbindd reaches the DC (wbinfo --ping-dc) and squid answers
// on both ports. It takes about 10 s on 2 cores (provisioning 4-5 s,
// accounts 3 s, samba 2-3 s): share one lab among the subtests of a test.
//
// In t.Cleanup it stops squid and samba, kills whatever else still runs in
// the namespace, and deletes the veth pair and the namespace; a watchdog
// does the same if the test binary dies. The system's /etc, /var/lib/samba
// and /run/samba are never written (the lab's files are bind-mounted over
// them in the lab's own mount namespaces only; an empty /run/samba is
// created where the packages did not leave one).
//
// It needs root (ip netns, mount). Like [Require], it fails the test rather
// than skip it when something is missing.
func StartADDC(t testing.TB) *ADDC {
	t.Helper()
	Require(t, "ip", "unshare", "mount", "/bin/sh", kinitBin,
		sambaBin, sambaToolBin, winbinddBin, wbinfoBin, ntlmAuthBin, ldbmodifyBin, sambaProvisionLD,
		squidBin, negotiateKrb5, wbinfoGroupACL)
	if os.Geteuid() != 0 {
		t.Fatalf("lab: StartADDC needs root to create a network namespace and bind mounts (run the tests as root, as scripts/test does)")
	}
	proxyUser, err := user.Lookup(squidUnprivUser)
	if err != nil {
		t.Fatalf("lab: squid drops root privileges to user %q: %v (is the squid package installed?)", squidUnprivUser, err)
	}
	uid, _ := strconv.Atoi(proxyUser.Uid)
	gid, _ := strconv.Atoi(proxyUser.Gid)
	begin := time.Now()

	dir := peerDir(t)
	if strings.ContainsAny(dir, " \t\"'\\$%#;{}=\n\r") {
		t.Fatalf("lab: temp dir %q contains characters smb.conf, krb5.conf or squid.conf cannot hold; set GOTMPDIR to a plain path", dir)
	}
	mkdirs(t, dir, "etc", "run", "log", "squid", "home")
	id := randomSecret(t)[:8]
	a := &ADDC{
		Realm: ADDCRealm, Domain: ADDCDomain, FQDN: ADDCFQDN,
		NetNS:      "sesame-addc-" + id,
		Krb5Conf:   filepath.Join(dir, "etc", "krb5.conf"),
		HTTPKeytab: filepath.Join(dir, "http.keytab"),
		Dir:        dir,
		t:          t,
		vethHost:   "sa" + id + "h",
		vethNS:     "sa" + id + "n",
		squidName:  squidShmPrefix + "addc" + id,
	}
	a.ProxyURL = fmt.Sprintf("http://%s:%d", ADDCFQDN, addcProxy)
	a.GroupProxyURL = fmt.Sprintf("http://%s:%d", ADDCFQDN, addcGroupP)

	a.createNetNS()
	a.OriginURL = fmt.Sprintf("http://%s:%d", a.DCIP, addcOrigin)
	a.writeEtc()

	t0 := time.Now()
	a.provision()
	tProvision := time.Since(t0)
	t0 = time.Now()
	a.createAccounts()
	tAccounts := time.Since(t0)

	t0 = time.Now()
	a.startSamba(gid)
	tSamba := time.Since(t0)
	a.startOrigin()
	t0 = time.Now()
	a.startSquid(uid, gid)
	tSquid := time.Since(t0)
	t.Logf("lab: AD DC %s (%s) with squid at %s and %s ready in %v (provision %v, accounts %v, samba %v, squid %v; netns %s, dir %s)",
		ADDCFQDN, a.DCIP, a.ProxyURL, a.GroupProxyURL, time.Since(begin).Round(time.Millisecond),
		tProvision.Round(time.Millisecond), tAccounts.Round(time.Millisecond), tSamba.Round(time.Millisecond), tSquid.Round(time.Millisecond),
		a.NetNS, dir)
	return a
}

// addcNetLock serialises choosing a /30 and putting its address on the
// host's veth end among test binaries running at the same time.
func addcNetLock(t testing.TB) (unlock func()) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "sesame-lab-addc-net.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	deadline := time.Now().Add(addcToolTimeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			f.Close()
			t.Fatalf("lab: waiting for %s: %v", f.Name(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return func() { f.Close() }
}

// createNetNS creates the namespace and the veth pair on a /30 of
// 10.231.0.0/16 that no interface of the host has an address in, and
// starts the watchdog that removes them if the test binary dies.
func (a *ADDC) createNetNS() {
	t := a.t
	t.Helper()
	unlock := addcNetLock(t)
	defer unlock()
	a.ip("netns", "add", a.NetNS)
	dismiss, err := runWatchdog(exec.Command("/bin/sh", "-c", addcWatchdogScript, "lab-addc-watchdog", a.NetNS, a.vethHost, a.Dir))
	if err != nil {
		a.ip("netns", "del", a.NetNS)
		t.Fatalf("lab: starting the AD DC lab's watchdog: %v", err)
	}
	t.Cleanup(func() { a.teardown(dismiss) })

	block := a.freeBlock()
	a.HostIP = fmt.Sprintf("10.231.%d.%d", block>>6, (block&63)*4+1)
	a.DCIP = fmt.Sprintf("10.231.%d.%d", block>>6, (block&63)*4+2)
	a.ip("link", "add", a.vethHost, "type", "veth", "peer", "name", a.vethNS)
	a.ip("link", "set", a.vethNS, "netns", a.NetNS)
	a.ip("addr", "add", a.HostIP+"/30", "dev", a.vethHost)
	a.ip("link", "set", a.vethHost, "up")
	a.ip("-n", a.NetNS, "link", "set", "lo", "up")
	a.ip("-n", a.NetNS, "addr", "add", a.DCIP+"/30", "dev", a.vethNS)
	a.ip("-n", a.NetNS, "link", "set", a.vethNS, "up")
	// No default route in the namespace: nothing can leave the /30.
}

// freeBlock picks a random /30 of 10.231.0.0/16 (its index, 0-16383)
// that overlaps no address of the host's interfaces.
func (a *ADDC) freeBlock() int {
	t := a.t
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	for range 100 {
		n, err := rand.Int(rand.Reader, big.NewInt(1<<14))
		if err != nil {
			t.Fatalf("lab: %v", err)
		}
		b := int(n.Int64())
		if b == 0 {
			continue // 10.231.0.0/30: the shared recipe's, maybe in use by hand
		}
		_, block, _ := net.ParseCIDR(fmt.Sprintf("10.231.%d.%d/30", b>>6, (b&63)*4))
		free := true
		for _, ad := range addrs {
			if ipn, ok := ad.(*net.IPNet); ok && (ipn.Contains(block.IP) || block.Contains(ipn.IP)) {
				free = false
			}
		}
		if free {
			return b
		}
	}
	t.Fatalf("lab: no free /30 in 10.231.0.0/16")
	return 0
}

// ip runs ip(8) with args and fails the test if it fails.
func (a *ADDC) ip(args ...string) {
	t := a.t
	t.Helper()
	if out, err := runTool(exec.Command("ip", args...), ""); err != nil {
		t.Fatalf("lab: ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// runTool runs cmd with stdin and a time limit, returning its combined
// output.
func runTool(cmd *exec.Cmd, stdin string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), addcToolTimeout)
	defer cancel()
	c := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	c.Env, c.Dir = cmd.Env, cmd.Dir
	if c.Env == nil {
		c.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	}
	c.Stdin = strings.NewReader(stdin)
	c.WaitDelay = 5 * time.Second
	out, err := c.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%v (time limit %v)", err, addcToolTimeout)
	}
	return string(out), err
}

// teardown stops what runs in the namespace and removes the veth pair and
// the namespace; it reports anything that would not go.
func (a *ADDC) teardown(dismissWatchdog func()) {
	t := a.t
	defer dismissWatchdog()
	if a.origin != nil {
		a.origin.Close()
	}
	deadline := time.Now().Add(peerGoneTimeout)
	var left []string
	for {
		left = a.nsPids()
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		for _, p := range left {
			if pid, err := strconv.Atoi(p); err == nil && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Errorf("lab: processes still running in network namespace %s after SIGKILL: %v", a.NetNS, left)
	}
	removeSquidShm(a.squidName)
	if out, err := runTool(exec.Command("ip", "link", "del", a.vethHost), ""); err != nil && !strings.Contains(out, "Cannot find device") {
		t.Errorf("lab: ip link del %s: %v\n%s", a.vethHost, err, out)
	}
	if out, err := runTool(exec.Command("ip", "netns", "del", a.NetNS), ""); err != nil {
		t.Errorf("lab: ip netns del %s: %v\n%s", a.NetNS, err, out)
	}
}

// nsPids lists the processes in the lab's network namespace.
func (a *ADDC) nsPids() []string {
	out, err := runTool(exec.Command("ip", "netns", "pids", a.NetNS), "")
	if err != nil {
		return nil // the namespace is gone
	}
	return strings.Fields(out)
}

// writeEtc writes the lab's hosts, resolv.conf and krb5.conf.
func (a *ADDC) writeEtc() {
	t := a.t
	t.Helper()
	hosts := fmt.Sprintf("# lab.StartADDC: the lab's own /etc/hosts\n127.0.0.1 localhost\n::1 localhost\n%s %s %s\n", a.DCIP, ADDCFQDN, ADDCHost)
	writeFile(t, filepath.Join(a.Dir, "etc", "hosts"), []byte(hosts), 0o644)
	resolv := fmt.Sprintf("search %s\nnameserver %s\n", strings.ToLower(ADDCRealm), a.DCIP)
	writeFile(t, filepath.Join(a.Dir, "etc", "resolv.conf"), []byte(resolv), 0o644)
	var b bytes.Buffer
	err := addcKrb5Tmpl.Execute(&b, struct{ Dir, Realm, Domain, DCIP string }{a.Dir, ADDCRealm, strings.ToLower(ADDCRealm), a.DCIP})
	if err != nil {
		t.Fatalf("lab: rendering krb5.conf: %v", err)
	}
	writeFile(t, a.Krb5Conf, b.Bytes(), 0o644)
	// For provision: an empty base, so nothing of the system's
	// /etc/samba/smb.conf is inherited.
	writeFile(t, filepath.Join(a.Dir, "etc", "provision-base.conf"), []byte("[global]\n"), 0o644)
}

// Env returns an environment for a client in the lab, built from scratch:
// PATH, LANG=C, HOME (an empty directory of the lab), KRB5_CONFIG and a
// KRB5CCNAME that holds no ticket. Append "KRB5CCNAME=FILE:"+path to use
// a ccache from Kinit: in os/exec the last of duplicate keys wins.
func (a *ADDC) Env() []string {
	return []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C",
		"HOME=" + filepath.Join(a.Dir, "home"),
		"KRB5_CONFIG=" + a.Krb5Conf,
		"KRB5CCNAME=FILE:" + filepath.Join(a.Dir, "krb5cc-none"),
	}
}

// Command returns a command that runs name with args inside the lab: in
// its network namespace, with its hosts file (dc1.corp.test), resolv.conf,
// krb5.conf, smb.conf and /run/samba bind-mounted over the system's in a
// mount namespace of the command's own, and host name dc1. ctx kills it
// as in exec.CommandContext. Its Env is [ADDC.Env]; append to it. The pid
// of the started command is name's own (every wrapper execs), so a signal
// to it reaches name.
func (a *ADDC) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	argv := append([]string{"netns", "exec", a.NetNS, "unshare", "--uts", "--", "/bin/sh", "-c", addcExecSetup, "lab-addc-exec", a.Dir, ADDCHost, name}, args...)
	cmd := exec.CommandContext(ctx, "ip", argv...)
	cmd.Env = a.Env()
	cmd.Dir = a.Dir
	return cmd
}

// tool runs name inside the lab and fails the test if it fails.
func (a *ADDC) tool(stdin, name string, args ...string) string {
	t := a.t
	t.Helper()
	out, err := runTool(a.Command(context.Background(), name, args...), stdin)
	if err != nil {
		t.Fatalf("lab: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// smbConf is the provisioned domain's smb.conf.
func (a *ADDC) smbConf() string { return filepath.Join(a.Dir, "samba", "etc", "smb.conf") }

// provision creates the domain in Dir/samba (--targetdir: nothing in
// /var/lib/samba), with every path samba writes in Dir.
func (a *ADDC) provision() {
	t := a.t
	t.Helper()
	d := a.Dir
	out, err := runTool(a.Command(context.Background(), sambaToolBin, "domain", "provision",
		"-s", filepath.Join(d, "etc", "provision-base.conf"),
		"--targetdir="+filepath.Join(d, "samba"),
		"--realm="+ADDCRealm, "--domain="+ADDCDomain, "--server-role=dc",
		"--dns-backend=SAMBA_INTERNAL", "--adminpass="+addcAdmPW, "--use-rfc2307",
		"--host-name="+ADDCHost, "--host-ip="+a.DCIP,
		"--option=interfaces=lo "+a.vethNS, "--option=bind interfaces only=yes",
		"--option=log file="+filepath.Join(d, "log", "samba.%m.log"), "--option=log level=1",
		"--option=pid directory="+filepath.Join(d, "run"),
		"--option=ncalrpc dir="+filepath.Join(d, "run", "ncalrpc"),
		"--option=winbind enum users=yes", "--option=winbind enum groups=yes",
		"--option=template shell=/bin/bash", "--option=template homedir="+filepath.Join(d, "home", "%U"),
		"--option=prefork children=2",
	), "")
	writeFile(t, filepath.Join(d, "log", "provision.log"), []byte(out), 0o644)
	if err != nil {
		t.Fatalf("lab: samba-tool domain provision: %v\n%s", err, tail(out, 40))
	}
	// provision makes the resolv.conf nameserver (the DC itself) the DNS
	// forwarder: a loop, and a way out were there one.
	conf, err := os.ReadFile(a.smbConf())
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	conf = regexp.MustCompile(`(?m)^\s*dns forwarder\s*=.*\n`).ReplaceAll(conf, nil)
	writeFile(t, a.smbConf(), conf, 0o644)
}

// createAccounts creates the users, the group, the service account with
// its SPNs, and exports squid's keytab, offline on sam.ldb.
func (a *ADDC) createAccounts() {
	t := a.t
	t.Helper()
	conf := "--configfile=" + a.smbConf()
	nis := "--nis-domain=" + strings.ToLower(ADDCDomain)
	a.tool("", sambaToolBin, "domain", "passwordsettings", "set", conf, "--max-pwd-age=0")
	a.tool("", sambaToolBin, "group", "add", conf, ADDCGroup, nis, "--gid-number=10000")
	for i, u := range []ADUser{ADDCAlice, ADDCBob} {
		a.tool("", sambaToolBin, "user", "create", conf, u.Name, u.Password, nis,
			"--given-name="+u.Name, "--surname=Lab", "--mail-address="+u.Name+"@"+strings.ToLower(ADDCRealm),
			fmt.Sprintf("--uid-number=%d", 10001+i), "--gid-number=10000",
			"--unix-home="+filepath.Join(a.Dir, "home", u.Name), "--login-shell=/bin/bash")
		if u.InGroup {
			a.tool("", sambaToolBin, "group", "addmembers", conf, ADDCGroup, u.Name)
		}
	}
	// squid's service account; AES keys only (without
	// msDS-SupportedEncryptionTypes, exportkeytab exports only RC4).
	a.tool("", sambaToolBin, "user", "create", conf, "httpsvc", "Svc-"+randomSecret(t)[:24]+"-A1", "--description=HTTP service (squid)")
	a.tool("", sambaToolBin, "user", "setexpiry", conf, "httpsvc", "--noexpiry")
	realmDN := "DC=" + strings.ReplaceAll(strings.ToLower(ADDCRealm), ".", ",DC=")
	ldif := filepath.Join(a.Dir, "etc", "httpsvc-enctypes.ldif")
	writeFile(t, ldif, []byte("dn: CN=httpsvc,CN=Users,"+realmDN+"\nchangetype: modify\nreplace: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: 24\n"), 0o644)
	a.tool("", ldbmodifyBin, "-H", filepath.Join(a.Dir, "samba", "private", "sam.ldb"), ldif)
	// Each prints a note (check_spn_alias_collision: HTTP is an alias of
	// host/, which DC1$ holds); the SPN is added all the same.
	a.tool("", sambaToolBin, "spn", "add", conf, "HTTP/"+ADDCFQDN, "httpsvc")
	a.tool("", sambaToolBin, "spn", "add", conf, "HTTP/"+ADDCHost, "httpsvc")
	a.tool("", sambaToolBin, "domain", "exportkeytab", conf, a.HTTPKeytab, "--principal=HTTP/"+ADDCFQDN)
	if err := os.Chmod(a.HTTPKeytab, 0o600); err != nil {
		t.Fatalf("lab: %v", err)
	}
}

// startSamba starts samba in the foreground and waits until its KDC,
// LDAP, DNS and SMB listen and winbindd reaches the DC.
func (a *ADDC) startSamba(gid int) {
	t := a.t
	t.Helper()
	cmd := a.Command(context.Background(), sambaBin, "--foreground", "--no-process-group", "--configfile="+a.smbConf())
	var err error
	a.samba, err = startPeer(t, "samba", a.Dir, filepath.Join(a.Dir, "log", "samba.out"), cmd.Env, addcSambaGrace, cmd.Args...)
	if err != nil {
		t.Fatalf("lab: starting samba: %v", err)
	}
	deadline := time.Now().Add(addcReadyTimeout)
	for _, port := range []int{88, 389, 53, 445} {
		addr := net.JoinHostPort(a.DCIP, strconv.Itoa(port))
		for {
			if exited(a.samba) {
				t.Fatalf("lab: samba exited during startup: %v\n%s", a.samba.waitErr, a.Logs())
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			c, err := a.DialContext(ctx, "tcp", addr)
			cancel()
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("lab: samba does not listen on %s after %v: %v\n%s", addr, addcReadyTimeout, err, a.Logs())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// winbindd answers, and reaches the DC (NTLM is verified through it).
	for _, args := range [][]string{{"--ping"}, {"--ping-dc"}} {
		for {
			out, err := runTool(a.Command(context.Background(), wbinfoBin, args...), "")
			if err == nil {
				break
			}
			if exited(a.samba) || time.Now().After(deadline) {
				t.Fatalf("lab: wbinfo %s: %v\n%s\n%s", args[0], err, out, a.Logs())
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	// squid runs ntlm_auth as user proxy, and ntlm_auth needs winbindd's
	// privileged pipe; winbindd only insists on owner root and mode 0750,
	// so the group may be proxy's (rather than adding proxy to a group).
	priv := filepath.Join(a.Dir, "samba", "state", "winbindd_privileged")
	for {
		if err := os.Chown(priv, 0, gid); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("lab: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// exited reports whether a peer has exited.
func exited(p *peerProc) bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// startOrigin serves the origin from the test process on DCIP:8080 in the
// namespace.
func (a *ADDC) startOrigin() {
	t := a.t
	t.Helper()
	ln, err := a.Listen("tcp4", net.JoinHostPort(a.DCIP, strconv.Itoa(addcOrigin)))
	if err != nil {
		t.Fatalf("lab: origin: %v", err)
	}
	a.origin = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			if r.URL.Path == "/hello.txt" {
				io.WriteString(w, "hello from the addc lab origin\n")
				return
			}
			fmt.Fprintf(w, "proxy_user=%s\npath=%s\n", r.Header.Get("X-Proxy-User"), r.URL.Path)
		}),
		ReadHeaderTimeout: 30 * time.Second,
	}
	go a.origin.Serve(ln)
}

// startSquid starts squid in the namespace and waits until both ports
// answer.
func (a *ADDC) startSquid(uid, gid int) {
	t := a.t
	t.Helper()
	sq := filepath.Join(a.Dir, "squid")
	kt, err := os.ReadFile(a.HTTPKeytab)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	writeFile(t, filepath.Join(sq, "http.keytab"), kt, 0o400)
	mkdirs(t, sq, "rcache")
	var conf bytes.Buffer
	err = addcSquidTmpl.Execute(&conf, map[string]any{
		"Dir": a.Dir, "Name": a.squidName, "User": squidUnprivUser, "DCIP": a.DCIP, "FQDN": ADDCFQDN, "Realm": ADDCRealm,
		"Port": addcProxy, "GroupPort": addcGroupP, "Group": ADDCGroup, "HelperDir": squidHelperDir, "NTLMAuth": ntlmAuthBin,
		"ProbeURL": regexp.QuoteMeta(readyProbeURL),
	})
	if err != nil {
		t.Fatalf("lab: rendering squid.conf: %v", err)
	}
	writeFile(t, filepath.Join(sq, "squid.conf"), conf.Bytes(), 0o644)
	for _, f := range []string{"cache.log", "access.log"} {
		writeFile(t, filepath.Join(sq, f), nil, 0o644)
	}
	for _, p := range []string{sq, filepath.Join(sq, "rcache"), filepath.Join(sq, "http.keytab"), filepath.Join(sq, "cache.log"), filepath.Join(sq, "access.log")} {
		chown(t, p, uid, gid)
	}
	sweepSquidShm()
	cmd := a.Command(context.Background(), squidBin, "-N", "-n", a.squidName, "-f", filepath.Join(sq, "squid.conf"))
	env := append(cmd.Env, "KRB5RCACHEDIR="+filepath.Join(sq, "rcache"), "KRB5_KTNAME=FILE:"+filepath.Join(sq, "http.keytab"))
	a.squid, err = startPeer(t, "squid", sq, filepath.Join(sq, "stderr.log"), env, squidStopGrace, cmd.Args...)
	if err != nil {
		t.Fatalf("lab: starting squid: %v", err)
	}
	deadline := time.Now().Add(addcSquidReady)
	for _, proxy := range []string{a.ProxyURL, a.GroupProxyURL} {
		client := a.HTTPClient(proxy)
		for {
			if exited(a.squid) {
				t.Fatalf("lab: squid exited during startup: %v\n%s", a.squid.waitErr, a.Logs())
			}
			resp, err := client.Get(readyProbeURL)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Header.Get("Server"), "squid") {
					t.Fatalf("lab: unexpected answer of squid at %s to the readiness probe: %s, Server %q", proxy, resp.Status, resp.Header.Get("Server"))
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("lab: squid at %s not ready after %v: %v\n%s", proxy, addcSquidReady, err, a.Logs())
			}
			time.Sleep(100 * time.Millisecond)
		}
		client.CloseIdleConnections()
	}
}

// inNetNS runs f on an OS thread that has joined the lab's network
// namespace, so that the sockets f creates live there (a socket stays in
// the namespace it was created in). The thread goes back to the test's
// namespace afterwards, or, if it cannot, ends with the goroutine.
func (a *ADDC) inNetNS(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer self.Close()
		target, err := os.Open("/run/netns/" + a.NetNS)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", a.NetNS, err)
			return
		}
		ferr := f()
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		} // else the thread stays locked, and exits with this goroutine
		errc <- ferr
	}()
	return <-errc
}

// resolve maps the DC's names to DCIP (the lab's hosts file); Go code in
// the test process does not see that file.
func (a *ADDC) resolve(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch strings.ToLower(strings.TrimSuffix(host, ".")) {
	case ADDCFQDN, ADDCHost:
		return net.JoinHostPort(a.DCIP, port)
	}
	return addr
}

// DialContext connects from inside the lab's network namespace. Host
// names other than the DC's (dc1.corp.test, dc1) must be IP addresses.
func (a *ADDC) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	addr = a.resolve(addr)
	if host, _, err := net.SplitHostPort(addr); err != nil || net.ParseIP(host) == nil {
		return nil, fmt.Errorf("lab: ADDC.DialContext: %q: want an IP address or the DC's name", addr)
	}
	var c net.Conn
	err := a.inNetNS(func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen listens inside the lab's network namespace (on the DC's address
// or on the namespace's loopback), for an origin or a fake peer of a test.
func (a *ADDC) Listen(network, addr string) (net.Listener, error) {
	var ln net.Listener
	err := a.inNetNS(func() error {
		var err error
		ln, err = net.Listen(network, a.resolve(addr))
		return err
	})
	return ln, err
}

// HTTPClient returns a client whose connections start inside the lab's
// network namespace, through proxy ("" for none), with a 30 s time limit
// per request. It does no authentication itself.
func (a *ADDC) HTTPClient(proxy string) *http.Client {
	tr := &http.Transport{DialContext: a.DialContext, DisableKeepAlives: true}
	if proxy != "" {
		u, err := url.Parse(proxy)
		if err != nil {
			a.t.Fatalf("lab: %v", err)
		}
		tr.Proxy = http.ProxyURL(u)
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// Kinit gets a TGT for user (a name of the lab domain) with password into
// a fresh FILE ccache in a temporary directory of t, running MIT kinit in
// the lab, and returns the ccache's path (KRB5CCNAME=FILE:path).
func (a *ADDC) Kinit(t testing.TB, user, password string) string {
	t.Helper()
	cc := filepath.Join(t.TempDir(), "krb5cc_"+strings.Map(func(r rune) rune {
		if r == '/' || r == '@' || r == '\\' || r == ' ' {
			return '_'
		}
		return r
	}, user))
	cmd := a.Command(context.Background(), kinitBin, "-c", "FILE:"+cc, user+"@"+ADDCRealm)
	cmd.Env = append(cmd.Env, "KRB5CCNAME=FILE:"+cc)
	if out, err := runTool(cmd, password+"\n"); err != nil {
		t.Fatalf("lab: kinit %s@%s: %v\n%s\n%s", user, ADDCRealm, err, out, a.Logs())
	}
	return cc
}

// AccessEntries parses squid's access log (both ports; the format of
// [ParseSquidAccessLog]).
func (a *ADDC) AccessEntries() []SquidAccess {
	data, err := os.ReadFile(filepath.Join(a.Dir, "squid", "access.log"))
	if err != nil {
		a.t.Errorf("lab: %v", err)
		return nil
	}
	entries, err := ParseSquidAccessLog(bytes.NewReader(data))
	if err != nil {
		a.t.Errorf("lab: %v", err)
	}
	return entries
}

// WaitAccessEntry waits up to 10 seconds for an access log entry for which
// match returns true and returns it; it fails t if none appears (squid
// writes an entry after the response went out).
func (a *ADDC) WaitAccessEntry(t testing.TB, match func(SquidAccess) bool) SquidAccess {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, e := range a.AccessEntries() {
			if match(e) {
				return e
			}
		}
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(filepath.Join(a.Dir, "squid", "access.log"))
			t.Fatalf("lab: no matching entry in squid's access log:\n%s", data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Logs returns the ends of samba's, winbindd's and squid's logs, for test
// failure messages.
func (a *ADDC) Logs() string {
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(a.Dir, "log", "samba*"))
	files = append(files, filepath.Join(a.Dir, "squid", "stderr.log"), filepath.Join(a.Dir, "squid", "cache.log"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			fmt.Fprintf(&b, "[lab: reading %s: %v]\n", f, err)
		case len(data) > 0:
			fmt.Fprintf(&b, "--- %s (end) ---\n%s", filepath.Base(f), tail(string(data), 30))
		}
	}
	return b.String()
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}
