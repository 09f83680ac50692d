//go:build linux

package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
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

// A server that takes alice's Kerberos token but does not prove itself
// (no AP-REP: an impostor in the path) and answers 403 with a body and
// headers of its own. By default `sesame get -u :` fails naming mutual
// authentication and shows nothing of it; with --sanitize-mutual-error
// it shows the 403 alone: no body, none of the impostor's headers.
func TestGetSanitizeMutualError(t *testing.T) {
	const pw = "KrbPass-789"
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: pw}}})
	cc := k.Kinit(t, "alice", pw)
	impostor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Negotiate ") {
			w.Header().Set("WWW-Authenticate", "Negotiate")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Impostor", "yes")
		w.Header().Set("Set-Cookie", "session=impostor")
		w.Header().Set("Location", "http://evil.example/impostor")
		w.Header().Set("WWW-Authenticate", "Basic realm=impostor")
		if r.URL.Path == "/ok" {
			fmt.Fprint(w, "impostor page")
			return
		}
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, "impostor body: please enter your password at evil.example")
	}))
	defer impostor.Close()
	env := map[string]string{"KRB5_CONFIG": k.Krb5Conf, "KRB5CCNAME": "FILE:" + cc}
	code, out, errOut := sesame(t, "", env, "get", "-u", ":", "-i", impostor.URL+"/x")
	if code == 0 || strings.Contains(out, "impostor") || !strings.Contains(strings.ToLower(errOut), "mutual") {
		t.Errorf("default: exit %d, want a failure naming mutual authentication\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = sesame(t, "", env, "get", "-u", ":", "-i", "--sanitize-mutual-error", impostor.URL+"/x")
	if strings.Contains(strings.ToLower(out), "impostor") || !strings.Contains(out, "403") {
		t.Errorf("--sanitize-mutual-error: exit %d, want the 403 alone\n%s\n%s", code, out, errOut)
	}
	t.Logf("sanitized: exit %d\n%s", code, out)
	// Only the status line and Content-Length: 0 are left.
	if head, body, _ := strings.Cut(strings.ReplaceAll(out, "\r\n", "\n"), "\n\n"); body != "" || !strings.HasPrefix(head, "HTTP/1.1 403 Forbidden\n") || strings.Count(head, "\n") != 1 || !strings.Contains(strings.ToLower(head), "content-length: 0") {
		t.Errorf("--sanitize-mutual-error: want the status line and Content-Length: 0 alone, got\n%q", out)
	}
	// A success whose server did not prove itself still fails.
	code, out, errOut = sesame(t, "", env, "get", "-u", ":", "-i", "--sanitize-mutual-error", impostor.URL+"/ok")
	if code == 0 || strings.Contains(strings.ToLower(out), "impostor") || !strings.Contains(strings.ToLower(errOut), "mutual") {
		t.Errorf("--sanitize-mutual-error on a 200: exit %d, want a failure naming mutual authentication\n%s\n%s", code, out, errOut)
	}
	if code, _, _ := sesame(t, "", env, "get", "-u", ":", "--mutual", "optional", "--sanitize-mutual-error", impostor.URL+"/x"); code != 2 {
		t.Errorf("--sanitize-mutual-error with --mutual optional: exit %d, want 2", code)
	}
}
