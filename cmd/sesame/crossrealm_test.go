//go:build linux

package main

import (
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/internal/lab"
)

// Cross-realm: alice of CORP.TEST reaches Apache's /negotiate/ in B.TEST
// (its keytab and KDC are B's) through `sesame get -u :` with only her
// CORP.TEST TGT: a cross-realm TGT krbtgt/B.TEST@CORP.TEST from her KDC,
// then the service ticket from B's KDC. Both KDCs log their part.
func TestGetNegotiateCrossRealm(t *testing.T) {
	const pw = "KrbPass-789"
	a := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: pw}}})
	b := lab.StartKDC(t, lab.KDCOptions{Realm: "B.TEST"})
	a.Trust(t, b)
	ap := lab.StartApache(t, lab.ApacheOptions{KerberosKeytab: b.ServiceKeytab, Krb5Conf: b.Krb5Conf})
	conf := a.CrossRealmKrb5Conf(t, b, "127.0.0.1")
	cc := a.Kinit(t, "alice", pw)
	code, out, errOut := sesame(t, "", map[string]string{"KRB5_CONFIG": conf, "KRB5CCNAME": "FILE:" + cc}, "get", "-u", ":", ap.URL+"/negotiate/")
	if code != 0 || !strings.Contains(out, "user=alice@CORP.TEST") {
		t.Fatalf("exit %d\n%s\n%s\nKDC A:\n%s\nKDC B:\n%s\nApache:\n%s", code, out, errOut, a.Log(), b.Log(), ap.ErrorLog())
	}
	if !strings.Contains(a.Log(), "alice@CORP.TEST for krbtgt/B.TEST@CORP.TEST") {
		t.Errorf("CORP.TEST's KDC issued no cross-realm TGT:\n%s", a.Log())
	}
	if !strings.Contains(b.Log(), "alice@CORP.TEST for HTTP/127.0.0.1@B.TEST") {
		t.Errorf("B.TEST's KDC issued no service ticket to alice@CORP.TEST:\n%s", b.Log())
	}
}
