//go:build !windows

package main

import "github.com/sesame-auth/sesame/auth"

// platformAcceptor is the `sspi` setting of `sesame serve`, which needs
// Windows' security packages.
func platformAcceptor(setting string) (auth.PlatformAcceptor, func() error, error) {
	return nil, nil, usagef("sspi = %q: Windows' security packages exist only on Windows; here use keytab (Negotiate) and ntlm_users, ntlm_hashes or winbind (NTLM)", setting)
}
