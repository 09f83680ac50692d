package auth

import "context"

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
