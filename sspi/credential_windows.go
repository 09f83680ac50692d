//go:build windows

package sspi

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/windows"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/kerberos"
	"github.com/sesame-auth/sesame/ntlm"
)

// Security package names.
const (
	Negotiate = "Negotiate"
	Kerberos  = "Kerberos"
	NTLM      = "NTLM"
)

// Credential answers Negotiate or NTLM challenges with a Windows security
// package: as the logged-on user when User is empty (single sign-on, no
// password anywhere in sesame), else with the explicit account given
// (SEC_WINNT_AUTH_IDENTITY). It implements auth.Credential; each
// handshake has a security context of its own, deleted when the
// handshake ends (Finish, an error, or, for a handshake the transport
// abandons, when it is garbage collected). The credentials handle is
// acquired once, on first use, and freed by Close.
type Credential struct {
	// Package is Negotiate (the default), Kerberos or NTLM. NTLM answers
	// the "NTLM" scheme, the others "Negotiate".
	Package string
	// User, Domain and Password name an explicit account; all empty
	// means the logged-on user. User may be DOMAIN\user or user@REALM.
	User, Domain, Password string
	// SPN overrides the target name; by default HTTP/<host> of the
	// peer, per request.
	SPN string
	// Mutual is the mutual authentication mode for Kerberos; default
	// kerberos.MutualRequired. Toward a proxy it is MutualOptional
	// unless RequireProxyMutual, as for auth.Negotiate.
	Mutual             kerberos.MutualMode
	RequireProxyMutual bool
	// Delegate asks for delegation (ISC_REQ_DELEGATE): the service may
	// act as the user. Off by default.
	Delegate bool

	mu      sync.Mutex
	cred    *secHandle
	credErr error
	lastErr error // the last handshake's failure to start

	handshakes, verified, mutualFailed, open atomic.Int64
}

// Scheme returns "NTLM" for the NTLM package, else "Negotiate".
func (c *Credential) Scheme() string {
	if strings.EqualFold(c.pkg(), NTLM) {
		return "NTLM"
	}
	return "Negotiate"
}

func (c *Credential) pkg() string {
	if c.Package == "" {
		return Negotiate
	}
	return c.Package
}

