package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/sesame-auth/sesame/config"
)

// serveUser is the identity `sesame serve` hands to the backend, taken
// from whatever authenticated the request (see serve_auth.go).
type serveUser struct {
	// Principal is alice@CORP.TEST (Kerberos) or CORP\alice (NTLM);
	// Name and Domain its parts (alice, CORP); Realm the Kerberos realm.
	Principal, Name, Domain, Realm string
	// Scheme is the HTTP scheme (Negotiate, NTLM, Basic, Digest),
	// Mechanism what verified it (kerberos, ntlm, password, digest).
	Scheme, Mechanism string
	// Groups are group names, or SIDs where no name is known.
	Groups []string
	// Delegated is a ccache holding the credentials the client
	// delegated, if any.
	Delegated []byte
}

// defaultIdentityHeaders are removed from every forwarded request even
// when the configuration names others: a backend written for the
// defaults must never see them from a client.
var defaultIdentityHeaders = []string{"X-Remote-User", "X-Remote-Groups", "X-Remote-Realm", "X-Remote-Ccache"}

// identityHeaders writes the identity into requests for the backend,
// after removing every header a client could have spoofed it with.
type identityHeaders struct {
	user, groups, realm, ccache string
	format                      string // principal, name or domain
	// strip holds config.HeaderKey of every identity header.
	strip map[string]bool
}

func newIdentityHeaders(s *config.Serve) *identityHeaders {
	h := &identityHeaders{user: s.UserHeader, groups: s.GroupsHeader, realm: s.RealmHeader, ccache: "X-Remote-Ccache", format: s.UserFormat, strip: map[string]bool{}}
	for _, n := range append([]string{h.user, h.groups, h.realm}, defaultIdentityHeaders...) {
		if n != "" {
			h.strip[config.HeaderKey(n)] = true
		}
	}
	return h
}

// scrub removes the identity headers from hdr under any spelling: case,
// and '_' for '-' (CGI and PHP map X_Remote_User and X-Remote-User to
// the same HTTP_X_REMOTE_USER).
func (h *identityHeaders) scrub(hdr http.Header) {
	for k := range hdr {
		if h.strip[config.HeaderKey(k)] {
			delete(hdr, k)
		}
	}
}

// set writes u's identity into hdr (already scrubbed).
func (h *identityHeaders) set(hdr http.Header, u *serveUser, ccachePath string) {
	if h.user != "" {
		name := u.Principal
		switch h.format {
		case "name":
			name = u.Name
		case "domain":
			if u.Domain != "" {
				name = u.Domain + `\` + u.Name
			} else {
				name = u.Name
			}
		}
		hdr.Set(h.user, name)
	}
	if h.groups != "" && len(u.Groups) > 0 {
		hdr.Set(h.groups, strings.Join(u.Groups, ","))
	}
	if h.realm != "" && u.Realm != "" {
		hdr.Set(h.realm, u.Realm)
	}
	if ccachePath != "" {
		hdr.Set(h.ccache, ccachePath)
	}
}

// serveContextKey keys the per-request values of `sesame serve`.
type serveContextKey int

const accessRecordKey serveContextKey = iota

// accessRecord collects what the access log line reports but only the
// inner handlers know: who the visitor turned out to be.
type accessRecord struct {
	user, scheme string
}

// newBackendProxy returns the reverse proxy to the backend. users is
// how it learns who authenticated a request (nil: nobody, mode off).
func newBackendProxy(backend *url.URL, hdrs *identityHeaders, users func(*http.Request) (*serveUser, bool), deleg *delegationStore, logger *slog.Logger) *httputil.ReverseProxy {
	tr := &http.Transport{
		Proxy:                 nil, // the backend is reached directly, whatever HTTP_PROXY says
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &httputil.ReverseProxy{
		Transport: tr,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(backend)
			pr.SetXForwarded()
			hdrs.scrub(pr.Out.Header)
			u, ok := (*serveUser)(nil), false
			if users != nil {
				u, ok = users(pr.In)
			}
			if !ok {
				return
			}
			// The credentials were for sesame; a Basic one would hand
			// the backend the password.
			pr.Out.Header.Del("Authorization")
			var ccache string
			if len(u.Delegated) > 0 && deleg != nil {
				p, err := deleg.write(u)
				if err != nil {
					logger.Warn("delegated credentials not stored", "user", u.Principal, "err", err)
				}
				ccache = p
			}
			hdrs.set(pr.Out.Header, u, ccache)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) {
				return // the client went away
			}
			logger.Error("backend", "url", backend.Redacted(), "err", err)
			http.Error(w, "502 Bad Gateway: the application behind sesame serve did not answer", http.StatusBadGateway)
		},
	}
}

// statusWriter records the status and size of a response for the access
// log. It passes Flush through (streamed responses) and, through
// Unwrap, everything http.ResponseController looks for.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog logs one line per request: who, what, the answer, how long.
// The query string is left out: it may carry tokens.
func accessLog(next http.Handler, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &accessRecord{}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), accessRecordKey, rec)))
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		user := rec.user
		if user == "" {
			user = "-"
		}
		logger.Info("request", "client", r.RemoteAddr, "method", r.Method, "path", r.URL.Path, "proto", scheme,
			"status", sw.status, "bytes", sw.bytes, "ms", time.Since(start).Milliseconds(), "user", user, "auth", rec.scheme)
	})
}

// recordUser notes u in the request's access record.
func recordUser(r *http.Request, u *serveUser) {
	if rec, ok := r.Context().Value(accessRecordKey).(*accessRecord); ok && u != nil {
		rec.user, rec.scheme = u.Principal, u.Scheme
	}
}

// loginRedirect answers the login path once authenticated: back to the
// page named by ?return=, if it is a path on this site, else to /.
func loginRedirect(w http.ResponseWriter, r *http.Request) {
	next := r.URL.Query().Get("return")
	// Only a local absolute path: "//evil.example" and "/\evil" are
	// another site to browsers.
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, `/\`) || strings.ContainsAny(next, "\r\n") {
		next = "/"
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// pathModes decides the mode of a request path: the longest configured
// prefix wins, the login path is always required, the default covers
// the rest.
type pathModes struct {
	def      string
	prefixes map[string]string
	login    string
}

func newPathModes(s *config.Serve) *pathModes {
	m := &pathModes{def: s.Mode, prefixes: map[string]string{}, login: s.LoginPath}
	for mode, list := range map[string][]string{"required": s.RequiredPaths, "optional": s.OptionalPaths, "off": s.OffPaths} {
		for _, p := range list {
			m.prefixes[p] = mode
		}
	}
	return m
}

// mode returns "required", "optional" or "off" for path.
func (m *pathModes) mode(path string) string {
	if m.login != "" && path == m.login {
		return "required"
	}
	best, mode := -1, m.def
	for p, md := range m.prefixes {
		if strings.HasPrefix(path, p) && len(p) > best {
			best, mode = len(p), md
		}
	}
	return mode
}
