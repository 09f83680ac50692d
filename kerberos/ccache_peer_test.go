package kerberos

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// These tests put tickets in each cache type with MIT kinit and read them
// with this package (and the other way round), against a real MIT KDC
// and real KCM daemons (sssd-kcm, Heimdal kcm) started by the test.

// mitKinit runs MIT kinit for user into ccache with the given krb5.conf.
func mitKinit(t *testing.T, k *lab.KDC, krb5conf, ccache, user, password string) {
	t.Helper()
	// No -c: with the name only in KRB5CCNAME, kinit of a second
	// principal into a collection makes a new cache, as users see it.
	cmd := exec.Command("/usr/bin/kinit", user+"@"+k.Realm)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C", "KRB5_CONFIG=" + krb5conf, "KRB5CCNAME=" + ccache}
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("MIT kinit %s into %s: %v\n%s", user, ccache, err, out)
	}
}

// mitKlist runs MIT klist on ccache and returns its output.
func mitKlist(t *testing.T, krb5conf, ccache string, args ...string) string {
	t.Helper()
	cmd := exec.Command("/usr/bin/klist", append(args, ccache)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C", "KRB5_CONFIG=" + krb5conf}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("MIT klist %s: %v\n%s", ccache, err, out)
	}
	return string(out)
}

