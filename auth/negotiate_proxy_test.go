package auth_test

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/internal/lab"
	"github.com/sesame-auth/sesame/kerberos"
)

// Through squid demanding Negotiate (negotiate_kerberos_auth against the
// lab KDC's keytab), with a ticket from the ccache: plain HTTP and HTTPS
// through CONNECT succeed as alice@CORP.TEST, with one handshake per
// upstream connection. Squid sends no AP-REP to a proxy client, so the
// proxy side runs with mutual authentication optional, as curl and
// browsers do for proxies.
func TestTransportThroughSquidNegotiate(t *testing.T) {
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: alicePass}}})
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "negotiate", KDC: k})
	cfg, err := kerberos.LoadConfig(k.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kerberos.NewFromCCache("FILE:"+k.Kinit(t, "alice", alicePass), cfg)
	if err != nil {
		t.Fatal(err)
	}
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	tlsOrigin := httptest.NewTLSServer(http.HandlerFunc(whoOrigin))
	defer tlsOrigin.Close()
	roots := x509.NewCertPool()
	roots.AddCert(tlsOrigin.Certificate())
	proxyURL, _ := url.Parse(sq.URL)
	neg := &auth.Negotiate{Kerberos: kc}
	tr := &auth.Transport{Proxy: http.ProxyURL(proxyURL), ProxyCredentials: []auth.Credential{neg}, TLSClientConfig: tlsConfig(roots)}
	defer tr.CloseIdleConnections()
	const n = 4
	for i := 0; i < n; i++ {
		resp, body := do(t, tr, "GET", fmt.Sprintf("%s/krb/%d", origin.URL, i), nil)
		if resp.StatusCode != 200 || !strings.Contains(body, "proxy_user=alice@CORP.TEST\n") {
			t.Fatalf("request %d: %s %q\nsquid:\n%s", i, resp.Status, body, sq.CacheLog())
		}
	}
	resp, body := do(t, tr, "GET", tlsOrigin.URL+"/krb-tls", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "path=/krb-tls") {
		t.Fatalf("https: %s %q", resp.Status, body)
	}
	tr.CloseIdleConnections()
	sq.WaitAccessEntry(t, func(e lab.SquidAccess) bool { return e.Method == "CONNECT" && e.Status == 200 })
	conns := lab.GroupSquidConnections(plainEntries(sq.AccessEntries()))
	if len(conns) != 1 || conns[0].Requests > n+1 {
		t.Errorf("plain requests per connection %+v: want one connection, one handshake", conns)
	}
	for _, e := range sq.AccessEntries() {
		if e.Status == 200 && e.User != "alice@CORP.TEST" {
			t.Errorf("squid logged %s %s as %q", e.Method, e.URL, e.User)
		}
	}
}
