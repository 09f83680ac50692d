//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// httpx-gssapi's options on `sesame get`, against Apache's
// mod_auth_gssapi: --principal picks a cache of a DIR: collection,
// --mutual and --mech kerberos|spnego|OID work, --opportunistic sends the
// token before any 401 (Apache's access log shows no 401), bad values
// are usage errors.
func TestGetGSSOptions(t *testing.T) {
	const pw = "KrbPass-789"
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: pw}, {Name: "bob", Password: ccBobPass}}})
	ap := lab.StartApache(t, lab.ApacheOptions{KerberosKeytab: k.ServiceKeytab, Krb5Conf: k.Krb5Conf})
	dir := "DIR:" + filepath.Join(t.TempDir(), "cc")
	ccKinit(t, k.Krb5Conf, dir, "alice", pw)
	ccKinit(t, k.Krb5Conf, dir, "bob", ccBobPass) // primary now
	env := map[string]string{"KRB5_CONFIG": k.Krb5Conf, "KRB5CCNAME": dir}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-u", ":"}, "bob"},
		{[]string{"-u", ":", "--principal", "alice@CORP.TEST"}, "alice"},
		{[]string{"-u", ":", "--principal", "bob@CORP.TEST", "--mutual", "required"}, "bob"},
		{[]string{"-u", ":", "--mutual", "optional"}, "bob"},
		{[]string{"-u", ":", "--mutual", "disabled"}, "bob"},
		{[]string{"-u", ":", "--mech", "spnego", "--principal", "alice@CORP.TEST"}, "alice"},
		{[]string{"-u", ":", "--mech", "kerberos"}, "bob"},
		{[]string{"-u", ":", "--mech", "1.2.840.113554.1.2.2"}, "bob"},
		{[]string{"-u", ":", "--opportunistic", "--principal", "alice@CORP.TEST"}, "alice"},
	} {
		code, out, errOut := sesame(t, "", env, append(append([]string{"get"}, tc.args...), ap.URL+"/negotiate/")...)
		if code != 0 || !strings.Contains(out, "user="+tc.want+"@CORP.TEST") {
			t.Errorf("%v: exit %d, want %s\n%s\n%s", tc.args, code, tc.want, out, errOut)
		}
	}
	// Opportunistic: no 401 for the request at all.
	if code, out, errOut := sesame(t, "", env, "get", "-u", ":", "--opportunistic", ap.URL+"/negotiate/?opportunistic"); code != 0 || !strings.Contains(out, "user=bob@CORP.TEST") {
		t.Fatalf("--opportunistic: exit %d\n%s\n%s", code, out, errOut)
	}
	// Apache writes the line after the response: wait for it.
	var access []byte
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(string(access), "?opportunistic") && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		access, _ = os.ReadFile(filepath.Join(ap.Dir, "logs", "access.log"))
	}
	for _, l := range strings.Split(string(access), "\n") {
		if strings.Contains(l, "?opportunistic") && strings.Contains(l, "\" 401 ") {
			t.Errorf("--opportunistic still got a 401 first:\n%s", access)
		}
	}
	if !strings.Contains(string(access), "?opportunistic") {
		t.Errorf("no request in Apache's access log:\n%s", access)
	}
	code, _, errOut := sesame(t, "", env, "get", "-u", ":", "--principal", "carol@CORP.TEST", ap.URL+"/negotiate/")
	if code == 0 || !strings.Contains(errOut, "carol@CORP.TEST") {
		t.Errorf("--principal of no cache: exit %d %s", code, errOut)
	}
	for _, args := range [][]string{{"--mutual", "sometimes"}, {"--mech", "1.2.3"}, {"--principal", "alice"}} {
		if code, _, errOut := sesame(t, "", env, append(append([]string{"get", "-u", ":"}, args...), ap.URL+"/negotiate/")...); code != 2 {
			t.Errorf("%v: exit %d, want a usage error (2)\n%s", args, code, errOut)
		}
	}
}
