package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sesame-auth/sesame/config"
)

// Limits of the server side of `sesame serve`.
const (
	// serveReadHeaderTimeout bounds a request's head: a client that
	// trickles headers holds no connection for long.
	serveReadHeaderTimeout = 10 * time.Second
	// serveIdleTimeout closes keep-alive connections (and the NTLM
	// handshake state they hold) that are quiet for this long.
	serveIdleTimeout = 2 * time.Minute
	// serveMaxHeaderBytes fits a Kerberos ticket with a large PAC (a
	// user in hundreds of groups sends a Negotiate header of ~50 KB);
	// IIS allows 64 KB per header by default since Windows 2012.
	serveMaxHeaderBytes = 128 << 10
	// serveShutdownGrace is how long requests in flight get to finish
	// after SIGINT or SIGTERM.
	serveShutdownGrace = 10 * time.Second
)

// serve runs the gateway until SIGINT or SIGTERM.
func serve(e *env, sf *serveFlags, cfg *config.Config) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return usagef("log level: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	s := &cfg.Serve
	allowed, err := serveAllowList(s)
	if err != nil {
		return err
	}
	handler, sa, err := newServeHandler(e.getenv, s, logger)
	if err != nil {
		return err
	}
	defer sa.close()
	var tlsConfig *tls.Config
	if s.TLSCert != "" {
		certs := &certReloader{certFile: s.TLSCert, keyFile: s.TLSKey}
		if err := certs.load(); err != nil {
			return err
		}
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.get}
		prev := sa.reload
		sa.reload = func() error {
			if err := certs.load(); err != nil {
				return err
			}
			return prev()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	lns, err := listenAll(s.Listen)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: serveReadHeaderTimeout,
		IdleTimeout:       serveIdleTimeout,
		MaxHeaderBytes:    serveMaxHeaderBytes,
		ConnContext:       sa.connContext,
		ConnState:         sa.connState,
		TLSConfig:         tlsConfig,
		// The http.Server's own complaints (TLS handshake errors, bad
		// requests) go to the log at debug level, not to stderr raw.
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	if tlsConfig != nil {
		// NTLM and Negotiate authenticate a connection: HTTP/2 would
		// multiplex requests of one handshake, which clients refuse
		// (curl and browsers fall back to HTTP/1.1 for them anyway).
		hs.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	go reloadServeOnHangup(ctx, sa, logger)
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		ln = &allowListener{Listener: ln, allowed: allowed, logger: logger}
		scheme := "http"
		if tlsConfig != nil {
			scheme = "https"
			ln = tls.NewListener(ln, tlsConfig)
		}
		backend, _ := url.Parse(s.Backend)
		logger.Info("sesame serve listening", "url", scheme+"://"+ln.Addr().String()+"/", "backend", backend.Redacted(),
			"schemes", strings.Join(sa.schemes, ","), "mode", s.Mode)
		go func(ln net.Listener) { errc <- hs.Serve(ln) }(ln)
	}
	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
	}
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), serveShutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		logger.Warn("shutdown: requests still running were cut off", "err", err)
		hs.Close()
	}
	logger.Info("sesame serve stopped")
	if errors.Is(first, http.ErrServerClosed) {
		first = nil
	}
	return first
}

// newServeHandler assembles the request path: access log, /healthz,
// authentication, the login path, the path check, the reverse proxy.
func newServeHandler(getenv func(string) string, s *config.Serve, logger *slog.Logger) (http.Handler, *serveAuth, error) {
	backend, err := url.Parse(s.Backend)
	if err != nil {
		return nil, nil, usagef("backend: %v", err)
	}
	modes := newPathModes(s)
	sa, err := newServeAuth(getenv, s, modes, logger)
	if err != nil {
		return nil, nil, err
	}
	var deleg *delegationStore
	if s.DelegationDir != "" {
		if fi, err := os.Stat(s.DelegationDir); err != nil || !fi.IsDir() {
			return nil, nil, fmt.Errorf("delegation_dir %s: not a directory", s.DelegationDir)
		}
		deleg = &delegationStore{dir: s.DelegationDir}
	}
	hdrs := newIdentityHeaders(s)
	rp := newBackendProxy(backend, hdrs, sa.userFrom, deleg, logger)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := sa.userFrom(r)
		if ok {
			recordUser(r, u)
		}
		if s.LoginPath != "" && r.URL.Path == s.LoginPath {
			if !ok {
				// Required mode let no one through without a login.
				http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
				return
			}
			loginRedirect(w, r)
			return
		}
		rp.ServeHTTP(w, r)
	})
	authed := sa.wrap(app)
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			io.WriteString(w, "ok\n")
			return
		}
		// The mode of a path is decided on its clean form: the backend
		// would resolve "/public/../admin" to /admin, which must not
		// pass as a path under an optional /public/.
		if !cleanPath(r.URL.Path) {
			http.Error(w, "400 Bad Request: the path is not in canonical form", http.StatusBadRequest)
			return
		}
		authed.ServeHTTP(w, r)
	})
	return accessLog(mux, logger), sa, nil
}

// cleanPath reports whether p is absolute and already in clean form (a
// trailing slash allowed), without backslashes, which IIS-style backends
// read as slashes.
func cleanPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.ContainsRune(p, '\\') {
		return false
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

// serveAllowList returns the client networks served besides loopback,
// and refuses to listen beyond loopback without one.
func serveAllowList(s *config.Serve) ([]netip.Prefix, error) {
	return allowList(s.Allow, s.Listen, "")
}

// allowListener closes connections from clients outside the allow-list
// (loopback is always allowed) before a byte is read from them.
type allowListener struct {
	net.Listener
	allowed []netip.Prefix
	logger  *slog.Logger
}

func (l *allowListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
			ip := ap.Addr().Unmap()
			if ip.IsLoopback() || containsIP(l.allowed, ip) {
				return c, nil
			}
		}
		l.logger.Warn("client refused: not in allow", "client", c.RemoteAddr().String())
		c.Close()
	}
}

func containsIP(nets []netip.Prefix, ip netip.Addr) bool {
	for _, p := range nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// certReloader serves the certificate and key files, read again on
// SIGHUP (a renewed certificate needs no restart).
type certReloader struct {
	certFile, keyFile string
	mu                sync.RWMutex
	cert              *tls.Certificate
}

func (c *certReloader) load() error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	c.mu.Lock()
	c.cert = &cert
	c.mu.Unlock()
	return nil
}

func (c *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cert, nil
}

// reloadServeOnHangup re-reads the account files and the certificate on
// SIGHUP. The rest of the configuration needs a restart.
func reloadServeOnHangup(ctx context.Context, sa *serveAuth, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := sa.reload(); err != nil {
				logger.Error("reload: kept the files in force", "err", err)
				continue
			}
			logger.Info("reload: account files and certificate read again")
		}
	}
}
