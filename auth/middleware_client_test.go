package auth_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/ntlm"
)

// sesame's own auth.Transport as the client of the Middleware, for every
// scheme.
func TestMiddlewareTransportEveryScheme(t *testing.T) {
	hf, err := auth.LoadHtpasswd(htpasswdFile(t, "-B"))
	if err != nil {
		t.Fatal(err)
	}
	hd, err := auth.LoadHTDigest(htdigestFile(t))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		m    *auth.Middleware
		cred auth.Credential
		want string
	}{
		{"NTLM", &auth.Middleware{NTLM: ntlmServer(t)},
			&auth.NTLM{Client: ntlm.Client{User: `CORP\alice`, Password: alicePass}}, `user=CORP\alice scheme=NTLM verified=ntlm user file`},
		{"Basic", &auth.Middleware{Basic: hf}, &auth.Basic{User: "alice", Password: alicePass}, "user=alice scheme=Basic verified=htpasswd"},
		{"Digest", &auth.Middleware{Digest: &auth.DigestVerifier{Store: hd, Realm: digestRealm}},
			&auth.Digest{User: "alice", Password: alicePass}, "user=alice scheme=Digest verified=htdigest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := startMiddleware(t, c.m, whoami)
			tr := &auth.Transport{Credentials: []auth.Credential{c.cred}, AllowBasicOverHTTP: true, Proxy: noProxy}
			defer tr.CloseIdleConnections()
			for i := range 3 {
				if code, body := mwGet(t, &http.Client{Transport: tr}, fmt.Sprintf("%s/r%d", srv.URL, i)); code != 200 || body != c.want {
					t.Fatalf("request %d: %d %q", i, code, body)
				}
			}
		})
	}
}

// Two identities at once over NTLM: alice and bob in parallel, each on
// connections of its own, each sees its own name; no failures.
func TestMiddlewareParallelIdentities(t *testing.T) {
	srv := startMiddleware(t, &auth.Middleware{NTLM: ntlmServer(t)}, whoami)
	users := map[string]string{`CORP\alice`: alicePass, `CORP\bob`: mwBobPass}
	var failures atomic.Int64
	var wg sync.WaitGroup
	for user, pass := range users {
		tr := &auth.Transport{Credentials: []auth.Credential{&auth.NTLM{Client: ntlm.Client{User: user, Password: pass}}}, Proxy: noProxy}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr}
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 {
					resp, err := client.Get(fmt.Sprintf("%s/%d/%d", srv.URL, g, i))
					if err != nil {
						failures.Add(1)
						t.Error(err)
						return
					}
					var body [128]byte
					n, _ := resp.Body.Read(body[:])
					resp.Body.Close()
					want := "user=" + user + " scheme=NTLM verified=ntlm user file"
					if resp.StatusCode != 200 || string(body[:n]) != want {
						failures.Add(1)
						t.Errorf("%s: %d %q", user, resp.StatusCode, body[:n])
					}
				}
			}()
		}
	}
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d failures", n)
	}
}
