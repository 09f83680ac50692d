//go:build linux

package main

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/internal/lab"
)

// serveOn serves h on the loopback address ip (127.0.0.x), so that a PAC
// script can tell origins apart by host.
func serveOn(t *testing.T, ip string, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// A PAC file on a local HTTP server chooses by host between two squids
// (Basic and Digest) and DIRECT; `sesame pac`, `sesame proxy --pac` and
// `sesame get --pac` all follow it.
func TestPACRouting(t *testing.T) {
	users := []lab.ProxyUser{{User: "alice", Password: "AlicePass123"}}
	sqA := lab.StartSquid(t, lab.SquidOptions{Auth: "basic", Users: users})
	sqB := lab.StartSquid(t, lab.SquidOptions{Auth: "digest", Users: users})
	originA := serveOn(t, "127.0.0.3", http.HandlerFunc(whoOrigin))
	originB := serveOn(t, "127.0.0.4", http.HandlerFunc(whoOrigin))
	originC := serveOn(t, "127.0.0.1", http.HandlerFunc(whoOrigin))
	script := fmt.Sprintf(`function FindProxyForURL(url, host) {
  if (host == "127.0.0.3") return "PROXY %s; DIRECT";
  if (dnsDomainIs(host, "127.0.0.4")) return "PROXY %s";
  return "DIRECT";
}
`, sqA.Addr, sqB.Addr)
	pacURL := serveOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ns-proxy-autoconfig")
		fmt.Fprint(w, script)
	})) + "/wpad.dat"

	code, out, errOut := sesame(t, "", nil, "pac", "--url", pacURL, originA+"/x", originB+"/y", originC+"/z")
	want := fmt.Sprintf("%s/x\tPROXY %s; DIRECT\n%s/y\tPROXY %s\n%s/z\tDIRECT\n", originA, sqA.Addr, originB, sqB.Addr, originC)
	if code != 0 || out != want {
		t.Fatalf("sesame pac: exit %d\n%s\nwant\n%s\n%s", code, out, want, errOut)
	}

	bin := buildSesame(t)
	p := startProxy(t, bin, []string{"PW=AlicePass123"}, "--pac", pacURL, "--user", "alice", "--password-env", "PW", "--auth", "basic,digest")
	for _, tc := range []struct{ url, user string }{
		{originA + "/via-a", "alice"}, {originB + "/via-b", "alice"}, {originC + "/direct", ""},
	} {
		out, err := curl(t, "-x", p.URL, tc.url)
		if err != nil || !strings.Contains(out, "proxy_user="+tc.user+"\n") {
			t.Fatalf("proxy --pac %s: %v %q\n%s", tc.url, err, out, p.stderr.String())
		}
	}
	saw := func(sq *lab.Squid, suffix string) bool {
		for _, e := range sq.AccessEntries() {
			if strings.HasSuffix(e.URL, suffix) && e.Status == 200 {
				return true
			}
		}
		return false
	}
	// squid logs a request once its response is sent: wait for those
	// that must be there before looking for those that must not.
	sqA.WaitAccessEntry(t, func(e lab.SquidAccess) bool { return strings.HasSuffix(e.URL, "/via-a") && e.Status == 200 })
	sqB.WaitAccessEntry(t, func(e lab.SquidAccess) bool { return strings.HasSuffix(e.URL, "/via-b") && e.Status == 200 })
	if !saw(sqA, "/via-a") || saw(sqB, "/via-a") || !saw(sqB, "/via-b") || saw(sqA, "/via-b") || saw(sqA, "/direct") || saw(sqB, "/direct") {
		t.Errorf("routes differ from the PAC file\nA:\n%s\nB:\n%s", sqA.AccessLog(), sqB.AccessLog())
	}

	for _, tc := range []struct{ url, user string }{
		{originA + "/get-a", "alice"}, {originB + "/get-b", "alice"}, {originC + "/get-direct", ""},
	} {
		code, out, errOut := sesame(t, "", nil, "get", "--pac", pacURL, "-U", "alice:AlicePass123", tc.url)
		if code != 0 || !strings.Contains(out, "proxy_user="+tc.user+"\n") {
			t.Fatalf("get --pac %s: exit %d %q\n%s", tc.url, code, out, errOut)
		}
	}
	// squid logs a request once its response is sent: wait for the line.
	sqB.WaitAccessEntry(t, func(e lab.SquidAccess) bool { return strings.HasSuffix(e.URL, "/get-b") && e.Status == 200 })
	if code, _, errOut := sesame(t, "", nil, "pac", "--url", pacURL, "not a url"); code != 1 {
		t.Errorf("bad URL: exit %d %s", code, errOut)
	}
}
