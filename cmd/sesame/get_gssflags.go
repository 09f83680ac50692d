package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/config"
	"github.com/sesame-auth/sesame/kerberos"
)

// gssOptions are httpx-gssapi's options for a Negotiate credential:
// mutual authentication mode, opportunistic authentication, the
// mechanism, and the principal of a cache collection. `sesame get` takes
// them as flags, `sesame proxy` from [auth] (gssFromAuth) and its flags;
// both map them onto auth.Negotiate with apply (through newNegotiate),
// and sanitize onto auth.Transport.SanitizeMutualErrors.
type gssOptions struct {
	mutual        string // required, optional, disabled ("" = required)
	opportunistic bool
	mech          string // kerberos, ntlm, spnego or an OID ("" = any)
	principal     string // user@REALM of a collection's caches ("" = primary)
	// sanitize: httpx-gssapi's sanitize_mutual_error_response.
	sanitize bool
	// mechSetting and ntlmHint word apply's errors: "--mech" and how
	// to give NTLM a password on the command line, by default.
	mechSetting, ntlmHint string
}

func (g *gssOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&g.mutual, "mutual", "", "")
	fs.BoolVar(&g.opportunistic, "opportunistic", false, "")
	fs.StringVar(&g.mech, "mech", "", "")
	fs.StringVar(&g.principal, "principal", "", "")
	fs.BoolVar(&g.sanitize, "sanitize-mutual-error", false, "")
}

// keyFlag is the command-line flag of a configuration key.
func keyFlag(key string) string { return flagName(strings.ReplaceAll(key, "_", "-")) }

func (g gssOptions) options() config.NegotiateOptions {
	return config.NegotiateOptions{Mutual: g.mutual, Opportunistic: g.opportunistic, Mech: g.mech, Principal: g.principal, SanitizeMutualError: g.sanitize}
}

// check validates the values (config.NegotiateOptions.Normalize) and
// normalizes --mech to kerberos, ntlm or spnego.
func (g *gssOptions) check() error {
	o := g.options()
	if err := o.Normalize(keyFlag); err != nil {
		return usagef("%v", err)
	}
	g.mutual, g.mech = o.Mutual, o.Mech
	return nil
}

// gssFromAuth is the proxy's gssOptions: those of [auth], after the
// flags were merged in.
func gssFromAuth(a *config.Auth) (gssOptions, error) {
	o := a.Negotiate()
	if err := o.Normalize(func(key string) string { return "auth." + key }); err != nil {
		return gssOptions{}, usagef("%v", err)
	}
	return gssOptions{mutual: o.Mutual, opportunistic: o.Opportunistic, mech: o.Mech, principal: o.Principal, sanitize: o.SanitizeMutualError,
		mechSetting: "mech", ntlmHint: "auth.user (--user) with a password or NT hash"}, nil
}

// mutualMode is the kerberos.MutualMode of --mutual.
func (g gssOptions) mutualMode() kerberos.MutualMode {
	switch g.mutual {
	case "optional":
		return kerberos.MutualOptional
	case "disabled":
		return kerberos.MutualDisabled
	}
	return kerberos.MutualRequired
}

// apply sets the options on a Negotiate credential: the mechanism
// leaves out the other one (an error if that leaves none). An explicit
// mutual required holds toward a proxy too (auth.Negotiate's
// RequireProxyMutual); by default a proxy need not prove itself.
func (g gssOptions) apply(n *auth.Negotiate) error {
	n.Mutual = g.mutualMode()
	n.RequireProxyMutual = g.mutual == "required"
	n.Preemptive = g.opportunistic
	setting, hint := g.mechSetting, g.ntlmHint
	if setting == "" {
		setting = "--mech"
	}
	if hint == "" {
		hint = "-u DOMAIN\\user:password"
	}
	switch g.mech {
	case "kerberos":
		if n.Kerberos == nil {
			return fmt.Errorf("%s kerberos: no Kerberos credentials (no ticket in the cache, or no password)", setting)
		}
		n.NTLM = nil
	case "ntlm":
		if n.NTLM == nil {
			return fmt.Errorf("%s ntlm: NTLM needs a user and password (%s)", setting, hint)
		}
		n.Kerberos = nil
	case "spnego":
		n.UseSPNEGO = true
	}
	return nil
}
