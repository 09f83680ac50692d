package lab

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// debPackages maps what a test needs (a command, an absolute path or a
// Python module written "python3:MODULE") to the Debian package that
// provides it, so that a failure can say exactly what to install. Keep in
// step with PKGS in scripts/install-test-deps.sh.
var debPackages = map[string]string{
	"apache2":                  "apache2",
	"/usr/sbin/apache2":        "apache2",
	"htpasswd":                 "apache2-utils",
	"htdigest":                 "apache2-utils",
	modAuthGSSAPI:              "libapache2-mod-auth-gssapi",
	gssNTLMSSPMechConf:         "gss-ntlmssp",
	"curl":                     "curl",
	"python3":                  "python3",
	"/usr/bin/python3":         "python3",
	"python3:gssapi":           "python3-gssapi",
	"python3:requests":         "python3-requests",
	"python3:requests_ntlm":    "python3-requests-ntlm",
	"openssl":                  "openssl",
	"pgrep":                    "procps",
	"ps":                       "procps",
	"ss":                       "iproute2",
	krb5kdcBin:                 "krb5-kdc",
	kdb5UtilBin:                "krb5-kdc",
	kadminLocalBin:             "krb5-admin-server",
	kinitBin:                   "krb5-user",
	klistBin:                   "krb5-user",
	kvnoBin:                    "krb5-user",
	squidBin:                   "squid",
	basicNCSAAuth:              "squid",
	digestFileAuth:             "squid",
	negotiateKrb5:              "squid",
	cntlmBin:                   "cntlm",
	"git":                      "git",
	"faketime":                 "faketime",
	"unshare":                  "util-linux",
	"python3:pacparser":        "python3-pacparser",
	"python3:pip":              "python3-pip",
	"ip":                       "iproute2",
	"mount":                    "mount",
	chromiumBin:                "chromium",
	dbusDaemonBin:              "dbus-daemon",
	gnomeKeyringBin:            "gnome-keyring",
	secretToolBin:              "libsecret-tools",
	"/usr/lib/wine/wine64":     "wine64", // wineBin (wine.go is Linux-only)
	"/usr/lib/wine/wineserver": "wine64",
}

// sbinDirs are searched after $PATH: Debian installs daemons (apache2) in
// /usr/sbin, which is not on a non-root user's PATH.
var sbinDirs = []string{"/usr/sbin", "/sbin"}

