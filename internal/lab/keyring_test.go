package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The Secret Service fixture is a real gnome-keyring: secret-tool
// (libsecret, the reference client) stores, finds and clears an item in
// it, the item lands in the fixture's own keyring file, and everything
// stops at cleanup.
func TestSecretServiceRoundTrip(t *testing.T) {
	s := StartSecretService(t)
	if !s.HasOwner(t, secretsName) {
		t.Fatalf("nobody owns %s on the private bus\n%s", secretsName, s.Log())
	}
	attrs := []string{"service", "lab-test", "username", `CORP\alice`}
	if _, err := s.SecretTool(t, "LabSecret-1", append([]string{"store", "--label=lab test"}, attrs...)...); err != nil {
		t.Fatal(err)
	}
	got, err := s.SecretTool(t, "", append([]string{"lookup"}, attrs...)...)
	if err != nil || got != "LabSecret-1" {
		t.Fatalf("lookup after store: %q, %v; want LabSecret-1", got, err)
	}
	// Private keyrings: the login keyring is a file under the fixture's
	// XDG_DATA_HOME, not the user's.
	if _, err := os.Stat(filepath.Join(s.Dir, "data", "keyrings", "login.keyring")); err != nil {
		t.Errorf("no login keyring in the fixture's directory: %v", err)
	}
	if _, err := s.SecretTool(t, "", append([]string{"clear"}, attrs...)...); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SecretTool(t, "", append([]string{"lookup"}, attrs...)...); err == nil {
		t.Fatalf("lookup after clear found %q", got)
	}
}

// A bare session bus has no Secret Service on it (no service activation
// either), which is what a client on a headless box with a bus sees.
func TestSessionBusWithoutSecretService(t *testing.T) {
	b := StartSessionBus(t)
	if b.HasOwner(t, secretsName) {
		t.Fatalf("%s is owned on a bare bus", secretsName)
	}
	if env := strings.Join(b.Env(), " "); !strings.Contains(env, "DBUS_SESSION_BUS_ADDRESS=unix:path="+b.Dir) {
		t.Errorf("Env() = %q, want the private socket in %s", env, b.Dir)
	}
}

// Stopping the fixture leaves no daemon behind: each peer's process group
// is empty after cleanup.
func TestSecretServiceStops(t *testing.T) {
	var groups []int
	t.Run("run", func(t *testing.T) {
		s := StartSecretService(t)
		groups = []int{s.proc.pgid(), s.SessionBus.proc.pgid()}
	})
	for _, g := range groups {
		if left := groupMembers(g); len(left) > 0 {
			t.Errorf("process group %d still has %v after cleanup", g, left)
		}
	}
}
