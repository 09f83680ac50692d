//go:build !windows

package sspi

import (
	"fmt"
	"runtime"

	"github.com/sesame-auth/sesame/auth"
)

// SingleSignOn returns the logged-on user's Negotiate credential on
// Windows; elsewhere it returns an error wrapping [ErrNotWindows] (use
// the Kerberos credential cache there: kerberos.NewFromCCache).
func SingleSignOn() (auth.Credential, error) {
	return nil, fmt.Errorf("%w: no SSPI on %s", ErrNotWindows, runtime.GOOS)
}
