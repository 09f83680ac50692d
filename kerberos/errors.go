package kerberos

import "errors"

// Sentinel errors. Functions wrap them with context; test with errors.Is.
var (
	// ErrNoCredentials reports that the Client has no usable TGT: no
	// credential cache, one without a TGT or with an expired one, or a
	// password or keytab the KDC refused.
	ErrNoCredentials = errors.New("kerberos: no usable credentials")

	// ErrWrongPrincipal reports a credential cache whose principal is not
	// the one the Client was made for (NewFromCCacheAs).
	ErrWrongPrincipal = errors.New("kerberos: credential cache holds another principal")

	// ErrLoginRefused reports a password or keytab login the KDC refused
	// (wrong password, unknown or locked principal), as opposed to a KDC
	// that could not be reached.
	ErrLoginRefused = errors.New("kerberos: login refused by the KDC")

	// ErrUnsupportedCCache is ErrCacheUnsupported, under its older name.
	ErrUnsupportedCCache = ErrCacheUnsupported

	// ErrConfig reports a krb5.conf that cannot be read or parsed, or a
	// principal or realm that cannot be determined from it.
	ErrConfig = errors.New("kerberos: configuration error")

	// ErrKDC reports a failed exchange with the KDC: unreachable, or an
	// error such as an unknown service principal.
	ErrKDC = errors.New("kerberos: KDC exchange failed")

	// ErrNoKDC reports a realm whose KDC is unknown: krb5.conf names
	// none, and dns_lookup_kdc is off or DNS has no SRV records for it
	// (_kerberos._udp.REALM, _kerberos._tcp.REALM). It comes with
	// ErrKDC.
	ErrNoKDC = errors.New("kerberos: no KDC known for the realm")

	// ErrMutualAuth reports that the acceptor did not authenticate
	// itself: no AP-REP where one is required, or one that does not
	// decrypt with the session key or does not echo the authenticator's
	// time.
	ErrMutualAuth = errors.New("kerberos: mutual authentication failed")

	// ErrRejected reports that the acceptor answered with a KRB-ERROR
	// (clock skew, unknown key version, replay, ...).
	ErrRejected = errors.New("kerberos: rejected by the acceptor")

	// ErrMalformedToken reports a GSS-API token or Kerberos message that
	// does not decode, or is larger than MaxTokenSize.
	ErrMalformedToken = errors.New("kerberos: malformed token")

	// ErrState reports a call that does not fit the security context's
	// state, such as a second acceptor token after completion.
	ErrState = errors.New("kerberos: unexpected call for the context state")

	// ErrMICUnavailable reports that the context cannot make or check MIC
	// tokens: it is not complete, or its encryption type has neither RFC
	// 4121's token format nor RFC 4757's RC4-HMAC one (DES, 3DES).
	ErrMICUnavailable = errors.New("kerberos: MIC tokens unavailable for this context")

	// ErrBadMIC reports a MIC token that decodes but does not verify: a
	// wrong checksum (data or token changed, another key) or a token
	// of the wrong direction.
	ErrBadMIC = errors.New("kerberos: MIC does not verify")
)
