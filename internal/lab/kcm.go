package lab

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// KCM daemons (credential caches kept by a daemon, MIT's and Heimdal's
// KCM: type). Both listen on the fixed path
// /var/run/.heim_org.h5l.kcm-socket (Heimdal's kcm ignores -s), so the
// fixture runs each in a mount namespace of its own where /run (and for
// sssd, /var/lib/sss with its configuration and database) is a
// directory of the test: the socket is reachable from outside under
// that directory, and nothing of the system's KCM is touched.
const (
	sssdBin      = "/usr/sbin/sssd"
	sssdKCMBin   = "/usr/libexec/sssd/sssd_kcm"
	heimdalKCM   = "/usr/sbin/kcm"
	unshareBin   = "/usr/bin/unshare"
	kcmSockName  = ".heim_org.h5l.kcm-socket"
	kcmReadyWait = 15 * time.Second
	kcmStopGrace = 2 * time.Second
)

// KCMKind names a KCM daemon.
type KCMKind string

// The KCM daemons StartKCM runs.
const (
	SSSDKCM    KCMKind = "sssd-kcm"
	HeimdalKCM KCMKind = "heimdal-kcm"
)

// KCM is a running KCM daemon private to one test.
type KCM struct {
	Kind KCMKind
	// Socket is the daemon's UNIX socket (krb5.conf kcm_socket).
	Socket string
	// Dir is the instance's directory.
	Dir  string
	proc *peerProc
}

// StartKCM starts sssd_kcm or Heimdal's kcm as root in a private mount
// namespace and waits until its socket accepts connections. It fails
// the test (never skips) when the daemon is not installed or does not
// come up.
func StartKCM(t testing.TB, kind KCMKind) *KCM {
	t.Helper()
	dir := peerDir(t)
	k := &KCM{Kind: kind, Dir: dir}
	mkdirs(t, dir, "run", "logs")
	run := filepath.Join(dir, "run")
	k.Socket = filepath.Join(run, kcmSockName)
	var script string
	switch kind {
	case SSSDKCM:
		Require(t, unshareBin, sssdBin, sssdKCMBin)
		sss := filepath.Join(dir, "sss")
		mkdirs(t, dir, "sss", "sss/db", "sss/secrets", "sss/pipes", "sss/pipes/private", "sss/mc", "sss/pubconf")
		conf := filepath.Join(dir, "sssd.conf")
		writeFile(t, conf, []byte("[sssd]\nservices = kcm\n\n[kcm]\n"), 0o600)
		script = "mount --bind " + run + " /run && mount --bind " + sss + " /var/lib/sss && " +
			sssdBin + " -c " + conf + " --genconf-section=kcm --logger=stderr && exec " +
			sssdKCMBin + " --uid 0 --gid 0 --logger=stderr"
	case HeimdalKCM:
		Require(t, unshareBin, heimdalKCM)
		script = "mount --bind " + run + " /run && exec " + heimdalKCM
	default:
		t.Fatalf("lab: StartKCM: unknown kind %q", kind)
	}
	if strings.ContainsAny(dir, " '\"\\$`") {
		t.Fatalf("lab: temp dir %q cannot go into a shell command line", dir)
	}
	var err error
	k.proc, err = startPeer(t, string(kind), dir, filepath.Join(dir, "logs", "stderr.log"),
		[]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}, kcmStopGrace,
		unshareBin, "--mount", "--propagation", "private", "/bin/sh", "-c", script)
	if err != nil {
		t.Fatalf("lab: starting %s: %v", kind, err)
	}
	deadline := time.Now().Add(kcmReadyWait)
	for {
		c, err := net.DialTimeout("unix", k.Socket, time.Second)
		if err == nil {
			c.Close()
			t.Logf("lab: %s ready at %s", kind, k.Socket)
			return k
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "logs", "stderr.log"))
			t.Fatalf("lab: %s did not come up: %v\n%s", kind, err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the daemon now (also done in t.Cleanup).
func (k *KCM) Stop() { k.proc.stop() }

// Krb5Conf writes a copy of the client configuration at base with
// kcm_socket pointing at the daemon, and returns its path.
func (k *KCM) Krb5Conf(t testing.TB, base string) string {
	t.Helper()
	b, err := os.ReadFile(base)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	b = bytes.Replace(b, []byte("[libdefaults]\n"), []byte("[libdefaults]\n    kcm_socket = "+k.Socket+"\n"), 1)
	p := filepath.Join(k.Dir, "krb5.conf")
	writeFile(t, p, b, 0o644)
	return p
}
