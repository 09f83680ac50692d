package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/sesame-auth/sesame/pac"
)

// pacTimeout bounds one routing decision by PAC (evaluation plus, on the
// first call or a refresh, fetching the script).
const pacTimeout = 10 * time.Second

// PACRouter routes by a PAC script, as browsers do: the script's answer
// for each URL lists the proxies to try in order, and DIRECT. NoProxy
// hosts go DIRECT before the script is asked. Proxies that fail to
// connect are passed over for a while (Health), whatever script named
// them. SOCKS entries are skipped: sesame speaks HTTP to upstreams.
type PACRouter struct {
	Loader  *pac.Loader
	NoProxy *NoProxy
	// Health tracks unreachable proxies; its List is not used. Give the
	// same Upstreams to Server.Upstreams so failures are recorded.
	Health *Upstreams
	Logger *slog.Logger
}

// Route implements Router.
func (r *PACRouter) Route(target *url.URL) ([]*url.URL, error) {
	if r.NoProxy.Match(target.Host) {
		return []*url.URL{nil}, nil
	}
	u := *target
	if u.Scheme == "" {
		// A CONNECT: browsers ask the script about https://host/. Only
		// the default port goes; an IPv6 literal keeps its brackets
		// ("[::1]:443" is https://[::1]/, host "::1").
		u.Scheme = "https"
		if _, port, err := net.SplitHostPort(u.Host); err == nil && port == "443" {
			u.Host = strings.TrimSuffix(u.Host, ":443")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), pacTimeout)
	defer cancel()
	result, err := r.Loader.FindProxyForURL(ctx, u.String(), u.Hostname())
	if err != nil {
		return nil, fmt.Errorf("proxy: PAC for %s: %w", u.Redacted(), err)
	}
	var routes []*url.URL
	for _, p := range pac.ParseResult(result) {
		switch p.Type {
		case pac.DIRECT:
			routes = append(routes, nil)
		case pac.PROXY, pac.HTTP:
			routes = append(routes, &url.URL{Scheme: "http", Host: p.Host})
		case pac.HTTPS:
			routes = append(routes, &url.URL{Scheme: "https", Host: p.Host})
		default:
			r.logger().Debug("proxy: PAC entry skipped (SOCKS is not supported)", "entry", p.String())
		}
	}
	if len(routes) == 0 {
		return nil, fmt.Errorf("proxy: PAC for %s answered %q: no usable route", u.Redacted(), result)
	}
	if r.Health != nil {
		routes = r.Health.Order(routes)
	}
	return routes, nil
}

func (r *PACRouter) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}
