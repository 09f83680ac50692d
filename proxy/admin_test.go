package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/ntlm"
)

func TestAdmin(t *testing.T) {
	a, _ := ParseUpstream("proxy-a.test:3128")
	b, _ := ParseUpstream("proxy-b.test:3128")
	ups := &Upstreams{List: []*url.URL{a, b}}
	ups.Fail(b)
	srv := &Server{
		Router:    &StaticRouter{Upstreams: ups, NoProxy: mustNoProxy(t, "intranet.test")},
		Upstreams: ups,
		Transport: &auth.Transport{ProxyCredentials: []auth.Credential{&auth.NTLM{Client: ntlm.Client{User: `CORP\alice`, Password: "AlicePass123"}}}},
	}
	srv.init()
	srv.recent.add(RecentError{Method: "GET", Target: "http://broken.test/", Upstream: "proxy-a.test:3128", Err: "dial tcp: refused"})
	sw := &Switch{}
	sw.Store(srv)
	h := &Admin{Proxy: sw, ProxyAddrs: []string{"0.0.0.0:3128"}, Version: "test"}
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1:3129"+path, nil))
		body, _ := io.ReadAll(rec.Result().Body)
		return rec.Code, string(body)
	}
	code, page := get("/?url=https://web.test/x")
	for _, want := range []string{"proxy-a.test:3128", "down (blocked)", `CORP\alice`, "broken.test", "PROXY proxy-a.test:3128; PROXY proxy-b.test:3128"} {
		if code != 200 || !strings.Contains(page, want) {
			t.Errorf("status page lacks %q (code %d)", want, code)
		}
	}
	if strings.Contains(page, "AlicePass123") {
		t.Error("status page shows the password")
	}
	_, m := get("/metrics")
	for _, want := range []string{"sesame_requests_total 0", `sesame_upstream_up{upstream="proxy-b.test:3128"} 0`, `sesame_upstream_up{upstream="proxy-a.test:3128"} 1`, "# TYPE sesame_tunnels_active gauge"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}
	_, pac := get("/proxy.pac")
	if !strings.Contains(pac, `return "PROXY 127.0.0.1:3128"`) {
		t.Errorf("pac:\n%s", pac)
	}
	if code, r := get("/route?url=http://intranet.test/"); code != 200 || strings.TrimSpace(r) != "DIRECT" {
		t.Errorf("route: %d %q", code, r)
	}
	if code, _ := get("/route?url=nonsense"); code != http.StatusBadRequest {
		t.Errorf("bad route URL: %d", code)
	}
	if code, _ := get("/nope"); code != 404 {
		t.Errorf("unknown path: %d", code)
	}
}

// Gateway mode: only allow-listed networks (and loopback) are served; by
// default only loopback is.
func TestClientAllowList(t *testing.T) {
	for _, tc := range []struct {
		allowed []netip.Prefix
		remote  string
		want    int
	}{
		{nil, "10.1.2.3:5555", http.StatusForbidden},
		{nil, "[2001:db8::1]:5555", http.StatusForbidden},
		{[]netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")}, "10.1.2.3:5555", http.StatusForbidden},
		{[]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "10.1.2.3:5555", http.StatusBadRequest}, // served: not absolute-form
		{nil, "127.0.0.1:5555", http.StatusBadRequest},
		{nil, "[::1]:5555", http.StatusBadRequest},
	} {
		srv := &Server{Transport: &auth.Transport{}, AllowedClients: tc.allowed}
		req := httptest.NewRequest("GET", "/not-absolute", nil)
		req.RemoteAddr = tc.remote
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("allowed %v, client %s: %d, want %d", tc.allowed, tc.remote, rec.Code, tc.want)
		}
	}
}
