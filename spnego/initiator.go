package spnego

import (
	"encoding/asn1"
	"errors"
	"fmt"
)

// Mechanism is one GSS-API mechanism seen from the initiator. A Mechanism
// value holds the state of one context: use a fresh one per handshake.
type Mechanism interface {
	// OID identifies the mechanism in the MechTypeList.
	OID() asn1.ObjectIdentifier
	// Step consumes the acceptor's token (nil on the first call) and
	// returns the next token to send; done reports that the mechanism's
	// context is complete on the initiator's side.
	Step(in []byte) (out []byte, done bool, err error)
	// MIC computes a GSS-API MIC over data with the established context,
	// for the mechListMIC. It returns ErrMICUnavailable when the context
	// has no integrity protection (e.g. NTLM without a session key).
	MIC(data []byte) ([]byte, error)
	// VerifyMIC checks the acceptor's GSS-API MIC over data, or returns
	// ErrMICUnavailable like MIC.
	VerifyMIC(data, mic []byte) error
}

// MICRequirer is an optional interface of a Mechanism whose acceptors
// insist on the mechListMIC exchange even when it was the initiator's first
// choice, which RFC 4178 would let them skip. NTLM is the case: when the
// AUTHENTICATE message carries a MIC, Windows (MS-SPNG) and gss-ntlmssp
// under MIT's SPNEGO fail a context that sends no mechListMIC.
type MICRequirer interface {
	// MICRequired is asked once the mechanism is complete.
	MICRequired() bool
}

type initState int

const (
	stateStart    initState = iota // nothing sent yet
	stateInitSent                  // NegTokenInit sent, awaiting the first reply
	stateReplying                  // mechanism chosen, exchanging NegTokenResps
	stateDone                      // acceptor said accept-completed and all checks passed
	stateFailed                    // an error ended the negotiation
)

// Initiator is the initiator side of one SPNEGO negotiation. Set Mechs,
// then call Step with nil and with each token from the acceptor until it
// reports done or fails. An Initiator and its mechanisms serve one
// handshake and are not safe for concurrent use.
type Initiator struct {
	// Mechs are the mechanisms to offer, most preferred first. A mechanism
	// whose first Step fails (a Kerberos mechanism without a ticket, say)
	// is left out of the offer, as MIT and Windows do, so the
	// next one can carry the optimistic token.
	Mechs []Mechanism
	// ReqFlags, if set, are sent as reqFlags in the NegTokenInit. They
	// are not protected and acceptors are told to ignore them, so the
	// default is to leave them out.
	ReqFlags asn1.BitString

	state       initState
	offered     []Mechanism // the mechanisms in the MechTypeList, in order
	mechList    []byte      // DER MechTypeList as sent, signed by the mechListMIC
	mech        Mechanism   // optimistic, then chosen mechanism
	mechDone    bool
	micRequired bool // RFC 4178 section 5 makes the MIC exchange mandatory
	micSent     bool
	micVerified bool
}

// Step advances the negotiation. The first call takes nil (or a
// NegTokenInit2 an acceptor sent unsolicited, whose hints are ignored) and
// returns the NegTokenInit. Later calls take the acceptor's NegTokenResp
// and return the next token, or done once the acceptor has said
// accept-completed and its mechListMIC, where one is due, verified.
//
// When the acceptor's last reply carries no token at all (some HTTP servers
// send a bare 200), the caller decides; MechComplete tells whether the
// mechanism at least finished.
func (i *Initiator) Step(in []byte) (out []byte, done bool, err error) {
	switch i.state {
	case stateDone:
		return nil, false, fmt.Errorf("spnego: initiator: %w: negotiation already complete", ErrState)
	case stateFailed:
		return nil, false, fmt.Errorf("spnego: initiator: %w: negotiation already failed", ErrState)
	case stateStart:
		out, err = i.start(in)
	default:
		out, done, err = i.reply(in)
	}
	if err != nil {
		i.state = stateFailed
		return nil, false, err
	}
	if done {
		i.state = stateDone
	}
	return out, done, nil
}

// Mech returns the mechanism carrying the negotiation: the optimistic one
// until the acceptor answers, then the one it chose. It is nil before the
// first Step.
func (i *Initiator) Mech() Mechanism { return i.mech }

