package auth_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/internal/lab"
	"github.com/sesame-auth/sesame/ntlm"
)

// whoOrigin answers with the user the proxy vouched for (squid adds
// X-Proxy-User) and the request path.
func whoOrigin(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "proxy_user=%s\npath=%s\n", r.Header.Get("X-Proxy-User"), r.URL.Path)
}

var proxyUsers = []lab.ProxyUser{{Domain: "CORP", User: "alice", Password: "AlicePass123"}}

func proxyCred(scheme, password string) auth.Credential {
	switch scheme {
	case "basic":
		return &auth.Basic{User: "alice", Password: password}
	case "digest":
		return &auth.Digest{User: "alice", Password: password}
	case "ntlm":
		return &auth.NTLM{Client: ntlm.Client{User: `CORP\alice`, Password: password}}
	}
	panic(scheme)
}

func wantProxyUser(scheme string) string {
	if scheme == "ntlm" {
		return `CORP\alice`
	}
	return "alice"
}

// Through squid demanding Basic, Digest and NTLM: plain HTTP and HTTPS
// (CONNECT) succeed as alice; for NTLM, squid's access log shows one
// handshake (two 407s) on one connection however many requests follow;
// a wrong password gives the 407 back after a single attempt.
func TestTransportThroughSquid(t *testing.T) {
	// t.Cleanup, not defer: the parallel subtests run after this
	// function returns.
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	t.Cleanup(origin.Close)
	tlsOrigin := httptest.NewTLSServer(http.HandlerFunc(whoOrigin))
	t.Cleanup(tlsOrigin.Close)
	roots := x509.NewCertPool()
	roots.AddCert(tlsOrigin.Certificate())

	for _, scheme := range []string{"basic", "digest", "ntlm"} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			sq := lab.StartSquid(t, lab.SquidOptions{Auth: scheme, Users: proxyUsers})
			proxyURL, _ := url.Parse(sq.URL)
			newTransport := func(password string) *auth.Transport {
				tr := &auth.Transport{
					Proxy:            http.ProxyURL(proxyURL),
					ProxyCredentials: []auth.Credential{proxyCred(scheme, password)},
				}
				tr.TLSClientConfig = tlsConfig(roots)
				return tr
			}
			tr := newTransport("AlicePass123")
			defer tr.CloseIdleConnections()
			const n = 5
			for i := 0; i < n; i++ {
				resp, body := do(t, tr, "GET", fmt.Sprintf("%s/plain/%d", origin.URL, i), nil)
				if resp.StatusCode != 200 || !strings.Contains(body, "proxy_user="+wantProxyUser(scheme)+"\n") {
					t.Fatalf("plain request %d: %s %q\nsquid cache.log:\n%s", i, resp.Status, body, sq.CacheLog())
				}
			}
			for i := 0; i < n; i++ {
				resp, body := do(t, tr, "GET", fmt.Sprintf("%s/tls/%d", tlsOrigin.URL, i), nil)
				// Inside the tunnel the origin sees no proxy header:
				// squid cannot add one to encrypted traffic.
				if resp.StatusCode != 200 || !strings.Contains(body, fmt.Sprintf("path=/tls/%d", i)) {
					t.Fatalf("https request %d: %s %q", i, resp.Status, body)
				}
			}
			// squid logs a CONNECT when its tunnel closes.
			tr.CloseIdleConnections()
			sq.WaitAccessEntry(t, func(e lab.SquidAccess) bool { return e.Method == "CONNECT" && e.Status == 200 })
			entries := sq.AccessEntries()
			var connects int
			for _, e := range entries {
				if e.Method == "CONNECT" && e.Status == 200 {
					connects++
					if e.User != wantProxyUser(scheme) {
						t.Errorf("CONNECT logged as user %q", e.User)
					}
				}
			}
			if connects != 1 {
				t.Errorf("%d successful CONNECTs for %d https requests, want 1 (tunnel reused)", connects, n)
			}
			if scheme == "ntlm" {
				// The plain-HTTP requests: one connection, one
				// handshake (the 407 to the bare request, the 407
				// carrying the CHALLENGE), then n answers.
				conns := lab.GroupSquidConnections(plainEntries(entries))
				if len(conns) != 1 || conns[0].Challenges != 2 || conns[0].Requests != n+2 {
					t.Errorf("plain requests per connection: %+v; want one connection with 2 407s and %d requests", conns, n+2)
				}
			}

			// Wrong password: the 407 comes back, after one handshake.
			bad := newTransport("wrong")
			defer bad.CloseIdleConnections()
			before := len(sq.AccessEntries())
			for i := 0; i < 2; i++ {
				resp, _ := do(t, bad, "GET", origin.URL+"/bad", nil)
				if resp.StatusCode != 407 {
					t.Fatalf("wrong password: %s, want 407", resp.Status)
				}
			}
			time.Sleep(200 * time.Millisecond)
			var attempts int
			for _, e := range sq.AccessEntries()[before:] {
				if e.URL == origin.URL+"/bad" {
					attempts++
				}
			}
			// First request: bare + handshake legs; second request: the
			// rejected credential is not tried again.
			maxAttempts := map[string]int{"basic": 3, "digest": 3, "ntlm": 4}[scheme]
			if attempts > maxAttempts {
				t.Errorf("wrong password made %d requests at squid, want at most %d (no retry storm)", attempts, maxAttempts)
			}
		})
	}
}