// serviceTicketFrom gets a service ticket for HTTP/localhost through a
// Client on ccache and checks that the service keytab accepts it.
func serviceTicketFrom(t *testing.T, k *lab.KDC, cfg *Config, ccache, wantPrincipal string) {
	t.Helper()
	c, err := NewFromCCache(ccache, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	x, err := c.InitContext(context.Background(), "HTTP/localhost", ContextOptions{})
	if err != nil {
		t.Fatalf("%s: %v", ccache, err)
	}
	if x.Principal() != wantPrincipal {
		t.Errorf("%s: principal %s, want %s", ccache, x.Principal(), wantPrincipal)
	}
	acceptAPReq(t, k, x.Token())
}

// storeLogin logs in with a password in Go and stores the TGT in ccache.
func storeLogin(t *testing.T, cfg *Config, ccache, user, password string) {
	t.Helper()
	c, err := NewWithPassword(user, password, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cc, err := c.LoginContents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	col, err := ResolveCCache(ccache, cfg)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := col.Primary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.Store(context.Background(), cc); err != nil {
		t.Fatal(err)
	}
}

func TestCCacheKCM(t *testing.T) {
	k, _ := startKDC(t)
	for _, kind := range []lab.KCMKind{lab.SSSDKCM, lab.HeimdalKCM} {
		t.Run(string(kind), func(t *testing.T) {
			d := lab.StartKCM(t, kind)
			conf := d.Krb5Conf(t, k.Krb5Conf)
			cfg, err := LoadConfig(conf)
			if err != nil {
				t.Fatal(err)
			}
			// MIT kinit into the daemon's default cache; this package reads it.
			mitKinit(t, k, conf, "KCM:", "alice", alicePass)
			serviceTicketFrom(t, k, cfg, "KCM:", "alice@CORP.TEST")

			// This package writes a new cache; MIT klist reads it.
			col, _ := ResolveCCache("KCM:", cfg)
			nc, err := col.New(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			storeLogin(t, cfg, nc.Name(), "bob", "BobPass456")
			out := mitKlist(t, conf, nc.Name())
			if !strings.Contains(out, "Default principal: bob@CORP.TEST") || !strings.Contains(out, "krbtgt/CORP.TEST@CORP.TEST") {
				t.Errorf("MIT klist of %s:\n%s", nc.Name(), out)
			}
			if err := col.SetPrimary(context.Background(), nc); err != nil {
				t.Fatal(err)
			}
			out = mitKlist(t, conf, "KCM:", "-l")
			if !strings.Contains(out, "bob@CORP.TEST") || !strings.Contains(out, "alice@CORP.TEST") {
				t.Errorf("MIT klist -l:\n%s", out)
			}
			serviceTicketFrom(t, k, cfg, "KCM:", "bob@CORP.TEST")
			ca, err := NewFromCCacheAs("KCM:", "alice@CORP.TEST", cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ca.InitContext(context.Background(), "HTTP/localhost", ContextOptions{}); err != nil {
				t.Errorf("alice from the non-primary KCM cache: %v", err)
			}
		})
	}
}

func TestCCacheKCMDaemonNotRunning(t *testing.T) {
	cfg, err := ParseConfig([]byte("[libdefaults]\n default_realm = CORP.TEST\n kcm_socket = " + filepath.Join(t.TempDir(), "none") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewFromCCache("KCM:", cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.InitContext(context.Background(), "HTTP/localhost", ContextOptions{})
	if !errors.Is(err, ErrCacheDaemon) || !strings.Contains(err.Error(), "not running") {
		t.Fatalf("got %v, want ErrCacheDaemon", err)
	}
}

func TestCCacheKeyringPersistent(t *testing.T) {
	lab.Require(t, "/usr/bin/keyctl")
	k, cfg := startKDC(t)
	name := "KEYRING:persistent:" + strconv.Itoa(os.Geteuid()) + ":sesame_" + randomName(6)
	mitKinit(t, k, k.Krb5Conf, name, "alice", alicePass)
	col, _ := ResolveCCache(name, cfg)
	c, _ := col.Primary(context.Background())
	t.Cleanup(func() { _ = c.Destroy(context.Background()) })
	serviceTicketFrom(t, k, cfg, name, "alice@CORP.TEST")

	// Written by this package, read by MIT klist.
	name2 := "KEYRING:persistent:" + strconv.Itoa(os.Geteuid()) + ":sesame_" + randomName(6)
	storeLogin(t, cfg, name2, "bob", "BobPass456")
	col2, _ := ResolveCCache(name2, cfg)
	c2, _ := col2.Primary(context.Background())
	t.Cleanup(func() { _ = c2.Destroy(context.Background()) })
	if out := mitKlist(t, k.Krb5Conf, name2); !strings.Contains(out, "Default principal: bob@CORP.TEST") {
		t.Errorf("MIT klist %s:\n%s", name2, out)
	}
}

// TestCCacheKeyringSession runs MIT kinit and this package (through the
// test binary itself) inside a new session keyring made by keyctl.
func TestCCacheKeyringSession(t *testing.T) {
	if os.Getenv("SESAME_KEYRING_HELPER") == "1" {
		return // the helper's run of this test; see TestKeyringSessionHelper
	}
	lab.Require(t, "/usr/bin/keyctl")
	k, _ := startKDC(t)
	script := `printf '%s\n' "$PW" | /usr/bin/kinit -c KEYRING:session:sesame alice@CORP.TEST >/dev/null && exec "$TESTBIN" -test.run='^TestKeyringSessionHelper$' -test.count=1`
	cmd := exec.Command("/usr/bin/keyctl", "session", "-", "/bin/sh", "-c", script)
	cmd.Env = append(os.Environ(), "KRB5_CONFIG="+k.Krb5Conf, "PW="+alicePass, "TESTBIN="+os.Args[0],
		"SESAME_KEYRING_HELPER=1", "SESAME_KEYTAB="+k.ServiceKeytab)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "helper: ok alice@CORP.TEST") {
		t.Fatalf("keyring session helper: %v\n%s", err, out)
	}
}

// TestKeyringSessionHelper is run by TestCCacheKeyringSession in a new
// session keyring; on its own it does nothing.
func TestKeyringSessionHelper(t *testing.T) {
	if os.Getenv("SESAME_KEYRING_HELPER") != "1" {
		return
	}
	cfg, err := LoadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewFromCCache("KEYRING:session:sesame", cfg)
	if err != nil {
		t.Fatal(err)
	}
	x, err := c.InitContext(context.Background(), "HTTP/localhost", ContextOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kt, err := LoadKeytab(os.Getenv("SESAME_KEYTAB"))
	if err != nil {
		t.Fatal(err)
	}
	a := &Acceptor{Keytab: kt}
	res, err := a.Accept(context.Background(), x.Token(), nil)
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("helper: ok " + res.Principal + "\n")
}

func TestCCacheDIRCollection(t *testing.T) {
	k, cfg := startKDC(t)
	dir := filepath.Join(t.TempDir(), "cc")
	mitKinit(t, k, k.Krb5Conf, "DIR:"+dir, "alice", alicePass)
	mitKinit(t, k, k.Krb5Conf, "DIR:"+dir, "bob", "BobPass456") // a second cache, now primary
	serviceTicketFrom(t, k, cfg, "DIR:"+dir, "bob@CORP.TEST")
	col, _ := ResolveCCache("DIR:"+dir, cfg)
	c, cc, err := FindCCache(context.Background(), col, "alice@CORP.TEST")
	if err != nil || cc.Principal.String() != "alice@CORP.TEST" {
		t.Fatalf("FindCCache alice: %v %v", c, err)
	}
	if _, _, err := FindCCache(context.Background(), col, "carol"); !errors.Is(err, ErrCacheEmpty) {
		t.Errorf("carol: %v", err)
	}
	ca, _ := NewFromCCacheAs("DIR:"+dir, "alice@CORP.TEST", cfg)
	x, err := ca.InitContext(context.Background(), "HTTP/localhost", ContextOptions{})
	if err != nil || x.Principal() != "alice@CORP.TEST" {
		t.Fatalf("alice from a non-primary DIR cache: %v", err)
	}
	// Written by this package into the collection: MIT klist -l lists it.
	nc, err := col.New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	storeLogin(t, cfg, nc.Name(), "alice", alicePass)
	if out := mitKlist(t, k.Krb5Conf, nc.Name()); !strings.Contains(out, "Default principal: alice@CORP.TEST") {
		t.Errorf("MIT klist %s:\n%s", nc.Name(), out)
	}
}

func TestCCacheErrors(t *testing.T) {
	k, cfg := startKDC(t)
	dir := t.TempDir()
	// Empty: a cache with a principal and no ticket.
	empty := "FILE:" + filepath.Join(dir, "empty")
	col, _ := ResolveCCache(empty, cfg)
	c, _ := col.Primary(context.Background())
	if err := c.Store(context.Background(), &CCacheContents{Principal: CCPrincipal{NameType: 1, Components: []string{"alice"}, Realm: "CORP.TEST"}}); err != nil {
		t.Fatal(err)
	}
	cl, _ := NewFromCCache(empty, cfg)
	if _, err := cl.InitContext(context.Background(), "HTTP/localhost", ContextOptions{}); !errors.Is(err, ErrCacheEmpty) {
		t.Errorf("empty cache: %v", err)
	}
	// Missing.
	cl, _ = NewFromCCache("DIR:"+filepath.Join(dir, "nodir"), cfg)
	if _, err := cl.InitContext(context.Background(), "HTTP/localhost", ContextOptions{}); !errors.Is(err, ErrCacheEmpty) {
		t.Errorf("missing cache: %v", err)
	}
	// Expired: a real TGT with its end time moved into the past.
	real := k.Kinit(t, "alice", alicePass)
	b, _ := os.ReadFile(real)
	cc, err := ParseFileCCache(b)
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, cr := range cc.Credentials {
		cr.EndTime = end
	}
	expired := filepath.Join(dir, "expired")
	if err := os.WriteFile(expired, MarshalFileCCache(cc), 0o600); err != nil {
		t.Fatal(err)
	}
	cl, _ = NewFromCCache(expired, cfg)
	_, err = cl.InitContext(context.Background(), "HTTP/localhost", ContextOptions{})
	if !errors.Is(err, ErrTicketExpired) || !strings.Contains(err.Error(), end.Local().Format("2006-01-02 15:04:05")) {
		t.Errorf("expired: %v", err)
	}
	// Unsupported type.
	if _, err := NewFromCCache("API:x", cfg); !errors.Is(err, ErrCacheUnsupported) {
		t.Errorf("API: %v", err)
	}
}

// TestFileCCacheRoundTrip reads MIT kinit's file and writes it back
// byte for byte.
func TestFileCCacheRoundTrip(t *testing.T) {
	k, _ := startKDC(t)
	b, err := os.ReadFile(k.Kinit(t, "alice", alicePass))
	if err != nil {
		t.Fatal(err)
	}
	cc, err := ParseFileCCache(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := MarshalFileCCache(cc); string(got) != string(b) {
		t.Errorf("re-encoded cache differs:\n%x\n%x", got, b)
	}
}
