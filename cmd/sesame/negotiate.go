package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/kerberos"
	"github.com/sesame-auth/sesame/ntlm"
)

// negotiateConfig is what a command knows for a Negotiate credential.
type negotiateConfig struct {
	getenv func(string) string
	// required: the user asked for Negotiate; without a Kerberos setup
	// that is an error. Otherwise Negotiate is left out quietly.
	required       bool
	user, password string // both empty: the credential cache (single sign-on)
	spn            string // "" means HTTP/host of the peer
	delegation     string // none, policy or always
	proxy          bool   // for a proxy's 407 rather than an origin's 401
	// ntlm, if set, is offered inside SPNEGO after Kerberos, for servers
	// that offer only Negotiate but accept NTLM in it (IIS, AD proxies).
	ntlm *ntlm.Client
}

// newNegotiate builds a Negotiate credential: Kerberos from the credential
// cache (KRB5CCNAME) or from the user's password, with krb5.conf from
// KRB5_CONFIG.
//
// Unless Negotiate was asked for by name (required), Kerberos is used only
// from a credential cache that exists, the single sign-on case: a password
// login would send an AS-REQ to whatever KDC a stock krb5.conf names
// (Debian's names ATHENA.MIT.EDU), and no browser or curl logs in with a
// password behind the user's back. It returns nil, nil when there is
// nothing to offer.
func newNegotiate(cfg negotiateConfig) (auth.Credential, error) {
	getenv := cfg.getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	kcfg, err := kerberos.LoadConfig(getenv("KRB5_CONFIG"))
	if err != nil {
		if cfg.required && cfg.ntlm == nil {
			return nil, fmt.Errorf("negotiate: Kerberos is not configured (krb5.conf): %w", err)
		}
		kcfg = nil
	}
	n := &auth.Negotiate{SPN: cfg.spn}
	if cfg.delegation != "" {
		if n.Delegation, err = kerberos.ParseDelegation(cfg.delegation); err != nil {
			return nil, usagef("--delegation: %v", err)
		}
	}
	if kcfg != nil {
		switch {
		case cfg.password != "" && cfg.required:
			n.Kerberos, err = kerberos.NewWithPassword(kerberosPrincipal(cfg.user), cfg.password, kcfg)
		case cfg.password == "" || !cfg.required:
			var path string
			if path, err = kerberos.CCachePath(getenv("KRB5CCNAME"), kcfg); err == nil {
				if _, statErr := os.Stat(path); statErr == nil || cfg.required {
					n.Kerberos, err = kerberos.NewFromCCache("FILE:"+path, kcfg)
				}
			}
		}
		if err != nil {
			if cfg.required {
				return nil, fmt.Errorf("negotiate: %w", err)
			}
			n.Kerberos = nil
		}
	}
	if n.Kerberos == nil {
		if cfg.required && cfg.ntlm != nil {
			// NTLM inside SPNEGO, for servers that offer only Negotiate.
			n.NTLM = cfg.ntlm
			return n, nil
		}
		return nil, nil
	}
	n.NTLM = cfg.ntlm
	return n, nil
}

// kerberosPrincipal turns the Windows forms of an account into a Kerberos
// principal: DOMAIN\user becomes user (in the default realm), user@domain
// stays as it is (a UPN is a principal).
func kerberosPrincipal(user string) string {
	if _, u, ok := strings.Cut(user, `\`); ok {
		return u
	}
	return user
}
