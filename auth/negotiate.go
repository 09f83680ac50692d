package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/sesame-auth/sesame/kerberos"
	"github.com/sesame-auth/sesame/ntlm"
	"github.com/sesame-auth/sesame/spnego"
)

// Negotiate answers "Negotiate" challenges (RFC 4559) with Kerberos, and
// with NTLM inside SPNEGO as a fallback when configured. The handshake
// authenticates the connection: one leg for Kerberos (the AP-REQ, with the
// request body), two for NTLM.
//
// Token format: with Kerberos alone and UseSPNEGO false (the default), the
// token is the raw Kerberos GSS-API token, as curl and browsers send and
// every SPNEGO acceptor (IIS, mod_auth_gssapi, squid) takes. With an NTLM
// fallback, or UseSPNEGO, it is a SPNEGO NegTokenInit offering Kerberos
// first: a Kerberos mechanism that cannot start (no ticket) is left out,
// and NTLM carries the handshake.
//
// Mutual authentication: the acceptor's AP-REP in the final response's
// WWW-Authenticate is verified in Finish according to Mutual. With
// MutualRequired (the default) a final response without a valid AP-REP
// makes Finish return an error wrapping [kerberos.ErrMutualAuth]: the
// response did not come from the server the ticket was for, and its body
// must not be handed to the caller as if it had (httpx-gssapi's
// "sanitised" error responses).
//
// Opportunistic authentication: once a peer has asked for Negotiate, the
// Transport starts the handshake pre-emptively on each new connection to
// it; with Preemptive it does so from the very first request.
type Negotiate struct {
	// Kerberos holds the Kerberos credentials; nil for NTLM only.
	Kerberos *kerberos.Client
	// NTLM, if set, is offered after Kerberos inside SPNEGO. Its
	// TargetSPN and ServerCertificate are filled in per handshake unless
	// set.
	NTLM *ntlm.Client
	// Mutual is the mutual authentication mode; default
	// kerberos.MutualRequired. Toward a proxy (407) it applies only with
	// RequireProxyMutual: proxies rarely return an AP-REP (squid never
	// does), so there a present one is verified and a missing one
	// accepted (kerberos.MutualOptional), as curl and browsers do.
	Mutual kerberos.MutualMode
	// RequireProxyMutual applies Mutual to proxies too.
	RequireProxyMutual bool
	// Delegation decides whether the TGT is forwarded to the server;
	// default kerberos.DelegateNone.
	Delegation kerberos.Delegation
	// SPN overrides the service principal ("HTTP/web.corp.example", with
	// or without "@REALM"); by default it is HTTP/<host> with the host
	// exactly as in the URL (or proxy URL).
	SPN string
	// Canonicalize resolves the host's CNAME before building the service
	// principal, as MIT's dns_canonicalize_hostname = true does. Off by
	// default: DNS answers would choose which server gets the ticket.
	Canonicalize bool
	// UseSPNEGO wraps a Kerberos-only handshake in SPNEGO. It is implied
	// when NTLM is set.
	UseSPNEGO bool
	// Preemptive sends the token with the first request to a peer,
	// before any 401 or 407, saving a round trip (httpx-gssapi's
	// opportunistic_auth). Off by default: it gets a service ticket for
	// every host asked, and hands a token to hosts that never asked.
	Preemptive bool

	handshakes, verified, mutualFailed, delegated atomic.Uint64
}

// NegotiateStats counts a Negotiate credential's handshakes.
type NegotiateStats struct {
	// Handshakes is the number of handshakes started.
	Handshakes uint64
	// MutualVerified counts Kerberos handshakes whose AP-REP verified.
	MutualVerified uint64
	// MutualFailed counts Finish calls that failed mutual
	// authentication.
	MutualFailed uint64
	// Delegated counts initial tokens that carried a forwarded TGT.
	Delegated uint64
}

// Stats returns the handshake counters.
func (n *Negotiate) Stats() NegotiateStats {
	return NegotiateStats{
		Handshakes: n.handshakes.Load(), MutualVerified: n.verified.Load(),
		MutualFailed: n.mutualFailed.Load(), Delegated: n.delegated.Load(),
	}
}

// Scheme returns "Negotiate".
func (n *Negotiate) Scheme() string { return "Negotiate" }

