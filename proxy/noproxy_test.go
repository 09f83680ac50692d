package proxy

import (
	"net/url"
	"testing"
	"time"
)

func TestNoProxy(t *testing.T) {
	np, err := ParseNoProxy("example.com, .corp.test;*.wild.test 10.0.0.0/8 ::1 192.168.1.5 <local> api.test:8443")
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"example.com":          true,
		"EXAMPLE.com:443":      true,
		"www.example.com":      true,
		"badexample.com":       false,
		"corp.test":            true,
		"a.b.corp.test:80":     true,
		"wild.test":            false,
		"x.wild.test":          true,
		"10.1.2.3:8080":        true,
		"11.1.2.3":             false,
		"[::1]:80":             true,
		"192.168.1.5":          true,
		"192.168.1.6":          false,
		"intranet":             true, // <local>
		"intranet.other":       false,
		"api.test:8443":        true,
		"api.test:443":         false,
		"example.com.":         true,
		"[::ffff:10.0.0.1]:80": true,
	} {
		if got := np.Match(host); got != want {
			t.Errorf("Match(%q) = %v, want %v", host, got, want)
		}
	}
	all, _ := ParseNoProxy("*")
	if !all.Match("anything.example") {
		t.Error("* must match everything")
	}
	var none *NoProxy
	if none.Match("x") {
		t.Error("nil NoProxy matched")
	}
	for _, bad := range []string{"10.0.0.0/99", "[a-"} {
		if _, err := ParseNoProxy(bad); err == nil {
			t.Errorf("ParseNoProxy(%q) accepted", bad)
		}
	}
}

func FuzzParseNoProxy(f *testing.F) {
	for _, s := range []string{"example.com,.corp.test", "*.x.test:80 10.0.0.0/8", "<local>;::1", "[::1]:80", "*", "a[b"} {
		f.Add(s, "host.example.com:443")
	}
	f.Fuzz(func(t *testing.T, list, host string) {
		np, err := ParseNoProxy(list)
		if err != nil {
			return
		}
		np.Match(host)
	})
}

func TestUpstreamsFailover(t *testing.T) {
	a, _ := ParseUpstream("proxy-a.test:3128")
	b, _ := ParseUpstream("http://proxy-b.test")
	if b.Host != "proxy-b.test:8080" {
		t.Errorf("default port: %s", b.Host)
	}
	now := time.Unix(1000, 0)
	u := &Upstreams{List: []*url.URL{a, b}, BlockFor: time.Minute, now: func() time.Time { return now }}
	if c := u.Candidates(); c[0] != a || c[1] != b {
		t.Fatalf("order %v", c)
	}
	u.Fail(a)
	if c := u.Candidates(); c[0] != b || c[1] != a {
		t.Fatalf("after failure of a: %v", c)
	}
	if h := u.Health(); h[a.Host] || !h[b.Host] {
		t.Errorf("health %v", h)
	}
	now = now.Add(2 * time.Minute)
	if c := u.Candidates(); c[0] != a {
		t.Fatalf("block did not expire: %v", c)
	}
	u.Fail(b)
	u.OK(b)
	if h := u.Health(); !h[b.Host] {
		t.Errorf("OK did not lift the block")
	}
	for _, bad := range []string{"socks5://x:1", "http://", "http://u:p@x:1"} {
		if _, err := ParseUpstream(bad); err == nil {
			t.Errorf("ParseUpstream(%q) accepted", bad)
		}
	}
	r := &StaticRouter{Upstreams: u, NoProxy: mustNoProxy(t, "direct.test"), DirectFallback: true}
	if rs, _ := r.Route(&url.URL{Host: "direct.test:80"}); len(rs) != 1 || rs[0] != nil {
		t.Errorf("NoProxy route %v", rs)
	}
	if rs, _ := r.Route(&url.URL{Host: "web.test:80"}); len(rs) != 3 || rs[2] != nil {
		t.Errorf("route with fallback %v", rs)
	}
}

func mustNoProxy(t *testing.T, s string) *NoProxy {
	np, err := ParseNoProxy(s)
	if err != nil {
		t.Fatal(err)
	}
	return np
}
