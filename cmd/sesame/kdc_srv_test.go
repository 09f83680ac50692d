//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/internal/lab"
)

// kdcSRVBinEnv carries the sesame binary, built outside, into the
// isolated run of TestKinitFindsKDCThroughDNSSRV.
const kdcSRVBinEnv = "SESAME_TEST_KDC_SRV_BIN"

// TestKinitFindsKDCThroughDNSSRV runs the sesame binary in a network
// namespace of its own (lo only) whose /etc/resolv.conf points at the
// test's DNS server: with a krb5.conf that names no KDC and
// dns_lookup_kdc = true, `sesame kinit alice@CORP.TEST` finds the MIT KDC
// through the _kerberos._udp.CORP.TEST SRV record and stores a TGT that
// MIT's klist reads; for a realm without SRV records it fails naming the
// realm and the missing records.
func TestKinitFindsKDCThroughDNSSRV(t *testing.T) {
	if os.Getenv(kdcSRVBinEnv) == "" {
		t.Setenv(kdcSRVBinEnv, buildSesame(t))
	}
	if !lab.Isolate(t, lab.IsolateOptions{ResolvConf: "nameserver 127.0.0.1\noptions attempts:1 timeout:2\n"}) {
		return
	}
	bin := os.Getenv(kdcSRVBinEnv)
	lab.Require(t, bin, "/usr/bin/klist")
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: "AlicePass123"}}})
	_, port, _ := strings.Cut(k.Addr, ":")
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	d := lab.StartDNS(t, lab.DNSOptions{
		SRV: []lab.SRVRecord{{Name: "_kerberos._udp.CORP.TEST", Target: "kdc.corp.test", Port: uint16(p)}},
		A:   map[string]string{"kdc.corp.test": "127.0.0.1"},
	})
	dir := t.TempDir()
	conf := filepath.Join(dir, "krb5.conf")
	err = os.WriteFile(conf, []byte("[libdefaults]\n    default_realm = CORP.TEST\n    dns_lookup_kdc = true\n    dns_lookup_realm = false\n    rdns = false\n"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cache := "FILE:" + filepath.Join(dir, "cc")
	env := []string{"PATH=/usr/bin:/bin", "LANG=C", "HOME=" + dir, "KRB5_CONFIG=" + conf, "KRB5CCNAME=" + cache}

	cmd := exec.Command(bin, "kinit", "--password-stdin", "alice@CORP.TEST")
	cmd.Env = env
	cmd.Stdin = strings.NewReader("AlicePass123\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sesame kinit: %v\n%s\nDNS queries %v\n%s", err, out, d.Queries(), k.Log())
	}
	if q := strings.Join(d.Queries(), " "); !strings.Contains(q, "_kerberos._udp.CORP.TEST. TypeSRV") {
		t.Errorf("DNS queries: %s", q)
	}
	if !strings.Contains(k.Log(), "AS_REQ") {
		t.Errorf("KDC log has no AS-REQ:\n%s", k.Log())
	}
	cmd = exec.Command("/usr/bin/klist")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Default principal: alice@CORP.TEST") || !strings.Contains(string(out), "krbtgt/CORP.TEST@CORP.TEST") {
		t.Errorf("MIT klist: %v\n%s", err, out)
	}

	cmd = exec.Command(bin, "kinit", "--password-stdin", "alice@NOWHERE.TEST")
	cmd.Env = append(env, "KRB5CCNAME=FILE:"+filepath.Join(dir, "cc2"))
	cmd.Stdin = strings.NewReader("AlicePass123\n")
	out, err = cmd.CombinedOutput()
	want := "no KDC for realm NOWHERE.TEST, and DNS has no SRV records _kerberos._udp.NOWHERE.TEST and _kerberos._tcp.NOWHERE.TEST"
	if err == nil || !strings.Contains(string(out), want) {
		t.Errorf("realm without SRV records: %v\n%s\nwant %q", err, out, want)
	}
	t.Logf("sesame kinit alice@NOWHERE.TEST: %s", out)
}
