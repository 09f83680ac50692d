package lab

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dbus "github.com/godbus/dbus/v5"
)

// Binaries of the Secret Service fixture.
const (
	dbusDaemonBin    = "/usr/bin/dbus-daemon"
	gnomeKeyringBin  = "/usr/bin/gnome-keyring-daemon"
	secretToolBin    = "/usr/bin/secret-tool"
	secretsName      = "org.freedesktop.secrets"
	loginCollection  = "/org/freedesktop/secrets/collection/login"
	keyringReadyWait = 15 * time.Second
	keyringStopGrace = 2 * time.Second
	// maxUnixPath is sun_path's size on Linux, terminating NUL included.
	maxUnixPath = 108
)

// sessionBusConf is a session bus of the test's own: it listens on one
// socket in the test's directory and allows everything between its
// clients (all the test's own). It has no service directories on purpose:
// with the stock session.conf a call to a name nobody owns would make the
// bus start that service from /usr/share/dbus-1/services, outside the
// fixture's control (gnome-keyring asks for a prompter, for instance);
// here such a call fails at once, as on a headless box.
const sessionBusConf = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// SessionBus is a private D-Bus session bus (dbus-daemon in the
// foreground) on a Unix socket in the test's temporary directory. Clients
// find it through [SessionBus.Env]; nothing else on the machine uses it.
type SessionBus struct {
	// Address is the bus address for DBUS_SESSION_BUS_ADDRESS,
	// "unix:path=DIR/bus".
	Address string
	// Dir is the instance's temporary directory. It also holds the HOME
	// and XDG_* directories of the peers started on the bus, so that no
	// peer reads or writes the real user's files (keyrings above all).
	Dir string

	proc *peerProc
}

// StartSessionBus starts a private D-Bus session bus and waits until it
// accepts clients. It is stopped in t.Cleanup. It fails the test (never
// skips it) when dbus-daemon is missing or does not come up.
func StartSessionBus(t testing.TB) *SessionBus {
	t.Helper()
	Require(t, dbusDaemonBin)
	begin := time.Now()
	dir := t.TempDir()
	sock := filepath.Join(dir, "bus")
	if len(sock) >= maxUnixPath {
		t.Fatalf("lab: the bus socket path %s is longer than a Unix socket allows (%d bytes); point GOTMPDIR at a shorter directory such as /tmp", sock, maxUnixPath-1)
	}
	mkdirs(t, dir, "home", "data", "config", "cache", "run")
	// XDG_RUNTIME_DIR must be private to its user (the spec; gnome-keyring
	// checks it before putting its control socket there).
	if err := os.Chmod(filepath.Join(dir, "run"), 0o700); err != nil {
		t.Fatalf("lab: %v", err)
	}
	b := &SessionBus{Address: "unix:path=" + sock, Dir: dir}
	conf := filepath.Join(dir, "session.conf")
	writeFile(t, conf, []byte(fmt.Sprintf(sessionBusConf, b.Address)), 0o644)
	var err error
	b.proc, err = startPeer(t, "dbus-daemon", dir, filepath.Join(dir, "dbus.log"), b.peerEnv(), keyringStopGrace,
		dbusDaemonBin, "--config-file="+conf, "--nofork", "--nopidfile", "--print-address=1")
	if err != nil {
		t.Fatalf("lab: starting %s: %v", dbusDaemonBin, err)
	}
	if err := b.waitReady(keyringReadyWait); err != nil {
		t.Fatalf("lab: dbus-daemon did not come up: %v\n%s", err, b.Log())
	}
	t.Logf("lab: D-Bus session bus at %s in %v", b.Address, time.Since(begin).Round(time.Millisecond))
	return b
}

// Env is what a client needs to use this bus instead of the user's:
// DBUS_SESSION_BUS_ADDRESS.
func (b *SessionBus) Env() []string {
	return []string{"DBUS_SESSION_BUS_ADDRESS=" + b.Address}
}

// peerEnv is the whole environment of the peers on the bus: the bus, and
// HOME and XDG_* directories inside Dir, so that a peer never touches the
// real user's keyrings or configuration.
func (b *SessionBus) peerEnv() []string {
	return append([]string{
		"PATH=/usr/bin:/bin",
		"LANG=C",
		"HOME=" + filepath.Join(b.Dir, "home"),
		"XDG_DATA_HOME=" + filepath.Join(b.Dir, "data"),
		"XDG_CONFIG_HOME=" + filepath.Join(b.Dir, "config"),
		"XDG_CACHE_HOME=" + filepath.Join(b.Dir, "cache"),
		"XDG_RUNTIME_DIR=" + filepath.Join(b.Dir, "run"),
	}, b.Env()...)
}

// waitReady waits until the bus answers a client's Hello.
func (b *SessionBus) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := b.Connect()
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-b.proc.exited:
			return fmt.Errorf("dbus-daemon exited during startup: %v", b.proc.waitErr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer on %s after %v: %v", b.Address, timeout, err)
		}
	}
}

// Connect opens a private client connection to the bus (authenticated,
// Hello sent), which the caller closes.
func (b *SessionBus) Connect() (*dbus.Conn, error) {
	return dbus.Connect(b.Address)
}

// HasOwner reports whether some client owns the bus name.
func (b *SessionBus) HasOwner(t testing.TB, name string) bool {
	t.Helper()
	conn, err := b.Connect()
	if err != nil {
		t.Fatalf("lab: connecting to %s: %v", b.Address, err)
	}
	defer conn.Close()
	var has bool
	if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has); err != nil {
		t.Fatalf("lab: NameHasOwner(%s): %v", name, err)
	}
	return has
}

