//go:build linux

// Linux only: elsewhere go-keyring talks to the system keyring (Keychain,
// Credential Manager), which a test must not write to.

package keyring

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	dbus "github.com/godbus/dbus/v5"

	"github.com/sesame-auth/sesame/internal/lab"
)

// These tests run against a real Secret Service (gnome-keyring on a
// private session bus, see lab.StartSecretService). The D-Bus library
// reads the bus address from the process environment and keeps one shared
// connection, so each subtest sets DBUS_SESSION_BUS_ADDRESS with t.Setenv
// (no t.Parallel) and drops the shared connection at its end.

const testService = "sesame-keyring-test"

// useBus points the process at address for the rest of t, and closes the
// shared connection when t ends, so that the next test connects afresh.
func useBus(t *testing.T, address string) {
	t.Helper()
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", address)
	t.Cleanup(func() {
		if address == "" {
			return // nothing was connected: do not let the library look
		}
		if conn, err := dbus.SessionBus(); err == nil {
			conn.Close()
		}
	})
}

func TestSecretService(t *testing.T) {
	s := lab.StartSecretService(t)
	useBus(t, s.Address)
	const user, secret = `CORP\alice`, "KeyringPass-1"

	if _, err := Get(testService, user); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get before Set: %v, want ErrNotFound", err)
	}
	if err := Set(testService, user, secret); err != nil {
		t.Fatal(err)
	}
	if got, err := Get(testService, user); err != nil || got != secret {
		t.Fatalf("Get after Set: %q, %v", got, err)
	}
	// Another user and another service are other entries.
	if _, err := Get(testService, `CORP\bob`); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get for another user: %v, want ErrNotFound", err)
	}
	if _, err := Get(testService+"-other", user); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get for another service: %v, want ErrNotFound", err)
	}
	// libsecret's own client sees the item under the documented
	// attributes.
	if got, err := s.SecretTool(t, "", "lookup", "service", testService, "username", user); err != nil || got != secret {
		t.Errorf("secret-tool lookup: %q, %v; want the stored secret", got, err)
	}
	// Set replaces.
	if err := Set(testService, user, secret+"-new"); err != nil {
		t.Fatal(err)
	}
	if got, err := Get(testService, user); err != nil || got != secret+"-new" {
		t.Errorf("Get after a second Set: %q, %v", got, err)
	}
	if err := Delete(testService, user); err != nil {
		t.Fatal(err)
	}
	if _, err := Get(testService, user); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	err := Delete(testService, user)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), user) || !strings.Contains(err.Error(), testService) {
		t.Errorf("error %q does not name the account and the service", err)
	}
	// What secret-tool stores, Get finds.
	if _, err := s.SecretTool(t, "FromSecretTool-2", "store", "--label=x", "service", testService, "username", `CORP\carol`); err != nil {
		t.Fatal(err)
	}
	if got, err := Get(testService, `CORP\carol`); err != nil || got != "FromSecretTool-2" {
		t.Errorf("Get of secret-tool's item: %q, %v", got, err)
	}
	if err := Set(testService, user, ""); err == nil {
		t.Error("Set of an empty secret succeeded")
	}
}

// No session bus at all: ErrUnavailable, and no dbus-launch (which would
// leave a bus daemon running).
func TestNoSessionBus(t *testing.T) {
	if userBusExists() {
		// A desktop or systemd user session: the library would find
		// its bus without the variable, and so does available.
		t.Logf("this machine has a per-user session bus in /run/user; checking only that it is not launched")
	}
	useBus(t, "")
	_, err := Get(testService, "nobody")
	if !userBusExists() && !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get without a bus: %v, want ErrUnavailable", err)
	}
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" && !userBusExists() {
		t.Errorf("the library set DBUS_SESSION_BUS_ADDRESS=%s: it launched a bus", os.Getenv("DBUS_SESSION_BUS_ADDRESS"))
	}
	for _, op := range []func() error{
		func() error { return Set(testService, "nobody", "Unused-3") },
		func() error { return Delete(testService, "nobody") },
	} {
		if err := op(); !userBusExists() && !errors.Is(err, ErrUnavailable) {
			t.Errorf("without a bus: %v, want ErrUnavailable", err)
		} else if err != nil && strings.Contains(err.Error(), "Unused-3") {
			t.Errorf("error %q carries the secret", err)
		}
	}
}

// A bus without a Secret Service (a headless box with a bus, a container)
// is ErrUnavailable too, at once: the bus cannot activate one.
func TestBusWithoutSecretService(t *testing.T) {
	b := lab.StartSessionBus(t)
	useBus(t, b.Address)
	begin := time.Now()
	_, err := Get(testService, "nobody")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get on a bare bus: %v, want ErrUnavailable", err)
	}
	// A hang detector, not a speed test: generous for a loaded machine.
	if d := time.Since(begin); d > 30*time.Second {
		t.Errorf("Get on a bare bus took %v", d)
	}
	if err := Set(testService, "nobody", "Unused-4"); !errors.Is(err, ErrUnavailable) || strings.Contains(err.Error(), "Unused-4") {
		t.Errorf("Set on a bare bus: %v, want ErrUnavailable without the secret", err)
	}
}

// A Secret Service that never answers (here: stopped with SIGSTOP) costs
// a caller the timeout, not forever.
func TestStuckSecretServiceTimesOut(t *testing.T) {
	s := lab.StartSecretService(t)
	useBus(t, s.Address)
	if err := Set(testService, "dave", "Unused-5"); err != nil { // connected and working
		t.Fatal(err)
	}
	old := timeout
	timeout = 500 * time.Millisecond
	t.Cleanup(func() { timeout = old })
	pid := keyringDaemonPid(t, s)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// Resumed before the fixture's cleanup stops it (cleanups run last
	// registered first).
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	begin := time.Now()
	_, err := Get(testService, "dave")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get from a stopped daemon: %v, want ErrUnavailable", err)
	}
	// The frozen daemon never answers: without the timeout this would
	// hang for good. The bound is loose on purpose (a loaded machine).
	if d := time.Since(begin); d > 30*time.Second {
		t.Errorf("Get took %v with a timeout of %v", d, timeout)
	}
}

// keyringDaemonPid finds the pid of the fixture's gnome-keyring-daemon:
// the owner of org.freedesktop.secrets on its bus.
func keyringDaemonPid(t *testing.T, s *lab.SecretService) int {
	t.Helper()
	conn, err := s.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var pid uint32
	if err := conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, "org.freedesktop.secrets").Store(&pid); err != nil {
		t.Fatal(err)
	}
	return int(pid)
}
