package kerberos

import (
	"errors"
	"net"
	"strings"
	"testing"
)

// TestExplainNoKDC covers the messages for a realm without a KDC, with a
// fake DNS: krb5.conf names one; dns_lookup_kdc off; DNS without records;
// DNS failing; DNS with records (then nothing to explain).
func TestExplainNoKDC(t *testing.T) {
	conf := func(t *testing.T, dns string) *Config {
		c, err := ParseConfig([]byte("[libdefaults]\n default_realm = CORP.TEST\n dns_lookup_kdc = " + dns +
			"\n[realms]\n CORP.TEST = {\n  kdc = 127.0.0.1:88\n }\n"))
		if err != nil {
			t.Fatal(err)
		}
		c.Path = "/etc/krb5.conf"
		return c
	}
	var srv map[string][]*net.SRV
	var fail error
	var asked []string
	lookupSRV = func(service, proto, name string) (string, []*net.SRV, error) {
		asked = append(asked, "_"+service+"._"+proto+"."+name)
		if fail != nil {
			return "", nil, fail
		}
		if a := srv[proto]; len(a) > 0 {
			return "", a, nil
		}
		return "", nil, &net.DNSError{Err: "no such host", Name: "_" + service + "._" + proto + "." + name, IsNotFound: true}
	}
	t.Cleanup(func() { lookupSRV = net.LookupSRV })

	if err := conf(t, "true").explainNoKDC("CORP.TEST"); err != nil || len(asked) != 0 {
		t.Errorf("realm with a kdc: %v, asked DNS %v", err, asked)
	}
	err := conf(t, "false").explainNoKDC("OTHER.TEST")
	if !errors.Is(err, ErrNoKDC) || !strings.Contains(err.Error(), "names no KDC for realm OTHER.TEST and dns_lookup_kdc is false") || len(asked) != 0 {
		t.Errorf("dns_lookup_kdc false: %v, asked %v", err, asked)
	}
	err = conf(t, "true").explainNoKDC("OTHER.TEST")
	want := "krb5.conf (/etc/krb5.conf) names no KDC for realm OTHER.TEST, and DNS has no SRV records _kerberos._udp.OTHER.TEST and _kerberos._tcp.OTHER.TEST"
	if !errors.Is(err, ErrNoKDC) || !strings.Contains(err.Error(), want) {
		t.Errorf("no records: %v\nwant %q", err, want)
	}
	if strings.Join(asked, " ") != "_kerberos._udp.OTHER.TEST _kerberos._tcp.OTHER.TEST" {
		t.Errorf("looked up %v", asked)
	}
	fail = &net.DNSError{Err: "i/o timeout", Name: "x", IsTimeout: true}
	if err := conf(t, "true").explainNoKDC("OTHER.TEST"); !errors.Is(err, ErrNoKDC) || !strings.Contains(err.Error(), "DNS lookup of its SRV records") || !strings.Contains(err.Error(), "i/o timeout") {
		t.Errorf("DNS failing: %v", err)
	}
	fail = nil
	srv = map[string][]*net.SRV{"tcp": {{Target: "kdc.other.test.", Port: 88}}}
	if err := conf(t, "true").explainNoKDC("OTHER.TEST"); err != nil {
		t.Errorf("TCP records only: %v", err)
	}
}