// Log returns what dbus-daemon wrote (its address, warnings).
func (b *SessionBus) Log() string { return readLog(filepath.Join(b.Dir, "dbus.log")) }

// SecretService is gnome-keyring-daemon's Secret Service
// (org.freedesktop.secrets) on a private [SessionBus], with an unlocked
// "login" collection as the default: what a desktop login provides, and
// what libsecret, go-keyring and secret-tool store passwords in. Its
// keyrings live in the bus's Dir, never in the user's.
type SecretService struct {
	*SessionBus
	// KeyringPassword is the login keyring's password (random): the
	// keyring file in Dir/data/keyrings is encrypted with it.
	KeyringPassword string

	proc *peerProc
}

// StartSecretService starts a private session bus and gnome-keyring's
// Secret Service on it, creating and unlocking a login keyring the way
// PAM does at a desktop login (the password on gnome-keyring's stdin), and
// waits until the login collection is there and unlocked. Both are stopped
// in t.Cleanup. It fails the test (never skips it) when a binary is
// missing or a peer does not come up.
func StartSecretService(t testing.TB) *SecretService {
	t.Helper()
	Require(t, dbusDaemonBin, gnomeKeyringBin)
	bus := StartSessionBus(t)
	begin := time.Now()
	s := &SecretService{SessionBus: bus, KeyringPassword: randomSecret(t)}
	pwFile := filepath.Join(bus.Dir, "keyring-password")
	writeFile(t, pwFile, []byte(s.KeyringPassword), 0o600)
	// --unlock reads the password from stdin, which startPeer leaves at
	// /dev/null: a shell redirects it and execs the daemon, which keeps
	// the pid and so the process group. --foreground: a child of the
	// test, not a daemon that outlives it. --components=secrets: no SSH
	// or PKCS#11 agent, which the tests do not need.
	var err error
	s.proc, err = startPeer(t, "gnome-keyring-daemon", bus.Dir, filepath.Join(bus.Dir, "gnome-keyring.log"), bus.peerEnv(), keyringStopGrace,
		"/bin/sh", "-c", `exec "$0" --foreground --components=secrets --unlock <"$1"`, gnomeKeyringBin, pwFile)
	if err != nil {
		t.Fatalf("lab: starting %s: %v", gnomeKeyringBin, err)
	}
	if err := s.waitReady(keyringReadyWait); err != nil {
		t.Fatalf("lab: gnome-keyring-daemon did not come up: %v\ngnome-keyring:\n%s\ndbus-daemon:\n%s", err, s.Log(), bus.Log())
	}
	// Read by now: the login keyring exists and is unlocked.
	if err := os.Remove(pwFile); err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Logf("lab: gnome-keyring Secret Service on %s ready in %v", bus.Address, time.Since(begin).Round(time.Millisecond))
	return s
}

// waitReady waits until gnome-keyring owns org.freedesktop.secrets and
// its login collection exists and is unlocked, i.e. until a client can
// store and read items without a prompt.
func (s *SecretService) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := s.loginUnlocked()
		if err == nil {
			return nil
		}
		select {
		case <-s.proc.exited:
			return fmt.Errorf("gnome-keyring-daemon exited during startup: %v", s.proc.waitErr)
		case <-s.SessionBus.proc.exited:
			return fmt.Errorf("dbus-daemon exited: %v", s.SessionBus.proc.waitErr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v", timeout, err)
		}
	}
}

// loginUnlocked returns nil when the login collection is there, unlocked.
func (s *SecretService) loginUnlocked() error {
	conn, err := s.Connect()
	if err != nil {
		return err
	}
	defer conn.Close()
	v, err := conn.Object(secretsName, loginCollection).GetProperty("org.freedesktop.Secret.Collection.Locked")
	if err != nil {
		return fmt.Errorf("the login collection: %v", err)
	}
	if locked, ok := v.Value().(bool); !ok || locked {
		return fmt.Errorf("the login collection is locked (%v)", v)
	}
	return nil
}

// Log returns what gnome-keyring-daemon wrote (warnings, mostly).
func (s *SecretService) Log() string { return readLog(filepath.Join(s.Dir, "gnome-keyring.log")) }

// SecretTool runs libsecret's secret-tool against this Secret Service,
// with stdin as its input (the secret, for "store"), and returns its
// standard output. It gives tests a second, independent client: what
// sesame stores must be what secret-tool finds, and the reverse. It fails
// the test when secret-tool is missing; a non-zero exit is returned as an
// error quoting its stderr ("lookup" exits 1 when nothing matches).
func (s *SecretService) SecretTool(t testing.TB, stdin string, args ...string) (string, error) {
	t.Helper()
	Require(t, secretToolBin)
	cmd := exec.Command(secretToolBin, args...)
	cmd.Env = s.peerEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatalf("lab: starting secret-tool: %v", err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return out.String(), fmt.Errorf("secret-tool %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
		}
		return out.String(), nil
	case <-time.After(keyringReadyWait):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("lab: secret-tool %s did not finish within %v (a prompt nobody can answer?)", strings.Join(args, " "), keyringReadyWait)
		return "", nil
	}
}

// readLog returns a peer's log file, or a note saying why it cannot.
func readLog(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("[lab: %v]", err)
	}
	return string(data)
}
