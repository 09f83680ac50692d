//go:build !((dragonfly && cgo) || (freebsd && cgo) || linux || netbsd || openbsd)

package keyring

// available has nothing to check where the keyring is a system service
// (the macOS Keychain, the Windows Credential Manager); where go-keyring
// has no provider its calls fail with ErrUnsupportedPlatform, which
// classify maps to ErrUnavailable.
func available() error { return nil }

// platformError passes the library's errors on: the Keychain's and the
// Credential Manager's are specific enough.
func platformError(err error) error { return err }
