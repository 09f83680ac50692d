package kerberos

import (
	"context"
	"fmt"
	"strings"
)

// VerifyPassword checks a user's password against the KDC the way
// mod_auth_gssapi's GssapiBasicAuth does: it logs in as user (AS-REQ),
// gets a ticket for the acceptor's own service principal (TGS-REQ), and
// verifies that ticket with the keytab through Accept. The last step is
// what makes it safe: a fake KDC that "confirms" any password cannot make
// a ticket the keytab's key decrypts.
//
// user is "alice", "alice@REALM" or "DOMAIN\alice" (the default realm).
// The service principal is Principal, or else the first non-krbtgt
// principal in the keytab. cfg nil means LoadConfig(""). A wrong password
// gives an error wrapping ErrLoginRefused; a KDC that cannot vouch for
// the service, ErrBadTicket or ErrWrongService. The password never
// appears in errors.
func (a *Acceptor) VerifyPassword(ctx context.Context, cfg *Config, user, password string) (*AcceptResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if a.Keytab == nil {
		return nil, fmt.Errorf("%w: acceptor has no keytab", ErrConfig)
	}
	if password == "" {
		return nil, fmt.Errorf("kerberos: verify password: %w: empty password", ErrLoginRefused)
	}
	cfg, err := configOrDefault(cfg)
	if err != nil {
		return nil, err
	}
	spn, err := a.ownSPN()
	if err != nil {
		return nil, fmt.Errorf("kerberos: verify password: %w", err)
	}
	name, domain, netbios := SplitUser(user)
	if name == "" || strings.ContainsAny(name, "/@\\") {
		return nil, fmt.Errorf("kerberos: verify password: %w: user %q", ErrLoginRefused, user)
	}
	principal := name
	if domain != "" && !netbios {
		principal = name + "@" + strings.ToUpper(domain)
	}
	c, err := NewWithPassword(principal, password, cfg)
	if err != nil {
		return nil, fmt.Errorf("kerberos: verify password: %w", err)
	}
	defer c.Close()
	x, err := c.InitContext(ctx, spn, ContextOptions{Mutual: MutualDisabled})
	if err != nil {
		return nil, fmt.Errorf("kerberos: verify password of %s: %w", principal, err)
	}
	r, err := a.Accept(ctx, x.Token(), nil)
	if err != nil {
		return nil, fmt.Errorf("kerberos: verify password of %s: %w", principal, err)
	}
	return r, nil
}

// ownSPN is the service principal VerifyPassword asks a ticket for,
// "HTTP/host@REALM".
func (a *Acceptor) ownSPN() (string, error) {
	name, realm := splitSPN(a.Principal)
	for _, e := range a.Keytab.Entries {
		p := strings.Join(e.Principal.Components, "/")
		if len(e.Principal.Components) == 0 || e.Principal.Components[0] == "krbtgt" {
			continue
		}
		if a.Principal == "" || (p == name && (realm == "" || realm == e.Principal.Realm)) {
			return p + "@" + e.Principal.Realm, nil
		}
	}
	if a.Principal != "" {
		return "", fmt.Errorf("%w: no key for %s in the keytab", ErrWrongService, a.Principal)
	}
	return "", fmt.Errorf("%w: the keytab holds no service principal", ErrWrongService)
}
