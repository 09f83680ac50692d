//go:build windows

package sspi

import "github.com/sesame-auth/sesame/auth"

// SingleSignOn returns the Negotiate credential of the logged-on user:
// Kerberos with the ticket Windows holds for the logon session, NTLM when
// the server or the domain cannot do Kerberos. It is what an auth.Transport
// on Windows should use when the program has no account of its own.
func SingleSignOn() (auth.Credential, error) {
	return &Credential{Package: Negotiate}, nil
}
