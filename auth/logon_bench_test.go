package auth_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/internal/lab"
	"github.com/sesame-auth/sesame/kerberos"
	"github.com/sesame-auth/sesame/ntlm"
	"github.com/sesame-auth/sesame/spnego"
)

// BenchmarkServerLogon measures whole logons — a new TCP connection, the
// handshake and one small response — against sesame's Middleware and
// against Apache + mod_auth_gssapi (gss-ntlmssp for NTLM, MIT for
// Kerberos), with the same client (auth.Transport) on the same machine,
// so that the two servers are measured the same way. The client's own
// cost is in both figures; the per-verification cost alone is in
// BenchmarkMiddlewareNTLMv2 and kerberos.BenchmarkAcceptAPReq.
func BenchmarkServerLogon(b *testing.B) {
	k := lab.StartKDC(b, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: alicePass}}})
	cfg, err := kerberos.LoadConfig(k.Krb5Conf)
	if err != nil {
		b.Fatal(err)
	}
	kt, err := kerberos.LoadKeytab(k.ServiceKeytab)
	if err != nil {
		b.Fatal(err)
	}
	ap := lab.StartApache(b, lab.ApacheOptions{NTLMUsers: apacheNTLMUsers, KerberosKeytab: k.ServiceKeytab, Krb5Conf: k.Krb5Conf})
	// A static file on both sides: the figures are the logon's, not a CGI's.
	if err := os.WriteFile(filepath.Join(ap.Dir, "www", "bench.txt"), []byte("sesame\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	m := &auth.Middleware{
		Negotiate: &spnego.Acceptor{Kerberos: &kerberos.Acceptor{Keytab: kt}},
		NTLM:      ntlmServer(b),
		Logger:    discardLogger(),
	}
	srv := startMiddleware(b, m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "sesame\n") }))
	kc, err := kerberos.NewFromCCache(k.Kinit(b, "alice", alicePass), cfg)
	if err != nil {
		b.Fatal(err)
	}
	creds := map[string]auth.Credential{
		"ntlm":     &auth.NTLM{Client: ntlm.Client{User: `CORP\alice`, Password: alicePass}},
		"kerberos": &auth.Negotiate{Kerberos: kc},
	}
	// The SPN is HTTP/localhost (the KDC's service keytab), so both
	// servers are reached by that name.
	servers := map[string]map[string]string{
		"sesame": {"ntlm": srv.URL + "/bench.txt", "kerberos": srv.URL + "/bench.txt"},
		"apache": {"ntlm": ap.URL + "/ntlm/bench.txt", "kerberos": ap.URL + "/negotiate/bench.txt"},
	}
	for _, mech := range []string{"ntlm", "kerberos"} {
		for _, server := range []string{"sesame", "apache"} {
			url := strings.Replace(servers[server][mech], "127.0.0.1", "localhost", 1)
			b.Run(mech+"/"+server, func(b *testing.B) {
				tr := &auth.Transport{Proxy: noProxy, Credentials: []auth.Credential{creds[mech]}}
				for b.Loop() {
					req, _ := http.NewRequestWithContext(context.Background(), "GET", url, nil)
					resp, err := tr.RoundTrip(req)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Fatalf("%s: status %s", url, resp.Status)
					}
					tr.CloseIdleConnections() // the next logon needs a new connection
				}
				b.ReportMetric(float64(tr.Handshakes())/float64(b.N), "handshakes/op")
			})
		}
	}
}