// Require fails the test when any of cmds is missing. Each entry is a
// command name (looked up in $PATH, then /usr/sbin and /sbin) or an absolute
// path of a file that must exist (a binary, a module, a config file).
//
// It calls t.Fatalf, never t.Skip: an interop test that silently skips
// looks green in CI, which is exactly how a broken peer goes unnoticed. The
// message names the Debian package of every missing entry and tells the
// user to run scripts/install-test-deps.sh.
func Require(t testing.TB, cmds ...string) {
	t.Helper()
	var missing []string
	for _, c := range cmds {
		if _, err := lookup(c); err != nil {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%s", missingMessage(missing))
	}
}

// RequirePython fails the test (t.Fatalf, never t.Skip, see [Require]) when
// /usr/bin/python3 or one of the Python modules is missing, naming the
// Debian packages (e.g. "gssapi" is python3-gssapi).
//
// It checks Debian's /usr/bin/python3 on purpose, not the first python3 on
// $PATH: a pyenv or virtualenv python3 does not see Debian's python3-*
// packages, and the test scripts run with /usr/bin/python3.
func RequirePython(t testing.TB, modules ...string) {
	t.Helper()
	Require(t, "/usr/bin/python3")
	if len(modules) == 0 {
		return
	}
	// One interpreter for all modules: print the ones that fail to import.
	const probe = `import importlib, sys
for m in sys.argv[1:]:
    try:
        importlib.import_module(m)
    except Exception:
        print(m)
`
	out, err := exec.Command("/usr/bin/python3", append([]string{"-c", probe}, modules...)...).Output()
	if err != nil {
		t.Fatalf("lab: probing Python modules %v with /usr/bin/python3: %v", modules, err)
	}
	var missing []string
	for _, m := range strings.Fields(string(out)) {
		missing = append(missing, "python3:"+m)
	}
	if len(missing) > 0 {
		t.Fatalf("%s", missingMessage(missing))
	}
}

// lookup returns the path of a command or file Require was asked about.
func lookup(c string) (string, error) {
	if filepath.IsAbs(c) {
		fi, err := os.Stat(c)
		if err != nil {
			return "", err
		}
		if fi.IsDir() {
			return "", fmt.Errorf("%s is a directory", c)
		}
		return c, nil
	}
	if p, err := exec.LookPath(c); err == nil {
		return p, nil
	}
	for _, d := range sbinDirs {
		p := filepath.Join(d, c)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w", c, exec.ErrNotFound)
}

// missingMessage explains what is missing and how to get it.
func missingMessage(missing []string) string {
	pkgs := map[string]bool{}
	var what []string
	for _, m := range missing {
		p, ok := debPackages[m]
		if !ok {
			p = "?"
		} else {
			pkgs[p] = true
		}
		what = append(what, fmt.Sprintf("%s (Debian package %s)", strings.TrimPrefix(m, "python3:"), p))
	}
	names := make([]string, 0, len(pkgs))
	for p := range pkgs {
		names = append(names, p)
	}
	sort.Strings(names)
	return fmt.Sprintf("lab: missing test dependencies: %s.\n"+
		"Run scripts/install-test-deps.sh as root (it installs every peer the tests need)"+
		", or: apt-get install -y --no-install-recommends %s",
		strings.Join(what, ", "), strings.Join(names, " "))
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
//
// It asks the kernel for an ephemeral port and closes the listener, so
// another process could take the port before the peer binds it; fixtures
// that use it retry on "address already in use" (see [StartApache]).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("lab: finding a free port on 127.0.0.1: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// peerDir returns a fresh t.TempDir() that a peer dropping privileges (Apache
// as www-data when the test runs as root) can read.
//
// t.TempDir() is GOTMPDIR-or-os.TempDir()/<TestName><random>/<seq>, and Go
// creates <TestName><random> with mode 0700, so www-data could not even
// reach the config or the CGI. Both directories Go created are made 0755;
// the ones above them are not ours to change, so they are only checked.
func peerDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatalf("lab: %v", err)
		}
	}
	if os.Geteuid() == 0 {
		for d := filepath.Dir(filepath.Dir(dir)); ; d = filepath.Dir(d) {
			fi, err := os.Stat(d)
			if err != nil {
				t.Fatalf("lab: %v", err)
			}
			if fi.Mode().Perm()&0o001 == 0 {
				t.Fatalf("lab: %s (mode %v) is not searchable by other users, so the peer, which drops root privileges, cannot reach %s; "+
					"point GOTMPDIR at a world-searchable directory such as /tmp", d, fi.Mode().Perm(), dir)
			}
			if d == filepath.Dir(d) {
				break
			}
		}
	}
	return dir
}

// writeFile writes a file with an explicit mode: os.WriteFile's mode is
// filtered by the umask, and a peer running as another user must be able to
// read (0644) or execute (0755) what the test wrote.
func writeFile(t testing.TB, name string, data []byte, mode fs.FileMode) {
	t.Helper()
	if err := os.WriteFile(name, data, mode); err != nil {
		t.Fatalf("lab: %v", err)
	}
	if err := os.Chmod(name, mode); err != nil {
		t.Fatalf("lab: %v", err)
	}
}

// mkdirs creates directories below dir with mode 0755 (see writeFile).
func mkdirs(t testing.TB, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			t.Fatalf("lab: %v", err)
		}
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatalf("lab: %v", err)
		}
	}
}
