package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/kerberos"
)

// gssOptions are httpx-gssapi's options for a Negotiate credential:
// mutual authentication mode, opportunistic authentication, the
// mechanism, and the principal of a cache collection.
type gssOptions struct {
	mutual        string // required, optional, disabled ("" = required)
	opportunistic bool
	mech          string // kerberos, ntlm, spnego or an OID ("" = any)
	principal     string // user@REALM of a collection's caches ("" = primary)
	// sanitize: httpx-gssapi's sanitize_mutual_error_response.
	sanitize bool
}

// Mechanism OIDs --mech takes besides the names.
const (
	oidKerberos   = "1.2.840.113554.1.2.2"
	oidMSKerberos = "1.2.840.48018.1.2.2"
	oidNTLM       = "1.3.6.1.4.1.311.2.2.10"
	oidSPNEGO     = "1.3.6.1.5.5.2"
)

func (g *gssOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&g.mutual, "mutual", "", "")
	fs.BoolVar(&g.opportunistic, "opportunistic", false, "")
	fs.StringVar(&g.mech, "mech", "", "")
	fs.StringVar(&g.principal, "principal", "", "")
	fs.BoolVar(&g.sanitize, "sanitize-mutual-error", false, "")
}

// check validates the values and normalizes --mech to kerberos, ntlm or
// spnego.
func (g *gssOptions) check() error {
	switch strings.ToLower(g.mutual) {
	case "", "required", "optional", "disabled":
		g.mutual = strings.ToLower(g.mutual)
	default:
		return usagef("--mutual must be required, optional or disabled, not %q", g.mutual)
	}
	switch m := strings.ToLower(g.mech); m {
	case "":
	case "kerberos", "krb5", oidKerberos, oidMSKerberos:
		g.mech = "kerberos"
	case "ntlm", "ntlmssp", oidNTLM:
		g.mech = "ntlm"
	case "spnego", "negotiate", oidSPNEGO:
		g.mech = "spnego"
	default:
		return usagef("--mech must be kerberos, ntlm, spnego or one of their OIDs (%s, %s, %s, %s), not %q", oidKerberos, oidMSKerberos, oidNTLM, oidSPNEGO, g.mech)
	}
	if g.sanitize && g.mutual != "" && g.mutual != "required" {
		return usagef("--sanitize-mutual-error goes with --mutual required (the default)")
	}
	if g.principal != "" && !strings.Contains(g.principal, "@") {
		return usagef("--principal wants user@REALM, not %q", g.principal)
	}
	return nil
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
// leaves out the other one (an error if that leaves none).
func (g gssOptions) apply(n *auth.Negotiate) error {
	n.Mutual = g.mutualMode()
	n.Preemptive = g.opportunistic
	switch g.mech {
	case "kerberos":
		if n.Kerberos == nil {
			return fmt.Errorf("--mech kerberos: no Kerberos credentials (no ticket in the cache, or no password)")
		}
		n.NTLM = nil
	case "ntlm":
		if n.NTLM == nil {
			return fmt.Errorf("--mech ntlm: NTLM needs a user and password (-u DOMAIN\\user:password)")
		}
		n.Kerberos = nil
	case "spnego":
		n.UseSPNEGO = true
	}
	return nil
}