// Identity returns the Kerberos principal (or the credential cache it
// comes from, before the cache was read), the NTLM account, or both.
func (n *Negotiate) Identity() string {
	var ids []string
	if n.Kerberos != nil {
		id := n.Kerberos.Principal()
		if id == "" {
			id = "ccache:" + n.Kerberos.CCache()
		}
		ids = append(ids, id)
	}
	if n.NTLM != nil {
		ids = append(ids, (&NTLM{Client: *n.NTLM}).Identity())
	}
	return strings.Join(ids, "+")
}

// Opportunistic reports whether the Transport may send the token before
// a challenge (Preemptive).
func (n *Negotiate) Opportunistic() bool { return n.Preemptive }

// Start begins the handshake for one connection.
func (n *Negotiate) Start(t *Target) (Handshake, error) {
	if n.Kerberos == nil && n.NTLM == nil {
		return nil, fmt.Errorf("auth: negotiate: %w: neither Kerberos nor NTLM credentials", ErrInvalidCredentials)
	}
	n.handshakes.Add(1)
	return &negotiateHandshake{n: n, t: t}, nil
}

type negotiateHandshake struct {
	n       *Negotiate
	t       *Target
	started bool
	sc      *kerberos.SecContext      // raw Kerberos
	init    *spnego.Initiator         // SPNEGO
	krb     *spnego.KerberosMechanism // inside init, if offered
	ntlm    *spnego.NTLMMechanism     // inside init, if offered
	done    bool                      // SPNEGO negotiation complete
}

// HandshakeInfo is an optional interface of a Handshake that can say
// which mechanism it runs and as whom: Negotiate's handshake implements
// it, since its scheme name alone does not tell Kerberos from NTLM
// inside SPNEGO, nor which principal a credential cache supplied.
type HandshakeInfo interface {
	// Mechanism returns "kerberos" or "ntlm": the mechanism carrying the
	// handshake so far (Kerberos's optimistic token until the acceptor
	// chooses NTLM), "" before the first leg.
	Mechanism() string
	// Principal returns the identity that mechanism authenticates as:
	// the Kerberos client principal "user@REALM", or the NTLM account
	// "DOMAIN\user"; "" before the first leg.
	Principal() string
}

// Mechanism implements HandshakeInfo.
func (h *negotiateHandshake) Mechanism() string {
	switch {
	case h.sc != nil:
		return "kerberos"
	case h.init == nil || h.init.Mech() == nil:
		return ""
	case h.krb != nil && h.init.Mech() == spnego.Mechanism(h.krb):
		return "kerberos"
	case h.ntlm != nil && h.init.Mech() == spnego.Mechanism(h.ntlm):
		return "ntlm"
	}
	return ""
}

// Principal implements HandshakeInfo.
func (h *negotiateHandshake) Principal() string {
	switch h.Mechanism() {
	case "kerberos":
		return h.n.Kerberos.Principal()
	case "ntlm":
		return (&NTLM{Client: *h.n.NTLM}).Identity()
	}
	return ""
}

// passwordSent reports whether a password was put to the peer's test:
// an NTLM AUTHENTICATE went out. A Kerberos ticket judges no password
// (a server that cannot use it says nothing about the password the TGT
// was obtained with), nor does an NTLM NEGOTIATE.
func (h *negotiateHandshake) passwordSent() bool {
	return h.Mechanism() == "ntlm" && h.ntlm.Authentication() != nil
}

// refused wraps a failure of the peer to go on: ErrRejected, and also
// ErrMechanismUnavailable when no password was judged, so that the
// Transport may try the next scheme the peer offers.
func (h *negotiateHandshake) refused(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if h.passwordSent() {
		return fmt.Errorf("auth: negotiate: %w: %w", ErrRejected, err)
	}
	return fmt.Errorf("auth: negotiate: %w: %w: %w", ErrMechanismUnavailable, ErrRejected, err)
}

// spn returns the service principal for the target.
func (h *negotiateHandshake) spn(ctx context.Context) (string, error) {
	if h.n.SPN != "" {
		return h.n.SPN, nil
	}
	host := h.t.Host
	if h.n.Canonicalize {
		var err error
		if host, err = kerberos.CanonicalHost(ctx, nil, host); err != nil {
			return "", err
		}
	}
	return kerberos.ServiceName("HTTP", host), nil
}

