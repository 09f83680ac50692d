package auth_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/ntlm"
)

// The one-line change for a Go program behind an NTLM proxy: give its
// http.Client an auth.Transport with the proxy credentials. The proxy
// comes from HTTP_PROXY / HTTPS_PROXY / NO_PROXY as before.
func ExampleTransport() {
	client := &http.Client{Transport: &auth.Transport{
		ProxyCredentials: []auth.Credential{
			&auth.NTLM{Client: ntlm.Client{User: `CORP\alice`, Password: os.Getenv("PROXY_PASSWORD")}},
		},
	}}
	resp, err := client.Get("https://example.com/")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	io.Copy(os.Stdout, resp.Body)
}

// An intranet server that wants the user's Windows identity: origin
// credentials answer its 401. Digest and NTLM are both offered; the
// Transport uses the stronger one the server asks for.
func ExampleTransport_origin() {
	tr := &auth.Transport{Credentials: []auth.Credential{
		&auth.NTLM{Client: ntlm.Client{User: `CORP\alice`, NTHash: mustHash("874649a24f9823fa52d36adfabf89d8e")}},
		&auth.Digest{User: "alice", Password: os.Getenv("PASSWORD")},
	}}
	client := &http.Client{Transport: tr}
	resp, err := client.Get("http://intranet.example/report")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
}

func mustHash(s string) []byte {
	h, err := ntlm.ParseNTHash(s)
	if err != nil {
		panic(err)
	}
	return h
}

// HTTP/2 inside an authenticated tunnel: let net/http drive the TLS
// connection and use DialTunnel only to open the tunnel through the proxy.
func ExampleTransport_DialTunnel() {
	proxyURL, _ := url.Parse("http://proxy.corp.example:8080")
	tunnels := &auth.Transport{ProxyCredentials: []auth.Credential{
		&auth.Basic{User: "alice", Password: os.Getenv("PROXY_PASSWORD")},
	}}
	client := &http.Client{Transport: &http.Transport{
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return tunnels.DialTunnel(ctx, proxyURL, addr)
		},
	}}
	_, _ = client.Get("https://example.com/")
}
