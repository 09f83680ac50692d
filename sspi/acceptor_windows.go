//go:build windows

package sspi

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/windows"

	"github.com/sesame-auth/sesame/auth"
)

// Acceptor accepts Negotiate, Kerberos or NTLM logons with Windows'
// security packages (AcceptSecurityContext), as IIS does: no keytab and
// no password file, the machine's domain account decrypts the tickets and
// the domain controller checks NTLM responses. The user's groups come
// from the access token of the accepted context.
type Acceptor struct {
	// Package is Negotiate (the default), Kerberos or NTLM.
	Package string

	mu      sync.Mutex
	cred    *secHandle
	credErr error
}

func (a *Acceptor) pkg() string {
	if a.Package == "" {
		return Negotiate
	}
	return a.Package
}

// credentials acquires the inbound credentials handle once; a missing
// package stays an error, anything else is tried again next time.
func (a *Acceptor) credentials() (*secHandle, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cred != nil || a.credErr != nil {
		return a.cred, a.credErr
	}
	h, err := acquireInbound(a.pkg())
	if err != nil {
		err = fmt.Errorf("sspi: accept: %w", err)
		if errors.Is(err, ErrPackageUnavailable) {
			a.credErr = err
		}
		return nil, err
	}
	a.cred = &h
	return a.cred, nil
}

// Close frees the credentials handle; contexts in flight keep theirs
// until they are closed, later ones acquire a new handle.
func (a *Acceptor) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cred != nil {
		freeCredentials(a.cred)
		a.cred = nil
	}
	return nil
}

// NewContext starts the acceptor's side of one logon (one TCP
// connection). tlsServerEndPoint is the RFC 5929 tls-server-end-point data
// of the server's certificate, nil without TLS.
func (a *Acceptor) NewContext(tlsServerEndPoint []byte) *AcceptContext {
	c := &AcceptContext{a: a, ctx: &acceptHolder{}}
	if tlsServerEndPoint != nil {
		c.cb = channelBindings(tlsServerEndPoint)
	}
	// A context its caller drops without Close (a connection gone
	// mid-handshake, an evicted pending logon) is deleted when collected.
	runtime.AddCleanup(c, func(x *acceptHolder) { x.free() }, c.ctx)
	return c
}

// AcceptContext is one logon in progress. Step it with each token the
// client sends until done; then Result says who logged on. Close it in
// every case (a connection closed mid-way included).
type AcceptContext struct {
	a    *Acceptor
	mu   sync.Mutex
	ctx  *acceptHolder
	cb   []byte
	legs int
	done bool
	mech string
	res  *AcceptResult
}

// AcceptResult is who an accepted context authenticated.
type AcceptResult struct {
	// User is the client's name as the package gives it (DOMAIN\user).
	User string
	// UserSID and GroupSIDs are from the context's access token.
	UserSID   string
	GroupSIDs []string
	// Mechanism is "kerberos" or "ntlm", as read from the client's token.
	Mechanism string
}

// maxAcceptLegs bounds the tokens of one logon: NTLM needs two, Kerberos
// one, SPNEGO one more; a client that keeps going is refused.
const maxAcceptLegs = 4

// Step passes the client's token to AcceptSecurityContext and returns the
// token to send back (nil if none) and done once the logon succeeded.
// A refused logon is an error wrapping ErrLogonDenied (or another
// sentinel); the context is then deleted.
func (c *AcceptContext) Step(ctx context.Context, token []byte) (out []byte, done bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.done:
		return nil, true, fmt.Errorf("sspi: accept: %w: context already complete", ErrHandshake)
	case len(token) == 0:
		return nil, false, fmt.Errorf("sspi: accept: %w: empty token", ErrHandshake)
	case len(token) > maxToken:
		return nil, false, fmt.Errorf("sspi: accept: %w: token of %d bytes (at most %d)", ErrHandshake, len(token), maxToken)
	case c.legs >= maxAcceptLegs:
		c.closeLocked()
		return nil, false, fmt.Errorf("sspi: accept: %w: more than %d legs", ErrHandshake, maxAcceptLegs)
	}
	cred, err := c.a.credentials()
	if err != nil {
		return nil, false, err
	}
	if c.legs == 0 {
		c.mech, _ = classify(token)
	}
	c.legs++
	c.ctx.mu.Lock()
	r, err := accept(cred, &c.ctx.h, token, c.cb, ascReqConnection)
	if !c.ctx.h.isZero() {
		c.ctx.live = true
	}
	c.ctx.mu.Unlock()
	if err != nil {
		c.closeLocked()
		return nil, false, fmt.Errorf("sspi: accept: %w", err)
	}
	if r.status != secEOK {
		return r.out, false, nil
	}
	c.done = true
	c.ctx.mu.Lock()
	c.res = c.result(&c.ctx.h, token)
	c.ctx.mu.Unlock()
	return r.out, true, nil
}

// result reads the name and the groups of the accepted context.
func (c *AcceptContext) result(h *secHandle, last []byte) *AcceptResult {
	r := &AcceptResult{User: contextUserName(h), Mechanism: c.mech}
	if r.User == "" && c.mech == mechNTLM {
		// Wine's NTLM acceptor answers neither SECPKG_ATTR_NAMES nor
		// QuerySecurityContextToken: the names of the AUTHENTICATE it
		// has just verified stand in (Windows always gives the name).
		r.User = authenticateName(last)
	}
	tok, err := contextToken(h)
	if err != nil {
		return r
	}
	defer tok.Close()
	if u, err := tok.GetTokenUser(); err == nil {
		r.UserSID = u.User.Sid.String()
	}
	if g, err := tok.GetTokenGroups(); err == nil {
		for _, s := range g.AllGroups() {
			if s.Attributes&windows.SE_GROUP_LOGON_ID == 0 {
				r.GroupSIDs = append(r.GroupSIDs, s.Sid.String())
			}
		}
	}
	if r.User == "" && r.UserSID != "" {
		if sid, err := windows.StringToSid(r.UserSID); err == nil {
			if acct, dom, _, err := sid.LookupAccount(""); err == nil {
				r.User = strings.TrimPrefix(dom+`\`+acct, `\`)
			}
		}
	}
	return r
}

// Result returns who logged on, nil before the context is done.
func (c *AcceptContext) Result() *AcceptResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.res
}

// Close deletes the security context.
func (c *AcceptContext) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked()
	return nil
}

func (c *AcceptContext) closeLocked() { c.ctx.free() }

// acceptHolder owns an AcceptContext's security context, apart from it
// so that a cleanup can free it.
type acceptHolder struct {
	mu   sync.Mutex
	h    secHandle
	live bool
}

func (x *acceptHolder) free() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.live {
		deleteContext(&x.h)
		x.live = false
	}
}

// PlatformScheme implements auth.PlatformAcceptor: "NTLM" for the NTLM
// package, else "Negotiate".
func (a *Acceptor) PlatformScheme() string {
	if strings.EqualFold(a.pkg(), NTLM) {
		return "NTLM"
	}
	return "Negotiate"
}

// NewPlatformContext implements auth.PlatformAcceptor.
func (a *Acceptor) NewPlatformContext(tlsServerEndPoint []byte) auth.PlatformContext {
	return a.NewContext(tlsServerEndPoint)
}

// PlatformUser implements auth.PlatformContext.
func (c *AcceptContext) PlatformUser() (name string, groupSIDs []string, mechanism string) {
	r := c.Result()
	if r == nil {
		return "", nil, ""
	}
	return r.User, r.GroupSIDs, r.Mechanism
}
