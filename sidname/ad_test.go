//go:build linux

// Samba's self-signed certificate (made at provisioning) has a negative
// serial number, which Go's x509 refuses since Go 1.23 unless told
// otherwise; a deployment with a real certificate needs no such setting.
//go:debug x509negativeserial=1

package sidname

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3/gssapi"

	"github.com/sesame-auth/sesame/internal/lab"
)

// The lab domain's administrator (internal/lab's addcAdmPW).
const adminPassword = "AdminPass-123"

// TestADResolvers names SIDs with the lab's Samba AD DC: over LDAP (bound
// with Kerberos from the service's keytab, and with a simple bind as
// Administrator) and through winbind. The SIDs come from wbinfo in the
// lab, an independent source.
func TestADResolvers(t *testing.T) {
	dc := lab.StartADDC(t)
	sidOf := func(name string) string {
		out, err := dc.Command(context.Background(), "/usr/bin/wbinfo", `--name-to-sid=CORP\`+name).Output()
		if err != nil {
			t.Fatalf("wbinfo --name-to-sid %s: %v", name, err)
		}
		return strings.Fields(string(out))[0]
	}
	webusers, alice := sidOf(lab.ADDCGroup), sidOf("alice")
	domain := webusers[:strings.LastIndexByte(webusers, '-')]
	unknown := domain + "-999999"
	sids := []string{webusers, alice, domain + "-513", "S-1-5-32-545", unknown}
	want := map[string]string{webusers: "webusers", alice: "alice", domain + "-513": "Domain Users", "S-1-5-32-545": "Users"}
	check := func(t *testing.T, r Resolver) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		got, err := r.Names(ctx, sids)
		if err != nil {
			t.Fatalf("Names: %v\n%s", err, dc.Logs())
		}
		if _, ok := got[unknown]; ok || len(got) != len(want) {
			t.Errorf("got %v, want %v", got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %q, want %q", k, got[k], v)
			}
		}
	}

	// The DC's self-signed CA, made by samba at provisioning.
	caPEM, err := os.ReadFile(filepath.Join(dc.Dir, "samba", "private", "tls", "ca.pem"))
	if err != nil {
		t.Fatalf("the DC's TLS CA: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	tlsConf := samba417TLS(roots, lab.ADDCFQDN)
	base := "DC=corp,DC=test"
	url := "ldap://" + lab.ADDCFQDN
	// The test process cannot resolve dc1.corp.test: dial the DC's address.
	dial := dc.DialContext

	t.Run("LDAP GSSAPI keytab", func(t *testing.T) {
		// The fixture's keytab holds only the SPN, which the KDC does not
		// accept as a client name: export the account's own keys.
		kt := filepath.Join(t.TempDir(), "httpsvc.keytab")
		if out, err := dc.Command(context.Background(), "/usr/bin/samba-tool", "domain", "exportkeytab",
			"--configfile="+filepath.Join(dc.Dir, "samba", "etc", "smb.conf"), kt, "--principal=httpsvc").CombinedOutput(); err != nil {
			t.Fatalf("samba-tool domain exportkeytab: %v\n%s", err, out)
		}
		kc, err := gssapi.NewClientWithKeytab("httpsvc", lab.ADDCRealm, kt, dc.Krb5Conf)
		if err != nil {
			t.Fatal(err)
		}
		defer kc.Close()
		// Plain ldap://: Samba refuses GSSAPI without sign or seal, so
		// this runs the SASL integrity layer.
		l := &LDAP{URL: url, BaseDN: base, GSSAPI: kc, SPN: "ldap/" + lab.ADDCFQDN, Dialer: dial}
		defer l.Close()
		check(t, l)
		// The connection is kept, and dialled again once it breaks.
		l.mu.Lock()
		first := l.conn
		l.mu.Unlock()
		check(t, l)
		l.mu.Lock()
		same := l.conn == first
		l.mu.Unlock()
		if !same {
			t.Error("second search dialled a new connection")
		}
		first.Close()
		check(t, l)
	})
	t.Run("LDAP simple bind StartTLS", func(t *testing.T) {
		l := &LDAP{URL: url, BaseDN: base, StartTLS: true, TLSConfig: tlsConf, BindDN: "Administrator@corp.test", BindPassword: adminPassword, Dialer: dial}
		defer l.Close()
		check(t, l)
	})
	t.Run("LDAP simple bind ldaps", func(t *testing.T) {
		l := &LDAP{URL: "ldaps://" + lab.ADDCFQDN, BaseDN: base, TLSConfig: tlsConf, BindDN: "CN=Administrator,CN=Users," + base, BindPassword: adminPassword, Dialer: dial}
		defer l.Close()
		check(t, l)
	})
	t.Run("LDAP refusals", func(t *testing.T) {
		ctx := context.Background()
		for name, l := range map[string]*LDAP{
			"wrong password":          {URL: url, BaseDN: base, StartTLS: true, TLSConfig: tlsConf, BindDN: "Administrator@corp.test", BindPassword: "wrong", Dialer: dial},
			"simple bind without TLS": {URL: url, BaseDN: base, BindDN: "Administrator@corp.test", BindPassword: adminPassword, Dialer: dial},
			"untrusted certificate":   {URL: "ldaps://" + lab.ADDCFQDN, BaseDN: base, BindDN: "Administrator@corp.test", BindPassword: adminPassword, Dialer: dial},
			"nobody listening":        {URL: "ldap://" + dc.DCIP + ":1", BaseDN: base, Dialer: dial, Timeout: 2 * time.Second},
		} {
			_, err := l.Names(ctx, sids)
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("%s: err = %v, want ErrUnavailable", name, err)
			}
			if err != nil && strings.Contains(err.Error(), adminPassword) {
				t.Errorf("%s: error leaks the password", name)
			}
			l.Close()
		}
	})
	t.Run("Winbind", func(t *testing.T) {
		check(t, &Winbind{Wbinfo: "/usr/bin/wbinfo", Command: dc.Command})
		got, err := (&Winbind{Wbinfo: "/usr/bin/wbinfo", Command: dc.Command, Qualified: true}).Names(context.Background(), []string{webusers})
		if err != nil || got[webusers] != `CORP\webusers` {
			t.Errorf("qualified: %v, %v", got, err)
		}
	})
	t.Run("Cache over LDAP", func(t *testing.T) {
		l := &LDAP{URL: "ldaps://" + lab.ADDCFQDN, BaseDN: base, TLSConfig: tlsConf, BindDN: "Administrator@corp.test", BindPassword: adminPassword, Dialer: dial}
		defer l.Close()
		c := &Cache{Resolver: l}
		check(t, c)
		check(t, c)
		if hits, misses := c.Stats(); hits != int64(len(sids)) || misses != int64(len(sids)) {
			t.Errorf("hits %d, misses %d; want %d each", hits, misses, len(sids))
		}
	})
}

// samba417TLS verifies the certificate Samba makes at provisioning, which
// names the host only in its Common Name (no subjectAltName), which Go no
// longer accepts: the chain is verified against roots as usual, and the
// Common Name is compared by hand.
func samba417TLS(roots *x509.CertPool, host string) *tls.Config {
	return &tls.Config{
		ServerName:         host,
		InsecureSkipVerify: true, // replaced by VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no certificate")
			}
			leaf := cs.PeerCertificates[0]
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
				return err
			}
			if !strings.EqualFold(leaf.Subject.CommonName, host) {
				return errors.New("certificate is for " + leaf.Subject.CommonName)
			}
			return nil
		},
	}
}
