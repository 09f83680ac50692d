package pac

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestDecodeText(t *testing.T) {
	for _, c := range []struct {
		raw     []byte
		charset string
		want    string
	}{
		{[]byte("abc"), "", "abc"},
		{[]byte("\xEF\xBB\xBFabc"), "", "abc"},
		{[]byte("caf\xC3\xA9"), "", "café"},
		{[]byte("caf\xE9"), "", "café"},                // not UTF-8: Latin-1
		{[]byte("caf\xC3\xA9"), "ISO-8859-1", "cafÃ©"}, // declared Latin-1 wins
		{[]byte("\xFF\xFEa\x00\xE9\x00"), "", "aé"},
		{[]byte("\xFE\xFF\x00a\x00\xE9"), "", "aé"},
	} {
		if got := string(DecodeText(c.raw, c.charset)); got != c.want {
			t.Errorf("DecodeText(%q, %q) = %q, want %q", c.raw, c.charset, got, c.want)
		}
	}
}

type pacServer struct {
	mu       sync.Mutex
	body     []byte
	etag     string
	ctype    string
	status   int
	requests int
	notMod   int
}

func (p *pacServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	if p.status != 0 {
		w.WriteHeader(p.status)
		return
	}
	if p.etag != "" && r.Header.Get("If-None-Match") == p.etag {
		p.notMod++
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if p.etag != "" {
		w.Header().Set("ETag", p.etag)
	}
	w.Header().Set("Content-Type", p.ctype)
	w.Write(p.body)
}

func (p *pacServer) set(f func(p *pacServer)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func TestLoaderHTTP(t *testing.T) {
	ps := &pacServer{
		// Latin-1 encoded comment and string: "é" is 0xE9.
		body:  []byte("// caf\xE9\nfunction FindProxyForURL(u, h) { return 'PROXY caf\xE9.example:1'; }"),
		etag:  `"v1"`,
		ctype: "application/x-ns-proxy-autoconfig",
	}
	srv := httptest.NewServer(ps) // 127.0.0.1
	defer srv.Close()
	l := &Loader{Source: srv.URL + "/proxy.pac", Refresh: time.Millisecond, Fail: FailLastGood, Options: baseOpts()}
	ctx := context.Background()
	got, err := l.FindProxyForURL(ctx, "http://a.test/", "")
	if err != nil || got != "PROXY café.example:1" {
		t.Fatalf("first: %q, %v", got, err)
	}
	first, _ := l.Script(ctx)
	time.Sleep(2 * time.Millisecond)
	second, _ := l.Script(ctx)
	if first != second || ps.notMod == 0 {
		t.Errorf("ETag not used: same script %v, 304s %d", first == second, ps.notMod)
	}

	// New content, new ETag: recompiled.
	ps.set(func(p *pacServer) {
		p.body = []byte("function FindProxyForURL(u, h) { return 'DIRECT'; }")
		p.etag = `"v2"`
	})
	time.Sleep(2 * time.Millisecond)
	if got, err := l.FindProxyForURL(ctx, "http://a.test/", ""); err != nil || got != "DIRECT" {
		t.Fatalf("after change: %q, %v", got, err)
	}

	// Server failure: last good script stays.
	ps.set(func(p *pacServer) { p.status = http.StatusInternalServerError })
	time.Sleep(2 * time.Millisecond)
	if got, err := l.FindProxyForURL(ctx, "http://a.test/", ""); err != nil || got != "DIRECT" {
		t.Fatalf("last good: %q, %v", got, err)
	}
	if err := l.Reload(ctx); err == nil {
		t.Error("Reload: no error from a 500")
	}

	// Broken script: last good stays.
	ps.set(func(p *pacServer) { p.status = 0; p.body = []byte("function ("); p.etag = `"v3"` })
	time.Sleep(2 * time.Millisecond)
	if got, err := l.FindProxyForURL(ctx, "http://a.test/", ""); err != nil || got != "DIRECT" {
		t.Fatalf("broken script: %q, %v", got, err)
	}
}

func TestLoaderFailModes(t *testing.T) {
	ps := &pacServer{status: http.StatusNotFound}
	srv := httptest.NewServer(ps)
	defer srv.Close()
	ctx := context.Background()

	l := &Loader{Source: srv.URL, Fail: FailDirect}
	if got, err := l.FindProxyForURL(ctx, "http://a.test/", ""); err != nil || got != "DIRECT" {
		t.Errorf("FailDirect: %q, %v", got, err)
	}
	l = &Loader{Source: srv.URL, Fail: FailError}
	if _, err := l.FindProxyForURL(ctx, "http://a.test/", ""); err == nil {
		t.Error("FailError: no error")
	}
	l = &Loader{Source: srv.URL, Fail: FailLastGood}
	if _, err := l.FindProxyForURL(ctx, "http://a.test/", ""); err == nil {
		t.Error("FailLastGood without a script: no error")
	}

	// FailDirect also covers evaluation errors.
	ps.set(func(p *pacServer) { p.status = 0; p.body = []byte("function FindProxyForURL(u, h) { throw 1; }") })
	l = &Loader{Source: srv.URL, Fail: FailDirect}
	if got, err := l.FindProxyForURL(ctx, "http://a.test/", ""); err != nil || got != "DIRECT" {
		t.Errorf("FailDirect on throw: %q, %v", got, err)
	}
	l = &Loader{Source: srv.URL, Fail: FailError}
	if _, err := l.FindProxyForURL(ctx, "http://a.test/", ""); err == nil {
		t.Error("FailError on throw: no error")
	}

	// FailError drops the last good script when the source breaks.
	ps.set(func(p *pacServer) { p.body = []byte("function FindProxyForURL(u, h) { return 'DIRECT'; }") })
	l = &Loader{Source: srv.URL, Fail: FailError, Refresh: time.Millisecond}
	if _, err := l.FindProxyForURL(ctx, "http://a.test/", ""); err != nil {
		t.Fatal(err)
	}
	ps.set(func(p *pacServer) { p.status = http.StatusBadGateway })
	time.Sleep(2 * time.Millisecond)
	if _, err := l.FindProxyForURL(ctx, "http://a.test/", ""); err == nil {
		t.Error("FailError kept a stale script")
	}
}

func TestLoaderFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "proxy.pac")
	write := func(body string, mod time.Time) {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now().Add(-time.Hour)
	write("\xEF\xBB\xBFfunction FindProxyForURL(u, h) { return 'PROXY a:1'; }", t0)
	ctx := context.Background()
	for _, src := range []string{path, "file://" + path} {
		l := &Loader{Source: src, Refresh: time.Millisecond}
		if got, err := l.FindProxyForURL(ctx, "http://x.test/", ""); err != nil || got != "PROXY a:1" {
			t.Fatalf("%s: %q, %v", src, got, err)
		}
	}
	l := &Loader{Source: path, Refresh: time.Millisecond}
	s1, _ := l.Script(ctx)
	time.Sleep(2 * time.Millisecond)
	if s2, _ := l.Script(ctx); s1 != s2 {
		t.Error("unchanged file recompiled")
	}
	write("function FindProxyForURL(u, h) { return 'PROXY b:2'; }", t0.Add(time.Minute))
	time.Sleep(2 * time.Millisecond)
	if got, _ := l.FindProxyForURL(ctx, "http://x.test/", ""); got != "PROXY b:2" {
		t.Errorf("changed file: %q", got)
	}
	big := bytes.Repeat([]byte(" "), MaxScriptSize+1)
	write(string(big), t0.Add(2*time.Minute))
	if err := l.Reload(ctx); err == nil {
		t.Error("oversized file accepted")
	}
}
