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

// `sesame kinit` writes each cache type; MIT klist and curl --negotiate
// (libcurl with MIT GSS-API) use what it wrote, and `sesame klist` reads
// it back.
func TestKinitCacheTypesUsedByMIT(t *testing.T) {
	const pw = "KrbPass-789"
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: pw}, {Name: "bob", Password: ccBobPass}}})
	ap := lab.StartApache(t, lab.ApacheOptions{KerberosKeytab: k.ServiceKeytab, Krb5Conf: k.Krb5Conf})
	d := lab.StartKCM(t, lab.SSSDKCM)
	kcmConf := d.Krb5Conf(t, k.Krb5Conf)
	persistent := "KEYRING:persistent:" + strconv.Itoa(os.Geteuid()) + ":sesame_kinit"
	t.Cleanup(func() { _ = exec.Command("/usr/bin/kdestroy", "-c", persistent).Run() })
	for _, tc := range []struct{ conf, cache string }{
		{k.Krb5Conf, "FILE:" + filepath.Join(t.TempDir(), "cc")},
		{k.Krb5Conf, "DIR:" + filepath.Join(t.TempDir(), "dir")},
		{kcmConf, "KCM:"},
		{k.Krb5Conf, persistent},
	} {
		env := map[string]string{"KRB5_CONFIG": tc.conf, "KRB5CCNAME": tc.cache, "PW": pw}
		if code, out, errOut := sesame(t, "", env, "kinit", "--password-env", "PW", "alice"); code != 0 {
			t.Errorf("%s: sesame kinit: exit %d\n%s\n%s", tc.cache, code, out, errOut)
			continue
		}
		menv := []string{"PATH=/usr/bin:/bin", "LANG=C", "KRB5_CONFIG=" + tc.conf, "KRB5CCNAME=" + tc.cache}
		cmd := exec.Command("/usr/bin/klist")
		cmd.Env = menv
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Default principal: alice@CORP.TEST") || !strings.Contains(string(out), "krbtgt/CORP.TEST@CORP.TEST") {
			t.Errorf("%s: MIT klist: %v\n%s", tc.cache, err, out)
		}
		cmd = exec.Command("/usr/bin/curl", "-sS", "--negotiate", "-u", ":", ap.URL+"/negotiate/")
		cmd.Env = menv
		out, err = cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "user=alice@CORP.TEST") {
			t.Errorf("%s: curl --negotiate: %v\n%s", tc.cache, err, out)
		}
		code, sout, errOut := sesame(t, "", env, "klist")
		if code != 0 || !strings.Contains(sout, "Default principal: alice@CORP.TEST") || !strings.Contains(sout, "krbtgt/CORP.TEST@CORP.TEST") {
			t.Errorf("%s: sesame klist: exit %d\n%s\n%s", tc.cache, code, sout, errOut)
		}
	}
	// A second principal into a DIR collection: a new cache, now the
	// primary; klist -l lists both.
	dir := "DIR:" + filepath.Join(t.TempDir(), "two")
	env := map[string]string{"KRB5_CONFIG": k.Krb5Conf, "KRB5CCNAME": dir, "PW": pw, "BPW": ccBobPass}
	sesame(t, "", env, "kinit", "--password-env", "PW", "alice")
	if code, out, errOut := sesame(t, "", env, "kinit", "--password-env", "BPW", "bob"); code != 0 {
		t.Fatalf("kinit bob: %d %s %s", code, out, errOut)
	}
	cmd := exec.Command("/usr/bin/klist", "-l")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C", "KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=" + dir}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "alice@CORP.TEST") || !strings.Contains(string(out), "bob@CORP.TEST") {
		t.Errorf("MIT klist -l: %v\n%s", err, out)
	}
	if _, sout, _ := sesame(t, "", env, "klist"); !strings.Contains(sout, "Default principal: bob@CORP.TEST") {
		t.Errorf("primary after kinit bob:\n%s", sout)
	}
	if code, _, errOut := sesame(t, "", map[string]string{"KRB5_CONFIG": k.Krb5Conf, "PW": "wrong"}, "kinit", "-c", dir, "--password-env", "PW", "alice"); code == 0 || strings.Contains(errOut, "wrong") {
		t.Errorf("wrong password: exit %d\n%s", code, errOut)
	}
}
