package auth

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
)

// PlatformAcceptor is the operating system's own acceptor: on Windows,
// sspi.Acceptor (SSPI's AcceptSecurityContext, as IIS uses it: the
// machine's domain account instead of a keytab, the domain controller
// checking NTLM). Set as Middleware.Platform, it answers its scheme
// instead of Negotiate/NTLM.
type PlatformAcceptor interface {
	// PlatformScheme is the auth-scheme it answers: "Negotiate" or "NTLM".
	PlatformScheme() string
	// NewPlatformContext starts one logon; tlsServerEndPoint is the RFC
	// 5929 channel binding data of the server's certificate, nil without
	// TLS.
	NewPlatformContext(tlsServerEndPoint []byte) PlatformContext
}

// PlatformContext is one logon of a PlatformAcceptor.
type PlatformContext interface {
	// Step takes the client's token and returns the token for the next
	// WWW-Authenticate (may be nil) and done once logged on.
	Step(ctx context.Context, token []byte) (out []byte, done bool, err error)
	// PlatformUser says who logged on, after done: DOMAIN\user (or
	// user@REALM), the SIDs of the access token's groups, and the
	// mechanism ("kerberos" or "ntlm").
	PlatformUser() (name string, groupSIDs []string, mechanism string)
	// Close frees the context.
	Close() error
}

// platformOffered: the platform acceptor's handshakes (NTLM, and
// Negotiate that may fall back to it) need the connection's state.
func (m *Middleware) platformOffered(r *http.Request, cs *connState) bool {
	return m.Platform != nil && cs != nil && r.ProtoMajor < 2
}

// servePlatform runs one leg of the platform acceptor's handshake, its
// context kept with the connection between legs.
func (m *Middleware) servePlatform(r *http.Request, cs *connState, tok []byte) outcome {
	scheme := m.Platform.PlatformScheme()
	pc, _ := m.takePending(cs, scheme).(PlatformContext)
	if pc == nil {
		pc = m.Platform.NewPlatformContext(m.channelBindings(r))
	}
	out, done, err := pc.Step(r.Context(), tok)
	if err != nil {
		pc.Close()
		return outcome{err: fmt.Errorf("auth: %s (platform): %w: %w", scheme, ErrUnauthenticated, err)}
	}
	if !done {
		if len(out) == 0 {
			pc.Close()
			return outcome{err: fmt.Errorf("auth: %s (platform): acceptor wants more but sent nothing: %w", scheme, ErrMalformedAuthorization)}
		}
		m.setPending(cs, scheme, pc)
		return outcome{cont: scheme + " " + base64.StdEncoding.EncodeToString(out)}
	}
	name, sids, mech := pc.PlatformUser()
	pc.Close()
	if name == "" {
		return outcome{err: fmt.Errorf("auth: %s (platform): the logon names no user: %w", scheme, ErrUnauthenticated)}
	}
	u := &User{Principal: name, Name: name, Scheme: scheme, Mechanism: mech, Verified: "windows", Groups: groupsOf(sids)}
	if d, n, ok := strings.Cut(name, `\`); ok {
		u.Domain, u.Name = d, n
	} else if n, realm, ok := strings.Cut(name, "@"); ok {
		u.Name, u.Realm = n, realm
	}
	m.setConnUser(cs, u)
	o := outcome{user: u}
	if len(out) > 0 {
		o.final = scheme + " " + base64.StdEncoding.EncodeToString(out)
	}
	return o
}
