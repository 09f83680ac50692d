package auth

import "errors"

// Sentinel errors of the server side ([Middleware] and its verifiers).
// They reach the log and the OnResult hook, never the client: a client
// is told only 401.
var (
	// ErrUnauthenticated reports credentials that did not prove an
	// identity: a wrong password, a response that does not verify.
	ErrUnauthenticated = errors.New("auth: not authenticated")
	// ErrNoSuchUser reports a user name the verifier does not know. It is
	// logged as such; the client sees the same 401 as for a wrong
	// password.
	ErrNoSuchUser = errors.New("auth: no such user")
	// ErrMalformedAuthorization reports an Authorization header that does
	// not parse, or exceeds MaxAuthorizationBytes.
	ErrMalformedAuthorization = errors.New("auth: malformed authorization")
	// ErrStaleNonce reports a Digest response computed with the right
	// password over a nonce that has expired; the client is asked again
	// with stale=true.
	ErrStaleNonce = errors.New("auth: stale digest nonce")
	// ErrReplay reports a Digest nonce count, or a handshake message,
	// seen before.
	ErrReplay = errors.New("auth: replayed credentials")
	// ErrNoHandshake reports a handshake message that continues nothing:
	// an NTLM AUTHENTICATE on a connection with no pending CHALLENGE (or
	// whose challenge was evicted), or without per-connection state.
	ErrNoHandshake = errors.New("auth: no handshake in progress on this connection")
	// ErrSession reports a session cookie that does not open, is bound
	// to another client, or has expired.
	ErrSession = errors.New("auth: invalid session cookie")
)
