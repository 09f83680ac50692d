package auth

import (
	"container/list"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sesame-auth/sesame/ntlm"
	"github.com/sesame-auth/sesame/spnego"
)

// MaxAuthorizationBytes bounds the Authorization header the Middleware
// reads. The client side's MaxChallengeHeaderBytes (16 KiB) is too small
// here: a Kerberos ticket with a large PAC may reach Windows'
// MaxTokenSize of 48,000 bytes, 64,000 in base64.
const MaxAuthorizationBytes = 64 << 10

// Middleware authenticates the requests of an http.Handler with
// Negotiate (Kerberos with a keytab, NTLM inside SPNEGO), raw NTLM, Basic
// (htpasswd, or the KDC through KerberosPasswords) and Digest (htdigest),
// per path Required, Optional, Opportunistic or Off, and puts the [User]
// in the request's context (read it with [UserFrom]): name, realm or
// domain, how it was verified, groups (Kerberos PAC SIDs, NTLM
// pass-through) named by Groups. Configure it before use; it is then
// safe for concurrent use.
//
// Kerberos completes in one leg; when the client asked for mutual
// authentication the successful response carries "WWW-Authenticate:
// Negotiate <AP-REP>". Over TLS, ServerCertificate gives the
// tls-server-end-point channel bindings both mechanisms check.
//
// NTLM authenticates a TCP connection, so the Middleware keeps handshake
// state per connection: give the http.Server the Middleware's
// ConnContext and ConnState (or call Install), which also drop the state
// when the connection closes. Pending handshakes are bounded for the
// whole server (MaxPendingHandshakes, the oldest dropped first), so a
// client opening thousands of connections and sending only NEGOTIATE
// cannot lock anyone else out. NTLM is not offered over HTTP/2, where one
// connection multiplexes requests (IIS refuses it there too).
//
// # Browsers and the Optional mode
//
// Browsers send Negotiate or NTLM credentials only in answer to a 401
// that offers them, never unprompted. Chrome and Edge with the
// AuthServerAllowlist policy, and Firefox with
// network.negotiate-auth.trusted-uris (and network.automatic-ntlm-auth
// .trusted-uris for NTLM), then answer silently with the logged-on
// user's ticket; for a site outside the policy they show a password
// prompt instead (Chrome answers NTLM silently only on intranet hosts
// when no policy is set; a Kerberos ticket needs the allow-list). A 401
// on a public page would therefore prompt every visitor whose browser
// lacks the policy. Hence the Optional mode never answers 401 outside
// the LoginPath: anonymous visitors get the page; a visitor who follows
// a link to the LoginPath gets the challenge (Negotiate and NTLM, and
// Basic/Digest as configured), and after success is redirected back to
// the "return" parameter (a local path only) or served the login page.
// The identity then lasts for the connection (NTLM/Negotiate, which
// browsers keep alive) or, with Sessions set, for the session cookie's
// lifetime on any connection.
//
// curl --negotiate sends its token only after a 401; requests-kerberos
// with opportunistic authentication, and curl -u with --basic, send it
// first: the Opportunistic mode accepts such credentials without
// challenging anonymous requests.
//
// # Errors
//
// A refused client gets 401 with the challenges again and no reason; the
// reason (wrong password, no such user, replay, bad MIC, channel
// binding, expired nonce) goes to Logger and OnResult. Secrets (passwords,
// hashes, keys) are never logged.
type Middleware struct {
	// Negotiate, if set, accepts Negotiate (RFC 4559): SPNEGO with
	// Kerberos and NTLM, raw Kerberos tokens, raw NTLMSSP.
	Negotiate *spnego.Acceptor
	// KerberosChannelBinding is what Negotiate's Kerberos requires of
	// channel bindings: with ntlm.ChannelBindingRequired a ticket whose
	// authenticator carries no bindings matching the TLS channel is
	// refused (bindings that do not match are always refused).
	KerberosChannelBinding ntlm.ChannelBindingMode
	// NTLM, if set, accepts raw NTLM ("Authorization: NTLM ...").
	NTLM *ntlm.Server
	// Platform, when set, answers its scheme (PlatformScheme) with the
	// operating system's acceptor (sspi.Acceptor on Windows), before
	// Negotiate and NTLM above.
	Platform PlatformAcceptor
	// NTLMVerifiedBy is User.Verified for NTLM logons; default "ntlm
	// user file" (say "winbind" for pass-through).
	NTLMVerifiedBy string
	// Basic, if set, accepts Basic credentials (see HtpasswdFile).
	Basic BasicVerifier
	// Digest, if set, accepts Digest credentials (RFC 7616).
	Digest *DigestVerifier
	// Realm is the Basic realm; default "sesame".
	Realm string

	// DefaultMode applies to paths no PathMode matches; the zero value
	// is Required.
	DefaultMode Mode
	// Paths set modes by URL path prefix, the longest match winning.
	Paths []PathMode
	// Mode, if set, decides instead of DefaultMode and Paths.
	Mode func(*http.Request) Mode
	// LoginPath is a path (e.g. "/login") that is always Required and
	// where the Optional modes offer their challenge. After success the
	// visitor is redirected (303) to the LoginReturnParam query
	// parameter ("return" by default) when it is a local path, and
	// otherwise the wrapped handler serves the path.
	LoginPath        string
	LoginReturnParam string

	// Sessions, if set, gives a client that authenticated a session
	// cookie, so that its later requests and connections skip the
	// handshake.
	Sessions *SessionCookies

	// Groups, if set, names the SIDs of users' groups.
	Groups GroupNamer

	// ServerCertificate is the server's own TLS leaf certificate. Over
	// TLS, its tls-server-end-point (RFC 5929) is the channel binding
	// that NTLM (ntlm.Server.ChannelBinding) checks. Nil means no
	// bindings can be checked: a client that sends them is refused in
	// the ntlm.ChannelBindingAccept and Required modes.
	ServerCertificate *x509.Certificate

	// MaxPendingHandshakes bounds the connection-bound handshakes
	// waiting for a client's next leg, server-wide; default
	// DefaultMaxPendingHandshakes.
	MaxPendingHandshakes int

	// Logger receives a record per refused credential (why) and per
	// authenticated request at debug level; nil means slog.Default().
	Logger *slog.Logger
	// OnResult, if set, is called once per request the Middleware
	// judged (not for mode Off, not for a handshake leg still in
	// progress): with the user, or with nil and the reason a credential
	// was refused, or with nil, nil for an anonymous request served. For
	// metrics and access logs; it must not block.
	OnResult func(r *http.Request, u *User, err error)

	connIDs atomic.Uint64
	evicted atomic.Int64
	connMu  sync.Mutex
	conns   map[net.Conn]*connState
	pending *list.List // of *connState with a pending handshake, oldest first

	warnOnce sync.Once
	cbOnce   sync.Once
	cb       []byte
}

