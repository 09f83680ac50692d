package auth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/internal/lab"
	"github.com/sesame-auth/sesame/kerberos"
	"github.com/sesame-auth/sesame/ntlm"
)

// These tests run the Transport with Negotiate credentials against a real
// MIT KDC and Apache's mod_auth_gssapi (/negotiate/, Kerberos only, with
// the KDC's HTTP service keytab), both started on 127.0.0.1.

const alicePass = "AlicePass123"

type krbLab struct {
	kdc    *lab.KDC
	apache *lab.Apache
	cfg    *kerberos.Config
}

func startKrbLab(t *testing.T) *krbLab {
	t.Helper()
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: alicePass}}})
	a := lab.StartApache(t, lab.ApacheOptions{
		KerberosKeytab: k.ServiceKeytab, Krb5Conf: k.Krb5Conf,
		NTLMUsers: []lab.NTLMUser{{Domain: "CORP", User: "alice", Password: alicePass}},
	})
	cfg, err := kerberos.LoadConfig(k.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	return &krbLab{kdc: k, apache: a, cfg: cfg}
}

// requests counts the requests for path in Apache's access log. Apache
// logs a request after sending its response, so the count is read until
// it reaches want or stops changing for a moment.
func (l *krbLab) requests(t *testing.T, path string, want int) int {
	t.Helper()
	n, stable := -1, 0
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile(filepath.Join(l.apache.Dir, "logs", "access.log"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		m := strings.Count(string(b), " "+path+" HTTP/1.1\"")
		if m == n {
			stable++
		} else {
			n, stable = m, 0
		}
		if n >= want || stable >= 10 {
			break
		}
	}
	return n
}

func (l *krbLab) ccacheClient(t *testing.T) *kerberos.Client {
	t.Helper()
	c, err := kerberos.NewFromCCache(l.kdc.Kinit(t, "alice", alicePass), l.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func get(t *testing.T, tr *auth.Transport, url string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

func TestNegotiateKerberosApache(t *testing.T) {
	l := startKrbLab(t)
	c := l.ccacheClient(t)
	localhost := strings.Replace(l.apache.URL, "127.0.0.1", "localhost", 1)
	for _, tc := range []struct {
		name string
		neg  *auth.Negotiate
		base string
		spn  string
	}{
		{"raw 127.0.0.1", &auth.Negotiate{Kerberos: c}, l.apache.URL, "HTTP/127.0.0.1@CORP.TEST"},
		{"raw localhost", &auth.Negotiate{Kerberos: c}, localhost, "HTTP/localhost@CORP.TEST"},
		{"spnego", &auth.Negotiate{Kerberos: c, UseSPNEGO: true}, l.apache.URL, "HTTP/127.0.0.1@CORP.TEST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/negotiate/?" + strings.ReplaceAll(tc.name, " ", "-")
			tr := &auth.Transport{Proxy: noProxy, Credentials: []auth.Credential{tc.neg}}
			defer tr.CloseIdleConnections()
			resp, body, err := get(t, tr, tc.base+path)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || !strings.Contains(body, "user=alice@CORP.TEST") {
				t.Fatalf("%s: %q\n%s", resp.Status, body, l.apache.ErrorLog())
			}
			if st := tc.neg.Stats(); st.MutualVerified != 1 || st.MutualFailed != 0 || st.Handshakes != 1 {
				t.Errorf("stats %+v: want the AP-REP verified once", st)
			}
			if n := l.requests(t, path, 2); n != 2 {
				t.Errorf("%d requests, want 2 (401, then the authenticated one)", n)
			}
			if !strings.Contains(l.kdc.Log(), "for "+tc.spn) {
				t.Errorf("KDC issued no ticket for %s:\n%s", tc.spn, l.kdc.Log())
			}
			// The connection stays authenticated: no new handshake.
			if resp, _, err := get(t, tr, tc.base+path); err != nil || resp.StatusCode != 200 {
				t.Fatalf("second request: %v %v", resp, err)
			}
			if st := tc.neg.Stats(); st.Handshakes != 1 {
				t.Errorf("second request on the connection started a handshake: %+v, %d requests, pool %+v", st, l.requests(t, path, 4), tr.PoolStats())
			}
		})
	}
}

func TestNegotiatePasswordKeytab(t *testing.T) {
	l := startKrbLab(t)
	pw, err := kerberos.NewWithPassword("alice", alicePass, l.cfg)
	if err != nil {
		t.Fatal(err)
	}
	kt, err := kerberos.NewWithKeytab("alice", l.kdc.UserKeytab(t, "alice"), l.cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*kerberos.Client{"password": pw, "keytab": kt} {
		neg := &auth.Negotiate{Kerberos: c}
		tr := &auth.Transport{Proxy: noProxy, Credentials: []auth.Credential{neg}}
		resp, body, err := get(t, tr, l.apache.URL+"/negotiate/?"+name)
		if err != nil || resp.StatusCode != 200 || !strings.Contains(body, "user=alice@CORP.TEST") {
			t.Fatalf("%s: %v %v %q", name, resp, err, body)
		}
		if neg.Stats().MutualVerified != 1 {
			t.Errorf("%s: AP-REP not verified", name)
		}
		tr.CloseIdleConnections()
	}
}

func TestNegotiateNoCredentials(t *testing.T) {
	l := startKrbLab(t)
	bad, err := kerberos.NewWithPassword("alice", "wrong", l.cfg)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := kerberos.NewFromCCache(filepath.Join(t.TempDir(), "none"), l.cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*kerberos.Client{"wrong-password": bad, "no-ticket": empty} {
		tr := &auth.Transport{Proxy: noProxy, Credentials: []auth.Credential{&auth.Negotiate{Kerberos: c}}}
		path := "/negotiate/?" + name
		// No usable credential: the Transport hands back the server's
		// 401 (it logs why), as http.Transport would.
		for range 2 {
			resp, _, err := get(t, tr, l.apache.URL+path)
			if err != nil || resp.StatusCode != 401 {
				t.Fatalf("%s: %v %v, want the 401", name, resp, err)
			}
		}
		if n := l.requests(t, path, 3); n > 2 {
			t.Errorf("%s: %d requests for two attempts, want at most one each", name, n)
		}
		tr.CloseIdleConnections()
	}
	if n := strings.Count(l.kdc.Log(), "PREAUTH_FAILED"); n > 2 {
		t.Errorf("%d failed logins for two attempts", n)
	}
}

func TestNegotiateTicketAppearsLater(t *testing.T) {
	l := startKrbLab(t)
	path := filepath.Join(t.TempDir(), "ccache")
	c, err := kerberos.NewFromCCache("FILE:"+path, l.cfg)
	if err != nil {
		t.Fatal(err)
	}
	neg := &auth.Negotiate{Kerberos: c}
	tr := &auth.Transport{Proxy: noProxy, Credentials: []auth.Credential{neg}}
	defer tr.CloseIdleConnections()
	if resp, _, err := get(t, tr, l.apache.URL+"/negotiate/"); err != nil || resp.StatusCode != 401 {
		t.Fatalf("before kinit: %v %v, want the 401", resp, err)
	}
	if err := os.Rename(l.kdc.Kinit(t, "alice", alicePass), path); err != nil {
		t.Fatal(err)
	}
	resp, body, err := get(t, tr, l.apache.URL+"/negotiate/")
	if err != nil || resp.StatusCode != 200 || !strings.Contains(body, "user=alice@CORP.TEST") {
		t.Fatalf("after kinit: %v %v %q", resp, err, body)
	}
	if neg.Identity() != "alice@CORP.TEST" {
		t.Errorf("identity %q", neg.Identity())
	}
}

func TestNegotiateDelegation(t *testing.T) {
	l := startKrbLab(t)
	c := l.ccacheClient(t)
	deleg := filepath.Join(l.apache.DelegCcacheDir, "alice@CORP.TEST")
	for _, d := range []kerberos.Delegation{kerberos.DelegateNone, kerberos.DelegatePolicy, kerberos.DelegateAlways} {
		neg := &auth.Negotiate{Kerberos: c, Delegation: d}
		tr := &auth.Transport{Proxy: noProxy, Credentials: []auth.Credential{neg}}
		resp, _, err := get(t, tr, l.apache.URL+"/negotiate/?"+d.String())
		tr.CloseIdleConnections()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v: %v %v", d, resp, err)
		}
		_, statErr := os.Stat(deleg)
		want := d == kerberos.DelegateAlways
		if (statErr == nil) != want || (neg.Stats().Delegated == 1) != want {
			t.Fatalf("%v: delegated ccache on the server: %v; stats %+v\n%s", d, statErr, neg.Stats(), l.apache.ErrorLog())
		}
	}
	// What Apache stored is a usable ccache for alice with a forwarded TGT.
	srv, err := kerberos.NewFromCCache(deleg, l.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.InitContext(context.Background(), "HTTP/localhost", kerberos.ContextOptions{}); err != nil {
		t.Fatalf("delegated TGT: %v", err)
	}
	if srv.Principal() != "alice@CORP.TEST" {
		t.Errorf("delegated principal %q", srv.Principal())
	}
}

func TestNegotiateMutualRequiredFails(t *testing.T) {
	l := startKrbLab(t)
	neg := &auth.Negotiate{Kerberos: l.ccacheClient(t)}
	hs, err := neg.Start(&auth.Target{Host: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	v, final, err := hs.Next(context.Background(), nil)
	if err != nil || !final || !strings.HasPrefix(v, "Negotiate ") {
		t.Fatalf("%q %v %v", v, final, err)
	}
	// A 200 without an AP-REP, or with a token that is not one.
	for _, ch := range []*auth.Challenge{nil, {Scheme: "Negotiate", Token68: "YIIBAA=="}} {
		if err := hs.Finish(ch); !errors.Is(err, kerberos.ErrMutualAuth) {
			t.Errorf("Finish(%v): %v, want ErrMutualAuth", ch, err)
		}
	}
	if st := neg.Stats(); st.MutualFailed != 2 || st.MutualVerified != 0 {
		t.Errorf("stats %+v", st)
	}
	opt := &auth.Negotiate{Kerberos: l.ccacheClient(t), Mutual: kerberos.MutualOptional}
	hs, _ = opt.Start(&auth.Target{Host: "localhost"})
	if _, _, err := hs.Next(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if err := hs.Finish(nil); err != nil {
		t.Errorf("optional, no AP-REP: %v", err)
	}
}

// TestNegotiateNTLMFallback offers Kerberos without a ticket and NTLM
// inside SPNEGO to /ntlm/, whose Negotiate takes NTLMSSP only.
func TestNegotiateNTLMFallback(t *testing.T) {
	l := startKrbLab(t)
	empty, err := kerberos.NewFromCCache(filepath.Join(t.TempDir(), "none"), l.cfg)
	if err != nil {
		t.Fatal(err)
	}
	neg := &auth.Negotiate{Kerberos: empty, NTLM: &ntlm.Client{User: "alice", Domain: "CORP", Password: alicePass}}
	tr := &auth.Transport{Proxy: noProxy, Credentials: []auth.Credential{neg}}
	defer tr.CloseIdleConnections()
	resp, body, err := get(t, tr, l.apache.URL+"/ntlm/")
	if err != nil || resp.StatusCode != 200 || !strings.Contains(body, `user=CORP\alice`) {
		t.Fatalf("%v %v %q\n%s", resp, err, body, l.apache.ErrorLog())
	}
}

// Preemptive (opportunistic) Negotiate: the first request already carries
// the token, so Apache answers 200 at once; without it, a 401 comes first.
func TestNegotiatePreemptive(t *testing.T) {
	l := startKrbLab(t)
	c, err := kerberos.NewFromCCache("FILE:"+l.kdc.Kinit(t, "alice", alicePass), l.cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		preemptive bool
		path       string
		want       int // requests Apache sees for one GET
	}{{true, "/negotiate/?pre", 1}, {false, "/negotiate/?challenged", 2}} {
		tr := &auth.Transport{Proxy: noProxy, Credentials: []auth.Credential{&auth.Negotiate{Kerberos: c, Preemptive: tc.preemptive}}}
		resp, body, err := get(t, tr, l.apache.URL+tc.path)
		if err != nil || resp.StatusCode != 200 || !strings.Contains(body, "user=alice@CORP.TEST") {
			t.Fatalf("preemptive=%v: %v %v %q", tc.preemptive, resp, err, body)
		}
		if n := l.requests(t, tc.path, tc.want); n != tc.want {
			t.Errorf("preemptive=%v: Apache saw %d requests, want %d", tc.preemptive, n, tc.want)
		}
		tr.CloseIdleConnections()
	}
}
