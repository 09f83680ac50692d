//go:build linux

package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/internal/lab"
)

// A user named with -u is the one that authenticates, whatever principal
// the credential cache holds: with bob's ticket cached, -u alice:PASS
// logs in as alice with her password (in each form of the name), while
// "-u :" and a named user the cache does hold use the cache.
func TestGetNamedUserIsAuthoritative(t *testing.T) {
	const alicePW, bobPW = "AliceKrb-123", "BobKrb-456"
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: alicePW}, {Name: "bob", Password: bobPW}}})
	ap := lab.StartApache(t, lab.ApacheOptions{KerberosKeytab: k.ServiceKeytab, Krb5Conf: k.Krb5Conf})
	ccache := k.Kinit(t, "bob", bobPW)
	env := map[string]string{"KRB5_CONFIG": k.Krb5Conf, "KRB5CCNAME": "FILE:" + ccache}
	for _, tc := range []struct {
		user, want string
	}{
		{"alice@CORP.TEST:" + alicePW, "alice@CORP.TEST"},
		{`CORP\alice:` + alicePW, "alice@CORP.TEST"},
		{"alice@corp.test:" + alicePW, "alice@CORP.TEST"},
		// A plain name: the default realm, which bob's ticket shows is
		// this network's.
		{"alice:" + alicePW, "alice@CORP.TEST"},
		{":", "bob@CORP.TEST"},
		// bob's own ticket serves bob: the password is not even used.
		{"bob@CORP.TEST:not-his-password", "bob@CORP.TEST"},
		{`corp\BOB:not-his-password`, "bob@CORP.TEST"},
	} {
		code, out, errOut := sesame(t, "", env, "get", "-v", "-u", tc.user, ap.URL+"/negotiate/")
		if code != 0 || !strings.Contains(out, "user="+tc.want+"\n") {
			t.Errorf("-u %q: exit %d, want user=%s\n%s\n%s", strings.Split(tc.user, ":")[0], code, tc.want, out, errOut)
			continue
		}
		for _, w := range []string{"principal=" + tc.want, "mechanism=kerberos"} {
			if !strings.Contains(errOut, w) {
				t.Errorf("-u %q: -v output lacks %q:\n%s", strings.Split(tc.user, ":")[0], w, errOut)
			}
		}
	}
}

// The same toward a proxy: with alice's ticket cached, -U 'CORP\bob:PASS'
// through squid demanding Negotiate is bob.
func TestGetProxyNamedUserIsAuthoritative(t *testing.T) {
	const alicePW, bobPW = "AliceKrb-123", "BobKrb-456"
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: alicePW}, {Name: "bob", Password: bobPW}}})
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "negotiate", KDC: k})
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	ccache := k.Kinit(t, "alice", alicePW)
	env := map[string]string{"KRB5_CONFIG": k.Krb5Conf, "KRB5CCNAME": "FILE:" + ccache}
	for _, tc := range []struct{ user, want string }{
		{`CORP\bob:` + bobPW, "bob@CORP.TEST"},
		{"bob@CORP.TEST:" + bobPW, "bob@CORP.TEST"},
		{":", "alice@CORP.TEST"},
	} {
		code, out, errOut := sesame(t, "", env, "get", "-v", "-x", sq.URL, "-U", tc.user, origin.URL+"/who")
		if code != 0 || !strings.Contains(out, "proxy_user="+tc.want) {
			t.Errorf("-U %q: exit %d, want proxy_user=%s\n%s\n%s", strings.Split(tc.user, ":")[0], code, tc.want, out, errOut)
			continue
		}
		for _, w := range []string{"proxy_principal=" + tc.want, "proxy_mechanism=kerberos"} {
			if !strings.Contains(errOut, w) {
				t.Errorf("-U %q: -v output lacks %q:\n%s", strings.Split(tc.user, ":")[0], w, errOut)
			}
		}
	}
}

// A server offering "Negotiate, NTLM" whose Negotiate takes only NTLM
// (mod_auth_gssapi with GssapiAllowedMech ntlmssp): with a valid ticket in
// the cache and NTLM credentials on the command line, SPNEGO offers
// Kerberos with an optimistic token, the acceptor answers supportedMech
// NTLM, and NTLM inside SPNEGO finishes (with the mechListMIC).
func TestGetNegotiateFallsBackToNTLMInSPNEGO(t *testing.T) {
	const pw = "AlicePass123"
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: pw}}})
	ap := lab.StartApache(t, lab.ApacheOptions{
		NTLMUsers: []lab.NTLMUser{{Domain: "CORP", User: "alice", Password: pw}},
		Krb5Conf:  k.Krb5Conf,
	})
	ccache := k.Kinit(t, "alice", pw)
	env := map[string]string{"KRB5_CONFIG": k.Krb5Conf, "KRB5CCNAME": "FILE:" + ccache}
	code, out, errOut := sesame(t, "", env, "get", "-v", "-u", `CORP\alice:`+pw, ap.URL+"/ntlm/")
	if code != 0 || !strings.Contains(out, `user=CORP\alice`) {
		t.Fatalf("exit %d\n%s\n%s\n%s", code, out, errOut, ap.ErrorLog())
	}
	t.Logf("-v:\n%s", errOut)
	for _, w := range []string{"mechanism=ntlm", `principal=CORP\alice`, "auth=Negotiate"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("-v output lacks %q:\n%s", w, errOut)
		}
	}
}

