//go:build !windows

package main

import (
	"crypto/x509"

	"github.com/sesame-auth/sesame/ntlm"
)

// sspiTokenNegotiate: --sspi needs Windows' security packages.
func sspiTokenNegotiate(*env, *sspiTokenFlags, string, *tokenFormat) error {
	return usagef("--sspi works on Windows only (it uses Windows' own NTLM package)")
}

// sspiTokenAuthenticate: --sspi needs Windows' security packages.
func sspiTokenAuthenticate(*env, *sspiAuthArgs, *secretFlags, *tokenFormat) error {
	return usagef("--sspi works on Windows only (it uses Windows' own NTLM package)")
}

// loadServerCert reads --server-cert's file; only Windows has a
// certificate store to search besides.
func loadServerCert(path string) (*x509.Certificate, error) { return ntlm.LoadCertificate(path) }
