package pac

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseResult(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []Proxy
	}{
		{"DIRECT", []Proxy{{DIRECT, ""}}},
		{"PROXY p.corp:8080; DIRECT", []Proxy{{PROXY, "p.corp:8080"}, {DIRECT, ""}}},
		{"  proxy   P.Corp:8080 ;;; direct ;", []Proxy{{PROXY, "p.corp:8080"}, {DIRECT, ""}}},
		{"PROXY p.corp", []Proxy{{PROXY, "p.corp:80"}}},
		{"HTTP p.corp", []Proxy{{HTTP, "p.corp:80"}}},
		{"HTTPS p.corp", []Proxy{{HTTPS, "p.corp:443"}}},
		{"SOCKS s.corp; SOCKS4 s4.corp:1081; SOCKS5 s5.corp", []Proxy{{SOCKS, "s.corp:1080"}, {SOCKS4, "s4.corp:1081"}, {SOCKS5, "s5.corp:1080"}}},
		{"PROXY [2001:db8::1]:3128", []Proxy{{PROXY, "[2001:db8::1]:3128"}}},
		{"PROXY [2001:db8::1]", []Proxy{{PROXY, "[2001:db8::1]:80"}}},
		{"PROXY 2001:db8::1", []Proxy{{PROXY, "[2001:db8::1]:80"}}},
		{"PROXY 10.0.0.1:3128", []Proxy{{PROXY, "10.0.0.1:3128"}}},
		{"PROXY\tp.corp:8080", []Proxy{{PROXY, "p.corp:8080"}}},
		// Junk is skipped, the rest kept in order.
		{"BOGUS x:1; PROXY a:1; PROXY; PROXY b:0; PROXY c:65536; PROXY d:x; PROXY e:1 f; DIRECT x; PROXY g:2",
			[]Proxy{{PROXY, "a:1"}, {PROXY, "g:2"}}},
		{"PROXY http://p.corp:8080", nil},
		{"PROXY p.corp:", nil},
		{"PROXY [::1", nil},
		{"PROXY [10.0.0.1]:80", nil},
		{"PROXY a/b:80", nil},
		{"", nil},
		{";;;", nil},
	} {
		if got := ParseResult(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseResult(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestProxyString(t *testing.T) {
	ps := ParseResult("PROXY a:1; DIRECT; SOCKS5 b")
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	if got := strings.Join(s, "; "); got != "PROXY a:1; DIRECT; SOCKS5 b:1080" {
		t.Errorf("got %q", got)
	}
}

func FuzzParseResult(f *testing.F) {
	for _, s := range []string{"DIRECT", "PROXY a:1; DIRECT", "SOCKS5 [::1]:1080;HTTPS x", "PROXY 2001:db8::1", " ;proxy A:65535 ;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps := ParseResult(s)
		if len(ps) > strings.Count(s, ";")+1 {
			t.Fatalf("%d entries from %d elements", len(ps), strings.Count(s, ";")+1)
		}
		// Every entry formats to something that parses back to itself.
		for _, p := range ps {
			back := ParseResult(p.String())
			if len(back) != 1 || back[0] != p {
				t.Fatalf("%q: %v does not round-trip (%v)", s, p, back)
			}
			if p.Type == DIRECT && p.Host != "" || p.Type != DIRECT && p.Host == "" {
				t.Fatalf("%q: bad entry %#v", s, p)
			}
		}
	})
}