// outcome is what authenticating one request's credentials gave.
type outcome struct {
	user *User
	// cont is a WWW-Authenticate value that continues a handshake (an
	// NTLM CHALLENGE): the answer is 401 with only this header.
	cont string
	// final is a WWW-Authenticate value for the successful response
	// (mutual authentication).
	final string
	// info is an Authentication-Info value for the successful response
	// (Digest's rspauth).
	info  string
	stale bool // Digest: right password, expired nonce
	err   error
}

// Wrap returns next wrapped by the Middleware.
func (m *Middleware) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.serve(w, r, next) })
}

func (m *Middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	mode := m.modeFor(r)
	login := m.isLogin(r)
	if login {
		mode = Required
	}
	if mode == Off {
		next.ServeHTTP(w, r)
		return
	}
	cs := connFrom(r.Context())
	if cs == nil {
		m.warnOnce.Do(func() {
			if m.NTLM != nil || (m.Negotiate != nil && m.Negotiate.NTLM != nil) {
				m.log().Error("auth: middleware: the http.Server lacks the Middleware's ConnContext/ConnState (see Install); NTLM is not offered")
			}
		})
	}
	var o outcome
	if authz := r.Header.Values("Authorization"); len(authz) > 0 && mode != Optional {
		o = m.authenticate(r, cs, authz)
	}
	if o.cont != "" {
		w.Header().Set("WWW-Authenticate", o.cont)
		unauthorized(w)
		return
	}
	fresh := o.user != nil
	if o.user == nil && o.err == nil && cs != nil {
		o.user = m.connUser(cs)
	}
	if o.user == nil && o.err == nil && m.Sessions != nil {
		u, err := m.Sessions.Open(r)
		switch {
		case err != nil:
			m.log().Info("auth: session cookie refused", "remote", r.RemoteAddr, "path", r.URL.Path, "err", err)
			http.SetCookie(w, m.Sessions.Clear(r))
		case u != nil:
			o.user = u
		}
	}
	if o.user != nil {
		if fresh {
			m.nameGroups(r.Context(), o.user)
			if m.Sessions != nil {
				if c, err := m.Sessions.Issue(r, o.user); err != nil {
					m.log().Warn("auth: no session cookie", "user", o.user.Principal, "err", err)
				} else {
					http.SetCookie(w, c)
				}
			}
		}
		if o.final != "" {
			w.Header().Set("WWW-Authenticate", o.final)
		}
		if o.info != "" {
			w.Header().Set("Authentication-Info", o.info)
		}
		m.report(r, o.user, nil)
		if login {
			if to := m.loginReturn(r); to != "" {
				http.Redirect(w, r, to, http.StatusSeeOther)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(ContextWithUser(r.Context(), o.user)))
		return
	}
	if o.err != nil {
		level := slog.LevelInfo
		if !isAuthErr(o.err) && !errors.Is(o.err, ErrMalformedAuthorization) && !errors.Is(o.err, ErrStaleNonce) {
			level = slog.LevelWarn
		}
		m.log().Log(r.Context(), level, "auth: credentials refused", "remote", r.RemoteAddr, "path", r.URL.Path, "err", o.err)
	}
	m.report(r, nil, o.err)
	if mode == Required || o.err != nil {
		m.challenge(w, r, cs, o.stale)
		return
	}
	next.ServeHTTP(w, r)
}

// authenticate judges the request's Authorization header.
func (m *Middleware) authenticate(r *http.Request, cs *connState, values []string) outcome {
	if len(values) != 1 {
		return outcome{err: fmt.Errorf("auth: %d Authorization headers: %w", len(values), ErrMalformedAuthorization)}
	}
	v := values[0]
	if len(v) > MaxAuthorizationBytes {
		return outcome{err: fmt.Errorf("auth: Authorization header of %d bytes: %w", len(v), ErrMalformedAuthorization)}
	}
	scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
	rest = strings.TrimSpace(rest)
	switch {
	case m.platformOffered(r, cs) && strings.EqualFold(scheme, m.Platform.PlatformScheme()):
		tok, err := decodeToken(rest)
		if err != nil {
			return outcome{err: fmt.Errorf("auth: %s: %w", scheme, err)}
		}
		return m.servePlatform(r, cs, tok)
	case strings.EqualFold(scheme, "Negotiate") && m.negotiateOffered(r, cs):
		tok, err := decodeToken(rest)
		if err != nil {
			return outcome{err: fmt.Errorf("auth: negotiate: %w", err)}
		}
		return m.serveNegotiate(r, cs, tok)
	case strings.EqualFold(scheme, "NTLM") && m.ntlmOffered(r, cs):
		tok, err := decodeToken(rest)
		if err != nil {
			return outcome{err: fmt.Errorf("auth: ntlm: %w", err)}
		}
		return m.serveNTLM(r, cs, tok)
	case strings.EqualFold(scheme, "Basic") && m.Basic != nil:
		return m.serveBasic(r, rest)
	case strings.EqualFold(scheme, "Digest") && m.Digest != nil:
		return m.Digest.serve(r, rest)
	}
	return outcome{err: fmt.Errorf("auth: scheme %.20q is not offered here: %w", scheme, ErrMalformedAuthorization)}
}

// decodeToken decodes a token68 in standard base64, padded or not.
func decodeToken(s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("empty token: %w", ErrMalformedAuthorization)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(s); err != nil {
			return nil, fmt.Errorf("token is not base64: %w", ErrMalformedAuthorization)
		}
	}
	return b, nil
}

