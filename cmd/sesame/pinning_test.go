//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// ntlmThroughProxy runs testdata/ntlm_proxy_client.py: gss-ntlmssp's NTLM
// to url through the proxy on one client connection, then n-1 more
// requests on it without Authorization. It returns the per-request lines.
func ntlmThroughProxy(t *testing.T, proxyAddr, url, user, password string, n int) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", "testdata/ntlm_proxy_client.py", proxyAddr, url, user, fmt.Sprint(n))
	cmd.Env = []string{"PATH=/usr/bin:/bin", "NTLM_PASSWORD=" + password}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// A connection that a client authenticated with an origin belongs to that
// client connection alone (connection pinning). The origin is Apache with
// mod_auth_gssapi + gss-ntlmssp and GssapiConnectionBound On: like IIS, it
// lets every later request on an authenticated connection pass as the
// user who authenticated it. Through sesame proxy, DIRECT to the origin
// and through squid (which sesame answers with Basic, and which pins its
// own origin connection to sesame's connection):
//   - alice authenticates and makes more requests on her connection: all
//     pass as alice;
//   - then clients without credentials (curl, twice) get 401, not alice's
//     authenticated upstream connection;
//   - 20 clients at once, alternating alice and bob, each see only their
//     own name on every request, while anonymous clients keep getting 401.
func TestProxyPinsClientAuthenticatedConnections(t *testing.T) {
	lab.RequirePython(t, "gssapi")
	lab.Require(t, "curl")
	bin := buildSesame(t)
	ap := lab.StartApache(t, lab.ApacheOptions{
		NTLMUsers: []lab.NTLMUser{
			{Domain: "CORP", User: "alice", Password: "AlicePass123"},
			{Domain: "CORP", User: "bob", Password: "BobPass456"},
		},
		MaxConnections: 128,
	})
	t.Run("direct", func(t *testing.T) {
		p := startProxy(t, bin, []string{"HOME=" + t.TempDir()})
		checkPinning(t, p, ap)
	})
	t.Run("through squid", func(t *testing.T) {
		sq := lab.StartSquid(t, lab.SquidOptions{Auth: "basic", Users: []lab.ProxyUser{{Domain: "CORP", User: "carol", Password: "CarolPass-1"}}})
		p := startProxy(t, bin, []string{"HOME=" + t.TempDir(), "PW=CarolPass-1"}, "--upstream", sq.Addr, "--user", "carol", "--password-env", "PW")
		checkPinning(t, p, ap)
	})
}

func checkPinning(t *testing.T, p *proxyProcess, ap *lab.Apache) {
	proxyAddr := strings.TrimPrefix(p.URL, "http://")
	url := ap.URL + "/ntlm/"
	out, err := ntlmThroughProxy(t, proxyAddr, url, `CORP\alice`, "AlicePass123", 3)
	if err != nil || strings.Count(out, "status=200 user=CORP\\alice\n") != 3 {
		t.Fatalf("alice through sesame: %v\n%s\nsesame:\n%s\napache:\n%s", err, out, p.stderr.String(), ap.ErrorLog())
	}
	for i := 0; i < 2; i++ {
		got, err := curl(t, "-x", p.URL, "-o", "/dev/null", "-w", "%{http_code}", url)
		if err != nil || got != "401" {
			t.Fatalf("a client without credentials after alice got %q (%v); want 401: alice's authenticated connection went to another client\nsesame:\n%s", got, err, p.stderr.String())
		}
	}

	users := []struct{ user, pw string }{{`CORP\alice`, "AlicePass123"}, {`CORP\bob`, "BobPass456"}}
	const clients, requests = 20, 5
	var wg sync.WaitGroup
	errs := make(chan string, clients)
	for i := 0; i < clients; i++ {
		u := users[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := ntlmThroughProxy(t, proxyAddr, url, u.user, u.pw, requests)
			if err != nil || strings.Count(out, "status=200 user="+u.user+"\n") != requests {
				errs <- fmt.Sprintf("client %d as %s: %v\n%s", i, u.user, err, out)
			}
		}()
	}
	// Meanwhile, anonymous clients must never ride on anyone's connection.
	for i := 0; i < 10; i++ {
		got, err := curl(t, "-x", p.URL, "-o", "/dev/null", "-w", "%{http_code}", url)
		if err != nil || got != "401" {
			t.Errorf("anonymous client %d during the run got %q (%v); want 401", i, got, err)
		}
	}
	wg.Wait()
	close(errs)
	failures := 0
	for e := range errs {
		failures++
		t.Error(e)
	}
	if failures > 0 {
		t.Fatalf("%d of %d clients failed\nsesame:\n%s", failures, clients, p.stderr.String())
	}
}
