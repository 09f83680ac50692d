package kerberos

import (
	"fmt"
	"os"
	"strings"

	"github.com/jcmturner/gokrb5/v8/credentials"
)

// Naming a user. An account is written one of three ways:
//
//	DOMAIN\user    a NetBIOS domain (CORP\alice)
//	user@REALM     a Kerberos principal or UPN (alice@CORP.TEST)
//	user           no domain
//
// MatchUser decides whether a principal "name@REALM" (a credential
// cache's) is the account so named:
//
//   - the user part equals the principal's name, case-insensitively (a
//     principal with an instance, "alice/admin", matches only a user
//     written that way);
//   - a realm or DNS domain after '@' equals the principal's realm,
//     case-insensitively;
//   - a NetBIOS domain (before '\') equals the realm case-insensitively
//     or, when it has no dot, equals the realm's first label: CORP
//     matches CORP.TEST and corp.example.com. Active Directory names
//     domains that way by default; where the NetBIOS name differs from
//     the DNS domain's first label, name the user as user@REALM;
//   - a user without domain matches a principal of any realm.

// SplitUser splits an account name into its user part and its domain:
// the NetBIOS domain of DOMAIN\user (netbios true), the realm or DNS
// domain of user@REALM, or "" for a plain user.
func SplitUser(user string) (name, domain string, netbios bool) {
	if d, u, ok := strings.Cut(user, `\`); ok {
		return u, d, true
	}
	if i := strings.LastIndex(user, "@"); i >= 0 {
		return user[:i], user[i+1:], false
	}
	return user, "", false
}

// MatchUser reports whether principal ("name@REALM") is the account user
// names (see the rules above).
func MatchUser(user, principal string) bool {
	pname, prealm := splitSPN(principal)
	name, domain, netbios := SplitUser(user)
	if name == "" || pname == "" || !strings.EqualFold(name, pname) {
		return false
	}
	return domain == "" || domainMatchesRealm(domain, netbios, prealm)
}

func domainMatchesRealm(domain string, netbios bool, realm string) bool {
	if strings.EqualFold(domain, realm) {
		return true
	}
	if netbios && !strings.Contains(domain, ".") {
		first, _, _ := strings.Cut(realm, ".")
		return strings.EqualFold(domain, first)
	}
	return false
}

// UserPrincipal returns the principal ("name@REALM") that logs in as the
// account user names, with the realm spelt as the configuration spells
// it: the realm after '@', the realm whose name or first label is the
// NetBIOS domain, or the default realm for a user without domain. The
// default realm is preferred, then the [realms] entries in order.
//
// configured reports whether that realm is the default realm or one of
// [realms]: only then is there a KDC to ask that is known to serve the
// user's domain. When it is false the principal is still returned (the
// realm upper-cased, as Active Directory spells realms, or the default
// realm for a NetBIOS domain that matches none).
func UserPrincipal(user string, cfg *Config) (principal string, configured bool) {
	name, domain, netbios := SplitUser(user)
	var realms []string
	if cfg != nil && cfg.Config != nil {
		if r := cfg.LibDefaults.DefaultRealm; r != "" {
			realms = append(realms, r)
		}
		for _, r := range cfg.Realms {
			realms = append(realms, r.Realm)
		}
	}
	if domain == "" {
		if len(realms) == 0 || cfg.LibDefaults.DefaultRealm == "" {
			return name, false
		}
		return name + "@" + realms[0], true
	}
	for _, r := range realms {
		if domainMatchesRealm(domain, netbios, r) {
			return name + "@" + r, true
		}
	}
	if netbios {
		if len(realms) > 0 && cfg.LibDefaults.DefaultRealm != "" {
			return name + "@" + realms[0], false
		}
		return name, false
	}
	return name + "@" + strings.ToUpper(domain), false
}

// CCachePrincipal returns the default principal ("name@REALM") of the
// FILE credential cache at path.
func CCachePrincipal(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w: credential cache %s: %v", ErrNoCredentials, path, err)
	}
	cc := new(credentials.CCache)
	if err := safeUnmarshal(func() error { return cc.Unmarshal(b) }); err != nil {
		return "", fmt.Errorf("%w: credential cache %s: %v", ErrNoCredentials, path, err)
	}
	p := cc.DefaultPrincipal
	if len(p.PrincipalName.NameString) == 0 {
		return "", fmt.Errorf("%w: credential cache %s has no default principal", ErrNoCredentials, path)
	}
	return p.PrincipalName.PrincipalNameString() + "@" + p.Realm, nil
}