func (h *negotiateHandshake) opts() kerberos.ContextOptions {
	o := kerberos.ContextOptions{Mutual: h.mutual(), Delegation: h.n.Delegation}
	if c := h.t.ServerCertificate; c != nil && !h.t.Proxy {
		// Bound to the TLS channel, as NTLM is: an acceptor that checks
		// (IIS Extended Protection) refuses a token relayed elsewhere.
		o.ChannelBindings = ntlm.TLSServerEndPoint(c)
	}
	return o
}

// mutual is the mode in force for this target (see Negotiate.Mutual).
func (h *negotiateHandshake) mutual() kerberos.MutualMode {
	if h.t.Proxy && !h.n.RequireProxyMutual && h.n.Mutual == kerberos.MutualRequired {
		return kerberos.MutualOptional
	}
	return h.n.Mutual
}

func (h *negotiateHandshake) Next(ctx context.Context, ch *Challenge) (string, bool, error) {
	var in []byte
	if ch != nil && ch.Token68 != "" {
		var err error
		if in, err = base64.StdEncoding.DecodeString(strings.TrimSpace(ch.Token68)); err != nil {
			return "", false, fmt.Errorf("auth: negotiate: challenge is not base64: %w", ErrMalformedChallenge)
		}
	}
	if !h.started {
		h.started = true
		return h.first(ctx, in)
	}
	if len(in) == 0 {
		return "", false, h.refused("server answered %s without a token", h.Mechanism())
	}
	if h.init == nil {
		// Raw Kerberos takes one leg; a token now is an error report.
		err := h.sc.Step(in)
		if err == nil {
			err = errors.New("an AP-REP with a 401")
		}
		return "", false, h.refused("%w", err)
	}
	out, done, err := h.init.Step(in)
	if err != nil {
		if errors.Is(err, spnego.ErrMechListMIC) || errors.Is(err, spnego.ErrMalformed) {
			// Not a refusal: a negotiation someone may have tampered
			// with, which must not go on in another scheme either.
			return "", false, fmt.Errorf("auth: negotiate: %w: %w", ErrRejected, err)
		}
		return "", false, h.refused("%w", err)
	}
	if done || len(out) == 0 {
		return "", false, h.refused("negotiation ended with a 401")
	}
	return "Negotiate " + base64.StdEncoding.EncodeToString(out), h.init.MechComplete(), nil
}

func (h *negotiateHandshake) first(ctx context.Context, in []byte) (string, bool, error) {
	n := h.n
	var spn string
	if n.Kerberos != nil {
		var err error
		if spn, err = h.spn(ctx); err != nil {
			return "", false, err
		}
	}
	if n.NTLM == nil && !n.UseSPNEGO {
		sc, err := n.Kerberos.InitContext(ctx, spn, h.opts())
		if err != nil {
			return "", false, h.unavailable(err)
		}
		h.sc = sc
		if sc.Delegated() {
			n.delegated.Add(1)
		}
		return "Negotiate " + base64.StdEncoding.EncodeToString(sc.Token()), true, nil
	}
	h.init = &spnego.Initiator{}
	if n.Kerberos != nil {
		h.krb = spnego.NewKerberosMechanism(ctx, n.Kerberos, spn, h.opts())
		h.init.Mechs = append(h.init.Mechs, h.krb)
	}
	if n.NTLM != nil {
		c := *n.NTLM // a copy: per-target fields must not leak across handshakes
		if c.TargetSPN == "" && h.t.Host != "" {
			c.TargetSPN = "HTTP/" + h.t.Host
		}
		if c.ServerCertificate == nil {
			c.ServerCertificate = h.t.ServerCertificate
		}
		h.ntlm = spnego.NewNTLMMechanism(&c)
		h.init.Mechs = append(h.init.Mechs, h.ntlm)
	}
	out, _, err := h.init.Step(in)
	if err != nil {
		return "", false, h.unavailable(err)
	}
	if h.krb != nil && h.krb.SecContext() == nil {
		// A password the KDC refused is not tried on the peer with
		// NTLM: Active Directory counts both towards a lockout.
		if err := n.Kerberos.LoginError(); err != nil {
			return "", false, fmt.Errorf("auth: negotiate: %w: %w", ErrRejected, err)
		}
	}
	if h.kerberosChosen() {
		sc := h.krb.SecContext()
		if sc.Delegated() {
			n.delegated.Add(1)
		}
		// Kerberos completes the client's side in one leg.
		return "Negotiate " + base64.StdEncoding.EncodeToString(out), true, nil
	}
	return "Negotiate " + base64.StdEncoding.EncodeToString(out), h.init.MechComplete(), nil
}

