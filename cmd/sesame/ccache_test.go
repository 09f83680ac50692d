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

// Single sign-on from each credential cache type MIT kinit writes, to
// Apache's mod_auth_gssapi through `sesame get -u :`.

const ccBobPass = "BobPass-456"

func ccKinit(t *testing.T, krb5conf, ccache, user, password string) {
	t.Helper()
	cmd := exec.Command("/usr/bin/kinit", user)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C", "KRB5_CONFIG=" + krb5conf, "KRB5CCNAME=" + ccache}
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("MIT kinit %s into %s: %v\n%s", user, ccache, err, out)
	}
}

func TestGetNegotiateCCacheTypes(t *testing.T) {
	const pw = "KrbPass-789"
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: pw}, {Name: "bob", Password: ccBobPass}}})
	ap := lab.StartApache(t, lab.ApacheOptions{KerberosKeytab: k.ServiceKeytab, Krb5Conf: k.Krb5Conf})
	url := ap.URL + "/negotiate/"
	get := func(t *testing.T, conf, ccache string, args ...string) (int, string, string) {
		t.Helper()
		return sesame(t, "", map[string]string{"KRB5_CONFIG": conf, "KRB5CCNAME": ccache}, append(append([]string{"get"}, args...), url)...)
	}

	t.Run("KCM", func(t *testing.T) {
		for _, kind := range []lab.KCMKind{lab.SSSDKCM, lab.HeimdalKCM} {
			d := lab.StartKCM(t, kind)
			conf := d.Krb5Conf(t, k.Krb5Conf)
			ccKinit(t, conf, "KCM:", "alice", pw)
			if code, out, errOut := get(t, conf, "KCM:", "-u", ":"); code != 0 || !strings.Contains(out, "user=alice@CORP.TEST") {
				t.Errorf("%s: exit %d\n%s\n%s", kind, code, out, errOut)
			}
			d.Stop()
			code, out, errOut := get(t, conf, "KCM:", "-u", ":")
			if code == 0 || !strings.Contains(errOut, "not running") || strings.Contains(errOut, "credentials were refused") {
				t.Errorf("%s stopped: exit %d, want the daemon named, not a refusal\n%s\n%s", kind, code, out, errOut)
			}
		}
	})
	t.Run("KEYRING:persistent", func(t *testing.T) {
		lab.Require(t, "/usr/bin/keyctl")
		name := "KEYRING:persistent:" + strconv.Itoa(os.Geteuid()) + ":sesame_get"
		ccKinit(t, k.Krb5Conf, name, "alice", pw)
		t.Cleanup(func() { _ = exec.Command("/usr/bin/kdestroy", "-c", name).Run() })
		if code, out, errOut := get(t, k.Krb5Conf, name, "-u", ":"); code != 0 || !strings.Contains(out, "user=alice@CORP.TEST") {
			t.Errorf("exit %d\n%s\n%s", code, out, errOut)
		}
	})
	t.Run("KEYRING:session", func(t *testing.T) {
		lab.Require(t, "/usr/bin/keyctl")
		script := `printf '%s\n' "$PW" | /usr/bin/kinit alice >/dev/null && exec "$TESTBIN" -test.run='^TestSesameGetHelper$' -test.count=1`
		cmd := exec.Command("/usr/bin/keyctl", "session", "-", "/bin/sh", "-c", script)
		cmd.Env = append(os.Environ(), "KRB5_CONFIG="+k.Krb5Conf, "KRB5CCNAME=KEYRING:session:sesame", "PW="+pw,
			"TESTBIN="+os.Args[0], "SESAME_GET_HELPER_URL="+url)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "user=alice@CORP.TEST") {
			t.Errorf("sesame get -u : in a keyctl session: %v\n%s", err, out)
		}
	})
	t.Run("DIR", func(t *testing.T) {
		dir := "DIR:" + filepath.Join(t.TempDir(), "cc")
		ccKinit(t, k.Krb5Conf, dir, "alice", pw)
		ccKinit(t, k.Krb5Conf, dir, "bob", ccBobPass) // a second cache, now the primary
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"-u", ":"}, "bob"},
			{[]string{"-u", "alice@CORP.TEST:"}, "alice"},
			{[]string{"-u", "bob@CORP.TEST:"}, "bob"},
			{[]string{"-u", `CORP\alice:`}, "alice"},
		} {
			if code, out, errOut := get(t, k.Krb5Conf, dir, tc.args...); code != 0 || !strings.Contains(out, "user="+tc.want+"@CORP.TEST") {
				t.Errorf("%v: exit %d, want %s\n%s\n%s", tc.args, code, tc.want, out, errOut)
			}
		}
	})
	t.Run("empty", func(t *testing.T) {
		code, out, errOut := get(t, k.Krb5Conf, "DIR:"+filepath.Join(t.TempDir(), "none"), "--auth", "negotiate")
		if code == 0 || strings.Contains(errOut, "credentials were refused") || !strings.Contains(errOut, "no credentials cache found") {
			t.Errorf("exit %d\n%s\n%s", code, out, errOut)
		}
	})
}

// TestSesameGetHelper runs `sesame get -u :` for TestGetNegotiateCCacheTypes
// in the process keyctl started; on its own it does nothing.
func TestSesameGetHelper(t *testing.T) {
	url := os.Getenv("SESAME_GET_HELPER_URL")
	if url == "" {
		return
	}
	e := &env{stdin: strings.NewReader(""), stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	if code := run(e, []string{"get", "-u", ":", url}); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
