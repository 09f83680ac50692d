package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/sesame-auth/sesame/config"
)

// serveAuth is how `sesame serve` authenticates visitors: the
// middleware's hooks, as the server and the reverse proxy need them.
type serveAuth struct {
	// wrap puts authentication in front of h.
	wrap func(h http.Handler) http.Handler
	// connContext and connState tie handshake state to connections
	// (http.Server's hooks); nil when not needed.
	connContext func(context.Context, net.Conn) context.Context
	connState   func(net.Conn, http.ConnState)
	// userFrom returns who authenticated r, if anyone did.
	userFrom func(r *http.Request) (*serveUser, bool)
	// reload re-reads the account files (SIGHUP).
	reload func() error
	// schemes are the schemes offered, for the start-up log line.
	schemes []string
}

// newServeAuth builds the authentication of `sesame serve` from its
// configuration.
func newServeAuth(s *config.Serve, modes *pathModes, logger *slog.Logger) (*serveAuth, error) {
	if s.Keytab != "" || s.NTLMUsers != "" || s.NTLMHashes != "" || s.Winbind || s.Htpasswd != "" || s.Htdigest != "" || s.BasicKerberos {
		return nil, fmt.Errorf("serve: authentication is not built into this sesame yet")
	}
	if s.Mode != "off" || len(s.RequiredPaths) > 0 || len(s.OptionalPaths) > 0 {
		return nil, usagef("no way to authenticate visitors: configure a keytab, ntlm_users, ntlm_hashes, winbind, htpasswd or htdigest (or mode = \"off\")")
	}
	return &serveAuth{
		wrap:     func(h http.Handler) http.Handler { return h },
		userFrom: func(*http.Request) (*serveUser, bool) { return nil, false },
		reload:   func() error { return nil },
	}, nil
}