// negotiateOffered: Negotiate with Kerberos completes in one leg and
// works anywhere; with only NTLM inside it needs a connection's state.
func (m *Middleware) negotiateOffered(r *http.Request, cs *connState) bool {
	if m.Negotiate == nil {
		return false
	}
	return m.Negotiate.Kerberos != nil || (m.Negotiate.NTLM != nil && cs != nil && r.ProtoMajor < 2)
}

func (m *Middleware) ntlmOffered(r *http.Request, cs *connState) bool {
	return m.NTLM != nil && cs != nil && r.ProtoMajor < 2
}

// challenge answers 401 with a challenge per configured scheme, the
// connection-bound ones first (browsers pick the first they support).
func (m *Middleware) challenge(w http.ResponseWriter, r *http.Request, cs *connState, stale bool) {
	h := w.Header()
	if m.platformOffered(r, cs) {
		h.Add("WWW-Authenticate", m.Platform.PlatformScheme())
	}
	if m.negotiateOffered(r, cs) {
		h.Add("WWW-Authenticate", "Negotiate")
	}
	if m.ntlmOffered(r, cs) {
		h.Add("WWW-Authenticate", "NTLM")
	}
	if m.Digest != nil {
		for _, c := range m.Digest.challenges(stale) {
			h.Add("WWW-Authenticate", c)
		}
	}
	if m.Basic != nil {
		h.Add("WWW-Authenticate", "Basic realm="+QuoteString(m.realm())+`, charset="UTF-8"`)
	}
	unauthorized(w)
}

