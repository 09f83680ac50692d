package main

import (
	"context"
	"errors"
	"fmt"
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
	// gss: --mutual, --opportunistic, --mech, --principal.
	gss gssOptions
}

// getenvOr reads the environment through getenv, "" without one.
func (c negotiateConfig) getenvOr(k string) string {
	if c.getenv == nil {
		return ""
	}
	return c.getenv(k)
}

// newNegotiate builds a Negotiate credential: Kerberos from the credential
// cache (KRB5CCNAME) or from the user's password, with krb5.conf from
// KRB5_CONFIG.
//
// Without a named user (cfg.user ""), Kerberos comes from the credential
// cache's default principal, the single sign-on case. A named user is
// authoritative: see namedKerberos. Unless Negotiate was asked for by
// name (required), a password login happens only for a user named with a
// domain that krb5.conf configures: a login would send an AS-REQ to
// whatever KDC a stock krb5.conf names (Debian's names ATHENA.MIT.EDU).
// It returns nil, nil when there is nothing to offer.
func newNegotiate(cfg negotiateConfig) (auth.Credential, error) {
	if cfg.user == "" && cfg.password == "" {
		// Single sign-on from the platform (Windows SSPI) first.
		if c, ok, err := platformSSO(cfg); ok || err != nil {
			return c, err
		}
	}
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
		if cfg.user == "" && cfg.gss.principal != "" {
			// A principal of the collection, named: that cache or none.
			cfg.user = cfg.gss.principal
			n.Kerberos, err = namedKerberos(cfg, kcfg, getenv)
			if err == nil && n.Kerberos == nil {
				err = fmt.Errorf("no Kerberos ticket for %s in the credential cache", cfg.gss.principal)
			}
			cfg.user = ""
		} else if cfg.user == "" {
			// Single sign-on: whoever the credential cache holds (a
			// collection's primary cache). An empty or missing cache is
			// passed over unless Negotiate was asked for; one that
			// cannot be read (no KCM daemon, damaged) is kept, so that
			// the handshake says why.
			name := kerberos.DefaultCCacheName(kcfg, getenv)
			var col kerberos.CCacheCollection
			if col, err = kerberos.ResolveCCache(name, kcfg); err == nil {
				_, _, loadErr := kerberos.FindCCache(context.Background(), col, "")
				if loadErr == nil || cfg.required || !errors.Is(loadErr, kerberos.ErrCacheEmpty) {
					n.Kerberos, err = kerberos.NewFromCCache(name, kcfg)
				}
			}
		} else {
			n.Kerberos, err = namedKerberos(cfg, kcfg, getenv)
		}
		if err != nil {
			if cfg.required || cfg.gss.principal != "" {
				return nil, fmt.Errorf("negotiate: %w", err)
			}
			n.Kerberos = nil
		}
	}
	if n.Kerberos == nil {
		if (cfg.required || cfg.gss.mech == "ntlm") && cfg.ntlm != nil {
			// NTLM inside SPNEGO, for servers that offer only Negotiate.
			n.NTLM = cfg.ntlm
			return n, cfg.gss.apply(n)
		}
		if cfg.gss.mech == "kerberos" {
			return nil, fmt.Errorf("negotiate: %w", cfg.gss.apply(n))
		}
		return nil, nil
	}
	n.NTLM = cfg.ntlm
	return n, cfg.gss.apply(n)
}

// namedKerberos returns Kerberos credentials for the user the command
// named, never those of another principal (DESIGN.md: "an identity the
// user names is the one that answers"):
//
//  1. the credential cache, if its principal is the named user
//     (kerberos.MatchUser: CORP\bob matches bob@CORP.TEST by the realm's
//     first label), pinned to that principal should the cache change;
//  2. else a login with the password, when Kerberos is wanted: asked for
//     by name (--auth negotiate), or the user was named with a domain or
//     realm that krb5.conf configures (kerberos.UserPrincipal), or as a
//     plain "bob" while the cache holds a ticket of the default realm
//     (otherwise a plain name would send an AS-REQ to the default realm
//     of a stock krb5.conf, Debian's ATHENA.MIT.EDU). A KDC that does not
//     answer makes the Kerberos mechanism unavailable at handshake time,
//     and NTLM carries on;
//  3. else none (nil, nil): NTLM with the password, inside SPNEGO or on
//     its own.
func namedKerberos(cfg negotiateConfig, kcfg *kerberos.Config, getenv func(string) string) (*kerberos.Client, error) {
	cached := "" // the primary cache's principal, if there is one
	if col, err := kerberos.ResolveCCache(kerberos.DefaultCCacheName(kcfg, getenv), kcfg); err == nil {
		ctx := context.Background()
		if c, cc, err := kerberos.FindCCache(ctx, col, cfg.user); err == nil {
			// The cache of the named user, primary or not (a DIR:,
			// KCM: or KEYRING: collection holds several).
			return kerberos.NewFromCCacheAs(c.Name(), cc.Principal.String(), kcfg)
		}
		if _, cc, err := kerberos.FindCCache(ctx, col, ""); err == nil {
			cached = cc.Principal.String()
		}
	}
	principal, configured := kerberos.UserPrincipal(cfg.user, kcfg)
	if _, domain, _ := kerberos.SplitUser(cfg.user); domain == "" {
		// A plain name means the default realm only where a ticket of
		// that realm shows it is this network's.
		_, realm, _ := strings.Cut(principal, "@")
		_, cachedRealm, _ := strings.Cut(cached, "@")
		configured = configured && realm != "" && strings.EqualFold(realm, cachedRealm)
	}
	if cfg.password == "" || !(cfg.required || configured) {
		if cfg.required && cfg.ntlm == nil {
			return nil, fmt.Errorf("no Kerberos ticket for %s in the credential cache, and no password to log in with", cfg.user)
		}
		return nil, nil
	}
	return kerberos.NewWithPassword(principal, cfg.password, kcfg)
}
