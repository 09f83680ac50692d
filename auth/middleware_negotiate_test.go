package auth_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/internal/lab"
	"github.com/sesame-auth/sesame/kerberos"
	"github.com/sesame-auth/sesame/ntlm"
	"github.com/sesame-auth/sesame/spnego"
)

// negotiateLab is a KDC with alice, and a Middleware with Negotiate
// (Kerberos from the KDC's service keytab, NTLM), raw NTLM and Basic
// against Kerberos.
type negotiateLab struct {
	kdc *lab.KDC
	cfg *kerberos.Config
	m   *auth.Middleware
	srv string // base URL with host "localhost" (the SPN is HTTP/localhost)
}

func startNegotiateLab(t *testing.T) *negotiateLab {
	t.Helper()
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: alicePass}}})
	cfg, err := kerberos.LoadConfig(k.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	kt, err := kerberos.LoadKeytab(k.ServiceKeytab)
	if err != nil {
		t.Fatal(err)
	}
	ka := &kerberos.Acceptor{Keytab: kt, Principal: "HTTP/localhost"}
	m := &auth.Middleware{
		Negotiate: &spnego.Acceptor{Kerberos: ka, NTLM: ntlmServer(t)},
		NTLM:      ntlmServer(t),
		Basic:     &auth.KerberosPasswords{Acceptor: ka, Config: cfg},
	}
	srv := startMiddleware(t, m, whoami)
	return &negotiateLab{kdc: k, cfg: cfg, m: m, srv: strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)}
}

// curl --negotiate after kinit: 200 as alice@CORP.TEST, and the final
// response carries the AP-REP (curl requires it: mutual authentication).
// Basic against Kerberos: the right password 200, a wrong one 401.
func TestMiddlewareCurlNegotiateKerberos(t *testing.T) {
	l := startNegotiateLab(t)
	cc := l.kdc.Kinit(t, "alice", alicePass)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "curl", "-sS", "-i", "--negotiate", "-u", ":", "--noproxy", "*", l.srv+"/k")
	cmd.Env = append(l.kdc.Env(), "KRB5CCNAME=FILE:"+cc)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s\n%s", err, out, l.kdc.Log())
	}
	s := string(out)
	final := s[strings.LastIndex(s, "HTTP/1.1 "):]
	if !strings.HasPrefix(final, "HTTP/1.1 200") || !strings.Contains(final, "user=alice@CORP.TEST scheme=Negotiate verified=keytab") ||
		!strings.Contains(strings.ToLower(final), "www-authenticate: negotiate ") {
		t.Fatalf("curl --negotiate:\n%s", s)
	}
	code, body := curlStatus(t, "--basic", "-u", "alice:"+alicePass, l.srv+"/b")
	if code != 200 || body != "user=alice@CORP.TEST scheme=Basic verified=kerberos password" {
		t.Fatalf("basic against kerberos: %d %q", code, body)
	}
	if code, _ := curlStatus(t, "--basic", "-u", "alice:wrong", l.srv+"/b"); code != 401 {
		t.Fatalf("basic against kerberos, wrong password: %d", code)
	}
}

// The same AP-REQ sent twice is refused the second time; sesame's own
// Transport gets in with Negotiate (Kerberos, and NTLM inside SPNEGO).
func TestMiddlewareNegotiateReplayAndTransport(t *testing.T) {
	l := startNegotiateLab(t)
	kc, err := kerberos.NewFromCCache(l.kdc.Kinit(t, "alice", alicePass), l.cfg)
	if err != nil {
		t.Fatal(err)
	}
	x, err := kc.InitContext(context.Background(), "HTTP/localhost", kerberos.ContextOptions{Mutual: kerberos.MutualDisabled})
	if err != nil {
		t.Fatal(err)
	}
	hdr := "Negotiate " + base64.StdEncoding.EncodeToString(x.Token())
	a, b := dialRaw(t, strings.Replace(l.srv, "localhost", "127.0.0.1", 1)), dialRaw(t, strings.Replace(l.srv, "localhost", "127.0.0.1", 1))
	if resp, body := a.do(t, "/", hdr); resp.StatusCode != 200 || !strings.Contains(body, "alice@CORP.TEST") {
		t.Fatalf("first AP-REQ: %d %q", resp.StatusCode, body)
	}
	if resp, body := b.do(t, "/", hdr); resp.StatusCode != 401 {
		t.Fatalf("replayed AP-REQ: %d %q", resp.StatusCode, body)
	}

	for name, neg := range map[string]*auth.Negotiate{
		"kerberos": {Kerberos: kc},
		"ntlm":     {NTLM: &ntlm.Client{User: `CORP\alice`, Password: alicePass}},
	} {
		t.Run(name, func(t *testing.T) {
			tr := &auth.Transport{Credentials: []auth.Credential{neg}, Proxy: noProxy}
			defer tr.CloseIdleConnections()
			code, body := mwGet(t, &http.Client{Transport: tr}, l.srv+"/t")
			want := map[string]string{"kerberos": "user=alice@CORP.TEST scheme=Negotiate verified=keytab",
				"ntlm": `user=CORP\alice scheme=Negotiate verified=ntlm user file`}[name]
			if code != 200 || body != want {
				t.Fatalf("%d %q", code, body)
			}
		})
	}
}

// Optional mode with Negotiate: the login path offers Negotiate and
// NTLM.
func TestMiddlewareLoginOffersNegotiateAndNTLM(t *testing.T) {
	l := startNegotiateLab(t)
	l.m.DefaultMode, l.m.LoginPath = auth.Optional, "/login"
	rc := dialRaw(t, strings.Replace(l.srv, "localhost", "127.0.0.1", 1))
	if resp, body := rc.do(t, "/", ""); resp.StatusCode != 200 || body != "anonymous" || len(resp.Header.Values("WWW-Authenticate")) != 0 {
		t.Fatalf("anonymous: %d %q", resp.StatusCode, body)
	}
	resp, _ := rc.do(t, "/login", "")
	got := resp.Header.Values("WWW-Authenticate")
	if resp.StatusCode != 401 || len(got) < 2 || got[0] != "Negotiate" || got[1] != "NTLM" {
		t.Fatalf("login: %d %q", resp.StatusCode, got)
	}
}
