// Package sidname names Windows security identifiers (SIDs), so that an
// application can show and check group names where Kerberos PACs and
// winbind give SIDs.
//
// A [Resolver] maps SIDs to names. This package has four: [LDAP] (asks an
// Active Directory domain controller, bound with the service's Kerberos
// credentials or a configured account), [MapFile] (a static file, the
// no-directory option), [Winbind] (Samba's wbinfo) and [Cache] (in front
// of any of them).
package sidname

import (
	"context"
	"errors"
)

// Resolver maps SIDs ("S-1-5-21-…") to names. SIDs it cannot name are
// absent from the result, which is no error; an error means the source
// could not be asked.
type Resolver interface {
	Names(ctx context.Context, sids []string) (map[string]string, error)
}

// Errors of the package.
var (
	// ErrMalformedSID reports a SID that is neither a valid textual nor a
	// valid binary SID.
	ErrMalformedSID = errors.New("sidname: malformed SID")
	// ErrUnavailable reports a source that could not be asked (LDAP
	// server unreachable, bind refused, wbinfo failed).
	ErrUnavailable = errors.New("sidname: source unavailable")
)
