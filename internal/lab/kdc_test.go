package lab

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// These tests check the KDC fixture: a realm whose users need the right
// password (and pre-authentication), with working service principals, and
// nothing left running afterwards.

var kdcUsers = []KerberosUser{
	{Name: "alice", Password: "AlicePass123"},
	// Blanks, quotes and backslashes reach kadmin.local and kinit intact.
	{Name: "bob", Password: `Bob "Pass" 4\56`},
}

// krbRun runs a MIT client tool with env and returns its combined output.
func krbRun(t *testing.T, env []string, stdin string, argv ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestKDC(t *testing.T) {
	Require(t, klistBin, kvnoBin)
	k := StartKDC(t, KDCOptions{Users: kdcUsers, Services: []string{"HTTP/web.corp.test"}})

	if conf, err := os.ReadFile(k.Krb5Conf); err != nil {
		t.Fatal(err)
	} else {
		for _, w := range []string{"rdns = false", "dns_canonicalize_hostname = false", "dns_lookup_kdc = false",
			"kdc = " + k.Addr, "127.0.0.1 = CORP.TEST", "localhost = CORP.TEST"} {
			if !strings.Contains(string(conf), w) {
				t.Errorf("krb5.conf lacks %q", w)
			}
		}
	}
	for _, e := range k.Env() {
		if strings.HasPrefix(e, "KRB5_CONFIG=") && e != "KRB5_CONFIG="+k.Krb5Conf {
			t.Errorf("Env: %s", e)
		}
	}

	t.Run("loopback only", func(t *testing.T) {
		addrs, out := listeningSockets(t, k.proc.pgid())
		for _, a := range addrs {
			if a != k.Addr {
				t.Errorf("krb5kdc listens beyond %s: %s", k.Addr, a)
			}
		}
		if len(addrs) != 2 {
			t.Fatalf("want 2 sockets (udp+tcp) of krb5kdc pid %d, found %d in:\n%s", k.proc.pgid(), len(addrs), out)
		}
	})

	for _, u := range kdcUsers {
		t.Run("kinit "+u.Name, func(t *testing.T) {
			cc := k.Kinit(t, u.Name, u.Password)
			if fi, err := os.Stat(cc); err != nil || fi.Size() == 0 {
				t.Fatalf("ccache %s: %v", cc, err)
			}
			env := append(k.Env(), "KRB5CCNAME=FILE:"+cc)
			out, err := krbRun(t, env, "", klistBin)
			if err != nil || !strings.Contains(out, "Default principal: "+u.Name+"@CORP.TEST") ||
				!strings.Contains(out, "krbtgt/CORP.TEST@CORP.TEST") {
				t.Fatalf("klist: %v\n%s", err, out)
			}
			// Service tickets for the default principals and the extra one.
			out, err = krbRun(t, env, "", kvnoBin, "HTTP/localhost", "HTTP/127.0.0.1", "HTTP/web.corp.test")
			if err != nil || strings.Count(out, "kvno = ") != 3 {
				t.Fatalf("kvno: %v\n%s\n%s", err, out, k.Log())
			}
			out, _ = krbRun(t, env, "", klistBin, "-e")
			if !strings.Contains(out, "HTTP/localhost@CORP.TEST") || !strings.Contains(out, "aes256-cts-hmac-sha1-96") {
				t.Fatalf("klist -e after kvno lacks HTTP/localhost with aes256-cts-hmac-sha1-96:\n%s", out)
			}
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		cc, out, err := k.TryKinit("alice", "wrong")
		if err == nil {
			t.Fatalf("kinit with a wrong password succeeded:\n%s", out)
		}
		if !strings.Contains(out, "Password incorrect") {
			t.Errorf("kinit output: %s", out)
		}
		if fi, err := os.Stat(cc); err == nil && fi.Size() > 0 {
			t.Errorf("failed kinit left a ccache %s", cc)
		}
	})

	t.Run("unknown user", func(t *testing.T) {
		if _, out, err := k.TryKinit("mallory", "x"); err == nil || !strings.Contains(out, "not found") {
			t.Fatalf("kinit mallory: %v\n%s", err, out)
		}
	})

	// requires_preauth: the KDC must demand an encrypted timestamp rather
	// than hand a TGT (encrypted in the user's key: offline-crackable) to
	// anyone. kinit copes transparently, so check the KDC's log.
	t.Run("preauth required", func(t *testing.T) {
		if log := k.Log(); !strings.Contains(log, "NEEDED_PREAUTH: alice@CORP.TEST") {
			t.Fatalf("KDC did not ask alice for pre-authentication:\n%s", log)
		}
	})

	t.Run("service keytab", func(t *testing.T) {
		out, err := krbRun(t, k.Env(), "", klistBin, "-k", "-e", k.ServiceKeytab)
		if err != nil {
			t.Fatalf("klist -k: %v\n%s", err, out)
		}
		for _, p := range []string{"HTTP/localhost@CORP.TEST", "HTTP/127.0.0.1@CORP.TEST", "HTTP/web.corp.test@CORP.TEST"} {
			if !strings.Contains(out, p+" (aes256-cts-hmac-sha1-96)") || !strings.Contains(out, p+" (aes128-cts-hmac-sha1-96)") {
				t.Errorf("service keytab lacks %s aes256/aes128:\n%s", p, out)
			}
		}
		if strings.Contains(out, "arcfour") || strings.Contains(out, "des") {
			t.Errorf("service keytab has weak enctypes:\n%s", out)
		}
	})

	t.Run("user keytab", func(t *testing.T) {
		kt := k.UserKeytab(t, "alice")
		cc := k.Dir + "/ccache-kt"
		env := append(k.Env(), "KRB5CCNAME=FILE:"+cc)
		if out, err := krbRun(t, env, "", kinitBin, "-k", "-t", kt, "alice@CORP.TEST"); err != nil {
			t.Fatalf("kinit -kt: %v\n%s", err, out)
		}
		// -norandkey: the password still works afterwards.
		k.Kinit(t, "alice", "AlicePass123")
	})

	t.Run("no /etc/krb5.conf", func(t *testing.T) {
		// /etc/krb5.conf (from the krb5-config package) names another
		// realm and KDC; the trace shows kinit sending to ours.
		env := append(k.Env(), "KRB5_TRACE=/dev/stdout", "KRB5CCNAME=FILE:"+k.Dir+"/ccache-trace")
		out, err := krbRun(t, env, "AlicePass123\n", kinitBin, "alice")
		if err != nil || !strings.Contains(out, k.Addr) {
			t.Fatalf("kinit trace does not show %s: %v\n%s", k.Addr, err, out)
		}
	})
}

// TestKDCStopLeavesNothing checks the cleanup: after stop no process of the
// instance runs and its port is closed.
func TestKDCStopLeavesNothing(t *testing.T) {
	Require(t, "pgrep")
	k := StartKDC(t, KDCOptions{Realm: "EXAMPLE.ORG", Users: kdcUsers[:1]})
	k.Kinit(t, "alice", "AlicePass123")
	pgid := k.proc.pgid()
	if len(groupMembers(pgid)) == 0 {
		t.Fatalf("krb5kdc (group %d) is not running", pgid)
	}
	begin := time.Now()
	k.proc.stop()
	t.Logf("stop took %v", time.Since(begin).Round(time.Millisecond))
	if left := groupMembers(pgid); len(left) > 0 {
		t.Fatalf("processes left in group %d: %v", pgid, left)
	}
	if out, err := exec.Command("pgrep", "-af", k.Dir).Output(); err == nil {
		t.Fatalf("processes still mention %s:\n%s", k.Dir, out)
	}
	if c, err := net.DialTimeout("tcp", k.Addr, 2*time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after stop", k.Addr)
	}
}
