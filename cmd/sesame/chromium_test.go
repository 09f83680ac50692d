//go:build linux

package main

import (
	"fmt"
	"html"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// A real browser as the client of `sesame proxy`: headless Chromium (with
// --proxy-server, so it talks to nothing but sesame on 127.0.0.1) loads
// pages through sesame and a squid demanding NTLM, and renders sesame's
// status page. curl proves the protocol; Chromium proves that what
// browsers actually send (keep-alive, CONNECT for https, their own header
// order and background requests) gets through too.

// browserMarker is a text the origin's page carries, so that a DOM holding
// it came from the origin, not from an error page of sesame or squid.
const browserMarker = "sesame-chromium-marker-7f3c"

// browserPage serves an HTML page with the marker, the X-Proxy-User header
// squid added (the user it authenticated), and a line a script writes, so
// that the DOM is the browser's rendering of the page, scripts run.
func browserPage(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/favicon.ico" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!DOCTYPE html><html><head><title>origin</title></head><body>
<p id="marker">%s</p>
<p id="user">proxy_user=%s</p>
<p id="js">script did not run</p>
<script>document.getElementById("js").textContent = "script ran over " + location.protocol;</script>
</body></html>`, browserMarker, html.EscapeString(r.Header.Get("X-Proxy-User")))
}

// Chromium → sesame proxy → squid (NTLM) → origin, over plain HTTP and
// over HTTPS through CONNECT.
func TestChromiumThroughSesameProxy(t *testing.T) {
	bin := buildSesame(t)
	origin := httptest.NewServer(http.HandlerFunc(browserPage))
	t.Cleanup(origin.Close)
	tlsOrigin := httptest.NewTLSServer(http.HandlerFunc(browserPage))
	t.Cleanup(tlsOrigin.Close)
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "ntlm", Users: []lab.ProxyUser{{Domain: "CORP", User: "alice", Password: "AlicePass123"}}})
	p := startProxy(t, bin, []string{"PW=AlicePass123"}, "--upstream", sq.Addr, "--user", `CORP\alice`, "--password-env", "PW")

	for _, tc := range []struct {
		name, url string
		flags     []string
		want      []string
	}{
		// Plain HTTP: squid adds X-Proxy-User, so the page itself shows
		// whom squid authenticated.
		{"http", origin.URL + "/browser", nil, []string{`proxy_user=CORP\alice`, "script ran over http:"}},
		// HTTPS: squid only sees the CONNECT (its access log shows the
		// user, checked below); the page inside the tunnel is the
		// origin's. The httptest certificate is signed by a CA Chromium
		// does not know; what matters here is the tunnel, not the CA.
		{"https", tlsOrigin.URL + "/browser-tls", []string{"--ignore-certificate-errors"}, []string{"script ran over https:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dom := lab.ChromiumDumpDOM(t, lab.ChromiumOptions{ProxyServer: p.URL, ExtraFlags: tc.flags}, tc.url)
			for _, want := range append([]string{browserMarker}, tc.want...) {
				if !strings.Contains(dom, want) {
					t.Fatalf("DOM lacks %q:\n%s\nsesame:\n%s\nsquid:\n%s", want, dom, p.stderr.String(), sq.AccessLog())
				}
			}
		})
	}

	// squid saw both pages' requests authenticated as CORP\alice: the
	// plain GET with its absolute URL, the https page as a CONNECT tunnel
	// (logged when the tunnel closed, i.e. when Chromium exited).
	sq.WaitAccessEntry(t, func(e lab.SquidAccess) bool {
		return e.Method == "GET" && e.URL == origin.URL+"/browser" && e.Status == 200 && e.User == `CORP\alice`
	})
	tlsHost := strings.TrimPrefix(tlsOrigin.URL, "https://")
	sq.WaitAccessEntry(t, func(e lab.SquidAccess) bool {
		return e.Method == "CONNECT" && e.URL == tlsHost && e.Status == 200 && e.User == `CORP\alice`
	})
	// And they went through sesame, which logs one access line each.
	// (A tunnel's line is written when it closes: wait a little for it.)
	for _, want := range []string{"method=GET url=" + origin.URL + "/browser ", "method=CONNECT url=" + tlsHost + " "} {
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(p.stderr.String(), want) {
			if time.Now().After(deadline) {
				t.Errorf("sesame's log has no access line with %q:\n%s", want, p.stderr.String())
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if strings.Contains(p.stderr.String(), "AlicePass123") {
		t.Errorf("sesame logged the password")
	}
}

// The status page of a running proxy, as a person sees it in a browser:
// a screenshot that is a real rendering of the window, and the key text
// of the DOM.
func TestChromiumAdminStatusPage(t *testing.T) {
	bin := buildSesame(t)
	origin := httptest.NewServer(http.HandlerFunc(browserPage))
	t.Cleanup(origin.Close)
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "ntlm", Users: []lab.ProxyUser{{Domain: "CORP", User: "alice", Password: "AlicePass123"}}})
	admin := fmt.Sprintf("127.0.0.1:%d", lab.FreePort(t))
	p := startProxy(t, bin, []string{"PW=AlicePass123"}, "--upstream", sq.Addr, "--user", `CORP\alice`, "--password-env", "PW", "--admin", admin)
	// Some traffic, so that the page has counters to show.
	for i := 0; i < 3; i++ {
		if _, err := curl(t, "-x", p.URL, fmt.Sprintf("%s/traffic/%d", origin.URL, i)); err != nil {
			t.Fatal(err)
		}
	}
	page := "http://" + admin + "/"
	// No ProxyServer: the browser opens the loopback admin page directly,
	// as a user does.
	opts := lab.ChromiumOptions{WindowWidth: 1280, WindowHeight: 900}

	dom := lab.ChromiumDumpDOM(t, opts, page)
	for _, want := range []string{"<title>sesame proxy</title>", "<h1>sesame proxy</h1>", "Upstreams", "Traffic",
		sq.Addr, `NTLM as CORP\alice`, `<td id="requests">3</td>`, `class="up"`} {
		if !strings.Contains(dom, want) {
			t.Errorf("status page DOM lacks %q", want)
		}
	}
	if t.Failed() {
		t.Fatalf("DOM:\n%s", dom)
	}

	shot := filepath.Join(t.TempDir(), "status.png")
	lab.ChromiumScreenshot(t, opts, page, shot)
	if dir := os.Getenv("SESAME_SCREENSHOT_DIR"); dir != "" {
		// For a person to look at the page; the test's temp dir is gone
		// when the test ends.
		data, err := os.ReadFile(shot)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "sesame-status.png"), data, 0o644)
		}
		if err != nil {
			t.Errorf("keeping the screenshot: %v", err)
		}
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 900 {
		t.Fatalf("screenshot is %dx%d, want 1280x900", b.Dx(), b.Dy())
	}
	// A rendered page, not a blank window: the white page has dark text
	// (the heading, the tables) in its upper part.
	white, dark := 0, 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Min.Y+400; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.GrayModel.Convert(img.At(x, y)).(color.Gray)
			switch {
			case c.Y == 0xff:
				white++
			case c.Y < 0x60:
				dark++
			}
		}
	}
	if total := 400 * b.Dx(); white < total/2 || dark < 2000 {
		t.Errorf("screenshot does not look like the rendered page: %d white and %d dark of %d pixels", white, dark, total)
	}
}
