package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/config"
)

// credentialIdentities lists who a credential speaks as, one entry per
// mechanism: a Negotiate credential carrying Kerberos and NTLM (inside
// SPNEGO) is two accounts, not "alice@CORP.TEST+CORP\alice".
func credentialIdentities(c auth.Credential) []string {
	n, ok := c.(*auth.Negotiate)
	if !ok || n.Kerberos == nil || n.NTLM == nil {
		return []string{c.Identity()}
	}
	krb := n.Kerberos.Principal()
	if krb == "" {
		krb = "ticket from " + n.Kerberos.CCache()
	}
	return []string{"kerberos: " + krb, "ntlm: " + (&auth.NTLM{Client: *n.NTLM}).Identity()}
}

// credentialLabel names a credential in a result line: "NTLM as
// CORP\alice", or the scheme alone when it has several identities, which
// then follow on their own lines (writeIdentities).
func credentialLabel(c auth.Credential) string {
	if ids := credentialIdentities(c); len(ids) == 1 {
		return c.Scheme() + " as " + ids[0]
	}
	return c.Scheme()
}

// writeIdentities writes the identities of a credential with several,
// one a line under its result line.
func writeIdentities(w io.Writer, c auth.Credential, indent string) {
	if ids := credentialIdentities(c); len(ids) > 1 {
		for _, id := range ids {
			fmt.Fprintf(w, "%s%s\n", indent, id)
		}
	}
}

// writeSettings writes the settings in effect and where each came from.
func writeSettings(w io.Writer, cfg *config.Config, sources map[string]string) {
	or := func(v, none string) string {
		if v == "" {
			return none
		}
		return v
	}
	line := func(name, value, key string) {
		fmt.Fprintf(w, "  %-9s %s (%s)\n", name+":", value, or(sources[key], "default"))
	}
	switch {
	case cfg.PAC != "":
		line("pac", cfg.PAC, "pac")
	default:
		line("upstream", or(strings.Join(cfg.Upstreams, ", "), "none (DIRECT)"), "upstream")
	}
	line("no proxy", or(strings.Join(cfg.NoProxy, ","), "none"), "no-proxy")
	user := cfg.Auth.User
	if user != "" && cfg.Auth.Domain != "" && !strings.ContainsAny(user, `\@`) {
		user = cfg.Auth.Domain + `\` + user
	}
	line("user", or(user, "none (single sign-on)"), "user")
	line("auth", or(strings.Join(cfg.Auth.Schemes, ","), "any"), "auth")
}
