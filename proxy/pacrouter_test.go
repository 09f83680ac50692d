package proxy

import (
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/sesame-auth/sesame/pac"
)

// The script answers with what it was asked (escaped, as proxy host names
// are not case-sensitive), so the test sees the URL and host a CONNECT
// target turns into.
func echoPACRouter(t *testing.T) *PACRouter {
	t.Helper()
	path := filepath.Join(t.TempDir(), "echo.pac")
	src := `function FindProxyForURL(url, host) {
		return "PROXY " + (url + "|" + host).replace(/[^a-z0-9.]/g, function (c) { return "_" + c.charCodeAt(0) + "_"; }) + ":1";
	}`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return &PACRouter{Loader: &pac.Loader{Source: path}}
}

func TestPACRouterConnectTargets(t *testing.T) {
	r := echoPACRouter(t)
	for _, c := range []struct{ target, url, host string }{
		{"[::1]:443", "https://[::1]/", "::1"},
		{"[2001:db8::1]:8443", "https://[2001:db8::1]:8443/", "2001:db8::1"},
		{"www.corp.test:443", "https://www.corp.test/", "www.corp.test"},
		{"UPPER.Corp.Example:443", "https://upper.corp.example/", "upper.corp.example"},
		{"10.0.0.1:8443", "https://10.0.0.1:8443/", "10.0.0.1"},
	} {
		rs, err := r.Route(&url.URL{Host: c.target})
		if err != nil {
			t.Errorf("CONNECT %s: %v", c.target, err)
			continue
		}
		want := (&url.URL{Scheme: "http", Host: pacEscape(c.url+"|"+c.host) + ":1"}).String()
		if len(rs) != 1 || rs[0] == nil || rs[0].String() != want {
			t.Errorf("CONNECT %s: script asked %v, want %s (url %q, host %q)", c.target, rs, want, c.url, c.host)
		}
	}
}

// pacEscape is the echo script's escaping.
func pacEscape(s string) string {
	var out []byte
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.':
			out = append(out, c)
		default:
			out = append(out, '_')
			out = strconv.AppendInt(out, int64(c), 10)
			out = append(out, '_')
		}
	}
	return string(out)
}
