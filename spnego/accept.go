package spnego

import (
	"context"
	"encoding/asn1"
	"errors"
	"fmt"
	"sync"

	"github.com/sesame-auth/sesame/kerberos"
	"github.com/sesame-auth/sesame/ntlm"
)

// Acceptor is the acceptor side of SPNEGO over HTTP Negotiate (RFC 4178,
// RFC 4559) with Kerberos and NTLM underneath. Either mechanism may be
// nil, and is then not offered. The Acceptor holds configuration only;
// each TCP connection gets its own AcceptContext.
type Acceptor struct {
	// Kerberos verifies Kerberos tokens; nil leaves Kerberos out.
	Kerberos *kerberos.Acceptor
	// NTLM verifies NTLM messages; nil leaves NTLM out.
	NTLM *ntlm.Server
}

// NewContext starts the acceptor state of one connection.
// channelBindings is the application data of the channel (for TLS,
// ntlm.TLSServerEndPoint of the server's certificate), nil for none; both
// mechanisms check the initiator's bindings against it.
func (a *Acceptor) NewContext(channelBindings []byte) *AcceptContext {
	return &AcceptContext{a: a, cb: channelBindings}
}

type acceptState int

const (
	acceptStart   acceptState = iota
	acceptSPNEGO              // NegTokenInit answered, NegTokenResps follow
	acceptRawNTLM             // raw NTLMSSP: CHALLENGE sent
	acceptDone                // authenticated
	acceptFailed              // an error ended the negotiation
)

// AcceptContext is one negotiation on one connection: Step takes each
// token of the client's "Authorization: Negotiate" headers until done.
// It is safe for concurrent use, though HTTP sends one token at a time.
type AcceptContext struct {
	a  *Acceptor
	cb []byte

	mu          sync.Mutex
	state       acceptState
	mech        asn1.ObjectIdentifier // chosen mechanism, as the initiator wrote it
	mechList    []byte                // the initiator's MechTypeList as received
	micRequired bool                  // RFC 4178 section 5: not the initiator's first choice
	micVerified bool
	micSent     bool
	mechDone    bool

	ntlmHS   *ntlm.ServerHandshake
	ntlmID   *ntlm.Identity
	ntlmSess *ntlm.Session
	krb      *kerberos.AcceptResult
}

// Kerberos returns the Kerberos result once the context is done with
// Kerberos, else nil.
func (c *AcceptContext) Kerberos() *kerberos.AcceptResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != acceptDone {
		return nil
	}
	return c.krb
}

// NTLM returns the NTLM identity once the context is done with NTLM,
// else nil.
func (c *AcceptContext) NTLM() *ntlm.Identity {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != acceptDone {
		return nil
	}
	return c.ntlmID
}

