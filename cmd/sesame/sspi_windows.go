//go:build windows

package main

import (
	"fmt"
	"strings"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/sspi"
)

// platformSSO is single sign-on on Windows: the logged-on user through
// SSPI's Negotiate package, for every command that has no account
// (`sesame proxy` without auth.user, `sesame get -u :`). SESAME_SSPI=off
// falls back to the Kerberos credential cache (MIT Kerberos for Windows).
func platformSSO(cfg negotiateConfig) (auth.Credential, bool, error) {
	if strings.EqualFold(cfg.getenvOr("SESAME_SSPI"), "off") {
		return nil, false, nil
	}
	return &sspi.Credential{
		Package: sspi.Negotiate,
		SPN:     cfg.spn,
		// "policy" too: Windows itself forwards the TGT only where the
		// KDC marked the service ok-as-delegate (unless policy says
		// otherwise), which is what "policy" means.
		Delegate: cfg.delegation == "policy" || cfg.delegation == "always",
	}, true, nil
}

// sspiCredentials builds the credentials of `sesame get --sspi`: Windows'
// own security packages with the account given (SEC_WINNT_AUTH_IDENTITY),
// or the logged-on user's without one.
func sspiCredentials(schemes map[string]bool, user, password, spn, delegation string) ([]auth.Credential, error) {
	deleg := delegation == "policy" || delegation == "always"
	var creds []auth.Credential
	if schemes["negotiate"] {
		creds = append(creds, &sspi.Credential{Package: sspi.Negotiate, User: user, Password: password, SPN: spn, Delegate: deleg})
	}
	if schemes["ntlm"] {
		creds = append(creds, &sspi.Credential{Package: sspi.NTLM, User: user, Password: password, SPN: spn})
	}
	if len(creds) == 0 {
		return nil, usagef("--sspi answers Negotiate and NTLM only (--auth negotiate or ntlm)")
	}
	return creds, nil
}

// credentialSource says where a credential's secret comes from, for
// `sesame doctor`.
func credentialSource(c auth.Credential) string {
	s, ok := c.(*sspi.Credential)
	switch {
	case !ok:
		return ""
	case s.User == "":
		return "Windows SSPI, as the logged-on user (no account configured; set auth.user for sesame's own NTLM/Kerberos)"
	}
	return "Windows SSPI, with the account given (--sspi)"
}

// credentialFailures says why SSPI credentials could not answer (no
// ticket, no domain controller), which the 401 alone does not tell.
func credentialFailures(creds []auth.Credential) string {
	var b strings.Builder
	for _, c := range creds {
		if s, ok := c.(*sspi.Credential); ok {
			if err := s.LastError(); err != nil {
				fmt.Fprintf(&b, "; %s could not answer: %v", s.Identity(), err)
			}
		}
	}
	return b.String()
}
