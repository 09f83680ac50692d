package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/config"
	"github.com/sesame-auth/sesame/ntlm"
	"github.com/sesame-auth/sesame/winbind"
)

// serveAuth is how `sesame serve` authenticates visitors: the
// middleware's hooks, as the server and the reverse proxy need them.
type serveAuth struct {
	// wrap puts authentication in front of h.
	wrap func(h http.Handler) http.Handler
	// connContext and connState tie handshake state to connections
	// (http.Server's hooks).
	connContext func(context.Context, net.Conn) context.Context
	connState   func(net.Conn, http.ConnState)
	// userFrom returns who authenticated r, if anyone did.
	userFrom func(r *http.Request) (*serveUser, bool)
	// reload re-reads the account files (SIGHUP).
	reload func() error
	// schemes are the schemes offered, for the start-up log line.
	schemes []string
	// close releases what the middleware keeps open (the LDAP
	// connection).
	close func() error
}

// newServeAuth builds auth.Middleware from the [serve] configuration.
func newServeAuth(getenv func(string) string, s *config.Serve, modes *pathModes, logger *slog.Logger) (*serveAuth, error) {
	offered := map[string]bool{}
	for _, sc := range s.Schemes {
		offered[strings.ToLower(sc)] = true
	}
	want := func(scheme string) bool { return len(offered) == 0 || offered[scheme] }
	mw := &auth.Middleware{
		Realm:  s.Realm,
		Logger: logger,
		Mode: func(r *http.Request) auth.Mode {
			switch modes.mode(r.URL.Path) {
			case "optional":
				return auth.Optional
			case "off":
				return auth.Off
			}
			return auth.Required
		},
		LoginPath: s.LoginPath,
	}
	var reloads []func() error
	sa := &serveAuth{}
	if s.TLSCert != "" {
		cert, err := leafCertificate(s.TLSCert)
		if err != nil {
			return nil, err
		}
		mw.ServerCertificate = cert
	}
	if want("ntlm") && (s.NTLMUsers != "" || s.NTLMHashes != "" || s.Winbind) {
		cb, err := ntlm.ParseChannelBindingMode(s.ChannelBinding)
		if err != nil {
			return nil, usagef("%v", err)
		}
		srv := &ntlm.Server{NetBIOSDomain: s.NTLMDomain, ChannelBinding: cb}
		if s.TLSCert == "" {
			srv.ChannelBinding = ntlm.ChannelBindingOff // no TLS channel to bind to
		}
		switch {
		case s.Winbind:
			srv.Store = &winbind.Verifier{NTLMAuth: s.NTLMAuth, Logger: logger}
			mw.NTLMVerifiedBy = "winbind"
		default:
			st := &reloadingUserFile{path: s.NTLMUsers, hashes: false}
			if s.NTLMHashes != "" {
				st = &reloadingUserFile{path: s.NTLMHashes, hashes: true}
			}
			if err := st.load(); err != nil {
				return nil, err
			}
			srv.Store = st
			reloads = append(reloads, st.load)
		}
		mw.NTLM = srv
		sa.schemes = append(sa.schemes, "NTLM")
	}
	var closePlatform func() error
	if s.SSPI != "" {
		pa, closeIt, err := platformAcceptor(s.SSPI)
		if err != nil {
			return nil, err
		}
		mw.Platform, closePlatform = pa, closeIt
		sa.schemes = append(sa.schemes, pa.PlatformScheme()+" (SSPI)")
	}
	krb, err := loadServeKerberos(getenv, s)
	if err != nil {
		return nil, err
	}
	if strings.EqualFold(s.SSPI, "negotiate") {
		if s.BasicKerberos {
			return nil, usagef("basic_kerberos needs a keytab, which sspi = \"negotiate\" replaces")
		}
		// Windows answers Negotiate; a keytab from KRB5_KTNAME must not
		// offer it a second time.
		krb = nil
	}
	// After NTLM: Negotiate offers NTLM inside SPNEGO with the same
	// ntlm.Server.
	schemes, err := wireNegotiate(mw, krb, s, want)
	if err != nil {
		return nil, err
	}
	sa.schemes = append(sa.schemes, schemes...)
	namer, reloadNames, closeNames, err := serveGroupNamer(getenv, s, krb)
	if err != nil {
		return nil, err
	}
	if namer != nil {
		mw.Groups = namer
	}
	reloads = append(reloads, reloadNames)
	sa.close = func() error {
		if closePlatform != nil {
			closePlatform()
		}
		if closeNames != nil {
			return closeNames()
		}
		return nil
	}
	if want("basic") && s.Htpasswd != "" {
		hp := &reloadingHtpasswd{path: s.Htpasswd}
		if err := hp.load(); err != nil {
			return nil, err
		}
		mw.Basic = hp
		reloads = append(reloads, hp.load)
		sa.schemes = append(sa.schemes, "Basic")
	}
	if want("digest") && s.Htdigest != "" {
		hd := &reloadingHTDigest{path: s.Htdigest}
		if err := hd.load(); err != nil {
			return nil, err
		}
		mw.Digest = &auth.DigestVerifier{Store: hd, Realm: s.Realm}
		reloads = append(reloads, hd.load)
		sa.schemes = append(sa.schemes, "Digest")
	}
	if s.SessionKeyFile != "" {
		keys, err := auth.LoadSessionKeys(s.SessionKeyFile)
		if err != nil {
			return nil, err
		}
		mw.Sessions = &auth.SessionCookies{Keys: keys}
	}
	if len(sa.schemes) == 0 && (s.Mode != "off" || len(s.RequiredPaths) > 0 || len(s.OptionalPaths) > 0) {
		return nil, usagef("no way to authenticate visitors: configure a keytab, ntlm_users, ntlm_hashes, winbind, sspi (Windows), htpasswd or htdigest (or mode = \"off\")")
	}
	// The access log names the user also where the middleware answers
	// itself (the login path's redirect), not only where the backend is
	// asked.
	mw.OnResult = func(r *http.Request, u *auth.User, _ error) {
		if u != nil {
			recordUser(r, &serveUser{Principal: u.Principal, Scheme: u.Scheme})
		}
	}
	sa.wrap = mw.Wrap
	sa.connContext = mw.ConnContext
	sa.connState = mw.ConnState
	sa.userFrom = func(r *http.Request) (*serveUser, bool) {
		u, ok := auth.UserFrom(r.Context())
		if !ok || u == nil {
			return nil, false
		}
		su := &serveUser{Principal: u.Principal, Name: u.Name, Domain: u.Domain, Realm: u.Realm,
			Scheme: u.Scheme, Mechanism: u.Mechanism, Delegated: u.Delegated}
		for _, g := range u.Groups {
			if g.Name != "" {
				su.Groups = append(su.Groups, g.Name)
			} else {
				su.Groups = append(su.Groups, g.SID)
			}
		}
		return su, true
	}
	sa.reload = func() error {
		for _, f := range reloads {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	}
	return sa, nil
}

// leafCertificate reads the first certificate of a PEM file: the
// server's own, whose hash is the TLS channel binding.
func leafCertificate(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("tls: %s: no certificate", path)
		}
		if b.Type == "CERTIFICATE" {
			return x509.ParseCertificate(b.Bytes)
		}
	}
}

