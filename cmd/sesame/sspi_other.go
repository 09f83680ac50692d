//go:build !windows

package main

import "github.com/sesame-auth/sesame/auth"

// platformSSO: only Windows has a platform source of single sign-on;
// elsewhere the Kerberos credential cache serves.
func platformSSO(negotiateConfig) (auth.Credential, bool, error) { return nil, false, nil }

// sspiCredentials: --sspi is Windows only.
func sspiCredentials(map[string]bool, string, string, string, string) ([]auth.Credential, error) {
	return nil, usagef("--sspi works on Windows only (it uses Windows' own security packages)")
}

// credentialSource: no platform credentials outside Windows.
func credentialSource(auth.Credential) string { return "" }

// credentialFailures: no platform credentials outside Windows.
func credentialFailures([]auth.Credential) string { return "" }
