package kerberos

import (
	"errors"
	"strings"
)

// Sentinel errors of the acceptor (Acceptor.Accept, VerifyPassword). The
// messages the errors carry are for the server's log; a client should
// only learn that authentication failed.
var (
	// ErrReplay reports an authenticator the acceptor has seen before
	// (KRB_AP_ERR_REPEAT), or one older than what a full replay cache
	// can still vouch for.
	ErrReplay = errors.New("kerberos: replayed authenticator")

	// ErrClockSkew reports an authenticator whose time is further from
	// the acceptor's clock than MaxClockSkew (KRB_AP_ERR_SKEW). The
	// message says by how much and in which direction.
	ErrClockSkew = errors.New("kerberos: clock skew too great")

	// ErrWrongService reports a ticket for a service principal that is
	// not in the keytab (or not with that key version and encryption
	// type), or not the one the Acceptor is restricted to.
	ErrWrongService = errors.New("kerberos: ticket is for another service")

	// ErrBadTicket reports a ticket or authenticator that does not
	// decrypt or does not hold together: encrypted with another key than
	// the keytab's (a stale keytab, or a KDC that does not know the
	// service's key), an authenticator of another client, an expired or
	// not yet valid ticket.
	ErrBadTicket = errors.New("kerberos: ticket does not verify")

	// ErrBadPAC reports a PAC that does not decode, whose server
	// signature does not verify with the service key, or whose client
	// does not match the ticket's.
	ErrBadPAC = errors.New("kerberos: PAC does not verify")

	// ErrChannelBinding reports an initiator's channel binding hash that
	// differs from the acceptor's channel (another TLS certificate: a
	// relayed or intercepted token).
	ErrChannelBinding = errors.New("kerberos: channel bindings do not match")

	// ErrMalformed is ErrMalformedToken: a token or message that does
	// not decode. The acceptor's errors wrap it for such input.
	ErrMalformed = ErrMalformedToken

	// ErrPolicy reports a ticket the acceptor's policy refuses, such as
	// one encrypted with a type outside Acceptor.EncTypes.
	ErrPolicy = errors.New("kerberos: refused by the acceptor's policy")
)

// acceptError is an error of Acceptor.Accept: "kerberos: accept: " and
// the cause, whose own "kerberos: " prefix (the sentinels') is not said
// twice.
type acceptError struct{ err error }

func (e acceptError) Error() string {
	return "kerberos: accept: " + strings.TrimPrefix(e.err.Error(), "kerberos: ")
}

func (e acceptError) Unwrap() error { return e.err }