// plainEntries keeps the logged requests that are not CONNECTs.
func plainEntries(es []lab.SquidAccess) []lab.SquidAccess {
	var out []lab.SquidAccess
	for _, e := range es {
		if e.Method != "CONNECT" {
			out = append(out, e)
		}
	}
	return out
}

// 100 goroutines × 20 requests through squid's NTLM: zero failures.
func TestTransportSquidNTLMConcurrent(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "ntlm", Users: proxyUsers})
	proxyURL, _ := url.Parse(sq.URL)
	tr := &auth.Transport{Proxy: http.ProxyURL(proxyURL), MaxIdleConnsPerHost: 100,
		ProxyCredentials: []auth.Credential{proxyCred("ntlm", "AlicePass123")}}
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for g := 0; g < 100; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/%d/%d", origin.URL, g, i), nil)
				resp, err := tr.RoundTrip(req)
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || !strings.Contains(string(b), `proxy_user=CORP\alice`) {
						err = errors.New(resp.Status + " " + string(b))
					}
				}
				cancel()
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
				}
			}
		}(g)
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of 2000 requests failed, e.g. %v", len(failures), failures[0])
	}
	conns := lab.GroupSquidConnections(sq.WaitAccessEntries(t, 2000))
	handshakes := 0
	for _, c := range conns {
		if c.Challenges > 0 {
			handshakes++
		}
		if c.Challenges > 2 {
			t.Errorf("connection %d authenticated more than once: %+v", c.ClientPort, c)
		}
	}
	t.Logf("2000 requests over %d connections, %d handshakes; pool %+v", len(conns), handshakes, tr.PoolStats())
}

// A 10 MB upload through squid's NTLM arrives intact, replayable or not,
// with a Transport that has not met the proxy before.
func TestTransportSquidNTLMUpload(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		fmt.Fprintf(w, "length=%d err=%v sha256=%x\n", n, err, h.Sum(nil))
	}))
	defer origin.Close()
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "ntlm", Users: proxyUsers})
	proxyURL, _ := url.Parse(sq.URL)
	payload, want := testPayload(10<<20, 13)
	for _, replayable := range []bool{true, false} {
		t.Run(fmt.Sprintf("replayable=%v", replayable), func(t *testing.T) {
			tr := &auth.Transport{Proxy: http.ProxyURL(proxyURL), ProxyCredentials: []auth.Credential{proxyCred("ntlm", "AlicePass123")}}
			defer tr.CloseIdleConnections()
			defer func() {
				if t.Failed() {
					t.Logf("squid cache.log:\n%s\naccess:\n%s", tail(sq.CacheLog(), 40), sq.AccessLog())
				}
			}()
			if code, got := upload(t, tr, origin.URL+"/upload", payload, replayable); code != 200 || !strings.Contains(got, want) {
				t.Fatalf("%d: %q, want %s\n%s", code, got, want, sq.CacheLog())
			}
		})
	}
}

// DialTunnel lets net/http run HTTP/2 inside a tunnel that squid's NTLM
// authenticated.
func TestDialTunnelHTTP2ThroughSquid(t *testing.T) {
	origin := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "proto=%s", r.Proto)
	}))
	origin.EnableHTTP2 = true
	origin.StartTLS()
	defer origin.Close()
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "ntlm", Users: proxyUsers})
	proxyURL, _ := url.Parse(sq.URL)
	tunnels := &auth.Transport{ProxyCredentials: []auth.Credential{proxyCred("ntlm", "AlicePass123")}}
	roots := x509.NewCertPool()
	roots.AddCert(origin.Certificate())
	h2 := &http.Transport{
		ForceAttemptHTTP2: true,
		TLSClientConfig:   tlsConfig(roots),
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return tunnels.DialTunnel(ctx, proxyURL, addr)
		},
	}
	defer h2.CloseIdleConnections()
	resp, body := do(t, h2, "GET", origin.URL+"/", nil)
	if resp.StatusCode != 200 || body != "proto=HTTP/2.0" {
		t.Fatalf("%s %q", resp.Status, body)
	}
	// A wrong password is a clear error naming the proxy's answer.
	bad := &auth.Transport{ProxyCredentials: []auth.Credential{proxyCred("ntlm", "wrong")}}
	_, err := bad.DialTunnel(context.Background(), proxyURL, origin.Listener.Addr().String())
	var pce *auth.ProxyConnectError
	if !errors.As(err, &pce) || pce.StatusCode != 407 {
		t.Fatalf("wrong password: %v, want ProxyConnectError 407", err)
	}
}
