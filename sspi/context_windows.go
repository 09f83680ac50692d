//go:build windows

package sspi

import (
	"crypto/x509"
	"fmt"
	"strings"

	"golang.org/x/sys/windows"

	"github.com/sesame-auth/sesame/ntlm"
)

// ClientContext is one client security context driven leg by leg, for
// tools that want the raw tokens of a security package (`sesame token
// negotiate|authenticate --sspi`) rather than an HTTP handshake. Close
// frees its handles; it is not safe for concurrent use.
type ClientContext struct {
	cred, ctx secHandle
	live      bool
	target    *uint16
	flags     uint32
	cb        []byte
	pkg       string
	legs      int
	done      bool
}

// ClientOptions configure a ClientContext.
type ClientOptions struct {
	// Package is NTLM, Negotiate or Kerberos; default NTLM.
	Package string
	// User, Domain and Password name an explicit account; all empty
	// means the logged-on user. User may be DOMAIN\user or user@REALM.
	User, Domain, Password string
	// SPN is the target name (for NTLM, MsvAvTargetName).
	SPN string
	// ServerCertificate, if set, binds the context to the TLS channel
	// (tls-server-end-point in SEC_CHANNEL_BINDINGS).
	ServerCertificate *x509.Certificate
}

// NewClientContext acquires the credentials for a client context.
func NewClientContext(o ClientOptions) (*ClientContext, error) {
	c := &Credential{Package: o.Package, User: o.User, Domain: o.Domain}
	if c.Package == "" {
		c.Package = NTLM
	}
	var id *winntAuthIdentity
	if o.User != "" {
		u, d := c.account()
		var err error
		if id, err = identity(u, d, o.Password); err != nil {
			return nil, err
		}
	}
	target, err := windows.UTF16PtrFromString(o.SPN)
	if err != nil {
		return nil, fmt.Errorf("sspi: %w: target name contains NUL", ErrHandshake)
	}
	cc := &ClientContext{target: target, flags: iscReqConnection, pkg: c.Package}
	if !strings.EqualFold(c.Package, NTLM) {
		cc.flags |= iscReqMutualAuth // see Credential.Start: Wine's Kerberos needs it
	}
	if o.ServerCertificate != nil {
		cc.cb = channelBindings(ntlm.TLSServerEndPoint(o.ServerCertificate))
	}
	if cc.cred, err = acquireCredentials(c.Package, id); err != nil {
		return nil, fmt.Errorf("sspi: %w", hint(err))
	}
	return cc, nil
}

// Step calls InitializeSecurityContext with the peer's token (nil for
// the first leg) and returns the token to send; done reports that the
// package considers the context complete.
func (c *ClientContext) Step(in []byte) (out []byte, done bool, err error) {
	if c.done {
		return nil, true, fmt.Errorf("sspi: %w: context already complete", ErrHandshake)
	}
	if c.cred.isZero() {
		return nil, false, fmt.Errorf("sspi: %w: context closed", ErrHandshake)
	}
	if c.legs == 0 {
		in = nil // see handshake.step: Wine's NTLM takes no first buffer
	} else if len(in) == 0 {
		return nil, false, fmt.Errorf("sspi: %w: no token from the peer for leg %d", ErrHandshake, c.legs+1)
	}
	r, err := initialize(&c.cred, &c.ctx, c.target, c.flags, in, bindingsFor(c.pkg, c.legs, c.cb))
	c.legs++
	if !c.ctx.isZero() {
		c.live = true
	}
	if err != nil {
		return nil, false, fmt.Errorf("sspi: %w", hint(err))
	}
	c.done = r.status == secEOK
	return append([]byte(nil), r.out...), c.done, nil
}

// Close deletes the security context and frees the credentials handle.
func (c *ClientContext) Close() error {
	if c.live {
		deleteContext(&c.ctx)
		c.live = false
	}
	freeCredentials(&c.cred)
	return nil
}

// bindingsFor returns the channel bindings to pass at leg legs (0 for
// the first call) of package pkg. Kerberos needs them in the first call,
// which makes the AP-REQ. NTLM uses them only in the AUTHENTICATE, and
// Wine's NTLM fails the first call when any input buffer is passed, a
// SECBUFFER_CHANNEL_BINDINGS one included (SEC_E_INVALID_TOKEN,
// 0x80090308): so for the NTLM package they go with the CHALLENGE only,
// which Windows accepts as well.
func bindingsFor(pkg string, legs int, cb []byte) []byte {
	if legs == 0 && strings.EqualFold(pkg, NTLM) {
		return nil
	}
	return cb
}
