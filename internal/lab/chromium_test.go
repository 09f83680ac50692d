package lab

import (
	"fmt"
	"image/color"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests check the Chromium helpers: the DOM is the one the browser
// built (scripts ran), a ProxyServer carries loopback URLs too (Chromium's
// implicit loopback bypass is off), without one nothing but loopback is
// reached directly, screenshots are real PNGs of the window, and a run
// that hangs is killed with every process it started.

// chromiumPage is an origin whose page writes a line with JavaScript, so
// that a DOM containing it is the browser's, not the HTTP body. It records
// the Via header of each request for the page (set by a proxy).
type chromiumPage struct {
	*httptest.Server
	mu  sync.Mutex
	via []string
}

func startChromiumPage(t *testing.T) *chromiumPage {
	t.Helper()
	p := &chromiumPage{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			http.NotFound(w, r)
			return
		}
		p.mu.Lock()
		p.via = append(p.via, r.Header.Get("Via"))
		p.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!DOCTYPE html><html><head><title>lab page</title></head><body>
<div id="box" style="position:absolute;left:0;top:0;width:300px;height:200px;background:#1060c0"></div>
<p id="js">script did not run</p>
<script>document.getElementById("js").textContent = "script ran on " + location.host;</script>
</body></html>`)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *chromiumPage) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.via...)
}

func TestChromiumDumpDOMDirect(t *testing.T) {
	page := startChromiumPage(t)
	u, _ := url.Parse(page.URL)
	// runChromium rather than ChromiumDumpDOM: the test looks at what the
	// sink refused.
	run := mustRunChromium(t, ChromiumOptions{}, []string{"--dump-dom", page.URL + "/direct"})
	if want := "script ran on " + u.Host; !strings.Contains(run.Stdout, want) {
		t.Fatalf("DOM lacks %q:\n%s", want, run.Stdout)
	}
	if via := page.requests(); len(via) != 1 || via[0] != "" {
		t.Errorf("origin saw Via %q, want one direct request", via)
	}
	// Background requests went to the sink, never to loopback there
	// (those are direct) and never anywhere else.
	for _, r := range run.Refused {
		if strings.Contains(r, "127.0.0.1") || strings.Contains(r, "localhost") {
			t.Errorf("a loopback request went to the sink: %s", r)
		}
	}
	t.Logf("refused background requests: %q", run.Refused)
	if left := groupMembers(run.PGID); len(left) > 0 {
		t.Errorf("processes left after the run: %v", left)
	}
}

// A recording proxy in place of sesame: Chromium must send the request for
// a 127.0.0.1 page to it (absolute-form), not to the origin.
func TestChromiumProxyServerCarriesLoopback(t *testing.T) {
	page := startChromiumPage(t)
	var mu sync.Mutex
	var seen []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.RequestURI)
		mu.Unlock()
		if r.Method == http.MethodConnect || !strings.HasPrefix(r.RequestURI, page.URL) {
			http.Error(w, "not the lab page", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<html><body><p>answered by the proxy for %s</p></body></html>", r.RequestURI)
	}))
	t.Cleanup(proxy.Close)
	dom := ChromiumDumpDOM(t, ChromiumOptions{ProxyServer: proxy.URL}, page.URL+"/via-proxy")
	if want := "answered by the proxy for " + page.URL + "/via-proxy"; !strings.Contains(dom, want) {
		t.Fatalf("DOM lacks %q:\n%s", want, dom)
	}
	if via := page.requests(); len(via) != 0 {
		t.Errorf("the origin was contacted directly: %q", via)
	}
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, s := range seen {
		found = found || s == "GET "+page.URL+"/via-proxy"
	}
	if !found {
		t.Errorf("proxy saw %q, want GET %s/via-proxy", seen, page.URL)
	}
	t.Logf("the proxy saw: %q", seen)
}

func TestChromiumScreenshot(t *testing.T) {
	page := startChromiumPage(t)
	file := filepath.Join(t.TempDir(), "page.png")
	ChromiumScreenshot(t, ChromiumOptions{WindowWidth: 800, WindowHeight: 600}, page.URL+"/shot", file)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 800 || b.Dy() != 600 {
		t.Fatalf("screenshot is %v, want 800x600", b)
	}
	// The page's blue box is rendered at the top left, the body is white.
	want := color.RGBA{0x10, 0x60, 0xc0, 0xff}
	if got := color.RGBAModel.Convert(img.At(150, 100)).(color.RGBA); got != want {
		t.Errorf("pixel in the box is %v, want %v", got, want)
	}
	if got := color.RGBAModel.Convert(img.At(700, 500)).(color.RGBA); got != (color.RGBA{0xff, 0xff, 0xff, 0xff}) {
		t.Errorf("pixel outside the box is %v, want white", got)
	}
}

// A page that never finishes loading: the run is killed at its timeout,
// with every process of its group.
func TestChromiumTimeoutKillsGroup(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) }) // runs first: unblocks the handler
	Require(t, chromiumBin)
	begin := time.Now()
	run, err := runChromium(t, ChromiumOptions{Timeout: 3 * time.Second}, []string{"--dump-dom", hang.URL + "/hang"})
	if err == nil || !strings.Contains(err.Error(), "did not finish") {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if d := time.Since(begin); d > 15*time.Second {
		t.Errorf("the timed-out run took %v", d)
	}
	if left := groupMembers(run.PGID); len(left) > 0 {
		t.Errorf("processes left after the timeout: %v", left)
	}
}

func TestChromiumOptionsChecked(t *testing.T) {
	for _, tc := range []struct {
		opts ChromiumOptions
		ok   bool
	}{
		{ChromiumOptions{}, true},
		{ChromiumOptions{ProxyServer: "http://127.0.0.1:3128"}, true},
		{ChromiumOptions{ProxyServer: "http://[::1]:3128"}, true},
		{ChromiumOptions{ExtraFlags: []string{"--ignore-certificate-errors"}}, true},
		{ChromiumOptions{ProxyServer: "http://10.1.2.3:3128"}, false},
		{ChromiumOptions{ProxyServer: "http://proxy.example:3128"}, false},
		{ChromiumOptions{ProxyServer: "http://localhost:3128"}, false},
		{ChromiumOptions{ProxyServer: "socks5://127.0.0.1:1080"}, false},
		{ChromiumOptions{ProxyServer: "http://127.0.0.1"}, false},
		{ChromiumOptions{ExtraFlags: []string{"--proxy-server=http://10.0.0.1:80"}}, false},
		{ChromiumOptions{ExtraFlags: []string{"--no-proxy-server"}}, false},
		{ChromiumOptions{ExtraFlags: []string{"--proxy-pac-url=http://x/"}}, false},
		{ChromiumOptions{ExtraFlags: []string{"--host-resolver-rules=MAP * 1.2.3.4"}}, false},
		{ChromiumOptions{ExtraFlags: []string{"--disable-features=X"}}, false},
		{ChromiumOptions{ExtraFlags: []string{"--user-data-dir=/root"}}, false},
		{ChromiumOptions{ExtraFlags: []string{"http://example.com/"}}, false},
		{ChromiumOptions{Env: []string{"KRB5CCNAME=FILE:/tmp/cc", "KRB5_CONFIG=/tmp/krb5.conf"}}, true},
		{ChromiumOptions{Env: []string{"http_proxy=http://10.0.0.1:80"}}, false},
		{ChromiumOptions{Env: []string{"KRB5CCNAME"}}, false},
	} {
		if err := checkChromiumOptions(tc.opts); (err == nil) != tc.ok {
			t.Errorf("%+v: err = %v, want ok=%v", tc.opts, err, tc.ok)
		}
	}
}

// The sink answers 403 and records the target, for plain and CONNECT.
func TestChromiumSinkProxy(t *testing.T) {
	s, err := startSinkProxy()
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []string{"GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"} {
		c, err := net.Dial("tcp", s.addr())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, req)
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		c.Close()
		if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 403 ") {
			t.Errorf("sink answered %q", buf[:n])
		}
	}
	if got := s.close(); len(got) != 2 || got[0] != "GET http://example.com/x" || got[1] != "CONNECT example.com:443" {
		t.Errorf("refused = %q", got)
	}
}
