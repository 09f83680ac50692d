package ntlm

import "errors"

// Errors returned by decoders and by the client and server. They are wrapped
// with context; test for them with errors.Is.
var (
	// ErrMalformed reports a message that is not valid NTLM: wrong
	// signature or type, a field pointing outside the message, a bad AV pair
	// list, or a message larger than MaxMessageSize.
	ErrMalformed = errors.New("ntlm: malformed message")

	// ErrPolicy reports an exchange that is well formed but forbidden by the
	// local policy: NTLMv1 or LM when not enabled, a challenge that offers
	// only LM_KEY, an anonymous logon that is not allowed.
	ErrPolicy = errors.New("ntlm: refused by policy")

	// ErrAuthFailed reports that the credentials did not verify: unknown
	// user, wrong password, wrong NTProofStr or LM response.
	ErrAuthFailed = errors.New("ntlm: authentication failed")

	// ErrMIC reports a missing or wrong message integrity code where one is
	// required (CVE-2019-1040 "drop the MIC").
	ErrMIC = errors.New("ntlm: message integrity check failed")

	// ErrChannelBinding reports channel bindings that are missing where
	// required, or do not match the TLS channel.
	ErrChannelBinding = errors.New("ntlm: channel binding mismatch")

	// ErrTargetName reports an MsvAvTargetName (SPN) that is missing or not
	// on the server's allow-list.
	ErrTargetName = errors.New("ntlm: target name (SPN) not accepted")

	// ErrChallenge reports a server challenge that is unknown, already used
	// or expired, or a client timestamp outside the allowed clock skew.
	ErrChallenge = errors.New("ntlm: challenge expired, reused or unknown")
)
