package main

import (
	"fmt"

	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/config"
	"github.com/sesame-auth/sesame/kerberos"
	"github.com/sesame-auth/sesame/ntlm"
	"github.com/sesame-auth/sesame/spnego"
)

// serveKerberos is the Kerberos side of `sesame serve`: the keytab's
// acceptor, and where the keytab and krb5.conf came from (the LDAP
// GSSAPI bind reads them again).
type serveKerberos struct {
	acceptor   *kerberos.Acceptor
	keytab     *keytab.Keytab
	keytabPath string
	krb5Conf   string
}

// loadServeKerberos reads the keytab when Negotiate or basic_kerberos
// needs one: the configured keytab, else KRB5_KTNAME. It returns nil
// when neither is configured, and an error for basic_kerberos without a
// keytab (silently falling back to no Basic would lock everyone out).
func loadServeKerberos(getenv func(string) string, s *config.Serve) (*serveKerberos, error) {
	if s.Keytab == "" && getenv("KRB5_KTNAME") == "" {
		if s.BasicKerberos {
			return nil, usagef("basic_kerberos needs a keytab (--keytab, serve.keytab or KRB5_KTNAME)")
		}
		return nil, nil
	}
	path, err := serveKeytabPath(&env{getenv: getenv}, s)
	if err != nil {
		return nil, err
	}
	kt, err := kerberos.LoadKeytab(path)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	entries := keytabPrincipals(kt)
	if len(entries) == 0 {
		return nil, fmt.Errorf("serve: keytab %s holds no keys", path)
	}
	if s.SPN != "" {
		found := false
		for _, en := range entries {
			found = found || spnMatches(s.SPN, en.principal)
		}
		if !found {
			return nil, fmt.Errorf("serve: spn %s is not in the keytab %s (see sesame serve --check)", s.SPN, path)
		}
	}
	krb5Conf := s.Krb5Conf
	if krb5Conf == "" {
		krb5Conf = getenv("KRB5_CONFIG")
	}
	return &serveKerberos{
		acceptor:   &kerberos.Acceptor{Keytab: kt, Principal: s.SPN},
		keytab:     kt,
		keytabPath: path,
		krb5Conf:   krb5Conf,
	}, nil
}

// wireNegotiate puts Negotiate (Kerberos from the keytab, and NTLM inside
// SPNEGO when NTLM is configured) and basic_kerberos into mw, and returns
// the schemes it added.
func wireNegotiate(mw *auth.Middleware, k *serveKerberos, s *config.Serve, want func(string) bool) ([]string, error) {
	if k == nil {
		return nil, nil
	}
	var schemes []string
	if want("negotiate") {
		cb, err := ntlm.ParseChannelBindingMode(s.ChannelBinding)
		if err != nil {
			return nil, usagef("%v", err)
		}
		if s.TLSCert == "" {
			cb = ntlm.ChannelBindingOff // no TLS channel to bind to
		}
		mw.Negotiate = &spnego.Acceptor{Kerberos: k.acceptor, NTLM: mw.NTLM}
		mw.KerberosChannelBinding = cb
		schemes = append(schemes, "Negotiate")
	}
	if s.BasicKerberos && want("basic") {
		// kerberos.LoadConfig("") would read the process's KRB5_CONFIG;
		// the path is resolved here so the environment given to serve
		// (not the process's) decides.
		kcfg, err := kerberos.LoadConfig(k.krb5Conf)
		if err != nil {
			return nil, fmt.Errorf("serve: basic_kerberos: %w", err)
		}
		mw.Basic = &auth.KerberosPasswords{Acceptor: k.acceptor, Config: kcfg}
		schemes = append(schemes, "Basic")
	}
	return schemes, nil
}