// Identity returns "sspi:" and the account: the one configured, or the
// logged-on user as Windows names it (DOMAIN\user).
func (c *Credential) Identity() string {
	if c.User != "" {
		u, d := c.account()
		if d != "" {
			return "sspi:" + d + `\` + u
		}
		return "sspi:" + u
	}
	return "sspi:" + LoggedOnUser()
}

// LoggedOnUser returns the name of the user this process runs as,
// DOMAIN\user, or "logged-on user" if Windows does not say.
func LoggedOnUser() string {
	n := uint32(256)
	for range 2 {
		b := make([]uint16, n)
		err := windows.GetUserNameEx(windows.NameSamCompatible, &b[0], &n)
		if err == nil {
			return windows.UTF16ToString(b[:n])
		}
		if !errors.Is(err, windows.ERROR_MORE_DATA) {
			break
		}
	}
	return "logged-on user"
}

// account splits User into user and domain (DOMAIN\user; user@REALM keeps
// the realm as domain, which Kerberos needs).
func (c *Credential) account() (user, domain string) {
	user, domain = c.User, c.Domain
	if domain == "" {
		if d, u, ok := strings.Cut(user, `\`); ok {
			return u, d
		}
		if u, r, ok := strings.Cut(user, "@"); ok {
			return u, r
		}
	}
	return user, domain
}

// Stats counts the credential's handshakes.
type Stats struct {
	// Handshakes started; Open those whose security context is not yet
	// deleted.
	Handshakes, Open int64
	// MutualVerified counts Kerberos handshakes whose AP-REP Windows
	// verified (ISC_RET_MUTUAL_AUTH); MutualFailed those that did not.
	MutualVerified, MutualFailed int64
}

// Stats returns the handshake counters.
func (c *Credential) Stats() Stats {
	return Stats{Handshakes: c.handshakes.Load(), Open: c.open.Load(),
		MutualVerified: c.verified.Load(), MutualFailed: c.mutualFailed.Load()}
}

// credentials returns the credentials handle, acquiring it once. A
// failure is remembered: a package Windows lacks does not appear later.
// No ticket (SEC_E_NO_CREDENTIALS) shows only at InitializeSecurityContext.
func (c *Credential) credentials() (*secHandle, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cred != nil || c.credErr != nil {
		return c.cred, c.credErr
	}
	var id *winntAuthIdentity
	if c.User != "" {
		u, d := c.account()
		var err error
		if id, err = identity(u, d, c.Password); err != nil {
			c.credErr = err
			return nil, err
		}
	}
	h, err := acquireCredentials(c.pkg(), id)
	if err != nil {
		if !errors.Is(err, ErrPackageUnavailable) {
			// Transient (no ticket yet): try again next time.
			return nil, err
		}
		c.credErr = err
		return nil, err
	}
	c.cred = &h
	return c.cred, nil
}

// identity builds SEC_WINNT_AUTH_IDENTITY_W (Unicode).
func identity(user, domain, password string) (*winntAuthIdentity, error) {
	u, err1 := windows.UTF16FromString(user)
	d, err2 := windows.UTF16FromString(domain)
	p, err3 := windows.UTF16FromString(password)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("sspi: %w: account contains NUL", auth.ErrInvalidCredentials)
	}
	return &winntAuthIdentity{
		user: &u[0], userLength: uint32(len(u) - 1),
		domain: &d[0], domainLength: uint32(len(d) - 1),
		password: &p[0], passwordLength: uint32(len(p) - 1),
		flags: secWinntAuthIdentityUnicode,
	}, nil
}

// LastError returns why the last handshake could not start (no
// ticket, no domain controller, no such package), nil if it could.
func (c *Credential) LastError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

func (c *Credential) setLastError(err error) {
	c.mu.Lock()
	c.lastErr = err
	c.mu.Unlock()
}

// Close frees the credentials handle. Handshakes in flight keep working
// until they end; later ones acquire a new handle.
func (c *Credential) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cred != nil {
		freeCredentials(c.cred)
		c.cred = nil
	}
	return nil
}

// Start begins a handshake for one connection.
func (c *Credential) Start(t *auth.Target) (auth.Handshake, error) {
	cred, err := c.credentials()
	if err != nil {
		c.setLastError(err)
		return nil, fmt.Errorf("sspi: %w: %w", auth.ErrMechanismUnavailable, err)
	}
	spn := c.SPN
	if spn == "" && t.Host != "" {
		spn = "HTTP/" + strings.TrimSuffix(strings.TrimPrefix(t.Host, "["), "]")
	}
	target, err := windows.UTF16PtrFromString(spn)
	if err != nil {
		return nil, fmt.Errorf("sspi: %w: target name contains NUL", auth.ErrInvalidCredentials)
	}
	mutual := c.Mutual
	if t.Proxy && !c.RequireProxyMutual && mutual == kerberos.MutualRequired {
		mutual = kerberos.MutualOptional
	}
	flags := uint32(iscReqConnection)
	if mutual != kerberos.MutualDisabled {
		// Also needed under Wine, where a Kerberos context asked for
		// ISC_REQ_CONNECTION alone is complete at once and never looks
		// at the AP-REP.
		flags |= iscReqMutualAuth
	}
	if c.Delegate {
		flags |= iscReqDelegate
	}
	var cb []byte
	if t.ServerCertificate != nil {
		cb = channelBindings(ntlm.TLSServerEndPoint(t.ServerCertificate))
	}
	c.handshakes.Add(1)
	h := &handshake{c: c, cred: cred, spn: spn, target: target, flags: flags, cb: cb, mutual: mutual,
		ctx: &ctxHolder{open: &c.open}}
	// A handshake the transport abandons (a connection lost mid-way)
	// never sees Finish: its context is deleted when it is collected.
	runtime.AddCleanup(h, func(x *ctxHolder) { x.free() }, h.ctx)
	return h, nil
}

// ctxHolder owns a handshake's security context, apart from the
// handshake so that a cleanup can free it.
type ctxHolder struct {
	mu   sync.Mutex
	h    secHandle
	open *atomic.Int64
	live bool
}

func (x *ctxHolder) free() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.live {
		deleteContext(&x.h)
		x.live = false
		x.open.Add(-1)
	}
}

type handshake struct {
	c      *Credential
	cred   *secHandle
	spn    string
	target *uint16
	flags  uint32
	cb     []byte
	mutual kerberos.MutualMode

	ctx      *ctxHolder
	legs     int
	complete bool   // the package returned SEC_E_OK
	attrs    uint32 // ISC_RET_* of the last call
	mech     string
	name     string // the context's client name, once complete
	finished bool

	// For the failure message of a mutual authentication that did not
	// verify: what each InitializeSecurityContext call returned, and
	// the first token (the AP-REQ).
	calls []callTrace
	first []byte
}

// callTrace is one InitializeSecurityContext call of a handshake.
type callTrace struct {
	status, attrs uint32
	in, out       int
}

func (c callTrace) String() string {
	return fmt.Sprintf("%s attrs %#x (%d bytes in, %d out)", statusName(c.status), c.attrs, c.in, c.out)
}

// trace describes the handshake's calls and tokens for an error message;
// no token content beyond lengths and the AP-REQ's clear options.
func (h *handshake) trace(tok []byte) string {
	var b strings.Builder
	for i, c := range h.calls {
		fmt.Fprintf(&b, "; call %d: %v", i+1, c)
	}
	if h.first != nil && h.mech == mechKerberos {
		b.WriteString("; " + describeAPReq(h.first))
	}
	b.WriteString("; " + describeAcceptorToken(tok))
	return b.String()
}

// Mechanism implements auth.HandshakeInfo: "kerberos" or "ntlm", as read
// from the tokens.
func (h *handshake) Mechanism() string { return h.mech }

// Principal implements auth.HandshakeInfo: the client name of the
// context once the package can say, else the credential's account. Wine
// does not answer SECPKG_ATTR_NAMES for Kerberos contexts, so there the
// Windows user name (not the ticket's principal) stands in.
func (h *handshake) Principal() string {
	h.ctx.mu.Lock()
	name := h.name
	h.ctx.mu.Unlock()
	if name != "" {
		return name
	}
	return strings.TrimPrefix(h.c.Identity(), "sspi:")
}

// step runs InitializeSecurityContext once with the peer's token.
func (h *handshake) step(in []byte) ([]byte, error) {
	x := h.ctx
	x.mu.Lock()
	defer x.mu.Unlock()
	if h.legs > 0 && !x.live {
		return nil, fmt.Errorf("sspi: %w: security context already deleted", auth.ErrRejected)
	}
	var cb []byte
	if h.legs == 0 || in != nil {
		cb = bindingsFor(h.c.pkg(), h.legs, h.cb)
	}
	// Wine's NTLM takes the first call only without any input buffer
	// (an empty token buffer gives SEC_E_INVALID_HANDLE); Windows takes
	// that too, so the first call never passes one.
	if h.legs == 0 {
		in = nil
	}
	first := !x.live
	r, err := initialize(h.cred, &x.h, h.target, h.flags, in, cb)
	if first && !x.h.isZero() {
		x.live = true
		x.open.Add(1)
	}
	h.legs++
	h.calls = append(h.calls, callTrace{status: r.status, attrs: r.attrs, in: len(in), out: len(r.out)})
	if h.legs == 1 {
		h.first = bytes.Clone(r.out)
	}
	if err != nil {
		if x.live {
			deleteContext(&x.h)
			x.live = false
			x.open.Add(-1)
		}
		return nil, err
	}
	h.attrs = r.attrs
	h.complete = r.status == secEOK
	if h.complete {
		h.name = contextUserName(&x.h)
	}
	return r.out, nil
}

func (h *handshake) fail(err error) error {
	h.ctx.free()
	switch {
	case errors.Is(err, auth.ErrRejected), errors.Is(err, auth.ErrMechanismUnavailable):
		return err
	case errors.Is(err, ErrLogonDenied) && h.legs <= 1:
		// The package or KDC judged the password before the peer did.
		return fmt.Errorf("sspi: %w: %w", auth.ErrRejected, err)
	case h.legs <= 1:
		err = fmt.Errorf("%s for %s: %w", h.c.pkg(), h.spn, hint(err))
		h.c.setLastError(err)
		return fmt.Errorf("sspi: %w: %w", auth.ErrMechanismUnavailable, err)
	}
	return fmt.Errorf("sspi: %w: %w", auth.ErrRejected, err)
}

// hint adds the likely cause to the failures users meet first.
func hint(err error) error {
	switch {
	case errors.Is(err, ErrNoCredentials):
		return fmt.Errorf("%w (no Kerberos ticket for the logged-on user and no domain controller reachable to get one, or no NTLM secret in this logon session)", err)
	case errors.Is(err, ErrTargetUnknown):
		return fmt.Errorf("%w (the KDC has no such service principal; try --spn)", err)
	}
	return err
}

// Next implements auth.Handshake.
func (h *handshake) Next(_ context.Context, ch *auth.Challenge) (string, bool, error) {
	scheme := h.c.Scheme()
	var in []byte
	if ch != nil && ch.Token68 != "" {
		var err error
		if in, err = base64.StdEncoding.DecodeString(strings.TrimSpace(ch.Token68)); err != nil {
			return "", false, h.fail(fmt.Errorf("sspi: challenge is not base64: %w: %w", auth.ErrRejected, auth.ErrMalformedChallenge))
		}
	}
	switch {
	case h.finished:
		return "", false, fmt.Errorf("sspi: %w: handshake already finished", auth.ErrRejected)
	case h.legs > 0 && len(in) == 0:
		return "", false, h.fail(fmt.Errorf("sspi: %w: server answered %s without a token", auth.ErrRejected, scheme))
	case h.legs > 0 && h.complete:
		// Our side was done: a token now with a 401 is a refusal.
		return "", false, h.fail(fmt.Errorf("sspi: %w: a %s token after the final leg", auth.ErrRejected, scheme))
	}
	out, err := h.step(in)
	if err != nil {
		return "", false, h.fail(err)
	}
	if len(out) == 0 {
		return "", false, h.fail(fmt.Errorf("sspi: %w: %s produced no token", ErrHandshake, h.c.pkg()))
	}
	if h.legs == 1 {
		h.c.setLastError(nil)
	}
	mech, final := classify(out)
	if scheme == "NTLM" {
		mech, final = mechNTLM, ntlmType(out) == 3
	}
	if mech != "" && (h.mech == "" || h.legs > 1) {
		h.mech = mech
	}
	if h.complete {
		final = true
	}
	return scheme + " " + base64.StdEncoding.EncodeToString(out), final, nil
}

// Finish implements auth.Handshake: for Kerberos it hands the server's
// AP-REP to the package and requires ISC_RET_MUTUAL_AUTH, per the mode;
// the security context is deleted in every case.
func (h *handshake) Finish(ch *auth.Challenge) error {
	defer h.ctx.free()
	h.finished = true
	var tok []byte
	if ch != nil && ch.Token68 != "" {
		var err error
		if tok, err = base64.StdEncoding.DecodeString(strings.TrimSpace(ch.Token68)); err != nil {
			tok = []byte{0} // undecodable: fails verification below
		}
	}
	if len(tok) > 0 && !h.complete {
		if _, err := h.step(tok); err != nil {
			if h.mech == mechKerberos && h.mutual != kerberos.MutualDisabled {
				h.c.mutualFailed.Add(1)
				return fmt.Errorf("sspi: %w: %w", kerberos.ErrMutualAuth, err)
			}
			if h.mech != mechKerberos {
				return fmt.Errorf("sspi: %w", err)
			}
		}
	}
	if h.mech != mechKerberos || h.mutual == kerberos.MutualDisabled {
		return nil
	}
	if h.complete && h.attrs&iscRetMutualAuth != 0 {
		h.c.verified.Add(1)
		return nil
	}
	if h.mutual == kerberos.MutualOptional && len(tok) == 0 {
		return nil
	}
	h.c.mutualFailed.Add(1)
	return fmt.Errorf("sspi: %w: the server's answer did not authenticate it (no verified AP-REP%s)", kerberos.ErrMutualAuth, h.trace(tok))
}

// Opportunistic reports false: a token goes only to peers that ask.
func (c *Credential) Opportunistic() bool { return false }

// statusName names a SECURITY_STATUS for a message, success codes too.
func statusName(st uint32) string {
	switch st {
	case secEOK:
		return "SEC_E_OK"
	case secIContinueNeeded:
		return "SEC_I_CONTINUE_NEEDED"
	}
	if n := statusNames[st]; n != "" {
		return n
	}
	return fmt.Sprintf("SECURITY_STATUS %#08x", st)
}
