package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/ntlm"
)

// Over TLS the Middleware hands NTLM the tls-server-end-point of its
// certificate: with ChannelBinding required, auth.Transport (which binds
// to the certificate it saw) gets in; over plain HTTP it cannot.
func TestMiddlewareNTLMChannelBindingTLS(t *testing.T) {
	ns := ntlmServer(t)
	ns.ChannelBinding = ntlm.ChannelBindingRequired
	m := &auth.Middleware{NTLM: ns, Logger: testLogger(t)}
	srv := httptest.NewUnstartedServer(m.Wrap(whoami))
	m.Install(srv.Config)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	m.ServerCertificate = srv.Certificate()

	tr := &auth.Transport{Credentials: []auth.Credential{&auth.NTLM{Client: ntlm.Client{User: `CORP\alice`, Password: alicePass}}},
		Proxy: noProxy, TLSClientConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig}
	defer tr.CloseIdleConnections()
	if code, body := mwGet(t, &http.Client{Transport: tr, Timeout: 20 * time.Second}, srv.URL+"/"); code != 200 || body != `user=CORP\alice scheme=NTLM verified=ntlm user file` {
		t.Fatalf("over TLS with bindings: %d %q", code, body)
	}
	plain := startMiddleware(t, &auth.Middleware{NTLM: ns}, whoami)
	if code, _ := curlStatus(t, "--ntlm", "-u", `CORP\alice:`+alicePass, plain.URL+"/"); code != 401 {
		t.Fatalf("required bindings without TLS: %d", code)
	}
}

// Groups with SIDs only are named by the GroupNamer once, at logon.
func TestMiddlewareGroupNames(t *testing.T) {
	basic := auth.BasicVerifierFunc(func(_ context.Context, user, pw string) (*auth.User, error) {
		if pw != alicePass {
			return nil, auth.ErrUnauthenticated
		}
		return &auth.User{Name: user, Principal: user, Scheme: "Basic", Groups: []auth.Group{{SID: "S-1-5-21-1-2-3-1105"}, {SID: "S-1-5-21-1-2-3-999"}}}, nil
	})
	m := &auth.Middleware{Basic: basic, Groups: mapNamer{"S-1-5-21-1-2-3-1105": `CORP\webusers`}}
	srv := startMiddleware(t, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := auth.UserFrom(r.Context())
		for _, g := range u.GroupNames() {
			w.Write([]byte(g + ";"))
		}
	}))
	code, body := curlStatus(t, "--basic", "-u", "alice:"+alicePass, srv.URL+"/")
	if code != 200 || body != `CORP\webusers;S-1-5-21-1-2-3-999;` {
		t.Fatalf("%d %q", code, body)
	}
}

type mapNamer map[string]string

func (m mapNamer) Names(_ context.Context, sids []string) (map[string]string, error) {
	out := map[string]string{}
	for _, s := range sids {
		if n, ok := m[s]; ok {
			out[s] = n
		}
	}
	return out, nil
}
