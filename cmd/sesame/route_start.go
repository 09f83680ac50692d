package main

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/sesame-auth/sesame/proxy"
)

// checkPACAtStart loads the PAC script of srv (if it routes by one)
// before the proxy listens: a broken PAC file must not let the proxy
// start as if all were well and then answer every request with 502.
//
// What a failure does follows pac_fail: "direct" starts with a loud
// warning (requests go DIRECT until the script loads); "fail" refuses to
// start (exit 2). The default, "last-good", has no last good script yet:
// a local file or a PAC the configuration names refuses to start too,
// while one found by discovery (the desktop's settings, WPAD) starts
// with the warning, since that network may simply not be up yet.
func checkPACAtStart(srv *proxy.Server, pacFail string, discovered bool, logger *slog.Logger) error {
	r, ok := srv.Router.(*proxy.PACRouter)
	if !ok || r.Loader == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := r.Loader.Reload(ctx)
	if err == nil {
		return nil
	}
	switch {
	case pacFail == "direct":
		logger.Warn("THE PAC FILE CANNOT BE USED: every request goes DIRECT until it loads (pac_fail = direct)", "pac", r.Loader.Source, "err", err)
		return nil
	case pacFail != "fail" && (discovered || isRemotePAC(r.Loader.Source)):
		logger.Warn("THE PAC FILE CANNOT BE USED: requests fail with 502 until it loads", "pac", r.Loader.Source, "err", err)
		return nil
	}
	return usagef("PAC file %s: %v (pac_fail = direct starts anyway, going DIRECT)", r.Loader.Source, err)
}

// isRemotePAC reports whether the PAC source is fetched over http(s),
// where a failure at start-up may be the network rather than the file.
func isRemotePAC(src string) bool {
	u, err := url.Parse(src)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https")
}

// routeSummary says where requests go, for the start-up line: the PAC
// file that chooses, the upstream proxies in order, or DIRECT.
func routeSummary(srv *proxy.Server) string {
	if r, ok := srv.Router.(*proxy.PACRouter); ok && r.Loader != nil {
		return "PAC " + r.Loader.Source
	}
	route := "DIRECT"
	if srv.Upstreams != nil && len(srv.Upstreams.List) > 0 {
		route = ""
		for i, u := range srv.Upstreams.List {
			if i > 0 {
				route += ", "
			}
			route += u.Host
		}
		if r, ok := srv.Router.(*proxy.StaticRouter); ok && r.DirectFallback {
			route += ", DIRECT"
		}
	}
	return route
}

// isDirectRoute reports whether an upstream entry is the DIRECT route
// rather than a proxy (which ParseUpstream would make DIRECT:8080).
func isDirectRoute(s string) bool {
	return strings.EqualFold(strings.TrimSpace(s), "DIRECT")
}
