//go:build windows

package main

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"

	"github.com/sesame-auth/sesame/ntlm"
	"github.com/sesame-auth/sesame/sspi"
)

// sspiTokenNegotiate prints the NEGOTIATE of Windows' NTLM package: the
// first leg of a context that is then closed.
func sspiTokenNegotiate(e *env, f *sspiTokenFlags, domain string, format *tokenFormat) error {
	o := sspi.ClientOptions{Package: sspi.NTLM}
	if f.user != "" {
		if f.secret.ntHash != "" {
			return usagef("--sspi takes a password, not an NT hash (Windows' NTLM package has no way to be given one)")
		}
		pw, _, err := f.secret.read(e)
		if err != nil {
			return err
		}
		o.User, o.Domain, o.Password = f.user, domain, pw
	} else if f.secret.given() {
		return usagef("a password goes with --user; without one Windows answers as the logged-on user")
	}
	c, err := sspi.NewClientContext(o)
	if err != nil {
		return err
	}
	defer c.Close()
	neg, _, err := c.Step(nil)
	if err != nil {
		return fmt.Errorf("NEGOTIATE: %w", err)
	}
	return format.encode(e.stdout, neg)
}

// sspiTokenAuthenticate answers a CHALLENGE with Windows' NTLM package.
// SSPI cannot start a context at its second leg: it makes its own
// NEGOTIATE first (deterministic for one account and flag set, so the
// one `token negotiate --sspi` printed), and the AUTHENTICATE's MIC
// covers that one. When it differs from --negotiate, or none was given,
// Windows' NEGOTIATE is shown on stderr so that the exchange can be
// checked with `sesame token decode`.
func sspiTokenAuthenticate(e *env, a *sspiAuthArgs, secret *secretFlags, format *tokenFormat) error {
	switch {
	case a.version != 2:
		return usagef("--ntlm-version is not for --sspi: Windows' policy (LmCompatibilityLevel) decides")
	case a.workstation != "":
		return usagef("--workstation is not for --sspi: Windows sends its own computer name")
	case secret.ntHash != "":
		return usagef("--sspi takes a password, not an NT hash (Windows' NTLM package has no way to be given one)")
	case a.user == "" && secret.given():
		return usagef("a password goes with --user; without one Windows answers as the logged-on user")
	}
	o := sspi.ClientOptions{Package: sspi.NTLM, User: a.user, Domain: a.domain, SPN: a.spn}
	if a.user != "" {
		var err error
		if o.Password, _, err = secret.read(e); err != nil {
			return err
		}
	}
	if a.serverCert != "" {
		var err error
		if o.ServerCertificate, err = loadServerCert(a.serverCert); err != nil {
			return err
		}
	}
	chal, err := format.decode(e, a.challenge)
	if err != nil {
		return fmt.Errorf("--challenge: %w", err)
	}
	chal, _ = unwrapNTLM(chal)
	if _, err := ntlm.ParseChallenge(chal); err != nil {
		return fmt.Errorf("--challenge: %w", err)
	}
	var given []byte
	if a.negotiate != "" {
		if given, err = format.decode(e, a.negotiate); err != nil {
			return fmt.Errorf("--negotiate: %w", err)
		}
		given, _ = unwrapNTLM(given)
	}
	c, err := sspi.NewClientContext(o)
	if err != nil {
		return err
	}
	defer c.Close()
	neg, _, err := c.Step(nil)
	if err != nil {
		return fmt.Errorf("NEGOTIATE: %w", err)
	}
	auth, _, err := c.Step(chal)
	if err != nil {
		return fmt.Errorf("AUTHENTICATE: %w", err)
	}
	switch {
	case given == nil:
		fmt.Fprintf(e.stderr, "sesame token: Windows' NEGOTIATE for this AUTHENTICATE (its MIC covers it): %s\n", base64.StdEncoding.EncodeToString(neg))
	case !bytes.Equal(given, neg):
		fmt.Fprintf(e.stderr, "sesame token: note: Windows made a NEGOTIATE other than --negotiate, and the MIC covers Windows' one: %s\n", base64.StdEncoding.EncodeToString(neg))
	}
	return format.encode(e.stdout, auth)
}

// loadServerCert reads --server-cert: a PEM or DER file, or, when no
// such file exists, a certificate in the current user's MY or ROOT
// store by thumbprint or subject.
func loadServerCert(arg string) (*x509.Certificate, error) {
	if _, err := os.Stat(arg); err == nil {
		return ntlm.LoadCertificate(arg)
	}
	c, err := sspi.FindCertificate(arg)
	if err != nil {
		if errors.Is(err, sspi.ErrCertificateNotFound) {
			return nil, fmt.Errorf("--server-cert: no file %q, and %w", arg, err)
		}
		return nil, fmt.Errorf("--server-cert: %w", err)
	}
	return c, nil
}