// The same toward a forward proxy (Apache mod_proxy, 407 with
// "Negotiate" and "NTLM", Negotiate taking only NTLM): -U 'CORP\alice:PASS'
// with alice's ticket cached gets through with NTLM inside SPNEGO.
func TestGetProxyNegotiateFallsBackToNTLMInSPNEGO(t *testing.T) {
	const pw = "AlicePass123"
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: pw}}})
	ap := lab.StartApache(t, lab.ApacheOptions{
		NTLMUsers: []lab.NTLMUser{{Domain: "CORP", User: "alice", Password: pw}},
		Krb5Conf:  k.Krb5Conf,
		NTLMProxy: true,
	})
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	ccache := k.Kinit(t, "alice", pw)
	env := map[string]string{"KRB5_CONFIG": k.Krb5Conf, "KRB5CCNAME": "FILE:" + ccache}
	code, out, errOut := sesame(t, "", env, "get", "-v", "-x", ap.ProxyURL, "-U", `CORP\alice:`+pw, origin.URL+"/via-apache")
	if code != 0 || !strings.Contains(out, `proxy_user=CORP\alice`) {
		t.Fatalf("exit %d\n%s\n%s\n%s", code, out, errOut, ap.ErrorLog())
	}
	for _, w := range []string{"proxy_mechanism=ntlm", `proxy_principal=CORP\alice`, "proxy_auth=Negotiate"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("-v output lacks %q:\n%s", w, errOut)
		}
	}
}

// `sesame proxy --user` likewise: with bob's ticket cached, the proxy
// answers squid's Negotiate as the configured alice (a password login),
// never as bob; with only alice's NT hash it has no Kerberos for her and
// does not fall back to bob's ticket either.
func TestProxyNamedUserIsAuthoritative(t *testing.T) {
	bin := buildSesame(t)
	const alicePW, bobPW = "AlicePass123", "BobPass456"
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: alicePW}, {Name: "bob", Password: bobPW}}})
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "negotiate", KDC: k})
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	ccache := k.Kinit(t, "bob", bobPW)
	krbEnv := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=FILE:" + ccache, "PW=" + alicePW}

	p := startProxy(t, bin, krbEnv, "--upstream", sq.Addr, "--user", `CORP\alice`, "--password-env", "PW")
	out, err := curl(t, "-x", p.URL, origin.URL+"/named")
	if err != nil || !strings.Contains(out, "proxy_user=alice@CORP.TEST\n") {
		t.Fatalf("--user CORP\\alice with bob's ticket cached: %v %q\n%s", err, out, p.stderr.String())
	}
	if strings.Contains(p.stderr.String(), "bob@CORP.TEST") {
		t.Errorf("the proxy names bob's principal:\n%s", p.stderr.String())
	}

	// doctor says which principal and mechanism answered.
	code, dout, derr := sesame(t, "", map[string]string{"KRB5_CONFIG": k.Krb5Conf, "KRB5CCNAME": "FILE:" + ccache, "PW": alicePW},
		"doctor", "--url", origin.URL+"/doctor", "--upstream", sq.Addr, "--user", `CORP\alice`, "--password-env", "PW")
	if code != 0 || !strings.Contains(dout, "kerberos as alice@CORP.TEST") || strings.Contains(dout, "bob@") {
		t.Errorf("doctor --user CORP\\alice: exit %d\n%s\n%s", code, dout, derr)
	}

	h := startProxy(t, bin, krbEnv, "--upstream", sq.Addr, "--user", `CORP\alice`, "--nt-hash", "874649a24f9823fa52d36adfabf89d8e")
	out, _ = curl(t, "-x", h.URL, origin.URL+"/hash")
	if strings.Contains(out, "bob") || strings.Contains(h.stderr.String(), "bob@CORP.TEST") {
		t.Errorf("--user CORP\\alice --nt-hash answered as bob: %q\n%s", out, h.stderr.String())
	}
}
