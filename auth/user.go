package auth

import (
	"context"
	"time"
)

// User is who a request was authenticated as, put in the request's
// context by [Middleware] and read back with [UserFrom].
type User struct {
	// Name is the account name without domain or realm ("alice").
	Name string
	// Domain is the NetBIOS domain ("CORP") when the mechanism names one
	// (NTLM, or the Kerberos PAC's logon domain).
	Domain string
	// Realm is the Kerberos realm ("CORP.TEST"), or the Basic/Digest
	// realm the password was checked in.
	Realm string
	// Principal is the full name: "alice@CORP.TEST" for Kerberos,
	// `CORP\alice` for NTLM, the plain name for Basic and Digest.
	Principal string
	// Scheme is the HTTP authentication scheme the client used:
	// "Negotiate", "NTLM", "Basic" or "Digest".
	Scheme string
	// Mechanism is what proved the identity: "kerberos", "ntlm",
	// "password" (Basic) or "digest".
	Mechanism string
	// Verified says against what: "keytab", "ntlm user file", "winbind",
	// "htpasswd", "kerberos password", "htdigest", or "session cookie"
	// for a request that skipped the handshake because it carried a
	// session cookie (the cookie's original Mechanism is kept).
	Verified string
	// Groups are the user's security groups: from a verified Kerberos
	// PAC or from NTLM pass-through. Name is empty when no GroupNamer
	// knew the SID.
	Groups []Group
	// Expires is when the credential behind the identity ends (the
	// Kerberos ticket's end time); zero when the mechanism has none.
	Expires time.Time
	// Delegated is a credential cache (MIT ccache file format, version 4)
	// holding the TGT the client delegated, nil when it did not.
	Delegated []byte
}

// Group is one security group of a User.
type Group struct {
	// SID is the group's security identifier ("S-1-5-21-...-513"); empty
	// when the source gave only a name.
	SID string
	// Name is the group's name (`CORP\webusers` or "webusers"), empty
	// when unknown.
	Name string
}

// GroupNames returns the names of the user's groups that have one, and
// the SID of those that do not.
func (u *User) GroupNames() []string {
	out := make([]string, 0, len(u.Groups))
	for _, g := range u.Groups {
		if g.Name != "" {
			out = append(out, g.Name)
		} else {
			out = append(out, g.SID)
		}
	}
	return out
}

// GroupNamer turns SIDs into names. package sidname's Resolver satisfies
// it; auth declares only this interface so that it does not depend on an
// LDAP library.
type GroupNamer interface {
	// Names returns the name of each SID it knows; SIDs it does not know
	// are left out of the map (not an error).
	Names(ctx context.Context, sids []string) (map[string]string, error)
}

type userKey struct{}

// UserFrom returns the authenticated user of a request's context, as put
// there by [Middleware]; false for an anonymous request.
func UserFrom(ctx context.Context) (*User, bool) {
	u, ok := ctx.Value(userKey{}).(*User)
	return u, ok && u != nil
}

// ContextWithUser returns ctx carrying u, for handlers tested without the
// Middleware and for middleware of one's own.
func ContextWithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}
