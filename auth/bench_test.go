package auth_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/internal/lab"
	"github.com/sesame-auth/sesame/ntlm"
)

// The cost of NTLM per request against a real verifier (Apache +
// gss-ntlmssp): on a connection that is already authenticated (no
// handshake, the normal case through the pool) and with a fresh
// connection and handshake each time (what a client without connection
// affinity pays).
func BenchmarkNTLMRequest(b *testing.B) {
	ap := lab.StartApache(b, lab.ApacheOptions{NTLMUsers: apacheNTLMUsers})
	// A static file, so the figures are the authentication's and the
	// connection's, not a CGI's fork.
	if err := os.WriteFile(filepath.Join(ap.Dir, "www", "bench.txt"), []byte("sesame\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	cred := &auth.NTLM{Client: ntlm.Client{User: `CORP\alice`, Password: "AlicePass123"}}
	get := func(b *testing.B, tr *auth.Transport) {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", ap.URL+"/ntlm/bench.txt", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %s", resp.Status)
		}
	}
	b.Run("authenticated-connection", func(b *testing.B) {
		tr := &auth.Transport{Proxy: noProxy, Credentials: []auth.Credential{cred}}
		defer tr.CloseIdleConnections()
		get(b, tr) // the one handshake
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			get(b, tr)
		}
		b.ReportMetric(float64(tr.Handshakes())/float64(b.N+1), "handshakes/req")
	})
	b.Run("fresh-handshake", func(b *testing.B) {
		tr := &auth.Transport{Proxy: noProxy, Credentials: []auth.Credential{cred}}
		for i := 0; i < b.N; i++ {
			get(b, tr)
			tr.CloseIdleConnections() // the next request needs a new connection and handshake
		}
		b.ReportMetric(float64(tr.Handshakes())/float64(b.N), "handshakes/req")
	})
}
