package auth

import (
	"context"
	"strings"
)

// Report says how the Transport authenticated one request. Attach one to
// the request's context with WithReport and read it after RoundTrip (or
// DialTunnel) returns: the proxy's access log uses it, since neither the
// response nor the tunnel shows which scheme answered the upstream.
type Report struct {
	// ProxyScheme and OriginScheme name the scheme that authenticated
	// the request toward the proxy (407) and the origin (401): the one
	// of a handshake in this request, or of the already authenticated
	// connection it used; "" for none.
	ProxyScheme, OriginScheme string
	// Handshake is set when a handshake began during this request, as
	// opposed to reusing an authenticated connection or a pre-emptive
	// Basic or Digest header.
	Handshake bool
	// ProxyIdentity and OriginIdentity name who authenticated to the
	// proxy and the origin in this request's handshake: the Kerberos
	// principal ("alice@CORP.TEST") or NTLM account ("CORP\alice") the
	// handshake used (see HandshakeInfo), else the credential's Identity.
	// Never a secret; "" where no handshake of this request says.
	ProxyIdentity, OriginIdentity string
	// ProxyMechanism and OriginMechanism name the mechanism of that
	// handshake: "kerberos" or "ntlm" inside Negotiate, else the scheme
	// in lower case ("ntlm", "digest", "basic").
	ProxyMechanism, OriginMechanism string
}

// record fills in the identity and mechanism fields of one side from the
// credential and handshake that authenticated it (hs may be nil).
func (r *Report) record(proxy bool, cred Credential, hs Handshake) {
	if r == nil || cred == nil {
		return
	}
	id, mech := cred.Identity(), strings.ToLower(cred.Scheme())
	if hi, ok := hs.(HandshakeInfo); ok {
		if m := hi.Mechanism(); m != "" {
			mech = m
		}
		if p := hi.Principal(); p != "" {
			id = p
		}
	}
	if proxy {
		r.ProxyIdentity, r.ProxyMechanism = id, mech
	} else {
		r.OriginIdentity, r.OriginMechanism = id, mech
	}
}

type reportKey struct{}

// WithReport returns a context that makes the Transport fill in r.
func WithReport(ctx context.Context, r *Report) context.Context {
	return context.WithValue(ctx, reportKey{}, r)
}

// ReportFrom returns the Report attached to ctx, or nil.
func ReportFrom(ctx context.Context) *Report {
	r, _ := ctx.Value(reportKey{}).(*Report)
	return r
}
