package spnego

import "errors"

// Errors returned by the decoders and the initiator. They are wrapped with
// context; test for them with errors.Is.
var (
	// ErrMalformed reports a token that is not valid SPNEGO: bad DER, a
	// missing or repeated field, a field of the wrong type, a token larger
	// than MaxTokenSize or a mechanism list longer than MaxMechTypes.
	ErrMalformed = errors.New("spnego: malformed token")

	// ErrRejected reports that the acceptor answered negState reject: it
	// supports none of the offered mechanisms, or the chosen one failed.
	ErrRejected = errors.New("spnego: rejected by the acceptor")

	// ErrMechListMIC reports a mechListMIC that is missing where RFC 4178
	// section 5 requires one, or that does not verify. Either may mean an
	// attacker removed the initiator's preferred mechanism from the list.
	ErrMechListMIC = errors.New("spnego: mechListMIC missing or invalid")

	// ErrMICUnavailable is returned by a Mechanism's MIC and VerifyMIC when
	// the established context has no integrity protection (for example
	// anonymous NTLM, which has no session key). RFC 4178 then exchanges
	// no mechListMIC.
	ErrMICUnavailable = errors.New("spnego: mechanism offers no integrity protection")

	// ErrUnsupportedMech reports that the acceptor chose a mechanism the
	// initiator did not offer.
	ErrUnsupportedMech = errors.New("spnego: acceptor chose a mechanism that was not offered")

	// ErrNotSPNEGO reports a token that is a raw mechanism token (NTLMSSP,
	// or a Kerberos GSS-API token) rather than SPNEGO. Some servers answer
	// "Negotiate" this way; a caller may fall back to the raw mechanism.
	ErrNotSPNEGO = errors.New("spnego: raw mechanism token, not SPNEGO")

	// ErrState reports a call that does not fit the state of the
	// negotiation: Step after completion or failure, an acceptor token
	// that arrives when none can, a mechanism that is not finished when
	// the acceptor says it is.
	ErrState = errors.New("spnego: unexpected step in the negotiation")
)