// Step takes the token of a "Negotiate" header: a SPNEGO NegTokenInit or
// NegTokenResp, a raw Kerberos GSS-API token, or a raw NTLMSSP message.
// It returns the token for the next "WWW-Authenticate: Negotiate" header
// (nil when there is none to send) and done once the client is
// authenticated; Kerberos or NTLM then tell who it is.
//
// SPNEGO picks the first of the initiator's mechanisms the Acceptor has,
// uses its optimistic token when it was the initiator's first choice,
// and runs the mechListMIC exchange of RFC 4178 section 5: required when
// the chosen mechanism was not the initiator's first, and whenever the
// initiator sends one. A failed negotiation returns an error and, for
// SPNEGO, a reject token the caller may send.
func (c *AcceptContext) Step(ctx context.Context, token []byte) (out []byte, done bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state {
	case acceptDone:
		return nil, false, fmt.Errorf("spnego: accept: %w: negotiation already complete", ErrState)
	case acceptFailed:
		return nil, false, fmt.Errorf("spnego: accept: %w: negotiation already failed", ErrState)
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	out, done, err = c.step(ctx, token)
	switch {
	case err != nil:
		c.state = acceptFailed
		if isSPNEGOErr(err) {
			if rej, e := (&NegTokenResp{NegState: Reject}).Marshal(); e == nil {
				return rej, false, err
			}
		}
		return nil, false, err
	case done:
		c.state = acceptDone
	}
	return out, done, nil
}

// rawErr marks errors of raw (non-SPNEGO) tokens, which get no reject
// token.
type rawErr struct{ error }

func (e rawErr) Unwrap() error { return e.error }

func isSPNEGOErr(err error) bool {
	var r rawErr
	return !errors.As(err, &r)
}

func (c *AcceptContext) step(ctx context.Context, token []byte) ([]byte, bool, error) {
	if c.state == acceptRawNTLM {
		id, err := c.ntlmHS.Authenticate(ctx, token, c.cb)
		if err != nil {
			return nil, false, rawErr{fmt.Errorf("spnego: accept: NTLM: %w", err)}
		}
		c.ntlmID = id
		return nil, true, nil
	}
	if len(token) == 0 {
		return nil, false, fmt.Errorf("spnego: accept: %w: empty token", ErrMalformed)
	}
	t, err := Parse(token)
	if err != nil {
		return nil, false, fmt.Errorf("spnego: accept: %w", err)
	}
	if c.state == acceptStart {
		switch t.Kind {
		case KindKerberos:
			if c.a.Kerberos == nil {
				return nil, false, rawErr{fmt.Errorf("spnego: accept: %w: Kerberos is not enabled", ErrRejected)}
			}
			r, err := c.a.Kerberos.Accept(ctx, token, c.cb)
			if err != nil {
				return nil, false, rawErr{fmt.Errorf("spnego: accept: %w", err)}
			}
			c.krb = r
			return r.MutualToken, true, nil
		case KindNTLMSSP:
			if c.a.NTLM == nil {
				return nil, false, rawErr{fmt.Errorf("spnego: accept: %w: NTLM is not enabled", ErrRejected)}
			}
			h, chal, err := c.a.NTLM.Challenge(token)
			if err != nil {
				return nil, false, rawErr{fmt.Errorf("spnego: accept: NTLM: %w", err)}
			}
			c.ntlmHS, c.state = h, acceptRawNTLM
			return chal, false, nil
		case KindNegTokenInit:
			return c.init(ctx, t.Init)
		}
		return nil, false, fmt.Errorf("spnego: accept: %w: %v token to start a negotiation", ErrState, t.Kind)
	}
	if t.Kind != KindNegTokenResp {
		return nil, false, fmt.Errorf("spnego: accept: %w: %v token in a running negotiation", ErrState, t.Kind)
	}
	return c.resp(ctx, t.Resp)
}

// supports reports whether the acceptor has the mechanism.
func (c *AcceptContext) supports(oid asn1.ObjectIdentifier) bool {
	switch {
	case isKerberos(oid):
		return c.a.Kerberos != nil
	case oid.Equal(OIDNTLMSSP):
		return c.a.NTLM != nil
	}
	return false
}

func (c *AcceptContext) init(ctx context.Context, in *NegTokenInit) ([]byte, bool, error) {
	idx := -1
	for i, m := range in.MechTypes {
		if c.supports(m) {
			idx = i
			break
		}
	}
	if idx < 0 {
		return nil, false, fmt.Errorf("spnego: accept: %w: none of the offered mechanisms %v is enabled", ErrRejected, in.MechTypes)
	}
	c.mech = in.MechTypes[idx]
	c.mechList = in.RawMechTypes
	if c.mechList == nil {
		var err error
		if c.mechList, err = MechTypeListBytes(in.MechTypes); err != nil {
			return nil, false, err
		}
	}
	c.state = acceptSPNEGO
	if idx > 0 || len(in.MechToken) == 0 {
		// The optimistic token, if any, is for a mechanism we do not
		// have: name ours and let the initiator start it. Skipping the
		// initiator's first choice makes the MIC exchange mandatory,
		// and the reply says so with request-mic (RFC 4178 section 5);
		// MIT's initiator refuses the reselection ("invalid token")
		// under accept-incomplete.
		c.micRequired = idx > 0
		state := AcceptIncomplete
		if c.micRequired {
			state = RequestMIC
		}
		return c.reply(state, true, nil, nil)
	}
	return c.mechStep(ctx, in.MechToken, in.MechListMIC, true)
}

func (c *AcceptContext) resp(ctx context.Context, in *NegTokenResp) ([]byte, bool, error) {
	if len(in.SupportedMech) > 0 {
		return nil, false, fmt.Errorf("spnego: accept: %w: supportedMech from the initiator", ErrMalformed)
	}
	if in.NegState == Reject {
		return nil, false, fmt.Errorf("spnego: accept: %w: the initiator gave up", ErrRejected)
	}
	switch {
	case len(in.ResponseToken) > 0:
		if c.mechDone {
			return nil, false, fmt.Errorf("spnego: accept: %w: mechanism token after %v completed", ErrState, c.mech)
		}
		return c.mechStep(ctx, in.ResponseToken, in.MechListMIC, false)
	case len(in.MechListMIC) > 0 && c.mechDone:
		return c.finish(nil, in.MechListMIC, false)
	}
	return nil, false, fmt.Errorf("spnego: accept: %w: NegTokenResp without a token", ErrState)
}

// mechStep passes a mechanism token to the chosen mechanism.
func (c *AcceptContext) mechStep(ctx context.Context, tok, mic []byte, first bool) ([]byte, bool, error) {
	if isKerberos(c.mech) {
		r, err := c.a.Kerberos.Accept(ctx, tok, c.cb)
		if err != nil {
			return nil, false, fmt.Errorf("spnego: accept: %w", err)
		}
		c.krb, c.mechDone = r, true
		return c.finish(r.MutualToken, mic, first)
	}
	if c.ntlmHS == nil {
		h, chal, err := c.a.NTLM.Challenge(tok)
		if err != nil {
			return nil, false, fmt.Errorf("spnego: accept: NTLM: %w", err)
		}
		c.ntlmHS = h
		return c.reply(AcceptIncomplete, first, chal, nil)
	}
	id, err := c.ntlmHS.Authenticate(ctx, tok, c.cb)
	if err != nil {
		return nil, false, fmt.Errorf("spnego: accept: NTLM: %w", err)
	}
	c.ntlmID, c.mechDone = id, true
	if id.SessionKey != nil && id.Flags.Has(ntlm.FlagSign) {
		if c.ntlmSess, err = ntlm.NewSession(id.Flags, id.SessionKey, false); err != nil {
			return nil, false, fmt.Errorf("spnego: accept: NTLM: %w", err)
		}
	}
	return c.finish(nil, mic, first)
}

// finish runs the mechListMIC exchange once the mechanism is complete:
// it verifies the initiator's MIC if there is one, sends ours when the
// exchange is due, and completes unless the initiator still owes its MIC.
func (c *AcceptContext) finish(mechOut, mic []byte, first bool) ([]byte, bool, error) {
	integrity := c.hasIntegrity()
	if len(mic) > 0 {
		if c.micVerified {
			return nil, false, fmt.Errorf("spnego: accept: %w: second mechListMIC", ErrMechListMIC)
		}
		if err := c.verifyMIC(mic); err != nil {
			return nil, false, fmt.Errorf("spnego: accept: %w: %w", ErrMechListMIC, err)
		}
		c.micVerified = true
	}
	var micOut []byte
	if integrity && !c.micSent && (c.micRequired || c.micVerified) {
		var err error
		if micOut, err = c.makeMIC(); err != nil {
			return nil, false, fmt.Errorf("spnego: accept: mechListMIC: %w", err)
		}
		c.micSent = true
	}
	if integrity && c.micRequired && !c.micVerified {
		// The initiator's MIC is still due (MIT's flow when mutual
		// authentication kept its mechanism open): it comes next.
		out, _, err := c.reply(AcceptIncomplete, first, mechOut, micOut)
		return out, false, err
	}
	return c.reply(AcceptCompleted, first, mechOut, micOut)
}

func (c *AcceptContext) reply(state NegState, first bool, tok, mic []byte) ([]byte, bool, error) {
	r := &NegTokenResp{NegState: state, ResponseToken: tok, MechListMIC: mic}
	if first {
		r.SupportedMech = c.mech
	}
	out, err := r.Marshal()
	if err != nil {
		return nil, false, err
	}
	return out, state == AcceptCompleted, nil
}

func (c *AcceptContext) hasIntegrity() bool {
	if c.krb != nil {
		return c.krb.MICAvailable()
	}
	return c.ntlmSess != nil
}

func (c *AcceptContext) verifyMIC(mic []byte) error {
	if c.krb != nil {
		return c.krb.VerifyMIC(c.mechList, mic)
	}
	if c.ntlmSess == nil {
		return ErrMICUnavailable
	}
	return c.ntlmSess.Verify(c.mechList, mic)
}

func (c *AcceptContext) makeMIC() ([]byte, error) {
	if c.krb != nil {
		return c.krb.MIC(c.mechList)
	}
	return c.ntlmSess.Sign(c.mechList), nil
}
