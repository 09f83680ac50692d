package kerberos

import "errors"

// Errors of the credential cache types. They say why a cache could not
// be used; none of them means a peer or a KDC refused anything.
var (
	// ErrCacheUnsupported reports a credential cache type sesame cannot
	// read on this platform (API: and MSLSA: everywhere, KEYRING: off
	// Linux, KCM: without UNIX sockets), or an unknown type.
	ErrCacheUnsupported = errors.New("kerberos: credential cache type not supported")

	// ErrCacheEmpty reports a credential cache that does not exist, has
	// no default principal, or holds no ticket-granting ticket.
	ErrCacheEmpty = errors.New("kerberos: credential cache is empty or missing")

	// ErrTicketExpired reports a credential cache whose ticket-granting
	// ticket has expired; the message gives the expiry time.
	ErrTicketExpired = errors.New("kerberos: ticket expired")

	// ErrCacheDaemon reports a KCM daemon that does not answer (no socket,
	// connection refused, a reply that times out).
	ErrCacheDaemon = errors.New("kerberos: credential cache daemon (KCM) not running")

	// ErrCacheFormat reports a credential cache whose contents do not
	// decode (a damaged file, an unexpected KCM reply or keyring payload).
	ErrCacheFormat = errors.New("kerberos: malformed credential cache")
)

func isCacheEmpty(err error) bool { return errors.Is(err, ErrCacheEmpty) }
