package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/go-ldap/ldap/v3/gssapi"

	"github.com/sesame-auth/sesame/config"
	"github.com/sesame-auth/sesame/kerberos"
	"github.com/sesame-auth/sesame/sidname"
)

// serveGroupNamer names group SIDs for X-Remote-Groups: the sid_map file
// first (a local override, and no network), then LDAP, cached. It returns
// nil when neither is configured, and a reload function for the map
// file (SIGHUP) and a close function for the LDAP connection.
func serveGroupNamer(getenv func(string) string, s *config.Serve, k *serveKerberos) (namer sidname.Resolver, reload func() error, closeFn func() error, err error) {
	var chain resolverChain
	reload = func() error { return nil }
	closeFn = func() error { return nil }
	if s.SIDMap != "" {
		mf := &reloadingMapFile{path: s.SIDMap}
		if err := mf.load(); err != nil {
			return nil, nil, nil, fmt.Errorf("serve: sid_map: %w", err)
		}
		chain = append(chain, mf)
		reload = mf.load
	}
	if s.LDAPURL != "" {
		l, err := serveLDAP(getenv, s, k)
		if err != nil {
			return nil, nil, nil, err
		}
		// Group names change rarely; a visitor's every logon must not
		// cost a directory search.
		chain = append(chain, &sidname.Cache{Resolver: l})
		closeFn = l.Close
	}
	if len(chain) == 0 {
		return nil, reload, closeFn, nil
	}
	return chain, reload, closeFn, nil
}

// serveLDAP builds the LDAP resolver: a simple bind with ldap_bind_dn
// (StartTLS on ldap://, since Active Directory refuses simple binds in
// the clear), else a Kerberos (GSSAPI) bind with the service's keytab.
func serveLDAP(getenv func(string) string, s *config.Serve, k *serveKerberos) (*sidname.LDAP, error) {
	u, err := url.Parse(s.LDAPURL)
	if err != nil {
		return nil, usagef("ldap_url: %v", err)
	}
	l := &sidname.LDAP{URL: s.LDAPURL, BaseDN: s.LDAPBaseDN}
	if s.LDAPBindDN != "" {
		if s.LDAPPasswordEnv == "" {
			return nil, usagef("ldap_bind_dn needs ldap_password_env (the variable holding its password)")
		}
		pw := getenv(s.LDAPPasswordEnv)
		if pw == "" {
			return nil, usagef("ldap_password_env: $%s is empty or unset", s.LDAPPasswordEnv)
		}
		l.BindDN, l.BindPassword = s.LDAPBindDN, pw
		l.StartTLS = strings.EqualFold(u.Scheme, "ldap")
		return l, nil
	}
	if k == nil {
		return nil, usagef("ldap_url without ldap_bind_dn binds with the service's keytab: configure a keytab (or ldap_bind_dn)")
	}
	principal := s.LDAPPrincipal
	if principal == "" {
		principal = ldapClientPrincipal(k, s.SPN)
	}
	name, realm, _ := strings.Cut(principal, "@")
	conf := k.krb5Conf
	if conf == "" {
		conf = kerberos.DefaultConfigPath
	}
	if realm == "" {
		kcfg, err := kerberos.LoadConfig(conf)
		if err != nil {
			return nil, fmt.Errorf("serve: ldap: %w", err)
		}
		realm = kcfg.LibDefaults.DefaultRealm
	}
	gc, err := gssapi.NewClientWithKeytab(name, realm, k.keytabPath, conf)
	if err != nil {
		return nil, fmt.Errorf("serve: ldap: Kerberos client for %s@%s: %w", name, realm, err)
	}
	l.GSSAPI = gc
	l.SPN = "ldap/" + u.Hostname()
	return l, nil
}

// ldapClientPrincipal picks the keytab principal the LDAP bind logs in
// as: the account's own name (httpsvc@CORP.TEST, DC1$@CORP.TEST) when the
// keytab holds one, since Active Directory takes no SPN as a client name
// in an AS-REQ; else spn or the first principal (MIT KDCs take those).
func ldapClientPrincipal(k *serveKerberos, spn string) string {
	en := keytabPrincipals(k.keytab)
	for _, e := range en {
		if name, _, _ := strings.Cut(e.principal, "@"); !strings.Contains(name, "/") {
			return e.principal
		}
	}
	if spn != "" {
		return spn
	}
	return en[0].principal
}

// resolverChain asks each resolver in turn for the SIDs the ones before
// it could not name. An error of one is returned only if nothing after
// it named the rest.
type resolverChain []sidname.Resolver

// Names implements sidname.Resolver.
func (c resolverChain) Names(ctx context.Context, sids []string) (map[string]string, error) {
	out := map[string]string{}
	var firstErr error
	rest := sids
	for _, r := range c {
		if len(rest) == 0 {
			break
		}
		got, err := r.Names(ctx, rest)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		var left []string
		for _, s := range rest {
			if n, ok := got[s]; ok {
				out[s] = n
			} else {
				left = append(left, s)
			}
		}
		rest = left
	}
	if len(rest) == 0 {
		firstErr = nil
	}
	return out, firstErr
}

// reloadingMapFile is a sid_map file read again on SIGHUP.
type reloadingMapFile struct {
	path string
	cur  atomic.Pointer[sidname.MapFile]
}

func (f *reloadingMapFile) load() error {
	m, err := sidname.LoadMapFile(f.path)
	if err != nil {
		return err
	}
	f.cur.Store(m)
	return nil
}

// Names implements sidname.Resolver.
func (f *reloadingMapFile) Names(ctx context.Context, sids []string) (map[string]string, error) {
	return f.cur.Load().Names(ctx, sids)
}
