package spnego

import (
	"encoding/asn1"
	"fmt"

	"github.com/sesame-auth/sesame/ntlm"
)

// NTLMMechanism adapts an [ntlm.Client] to [Mechanism]: NEGOTIATE first,
// AUTHENTICATE in answer to the CHALLENGE, and MICs made with NTLM session
// security (MS-NLMP 3.4) under the exported session key. Like every
// Mechanism it serves one handshake; the Client may be shared.
type NTLMMechanism struct {
	// Client holds the credentials and policy.
	Client *ntlm.Client

	negotiate []byte
	auth      *ntlm.Authentication
	session   *ntlm.Session
}

// NewNTLMMechanism returns a mechanism for one handshake with c.
func NewNTLMMechanism(c *ntlm.Client) *NTLMMechanism {
	return &NTLMMechanism{Client: c}
}

// OID returns OIDNTLMSSP.
func (m *NTLMMechanism) OID() asn1.ObjectIdentifier { return OIDNTLMSSP }

// Step returns NEGOTIATE on the first call and AUTHENTICATE, with done, on
// the second, which takes the CHALLENGE. NEGOTIATE is kept and passed to
// Authenticate so that the AUTHENTICATE message carries a MIC over all
// three messages.
func (m *NTLMMechanism) Step(in []byte) ([]byte, bool, error) {
	if m.Client == nil {
		return nil, false, fmt.Errorf("spnego: NTLM: %w: no ntlm.Client", ErrState)
	}
	switch {
	case m.negotiate == nil:
		if len(in) > 0 {
			return nil, false, fmt.Errorf("spnego: NTLM: %w: the initiator speaks first", ErrState)
		}
		neg, err := m.Client.Negotiate()
		if err != nil {
			return nil, false, err
		}
		m.negotiate = neg
		return neg, false, nil
	case m.auth == nil:
		if len(in) == 0 {
			return nil, false, fmt.Errorf("spnego: NTLM: %w: no CHALLENGE", ErrState)
		}
		a, err := m.Client.Authenticate(m.negotiate, in)
		if err != nil {
			return nil, false, err
		}
		if a.SessionKey != nil && a.Flags.Has(ntlm.FlagSign) {
			if m.session, err = ntlm.NewSession(a.Flags, a.SessionKey, true); err != nil {
				return nil, false, err
			}
		}
		m.auth = a
		return a.Message, true, nil
	}
	return nil, false, fmt.Errorf("spnego: NTLM: %w: context already complete", ErrState)
}

// MIC signs data with the client's signing key and sequence number, as
// GSS_GetMIC does. Without a session key (anonymous) or without a
// negotiated SIGN flag it returns ErrMICUnavailable.
func (m *NTLMMechanism) MIC(data []byte) ([]byte, error) {
	if m.session == nil {
		return nil, ErrMICUnavailable
	}
	return m.session.Sign(data), nil
}

// VerifyMIC checks a signature the acceptor made over data.
func (m *NTLMMechanism) VerifyMIC(data, mic []byte) error {
	if m.session == nil {
		return ErrMICUnavailable
	}
	return m.session.Verify(data, mic)
}

// MICRequired reports whether the AUTHENTICATE message carried a MIC
// (NTLMv2 with NEGOTIATE kept, the default). Acceptors then insist on the
// mechListMIC: gss-ntlmssp tells MIT's SPNEGO so, and Windows does the
// same (MS-SPNG).
func (m *NTLMMechanism) MICRequired() bool {
	return m.auth != nil && m.auth.NTLMVersion == 2 && m.session != nil
}

// Authentication returns the result of the NTLM exchange (negotiated
// flags, exported session key), or nil before the mechanism completes.
func (m *NTLMMechanism) Authentication() *ntlm.Authentication { return m.auth }

// Session returns fresh NTLM session security for messages after the
// handshake. It starts again at sequence number zero with new RC4 state:
// SPNEGO implementations reset NTLM's crypto state once the mechListMIC is
// done (gss-ntlmssp's GSS_C_NTLMSSP_RESET_CRYPTO), so the session used for
// the MIC must not be reused.
func (m *NTLMMechanism) Session() (*ntlm.Session, error) {
	if m.auth == nil || m.auth.SessionKey == nil {
		return nil, ErrMICUnavailable
	}
	return ntlm.NewSession(m.auth.Flags, m.auth.SessionKey, true)
}