// reloadingUserFile is an NTLM user (or hash) file read again on SIGHUP;
// a file that no longer parses leaves the one in force.
type reloadingUserFile struct {
	path   string
	hashes bool
	cur    atomic.Pointer[ntlm.UserFile]
}

func (f *reloadingUserFile) load() error {
	var uf *ntlm.UserFile
	var err error
	if f.hashes {
		uf, err = ntlm.LoadHashFile(f.path)
	} else {
		uf, err = ntlm.LoadUserFile(f.path)
	}
	if err != nil {
		return err
	}
	f.cur.Store(uf)
	return nil
}

// LookupCredential implements ntlm.CredentialStore.
func (f *reloadingUserFile) LookupCredential(ctx context.Context, domain, user string) (*ntlm.Credential, error) {
	return f.cur.Load().LookupCredential(ctx, domain, user)
}

// reloadingHtpasswd is an htpasswd file read again on SIGHUP.
type reloadingHtpasswd struct {
	path string
	cur  atomic.Pointer[auth.HtpasswdFile]
}

func (f *reloadingHtpasswd) load() error {
	h, err := auth.LoadHtpasswd(f.path)
	if err != nil {
		return err
	}
	f.cur.Store(h)
	return nil
}

// VerifyBasic implements auth.BasicVerifier.
func (f *reloadingHtpasswd) VerifyBasic(ctx context.Context, user, password string) (*auth.User, error) {
	return f.cur.Load().VerifyBasic(ctx, user, password)
}

// reloadingHTDigest is an htdigest file read again on SIGHUP.
type reloadingHTDigest struct {
	path string
	cur  atomic.Pointer[auth.HTDigestFile]
}

func (f *reloadingHTDigest) load() error {
	h, err := auth.LoadHTDigest(f.path)
	if err != nil {
		return err
	}
	f.cur.Store(h)
	return nil
}

// DigestHA1 implements auth.DigestStore.
func (f *reloadingHTDigest) DigestHA1(ctx context.Context, user, realm, algorithm string) (string, error) {
	return f.cur.Load().DigestHA1(ctx, user, realm, algorithm)
}
