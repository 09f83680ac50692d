package winbind

import "errors"

// Errors of the Verifier, besides ntlm.ErrAuthFailed for refused logons.
var (
	// ErrUnavailable reports that winbindd or the domain could not be
	// asked: ntlm_auth would not start, died, timed out, or said that
	// winbindd did not answer.
	ErrUnavailable = errors.New("winbind: unavailable")
	// ErrProtocol reports an answer of ntlm_auth or wbinfo that this
	// package does not understand.
	ErrProtocol = errors.New("winbind: protocol error")
	// ErrClosed reports a request to a Verifier after Close.
	ErrClosed = errors.New("winbind: verifier closed")
)
