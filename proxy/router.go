package proxy

import "net/url"

// Router chooses where a request goes: upstream proxies to try in order,
// where a nil entry means DIRECT. A PAC-based router plugs in here.
type Router interface {
	// Route returns the routes for a request to target, a URL whose Host
	// is host:port (for CONNECT, Scheme is empty). An error (a PAC script
	// that cannot be evaluated, with the fail mode "fail") fails the
	// request.
	Route(target *url.URL) ([]*url.URL, error)
}

// StaticRouter routes by a fixed upstream list and NoProxy patterns, like
// cntlm's Proxy and NoProxy settings.
type StaticRouter struct {
	// Upstreams to try in order; none means every request goes DIRECT.
	Upstreams *Upstreams
	// NoProxy hosts go DIRECT.
	NoProxy *NoProxy
	// DirectFallback adds DIRECT after the upstreams, for when all are
	// down. Off by default: in a network that requires the proxy, going
	// direct only turns a clear error into a slow timeout.
	DirectFallback bool
}

// Route implements Router.
func (r *StaticRouter) Route(target *url.URL) ([]*url.URL, error) {
	if r.NoProxy.Match(target.Host) || r.Upstreams == nil || len(r.Upstreams.List) == 0 {
		return []*url.URL{nil}, nil
	}
	routes := r.Upstreams.Candidates()
	if r.DirectFallback {
		routes = append(routes, nil)
	}
	return routes, nil
}
