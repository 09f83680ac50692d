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

	"github.com/sesame-auth/sesame/internal/lab"
)

// srvKrb5Conf is a krb5.conf that names no KDC: they come from DNS.
const srvKrb5Conf = `[libdefaults]
    default_realm = CORP.TEST
    dns_lookup_kdc = true
    dns_lookup_realm = false
    rdns = false
    dns_canonicalize_hostname = false

[domain_realm]
    localhost = CORP.TEST
`

// TestKDCThroughDNSSRV runs in a network namespace of its own (lo only)
// whose /etc/resolv.conf points at a DNS server of the test: with a
// krb5.conf that names no KDC and dns_lookup_kdc = true, the Client
// finds the MIT KDC through _kerberos._udp.CORP.TEST (target
// kdc.corp.test, an A record of the same server) and logs in, as MIT's
// kinit does with the same krb5.conf; for a realm without SRV records
// the error names the realm and the records DNS did not have.
func TestKDCThroughDNSSRV(t *testing.T) {
	if !lab.Isolate(t, lab.IsolateOptions{ResolvConf: "nameserver 127.0.0.1\noptions attempts:1 timeout:2\n"}) {
		return
	}
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: alicePass}}})
	_, port, _ := strings.Cut(k.Addr, ":")
	p, _ := strconv.Atoi(port)
	d := lab.StartDNS(t, lab.DNSOptions{
		SRV: []lab.SRVRecord{
			{Name: "_kerberos._udp.CORP.TEST", Target: "kdc.corp.test", Port: uint16(p)},
			{Name: "_kerberos._tcp.CORP.TEST", Target: "kdc.corp.test", Port: uint16(p)},
		},
		A: map[string]string{"kdc.corp.test": "127.0.0.1"},
	})
	conf := filepath.Join(t.TempDir(), "krb5.conf")
	if err := os.WriteFile(conf, []byte(srvKrb5Conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(conf)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.LibDefaults.DNSLookupKDC || len(cfg.Realms) != 0 {
		t.Fatalf("krb5.conf: dns_lookup_kdc %v, realms %v", cfg.LibDefaults.DNSLookupKDC, cfg.Realms)
	}

	c, err := NewWithPassword("alice@CORP.TEST", alicePass, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cc, err := c.LoginContents(context.Background())
	if err != nil {
		t.Fatalf("login through SRV records: %v\nDNS queries %v\n%s", err, d.Queries(), k.Log())
	}
	if cc.Principal.String() != "alice@CORP.TEST" {
		t.Errorf("principal %v", cc.Principal)
	}
	if _, err := c.InitContext(context.Background(), "HTTP/localhost", ContextOptions{}); err != nil {
		t.Fatalf("service ticket through SRV records: %v", err)
	}
	if !strings.Contains(k.Log(), "AS_REQ") || !strings.Contains(k.Log(), "for HTTP/localhost@CORP.TEST") {
		t.Errorf("KDC log:\n%s", k.Log())
	}
	if q := strings.Join(d.Queries(), "\n"); !strings.Contains(q, "_kerberos._udp.CORP.TEST. TypeSRV") {
		t.Errorf("DNS queries:\n%s", q)
	}
	t.Logf("DNS queries of sesame's client: %v", d.Queries())

	// MIT's kinit, same krb5.conf, same DNS: the records are right.
	cmd := exec.Command("kinit", "-c", "FILE:"+filepath.Join(t.TempDir(), "cc"), "alice@CORP.TEST")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "KRB5_CONFIG=" + conf, "KRB5_TRACE=/dev/stderr"}
	cmd.Stdin = strings.NewReader(alicePass + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("MIT kinit through SRV records: %v\n%s", err, out)
	} else if !strings.Contains(string(out), "127.0.0.1:"+port) {
		t.Errorf("MIT kinit's trace names no request to the KDC at 127.0.0.1:%s:\n%s", port, out)
	}

	// A realm without SRV records and without kdc in krb5.conf.
	o, err := NewWithPassword("alice@NOWHERE.TEST", alicePass, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	_, err = o.LoginContents(context.Background())
	want := "names no KDC for realm NOWHERE.TEST, and DNS has no SRV records _kerberos._udp.NOWHERE.TEST and _kerberos._tcp.NOWHERE.TEST"
	if !errors.Is(err, ErrNoKDC) || !errors.Is(err, ErrKDC) || !strings.Contains(err.Error(), want) {
		t.Fatalf("realm without SRV records: %v\nwant %q", err, want)
	}
	t.Logf("error: %v", err)
}
