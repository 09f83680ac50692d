package auth

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"sync"
)

// Credential answers challenges of one authentication scheme for one
// account. Implementations in this package: [Basic], [Digest], [NTLM]
// and [Negotiate]. A Credential is configuration plus whatever it caches
// (Digest nonces); each handshake has its own [Handshake].
type Credential interface {
	// Scheme is the auth-scheme as it appears in challenges, e.g. "NTLM".
	Scheme() string
	// Identity labels the account for connection pooling and logs, e.g.
	// `CORP\alice`. Never a secret.
	Identity() string
	// Start begins a handshake for one request (Basic, Digest) or one
	// connection (NTLM, Negotiate).
	Start(t *Target) (Handshake, error)
}

// Handshake produces the credentials of each leg of one authentication.
type Handshake interface {
	// Next returns the value of the Authorization (or
	// Proxy-Authorization) header for the next leg. ch is the peer's
	// challenge for this scheme from the previous response, nil when
	// the handshake starts pre-emptively. final reports that this leg
	// completes the client's side: the request should then carry its
	// body, while earlier legs of a multi-leg scheme carry none.
	Next(ctx context.Context, ch *Challenge) (value string, final bool, err error)
	// Finish is called with the scheme's challenge on the final, non-401
	// response (nil if it carried none), for schemes that authenticate
	// the server in return (Negotiate's mutual authentication).
	Finish(ch *Challenge) error
}

// Target describes what a handshake authenticates to.
type Target struct {
	// Host is the host name of the peer that demands authentication: the
	// origin for 401, the proxy for 407. Kerberos builds the service
	// principal HTTP/Host from it.
	Host string
	// Proxy is set for proxy authentication (407).
	Proxy bool
	// Method and URI are the request's method and request-target as
	// sent, which Digest covers.
	Method, URI string
	// Body returns the request body, for Digest's qop=auth-int; nil when
	// the body is not replayable or too large to hash.
	Body func() ([]byte, error)
	// ServerCertificate is the peer's TLS certificate when the handshake
	// runs over TLS to it, for NTLM's channel bindings.
	ServerCertificate *x509.Certificate
}

// ConnectionBound reports whether a scheme authenticates the connection
// rather than the request (NTLM and Negotiate do), so that its legs must
// share one connection and the connection stays authenticated.
func ConnectionBound(scheme string) bool {
	return strings.EqualFold(scheme, "NTLM") || strings.EqualFold(scheme, "Negotiate")
}

// schemeRank orders schemes by strength, strongest first.
var schemeRank = map[string]int{"negotiate": 0, "ntlm": 1, "digest": 2, "basic": 3}

func rank(scheme string) int {
	if r, ok := schemeRank[strings.ToLower(scheme)]; ok {
		return r
	}
	return len(schemeRank)
}

// Basic answers Basic challenges (RFC 7617). It is only ever sent in
// answer to a Basic challenge, never pre-emptively to a server that has
// not asked, and never to an origin over plain HTTP unless the Transport
// allows it.
type Basic struct {
	User, Password string
}

// Scheme returns "Basic".
func (b *Basic) Scheme() string { return "Basic" }

// Identity returns the user name.
func (b *Basic) Identity() string { return b.User }

// Start returns the one-leg Basic handshake.
func (b *Basic) Start(*Target) (Handshake, error) {
	v, err := BasicCredentials(b.User, b.Password)
	if err != nil {
		return nil, err
	}
	return &basicHandshake{value: v}, nil
}

type basicHandshake struct{ value string }

func (h *basicHandshake) Next(context.Context, *Challenge) (string, bool, error) {
	return h.value, true, nil
}
func (h *basicHandshake) Finish(*Challenge) error { return nil }

// Digest answers Digest challenges (RFC 7616), counting nonces across
// requests so that a server's nonce is reused rather than renegotiated.
type Digest struct {
	User, Password string

	once   sync.Once
	client *DigestClient
}

// Scheme returns "Digest".
func (d *Digest) Scheme() string { return "Digest" }

// Identity returns the user name.
func (d *Digest) Identity() string { return d.User }

// Start returns a handshake that answers the Digest challenge it is given.
func (d *Digest) Start(t *Target) (Handshake, error) {
	d.once.Do(func() { d.client = &DigestClient{User: d.User, Password: d.Password} })
	return &digestHandshake{c: d.client, t: t}, nil
}

type digestHandshake struct {
	c    *DigestClient
	t    *Target
	last *DigestAnswer // the answer the last request sent
}

func (h *digestHandshake) Next(_ context.Context, ch *Challenge) (string, bool, error) {
	if ch == nil {
		return "", false, fmt.Errorf("auth: digest: %w: no challenge to answer", ErrUnsupported)
	}
	var body []byte
	if h.t.Body != nil && onlyAuthInt(ch.Param("qop")) {
		var err error
		if body, err = h.t.Body(); err != nil {
			return "", false, fmt.Errorf("auth: digest: read body for auth-int: %w", err)
		}
	}
	a, err := h.c.Answer(*ch, h.t.Method, h.t.URI, body)
	if err != nil {
		return "", true, err
	}
	h.last = a
	return a.Value, true, nil
}

func (h *digestHandshake) Finish(*Challenge) error { return nil }

// FinishInfo checks the final response's Authentication-Info (or
// Proxy-Authentication-Info) values against the request last sent: a
// wrong rspauth fails like Negotiate's mutual authentication.
func (h *digestHandshake) FinishInfo(values []string) error {
	if h.last == nil {
		return nil
	}
	return h.last.VerifyAuthenticationInfo(values)
}

// infoFinisher is a Handshake that also verifies the final response's
// Authentication-Info header (RFC 7615): Digest's rspauth.
type infoFinisher interface {
	FinishInfo(values []string) error
}

// onlyAuthInt reports whether a qop list offers auth-int but not auth:
// DigestClient prefers auth, so the body is read only when it must be.
func onlyAuthInt(qop string) bool {
	authInt := false
	for _, q := range strings.Split(qop, ",") {
		switch strings.ToLower(strings.TrimSpace(q)) {
		case "auth":
			return false
		case "auth-int":
			authInt = true
		}
	}
	return authInt
}
