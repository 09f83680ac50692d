// Package keyring keeps sesame's passwords in the operating system's
// keyring: the Secret Service over D-Bus on Linux and the BSDs
// (gnome-keyring, KeePassXC, KWallet's bridge), the Keychain on macOS, the
// Credential Manager on Windows. `sesame login` stores a password here, and
// `sesame proxy` finds it without any secret in a file, a flag or the
// environment.
//
// It is a thin wrapper over github.com/zalando/go-keyring, and exists
// because sesame needs four things that library leaves to its callers:
//
//   - No surprise daemons. With DBUS_SESSION_BUS_ADDRESS unset, the D-Bus
//     library "autolaunches" a session bus by running dbus-launch, which
//     leaves a dbus-daemon behind on every headless box sesame runs on.
//     Here a missing session bus is [ErrUnavailable] instead.
//   - A bounded wait. The library waits for an unlock prompt's answer, and
//     for a D-Bus reply, without a limit; a proxy must not hang at startup
//     because a keyring daemon is stuck or no one can see its prompt.
//   - Errors a caller can act on: [ErrNotFound] (nothing stored for the
//     account) and [ErrUnavailable] (no keyring to ask: a headless box, a
//     container), each wrapped with the operation and the account.
//   - Secrets never in an error: the messages carry the service and the
//     account, never the secret.
//
// Entries are generic passwords keyed by a service name ([Service] for
// sesame's) and the account. On the Secret Service they are items in the
// default ("login") collection with the attributes service and username,
// so `secret-tool lookup service sesame username 'CORP\alice'` finds them;
// the secret travels over the user's own session bus in the clear (the
// Secret Service's "plain" session), as with every libsecret client that
// does not negotiate encryption.
package keyring

import (
	"errors"
	"fmt"
	"strings"
	"time"

	gokeyring "github.com/zalando/go-keyring"
)

// Service is the service name sesame's entries are stored under.
const Service = "sesame"

var (
	// ErrNotFound means the keyring holds no secret for the service and
	// account.
	ErrNotFound = errors.New("no secret stored")
	// ErrUnavailable means there is no keyring to ask: no D-Bus session
	// bus, no Secret Service on it, or one that did not answer in time.
	// It is the normal state of a headless server or a container.
	ErrUnavailable = errors.New("OS keyring unavailable")
)

// Error is the error of one operation: what was done, for which entry,
// and why it failed (wrapping ErrNotFound, ErrUnavailable or the
// keyring's own error). It never holds the secret.
type Error struct {
	// Op is "store", "read" or "delete".
	Op            string
	Service, User string
	Err           error
}

func (e *Error) Error() string {
	return fmt.Sprintf("keyring: %s the secret for %s (service %q): %v", e.Op, e.User, e.Service, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// timeout bounds one keyring operation. It leaves a person time to type
// the keyring's password into an unlock prompt on a desktop, and still
// ends a wait for a daemon that never answers. A variable so that the
// package's tests can shorten it.
var timeout = time.Minute

// Set stores secret for user under service, replacing any earlier one.
// An empty secret is refused: it would only ever fail authentication.
func Set(service, user, secret string) error {
	if secret == "" {
		return &Error{"store", service, user, errors.New("the secret is empty")}
	}
	_, err := call(func() (string, error) { return "", gokeyring.Set(service, user, secret) })
	if err != nil {
		return &Error{"store", service, user, err}
	}
	return nil
}

// Get returns the secret stored for user under service. The error, an
// [*Error], wraps
// ErrNotFound when there is none (an empty secret stored by another tool
// counts as none) and ErrUnavailable when there is no keyring to ask.
//
// Account names are case-insensitive, as on Windows and in AD: when
// nothing is stored under user as spelled, the usual spellings of the
// same account are tried (see spellings), so `corp\ALICE` finds what was
// stored for `CORP\alice`.
func Get(service, user string) (string, error) {
	var secret string
	err := eachSpelling(user, func(u string) error {
		var err error
		secret, err = call(func() (string, error) { return gokeyring.Get(service, u) })
		if err == nil && secret == "" {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return "", &Error{"read", service, user, err}
	}
	return secret, nil
}

// Delete removes the secret stored for user under service, under any
// spelling of the account (see Get). The error wraps ErrNotFound when
// there was none.
func Delete(service, user string) error {
	err := eachSpelling(user, func(u string) error {
		_, err := call(func() (string, error) { return "", gokeyring.Delete(service, u) })
		return err
	})
	if err != nil {
		return &Error{"delete", service, user, err}
	}
	return nil
}

// eachSpelling runs op for user, then for its other spellings while op
// finds nothing (ErrNotFound); it returns op's last error.
func eachSpelling(user string, op func(string) error) error {
	var err error
	for _, u := range spellings(user) {
		if err = op(u); !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return err
}

// spellings lists user as given, then the spellings the same account is
// usually stored under: keyrings other than Windows' compare names
// exactly, while DOMAIN\user and user@domain are case-insensitive. The
// domain upper-case and the user lower-case come first (how Windows and
// sesame's own examples write them), then all lower-case.
func spellings(user string) []string {
	out := []string{user}
	add := func(s string) {
		for _, o := range out {
			if o == s {
				return
			}
		}
		out = append(out, s)
	}
	if d, u, ok := strings.Cut(user, `\`); ok {
		add(strings.ToUpper(d) + `\` + strings.ToLower(u))
		add(strings.ToUpper(d) + `\` + u)
	} else if u, d, ok := strings.Cut(user, "@"); ok {
		add(strings.ToLower(u) + "@" + strings.ToUpper(d))
	}
	add(strings.ToLower(user))
	return out
}

// call runs one library operation after checking that there is a keyring
// to talk to, gives up after timeout, and maps the library's errors to
// ErrNotFound and ErrUnavailable. On a timeout the operation's goroutine
// is left behind, blocked in the library (which offers no way to cancel);
// it ends with the process.
func call(op func() (string, error)) (string, error) {
	type result struct {
		s   string
		err error
	}
	done := make(chan result, 1)
	go func() {
		// The check is inside the timeout too: connecting to a bus
		// whose daemon is stopped (SIGSTOP, a hung container) blocks.
		if err := available(); err != nil {
			done <- result{"", err}
			return
		}
		s, err := op()
		done <- result{s, classify(err)}
	}()
	select {
	case r := <-done:
		return r.s, r.err
	case <-time.After(timeout):
		return "", fmt.Errorf("%w: no answer within %v", ErrUnavailable, timeout)
	}
}

// classify maps the library's errors to this package's.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gokeyring.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, gokeyring.ErrUnsupportedPlatform):
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	case errors.Is(err, gokeyring.ErrSetDataTooBig):
		return errors.New("the secret is too long for this keyring")
	}
	return platformError(err)
}