// MechComplete reports whether the chosen mechanism's context is complete
// on the initiator's side.
func (i *Initiator) MechComplete() bool { return i.mechDone }

func (i *Initiator) start(in []byte) ([]byte, error) {
	if len(in) > 0 {
		// An acceptor may open with a NegTokenInit2 listing its
		// mechanisms. The list is unauthenticated and only a hint, so
		// it is checked for form and otherwise ignored.
		if _, err := ParseNegTokenInit(in); err != nil {
			return nil, fmt.Errorf("spnego: initiator: acceptor's opening token: %w", err)
		}
	}
	if len(i.Mechs) == 0 {
		return nil, fmt.Errorf("spnego: initiator: %w: no mechanisms configured", ErrState)
	}
	var errs []error
	var token []byte
	for idx, m := range i.Mechs {
		tok, done, err := m.Step(nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%v: %w", m.OID(), err))
			continue
		}
		i.mech, i.mechDone, token = m, done, tok
		i.offered = i.Mechs[idx:]
		break
	}
	if i.mech == nil {
		return nil, fmt.Errorf("spnego: initiator: no mechanism could start: %w", errors.Join(errs...))
	}
	oids := make([]asn1.ObjectIdentifier, len(i.offered))
	for k, m := range i.offered {
		oids[k] = m.OID()
	}
	var err error
	if i.mechList, err = MechTypeListBytes(oids); err != nil {
		return nil, err
	}
	t := &NegTokenInit{MechTypes: oids, ReqFlags: i.ReqFlags, MechToken: token}
	out, err := t.Marshal()
	if err != nil {
		return nil, err
	}
	i.state = stateInitSent
	return out, nil
}

