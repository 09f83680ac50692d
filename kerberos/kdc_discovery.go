package kerberos

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// lookupSRV is net.LookupSRV, replaceable in tests.
var lookupSRV = net.LookupSRV

// kdcSRVNames are the DNS names of a realm's KDC SRV records (RFC 4120
// section 7.2.3.2), which gokrb5 looks up when krb5.conf lists no KDC
// for the realm and dns_lookup_kdc is true: UDP first, TCP second.
func kdcSRVNames(realm string) []string {
	return []string{"_kerberos._udp." + realm, "_kerberos._tcp." + realm}
}

// explainNoKDC tells why a KDC exchange with realm could not even start:
// krb5.conf names no KDC for it and either dns_lookup_kdc is off or DNS
// has no KDC SRV records for it. It returns nil when krb5.conf names a
// KDC or DNS has records (the failure was then elsewhere), else an error
// wrapping ErrNoKDC that names the realm and what was looked up.
func (c *Config) explainNoKDC(realm string) error {
	if c == nil || c.Config == nil {
		return nil
	}
	for _, r := range c.Realms {
		if r.Realm == realm && len(r.KDC) > 0 {
			return nil
		}
	}
	where := "krb5.conf"
	if c.Path != "" {
		where += " (" + c.Path + ")"
	}
	if !c.LibDefaults.DNSLookupKDC {
		return fmt.Errorf("%w: %s names no KDC for realm %s and dns_lookup_kdc is false: add kdc = HOST to [realms] %s, or set dns_lookup_kdc = true to find it through DNS SRV records", ErrNoKDC, where, realm, realm)
	}
	var failed []string
	for i, proto := range []string{"udp", "tcp"} {
		_, addrs, err := lookupSRV("kerberos", proto, realm)
		var de *net.DNSError
		switch {
		case err == nil && len(addrs) > 0:
			return nil
		case err == nil, errors.As(err, &de) && de.IsNotFound:
		default:
			failed = append(failed, fmt.Sprintf("%s: %v", kdcSRVNames(realm)[i], err))
		}
	}
	names := strings.Join(kdcSRVNames(realm), " and ")
	if len(failed) > 0 {
		return fmt.Errorf("%w: %s names no KDC for realm %s, and the DNS lookup of its SRV records %s failed: %s", ErrNoKDC, where, realm, names, strings.Join(failed, "; "))
	}
	return fmt.Errorf("%w: %s names no KDC for realm %s, and DNS has no SRV records %s: add kdc = HOST to [realms] %s, or the SRV records to DNS", ErrNoKDC, where, realm, names, realm)
}