func unauthorized(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprintln(w, "401 Unauthorized")
}

// nameGroups fills in the names of groups known only by SID.
func (m *Middleware) nameGroups(ctx context.Context, u *User) {
	if m.Groups == nil || len(u.Groups) == 0 {
		return
	}
	var sids []string
	for _, g := range u.Groups {
		if g.Name == "" && g.SID != "" {
			sids = append(sids, g.SID)
		}
	}
	if len(sids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	names, err := m.Groups.Names(ctx, sids)
	if err != nil {
		m.log().Warn("auth: naming groups", "user", u.Principal, "err", err)
	}
	if len(names) == 0 {
		return
	}
	gs := make([]Group, len(u.Groups))
	for i, g := range u.Groups {
		if g.Name == "" {
			g.Name = names[g.SID]
		}
		gs[i] = g
	}
	u.Groups = gs
}

// channelBindings returns the tls-server-end-point bindings of the
// server's certificate on a TLS request, nil otherwise.
func (m *Middleware) channelBindings(r *http.Request) []byte {
	if r.TLS == nil || m.ServerCertificate == nil {
		return nil
	}
	m.cbOnce.Do(func() { m.cb = ntlm.TLSServerEndPoint(m.ServerCertificate) })
	return m.cb
}

func (m *Middleware) report(r *http.Request, u *User, err error) {
	if u != nil {
		m.log().Debug("auth: authenticated", "remote", r.RemoteAddr, "path", r.URL.Path,
			"user", u.Principal, "scheme", u.Scheme, "verified", u.Verified)
	}
	if m.OnResult != nil {
		m.OnResult(r, u, err)
	}
}

func (m *Middleware) realm() string {
	if m.Realm != "" {
		return m.Realm
	}
	return "sesame"
}

func (m *Middleware) log() *slog.Logger {
	if m.Logger != nil {
		return m.Logger
	}
	return slog.Default()
}

// isAuthErr reports whether err is a verdict on credentials (as opposed
// to a verifier that could not run).
func isAuthErr(err error) bool {
	return errors.Is(err, ErrUnauthenticated) || errors.Is(err, ErrNoSuchUser)
}
