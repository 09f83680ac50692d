package auth

import "errors"

// Sentinel errors. Functions wrap them with context; test with errors.Is.
var (
	// ErrMalformedChallenge reports a WWW-Authenticate or
	// Proxy-Authenticate value that does not parse as RFC 7235 challenges,
	// exceeds one of the limits (MaxChallengeHeaderBytes, MaxChallenges,
	// MaxChallengeParams), or lacks a parameter its scheme requires (a
	// Digest challenge without nonce or realm).
	ErrMalformedChallenge = errors.New("auth: malformed challenge")

	// ErrUnsupported reports a well-formed challenge this package cannot
	// answer: an unknown Digest algorithm, a qop list without "auth" or
	// "auth-int", a challenge of another scheme handed to a scheme's client.
	// The caller may try another challenge of the same response.
	ErrUnsupported = errors.New("auth: unsupported challenge")

	// ErrInvalidCredentials reports a user name or password that cannot be
	// sent at all (e.g. a Basic user name containing ':', or control
	// characters), as opposed to a wrong password, which only the server
	// can tell.
	ErrInvalidCredentials = errors.New("auth: invalid credentials")

	// ErrRejected reports that the peer refused the credentials or broke
	// off a handshake. The Transport does not retry a rejected credential
	// (domain accounts lock out after a few failures); the caller sees
	// the 401 or 407 response instead of an error where there is one.
	ErrRejected = errors.New("auth: credentials rejected")
	// ErrMechanismUnavailable reports a handshake that could not go on
	// without any password having been judged: Negotiate whose Kerberos
	// the peer cannot use (no trust, wrong principal, no such service)
	// and no mechanism left to offer. The Transport then tries the next
	// scheme the peer offers (NTLM), which it never does after
	// ErrRejected.
	ErrMechanismUnavailable = errors.New("auth: no mechanism the peer accepts")
	// ErrDigestRspauth reports a Digest server whose Authentication-Info
	// (or Proxy-Authentication-Info) does not prove that it knows the
	// user's password: a wrong rspauth, or one naming another request's
	// cnonce, nc or qop. Like Negotiate's failed mutual authentication,
	// the Transport then withholds the response.
	ErrDigestRspauth = errors.New("auth: Digest mutual authentication failed (rspauth)")
	// ErrTooManyRounds reports a handshake that did not finish within
	// Transport.MaxRounds legs.
	ErrTooManyRounds = errors.New("auth: too many authentication rounds")
	// ErrBodyNotReplayable reports a request whose body was already sent
	// once and has no GetBody to send it again.
	ErrBodyNotReplayable = errors.New("auth: request body cannot be sent again")
)
