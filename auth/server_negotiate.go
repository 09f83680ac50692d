package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/sesame-auth/sesame/kerberos"
	"github.com/sesame-auth/sesame/ntlm"
	"github.com/sesame-auth/sesame/spnego"
)

// serveNegotiate runs one leg of Negotiate (RFC 4559): a Kerberos token
// completes in one leg (the AP-REP, when the client asked for mutual
// authentication, goes in the final 200's WWW-Authenticate); NTLM inside
// SPNEGO (or raw NTLMSSP in Negotiate) takes two, its context kept with
// the connection like raw NTLM's.
func (m *Middleware) serveNegotiate(r *http.Request, cs *connState, tok []byte) outcome {
	var ac *spnego.AcceptContext
	if cs != nil {
		ac, _ = m.takePending(cs, "Negotiate").(*spnego.AcceptContext)
	}
	if ac == nil {
		ac = m.Negotiate.NewContext(m.channelBindings(r))
	}
	out, done, err := ac.Step(r.Context(), tok)
	if err != nil {
		return outcome{err: fmt.Errorf("auth: negotiate: %w: %w", negotiateVerdict(err), err)}
	}
	if !done {
		if len(out) == 0 {
			return outcome{err: fmt.Errorf("auth: negotiate: acceptor wants more but sent nothing: %w", ErrMalformedAuthorization)}
		}
		if cs == nil || r.ProtoMajor >= 2 {
			return outcome{err: fmt.Errorf("auth: negotiate: a multi-leg handshake needs a connection of its own (HTTP/1.1 with the Middleware's ConnContext): %w", ErrNoHandshake)}
		}
		m.setPending(cs, "Negotiate", ac)
		return outcome{cont: "Negotiate " + base64.StdEncoding.EncodeToString(out)}
	}
	var u *User
	switch k, n := ac.Kerberos(), ac.NTLM(); {
	case k != nil:
		if err := m.checkKerberosBinding(r, k); err != nil {
			return outcome{err: err}
		}
		u = kerberosUser(k, "Negotiate", "kerberos", "keytab")
	case n != nil && !n.Anonymous:
		u = m.ntlmUser(n)
		u.Scheme = "Negotiate"
	default:
		return outcome{err: fmt.Errorf("auth: negotiate: no identity: %w", ErrUnauthenticated)}
	}
	if cs != nil && r.ProtoMajor < 2 {
		m.setConnUser(cs, u)
	}
	o := outcome{user: u}
	if len(out) > 0 {
		o.final = "Negotiate " + base64.StdEncoding.EncodeToString(out)
	}
	return o
}

// negotiateVerdict classifies an acceptor error: a refusal of the
// client's credentials, or a token that does not parse.
func negotiateVerdict(err error) error {
	switch {
	case errors.Is(err, ntlm.ErrUnknownUser):
		return ErrNoSuchUser
	case errors.Is(err, spnego.ErrMalformed), errors.Is(err, kerberos.ErrMalformedToken), errors.Is(err, ntlm.ErrMalformed):
		return ErrMalformedAuthorization
	case errors.Is(err, kerberos.ErrReplay):
		return ErrReplay
	}
	return ErrUnauthenticated
}

// checkKerberosBinding applies KerberosChannelBinding: the acceptor has
// already refused bindings that do not match; Required also refuses a
// client that sent none (or any client without TLS).
func (m *Middleware) checkKerberosBinding(r *http.Request, k *kerberos.AcceptResult) error {
	if m.KerberosChannelBinding != ntlm.ChannelBindingRequired || k.ChannelBound {
		return nil
	}
	if r.TLS == nil {
		return fmt.Errorf("auth: negotiate: %s: channel binding required, the connection has no TLS: %w", k.Principal, ErrUnauthenticated)
	}
	return fmt.Errorf("auth: negotiate: %s: channel binding required, the client sent none: %w", k.Principal, ErrUnauthenticated)
}

// kerberosUser makes the User of a verified Kerberos ticket.
func kerberosUser(k *kerberos.AcceptResult, scheme, mech, verified string) *User {
	u := &User{Name: k.Name, Realm: k.Realm, Domain: k.LogonDomain, Principal: k.Principal,
		Scheme: scheme, Mechanism: mech, Verified: verified, Expires: k.Expires, Delegated: k.Delegated}
	for _, sid := range k.GroupSIDs {
		u.Groups = append(u.Groups, Group{SID: sid})
	}
	return u
}

// groupsOf turns the groups a ResponseVerifier reported (SIDs or names)
// into Groups.
func groupsOf(list []string) []Group {
	var gs []Group
	for _, g := range list {
		if strings.HasPrefix(g, "S-1-") {
			gs = append(gs, Group{SID: g})
		} else {
			gs = append(gs, Group{Name: g})
		}
	}
	return gs
}

// KerberosPasswords is a BasicVerifier that checks passwords with the
// KDC and the service's keytab (kerberos.Acceptor.VerifyPassword: AS-REQ
// as the user, a ticket for the service's own SPN, verified with the
// keytab, so a fake KDC cannot vouch for a password), as mod_auth_gssapi's
// GssapiBasicAuth does.
type KerberosPasswords struct {
	// Acceptor holds the keytab. Required.
	Acceptor *kerberos.Acceptor
	// Config is the Kerberos configuration; nil means krb5.conf.
	Config *kerberos.Config
}

// VerifyBasic implements BasicVerifier.
func (k *KerberosPasswords) VerifyBasic(ctx context.Context, user, password string) (*User, error) {
	res, err := k.Acceptor.VerifyPassword(ctx, k.Config, user, password)
	if err != nil {
		if errors.Is(err, kerberos.ErrLoginRefused) {
			return nil, fmt.Errorf("auth: %w: %w", ErrUnauthenticated, err)
		}
		return nil, err
	}
	return kerberosUser(res, "Basic", "password", "kerberos password"), nil
}