// unavailable wraps an error of a handshake that could not start: no
// mechanism had credentials the peer could be sent (no ticket, a cache
// of another principal, a service principal the KDC does not know, an
// unreachable KDC). No password was judged, except where the KDC refused
// one, which stays ErrRejected.
func (h *negotiateHandshake) unavailable(err error) error {
	if errors.Is(err, kerberos.ErrLoginRefused) {
		return fmt.Errorf("auth: negotiate: %w: %w", ErrRejected, err)
	}
	return fmt.Errorf("auth: negotiate: %w: %w", ErrMechanismUnavailable, err)
}

// kerberosChosen reports whether SPNEGO runs Kerberos.
func (h *negotiateHandshake) kerberosChosen() bool {
	return h.krb != nil && h.krb.SecContext() != nil && h.init.Mech() == spnego.Mechanism(h.krb)
}

// Finish verifies the server's final token: the AP-REP (mutual
// authentication) for Kerberos, the mechListMIC for SPNEGO.
func (h *negotiateHandshake) Finish(ch *Challenge) error {
	err := h.finish(ch)
	if errors.Is(err, kerberos.ErrMutualAuth) {
		h.n.mutualFailed.Add(1)
	}
	return err
}

func (h *negotiateHandshake) finish(ch *Challenge) error {
	var tok []byte
	if ch != nil && ch.Token68 != "" {
		var err error
		if tok, err = base64.StdEncoding.DecodeString(strings.TrimSpace(ch.Token68)); err != nil {
			tok = []byte{0} // undecodable: fails verification below
		}
	}
	switch {
	case h.sc != nil:
		if len(tok) > 0 && tok[0] == 0xa1 {
			// A SPNEGO answer to a raw Kerberos token: unwrap.
			if r, err := spnego.ParseNegTokenResp(tok); err == nil {
				if r.NegState == spnego.Reject {
					return fmt.Errorf("auth: negotiate: %w: %w: server rejected the context", kerberos.ErrMutualAuth, ErrRejected)
				}
				tok = r.ResponseToken
			}
		}
		if err := h.sc.Finish(tok); err != nil {
			return fmt.Errorf("auth: negotiate: %w", err)
		}
		h.countVerified(h.sc)
		return nil
	case h.init == nil:
		return nil
	case h.kerberosChosen():
		sc := h.krb.SecContext()
		if r, err := spnego.ParseNegTokenResp(tok); err == nil && len(r.ResponseToken) == 0 && r.NegState == spnego.AcceptCompleted && len(r.MechListMIC) == 0 {
			tok = nil // accept-completed without an AP-REP: the mode decides
		}
		if len(tok) > 0 && !h.done {
			_, done, err := h.init.Step(tok)
			if err != nil && h.mutual() != kerberos.MutualDisabled {
				if !errors.Is(err, kerberos.ErrMutualAuth) {
					err = fmt.Errorf("%w: %w", kerberos.ErrMutualAuth, err)
				}
				return fmt.Errorf("auth: negotiate: %w", err)
			}
			h.done = done
		}
		if err := sc.Finish(nil); err != nil {
			return fmt.Errorf("auth: negotiate: %w", err)
		}
		h.countVerified(sc)
		return nil
	}
	// NTLM: no mutual authentication; check the acceptor's last token
	// (its mechListMIC) if it sent one.
	if len(tok) > 0 && !h.done {
		if _, _, err := h.init.Step(tok); err != nil {
			return fmt.Errorf("auth: negotiate: %w", err)
		}
		h.done = true
	}
	return nil
}

func (h *negotiateHandshake) countVerified(sc *kerberos.SecContext) {
	if sc.MutualVerified() {
		h.n.verified.Add(1)
	}
}
