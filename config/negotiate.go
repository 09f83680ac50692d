package config

import (
	"fmt"
	"strings"
)

// Mechanism OIDs Negotiate's mech setting takes besides the names: those
// of package spnego as strings (config does not import the protocol
// packages; TestMechOIDsAreSpnegos keeps them equal).
const (
	oidKerberos   = "1.2.840.113554.1.2.2"
	oidMSKerberos = "1.2.840.48018.1.2.2"
	oidNTLM       = "1.3.6.1.4.1.311.2.2.10"
	oidSPNEGO     = "1.3.6.1.5.5.2"
)

// NegotiateOptions are httpx-gssapi's options for a Negotiate credential,
// as [auth] of the configuration file and the flags of `sesame get` and
// `sesame proxy` give them.
type NegotiateOptions struct {
	// Mutual is the mutual authentication mode: "required", "optional"
	// or "disabled"; "" is the default (required of an origin server,
	// asked for but not required of a proxy).
	Mutual string
	// Opportunistic sends the token with the first request, before a
	// challenge.
	Opportunistic bool
	// Mech is "kerberos", "ntlm", "spnego" or one of their OIDs; "" for
	// Kerberos with NTLM in SPNEGO as the fallback.
	Mech string
	// Principal is user@REALM: the cache of that principal in a
	// collection (DIR:, KCM:, KEYRING:) instead of the primary one.
	Principal string
	// SanitizeMutualError: with Mutual required, an error response
	// from a peer that failed mutual authentication is handed on as its
	// status alone instead of an error.
	SanitizeMutualError bool
}

// Negotiate returns the Negotiate options of [auth].
func (a *Auth) Negotiate() NegotiateOptions {
	return NegotiateOptions{Mutual: a.Mutual, Opportunistic: a.Opportunistic, Mech: a.Mech, Principal: a.Principal, SanitizeMutualError: a.SanitizeMutualError}
}

// Normalize checks the options and puts Mutual in lower case and Mech
// as "kerberos", "ntlm", "spnego" or "". The errors name each setting by
// name(key), key being the configuration key ("mutual", "mech",
// "principal", "sanitize_mutual_error"): "auth.mutual", or "--mutual".
func (o *NegotiateOptions) Normalize(name func(key string) string) error {
	switch m := strings.ToLower(o.Mutual); m {
	case "", "required", "optional", "disabled":
		o.Mutual = m
	default:
		return fmt.Errorf("%s must be required, optional or disabled, not %q", name("mutual"), o.Mutual)
	}
	switch m := strings.ToLower(strings.TrimSpace(o.Mech)); m {
	case "":
		o.Mech = ""
	case "kerberos", "krb5", oidKerberos, oidMSKerberos:
		o.Mech = "kerberos"
	case "ntlm", "ntlmssp", oidNTLM:
		o.Mech = "ntlm"
	case "spnego", "negotiate", oidSPNEGO:
		o.Mech = "spnego"
	default:
		return fmt.Errorf("%s must be kerberos, ntlm, spnego or one of their OIDs (%s, %s, %s, %s), not %q",
			name("mech"), oidKerberos, oidMSKerberos, oidNTLM, oidSPNEGO, o.Mech)
	}
	if o.SanitizeMutualError && o.Mutual != "" && o.Mutual != "required" {
		return fmt.Errorf("%s goes with %s required (the default), not %s", name("sanitize_mutual_error"), name("mutual"), o.Mutual)
	}
	if o.Principal != "" {
		user, realm, ok := strings.Cut(o.Principal, "@")
		if !ok || user == "" || realm == "" {
			return fmt.Errorf("%s wants user@REALM, not %q", name("principal"), o.Principal)
		}
	}
	return nil
}