func (i *Initiator) reply(in []byte) ([]byte, bool, error) {
	if len(in) == 0 {
		return nil, false, fmt.Errorf("spnego: initiator: %w: empty token from the acceptor", ErrState)
	}
	resp, err := ParseNegTokenResp(in)
	if err != nil {
		return nil, false, fmt.Errorf("spnego: initiator: %w", err)
	}
	state := resp.NegState
	switch state {
	case Reject:
		return nil, false, fmt.Errorf("spnego: initiator: %w (offered %v)", ErrRejected, i.offeredOIDs())
	case AcceptCompleted, AcceptIncomplete, RequestMIC:
	case NegStateAbsent:
		// Required in the acceptor's first reply by RFC 4178, but
		// Windows has been seen to leave it out; the absence can only
		// mean "go on".
		state = AcceptIncomplete
	default:
		return nil, false, fmt.Errorf("spnego: initiator: %w: unknown negState %d", ErrMalformed, int(state))
	}

	var mechOut []byte
	restarted := false
	if i.state == stateInitSent {
		i.state = stateReplying
		if len(resp.SupportedMech) > 0 {
			chosen := i.find(resp.SupportedMech)
			if chosen == nil {
				return nil, false, fmt.Errorf("spnego: initiator: %w: %v (offered %v)", ErrUnsupportedMech, resp.SupportedMech, i.offeredOIDs())
			}
			if chosen != i.mech {
				// The acceptor declined the optimistic token and
				// picked a later mechanism, which now starts from
				// scratch. Whoever removed our first choice, the
				// MIC exchange must now prove it was the acceptor
				// (RFC 4178 section 5).
				if len(resp.ResponseToken) > 0 {
					return nil, false, fmt.Errorf("spnego: initiator: %w: response token for %v, which has not started", ErrMalformed, resp.SupportedMech)
				}
				i.mech, i.mechDone, i.micRequired, restarted = chosen, false, true, true
				if mechOut, i.mechDone, err = chosen.Step(nil); err != nil {
					return nil, false, fmt.Errorf("spnego: initiator: %v: %w", chosen.OID(), err)
				}
			}
		}
	} else if len(resp.SupportedMech) > 0 && !sameMech(resp.SupportedMech, i.mech.OID()) {
		return nil, false, fmt.Errorf("spnego: initiator: %w: supportedMech changed to %v", ErrMalformed, resp.SupportedMech)
	}
	if state == RequestMIC {
		i.micRequired = true
	}

	if !restarted {
		switch {
		case len(resp.ResponseToken) > 0:
			if i.mechDone {
				return nil, false, fmt.Errorf("spnego: initiator: %w: mechanism token after %v completed", ErrState, i.mech.OID())
			}
			if mechOut, i.mechDone, err = i.mech.Step(resp.ResponseToken); err != nil {
				return nil, false, fmt.Errorf("spnego: initiator: %v: %w", i.mech.OID(), err)
			}
		case !i.mechDone:
			return nil, false, fmt.Errorf("spnego: initiator: %w: no mechanism token, but %v is not complete", ErrState, i.mech.OID())
		}
	}

	// The acceptor's mechListMIC can only be checked with a complete
	// context. It covers the list as we sent it, so a list an attacker
	// trimmed on the way fails here.
	if len(resp.MechListMIC) > 0 {
		if !i.mechDone {
			return nil, false, fmt.Errorf("spnego: initiator: %w: mechListMIC before the mechanism completed", ErrMechListMIC)
		}
		if i.micVerified {
			return nil, false, fmt.Errorf("spnego: initiator: %w: second mechListMIC", ErrMechListMIC)
		}
		if err := i.mech.VerifyMIC(i.mechList, resp.MechListMIC); err != nil {
			return nil, false, fmt.Errorf("spnego: initiator: %w: %w", ErrMechListMIC, err)
		}
		i.micVerified = true
	}

	if state == AcceptCompleted {
		if !i.mechDone {
			return nil, false, fmt.Errorf("spnego: initiator: %w: acceptor completed but %v is not complete", ErrState, i.mech.OID())
		}
		if len(mechOut) > 0 {
			return nil, false, fmt.Errorf("spnego: initiator: %w: acceptor completed but %v has a token to send", ErrState, i.mech.OID())
		}
		if i.micRequired && !i.micVerified && i.hasIntegrity() {
			return nil, false, fmt.Errorf("spnego: initiator: %w: acceptor completed without the mandatory mechListMIC", ErrMechListMIC)
		}
		return nil, true, nil
	}

	// The acceptor wants more. Once our mechanism is complete, send our
	// MIC if the MIC exchange is mandatory, the acceptor already sent
	// its own, or the mechanism's acceptors insist on it.
	var micOut []byte
	if i.mechDone && !i.micSent && (i.micRequired || i.micVerified || requiresMIC(i.mech)) {
		mic, err := i.mech.MIC(i.mechList)
		switch {
		case errors.Is(err, ErrMICUnavailable):
			// No integrity, so no MIC: RFC 4178 section 5 accepts
			// the loss of downgrade protection in that case.
		case err != nil:
			return nil, false, fmt.Errorf("spnego: initiator: %v: mechListMIC: %w", i.mech.OID(), err)
		default:
			micOut, i.micSent = mic, true
		}
	}
	if len(mechOut) == 0 && len(micOut) == 0 {
		return nil, false, fmt.Errorf("spnego: initiator: %w: acceptor sent %v but there is nothing to answer", ErrState, state)
	}
	t := &NegTokenResp{NegState: NegStateAbsent, ResponseToken: mechOut, MechListMIC: micOut}
	out, err := t.Marshal()
	if err != nil {
		return nil, false, err
	}
	return out, false, nil
}

// find returns the offered mechanism the acceptor named, matching the two
// Kerberos OIDs to each other when there is no exact match.
func (i *Initiator) find(oid asn1.ObjectIdentifier) Mechanism {
	for _, m := range i.offered {
		if m.OID().Equal(oid) {
			return m
		}
	}
	for _, m := range i.offered {
		if sameMech(m.OID(), oid) {
			return m
		}
	}
	return nil
}

// hasIntegrity reports whether the complete mechanism can make MICs. It is
// asked only when the acceptor completes without the MIC it owed us; the
// MIC it computes is thrown away.
func (i *Initiator) hasIntegrity() bool {
	if i.micSent {
		return true
	}
	_, err := i.mech.MIC(i.mechList)
	return !errors.Is(err, ErrMICUnavailable)
}

func (i *Initiator) offeredOIDs() []asn1.ObjectIdentifier {
	oids := make([]asn1.ObjectIdentifier, len(i.offered))
	for k, m := range i.offered {
		oids[k] = m.OID()
	}
	return oids
}

func requiresMIC(m Mechanism) bool {
	r, ok := m.(MICRequirer)
	return ok && r.MICRequired()
}
