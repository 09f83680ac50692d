//go:build (dragonfly && cgo) || (freebsd && cgo) || linux || netbsd || openbsd

// The build constraint is go-keyring's for its Secret Service provider:
// these are the systems where it talks D-Bus.

package keyring

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	dbus "github.com/godbus/dbus/v5"
)

// available reports ErrUnavailable unless the D-Bus session bus can be
// reached. It finds the bus the way the D-Bus library does
// (DBUS_SESSION_BUS_ADDRESS, else the per-user socket systemd and
// dbus-broker make in /run/user/UID) but never runs dbus-launch, which
// would start a bus daemon of its own and leave it running.
func available() error {
	addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	if addr == "" || addr == "autolaunch:" {
		if !userBusExists() {
			return fmt.Errorf("%w: no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)", ErrUnavailable)
		}
	}
	// The library uses this shared connection too, so connecting here
	// costs nothing more and tells "no bus" apart from the Secret
	// Service's own errors.
	if _, err := dbus.SessionBus(); err != nil {
		return fmt.Errorf("%w: connecting to the D-Bus session bus: %v", ErrUnavailable, err)
	}
	return nil
}

// userBusExists reports whether the D-Bus library would find a session bus
// without DBUS_SESSION_BUS_ADDRESS (see its tryDiscoverDbusSessionBusAddress).
func userBusExists() bool {
	u, err := user.Current()
	if err != nil {
		return false
	}
	for _, name := range []string{"bus", "dbus-session"} {
		if _, err := os.Stat(filepath.Join("/run/user", u.Uid, name)); err == nil {
			return true
		}
	}
	return false
}

// platformError marks the D-Bus errors that mean "nobody to ask" as
// ErrUnavailable: no Secret Service on the bus (and none to activate), or
// a bus that went away. Anything else (a locked keyring whose unlock
// prompt was dismissed, a missing default collection) is passed on as it
// is.
func platformError(err error) error {
	if errors.Is(err, dbus.ErrClosed) {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	var de dbus.Error
	if errors.As(err, &de) {
		switch name := de.Name; {
		case name == "org.freedesktop.DBus.Error.ServiceUnknown",
			name == "org.freedesktop.DBus.Error.NameHasNoOwner",
			name == "org.freedesktop.DBus.Error.NoReply",
			name == "org.freedesktop.DBus.Error.NoServer",
			name == "org.freedesktop.DBus.Error.Disconnected",
			name == "org.freedesktop.DBus.Error.Timeout",
			name == "org.freedesktop.DBus.Error.TimedOut",
			strings.HasPrefix(name, "org.freedesktop.DBus.Error.Spawn."):
			return fmt.Errorf("%w: no Secret Service on the D-Bus session bus (%v)", ErrUnavailable, err)
		}
	}
	return err
}
