package pac

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeResolver answers from a map and counts lookups; it never touches
// the network.
type fakeResolver struct {
	mu    sync.Mutex
	hosts map[string][]string
	calls int
	delay time.Duration
}

func (f *fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	f.calls++
	list, ok := f.hosts[strings.ToLower(host)]
	f.mu.Unlock()
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, s := range list {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

func testResolver() *fakeResolver {
	return &fakeResolver{hosts: map[string][]string{
		"localhost":       {"127.0.0.1", "::1"},
		"www.corp.test":   {"10.1.2.3"},
		"v6only.test":     {"2001:db8::5"},
		"dual.test":       {"2001:db8::6", "192.0.2.7"},
		"intra.corp.test": {"172.16.5.5"},
	}}
}

// eval compiles a script whose FindProxyForURL returns String(expr).
func eval(t *testing.T, opts Options, expr string) string {
	t.Helper()
	src := "function FindProxyForURL(url, host) { return String(" + expr + "); }"
	s, err := Compile([]byte(src), opts)
	if err != nil {
		t.Fatalf("compile %q: %v", expr, err)
	}
	r, err := s.FindProxyForURL(context.Background(), "http://x.test/", "x.test")
	if err != nil {
		t.Fatalf("eval %q: %v", expr, err)
	}
	return r
}

func baseOpts() Options {
	return Options{Resolver: testResolver(), MyIP: StaticMyIP("10.20.30.40", "2001:db8::40")}
}

type exprCase struct{ expr, want string }

func runCases(t *testing.T, opts Options, cases []exprCase) {
	t.Helper()
	// One script evaluating all cases keeps the test fast.
	var b strings.Builder
	b.WriteString("function FindProxyForURL(url, host) { var r = [];\n")
	for _, c := range cases {
		fmt.Fprintf(&b, "try { r.push(String(%s)); } catch (e) { r.push('throw'); }\n", c.expr)
	}
	b.WriteString("return r.join('\\n'); }")
	s, err := Compile([]byte(b.String()), opts)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.FindProxyForURL(context.Background(), "http://x.test/", "x.test")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(r, "\n")
	for i, c := range cases {
		if got[i] != c.want {
			t.Errorf("%s = %q, want %q", c.expr, got[i], c.want)
		}
	}
}

func TestHostFunctions(t *testing.T) {
	runCases(t, baseOpts(), []exprCase{
		{`isPlainHostName("intranet")`, "true"},
		{`isPlainHostName("www.corp.test")`, "false"},
		{`isPlainHostName("::1")`, "false"},
		{`isPlainHostName("fe80::1")`, "false"},
		{`isPlainHostName("")`, "true"},
		{`dnsDomainIs("www.corp.test", ".corp.test")`, "true"},
		{`dnsDomainIs("www.corp.test", "corp.test")`, "true"},
		{`dnsDomainIs("www.evilcorp.test", ".corp.test")`, "false"},
		{`dnsDomainIs("corp.test", ".corp.test")`, "false"},
		{`dnsDomainIs("WWW.CORP.TEST", ".corp.test")`, "false"}, // case-sensitive, as browsers
		{`dnsDomainIs("a", "")`, "true"},
		{`localHostOrDomainIs("www", "www.corp.test")`, "true"},
		{`localHostOrDomainIs("www.corp.test", "www.corp.test")`, "true"},
		{`localHostOrDomainIs("www.other.test", "www.corp.test")`, "false"},
		{`localHostOrDomainIs("home", "www.corp.test")`, "false"},
		{`localHostOrDomainIs("WWW", "www.corp.test")`, "false"},
		{`dnsDomainLevels("www")`, "0"},
		{`dnsDomainLevels("www.corp.test")`, "2"},
		{`dnsDomainLevels("a.b.c.d.")`, "4"},
	})
}

func TestDNSFunctions(t *testing.T) {
	runCases(t, baseOpts(), []exprCase{
		{`dnsResolve("www.corp.test")`, "10.1.2.3"},
		{`dnsResolve("WWW.Corp.Test")`, "10.1.2.3"},
		{`dnsResolve("nope.test")`, "null"},
		{`dnsResolve("v6only.test")`, "null"}, // IPv4 only, as Chromium
		{`dnsResolve("dual.test")`, "192.0.2.7"},
		{`dnsResolve("192.0.2.1")`, "192.0.2.1"},
		{`dnsResolve("::1")`, "null"},
		{`isResolvable("www.corp.test")`, "true"},
		{`isResolvable("nope.test")`, "false"},
		{`isResolvable("v6only.test")`, "false"},
		{`isResolvableEx("v6only.test")`, "true"},
		{`isResolvableEx("nope.test")`, "false"},
		{`dnsResolveEx("dual.test")`, "2001:db8::6;192.0.2.7"},
		{`dnsResolveEx("nope.test")`, ""},
		{`dnsResolveEx("2001:db8::1")`, "2001:db8::1"},
		{`myIpAddress()`, "10.20.30.40"},
		{`myIpAddressEx()`, "10.20.30.40;2001:db8::40"},
		{`isInNet("10.1.2.3", "10.0.0.0", "255.0.0.0")`, "true"},
		{`isInNet("11.1.2.3", "10.0.0.0", "255.0.0.0")`, "false"},
		{`isInNet("www.corp.test", "10.1.0.0", "255.255.0.0")`, "true"},
		{`isInNet("intra.corp.test", "172.16.0.0", "255.240.0.0")`, "true"},
		{`isInNet("nope.test", "0.0.0.0", "0.0.0.0")`, "false"},
		{`isInNet("v6only.test", "0.0.0.0", "0.0.0.0")`, "false"},
		{`isInNet("10.1.2.3", "10.0.0", "255.0.0.0")`, "false"},
		{`isInNet("10.1.2.3", "10.0.0.0", "255.0.0.256")`, "false"},
		{`isInNet("010.001.002.003", "10.1.2.3", "255.255.255.255")`, "true"},
		{`isInNet("192.168.1.1", "192.168.1.1", "0.0.0.0")`, "true"},
		{`isInNet("255.255.255.255", "255.0.0.0", "255.0.0.0")`, "true"},
		{`convert_addr("104.16.41.2")`, "1745889538"},
		{`convert_addr("255.255.255.255")`, "-1"},
		{`convert_addr("1.2.3")`, "16909056"},
		{`convert_addr("256.1.x.4")`, "65540"},
		{`isInNetEx("198.95.249.79", "198.95.0.0/16")`, "true"},
		{`isInNetEx("198.96.249.79", "198.95.0.0/16")`, "false"},
		{`isInNetEx("2001:db8::1", "2001:db8::/32")`, "true"},
		{`isInNetEx("2001:db9::1", "2001:db8::/32")`, "false"},
		{`isInNetEx("10.0.0.1", "::ffff:10.0.0.0/104")`, "true"},
		{`isInNetEx("www.corp.test", "10.0.0.0/8")`, "false"},
		{`isInNetEx("10.0.0.1", "10.0.0.0")`, "false"},
		{`sortIpAddressList("10.2.3.9;2001:4898:28:3:201:2ff:feea:fc14;::1;127.0.0.1;::9")`,
			"::1;::9;2001:4898:28:3:201:2ff:feea:fc14;10.2.3.9;127.0.0.1"},
		{`sortIpAddressList("10.0.0.2;10.0.0.10;9.255.255.255")`, "9.255.255.255;10.0.0.2;10.0.0.10"},
		{`sortIpAddressList("10.0.0.1;bogus")`, "false"},
		{`sortIpAddressList("")`, "false"},
		{`getClientVersion()`, "1.0"},
	})
}

func TestMyIPFallback(t *testing.T) {
	opts := baseOpts()
	opts.MyIP = StaticMyIP()
	runCases(t, opts, []exprCase{{`myIpAddress()`, "127.0.0.1"}, {`myIpAddressEx()`, ""}})
	opts.MyIP = StaticMyIP("2001:db8::9")
	runCases(t, opts, []exprCase{{`myIpAddress()`, "127.0.0.1"}, {`myIpAddressEx()`, "2001:db8::9"}})
}

func TestDefaultMyIPSendsNothing(t *testing.T) {
	// Only checks that it answers without error; UDP connect sends no
	// packet.
	if _, err := DefaultMyIP(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestShExpMatch(t *testing.T) {
	runCases(t, baseOpts(), []exprCase{
		{`shExpMatch("http://home.netscape.com/people/ari/index.html", "*/ari/*")`, "true"},
		{`shExpMatch("http://home.netscape.com/people/montulli/index.html", "*/ari/*")`, "false"},
		{`shExpMatch("www.corp.test", "*.corp.test")`, "true"},
		{`shExpMatch("corp.test", "*.corp.test")`, "false"},
		{`shExpMatch("wwwXcorp.test", "www.corp.test")`, "false"}, // "." is literal
		{`shExpMatch("abc", "a?c")`, "true"},
		{`shExpMatch("ac", "a?c")`, "false"},
		{`shExpMatch("ABC", "abc")`, "false"}, // case-sensitive
		{`shExpMatch("", "*")`, "true"},
		{`shExpMatch("", "")`, "true"},
		{`shExpMatch("x", "")`, "false"},
		{`shExpMatch("a*b", "a*b")`, "true"},
		{`shExpMatch("aXYZb", "a*b*")`, "true"},
		{`shExpMatch("mississippi", "*sip*")`, "true"},
		{`shExpMatch("mississippi", "m*iss*ppi")`, "true"},
		{`shExpMatch("mississippi", "m*iss*ppx")`, "false"},
		// Other characters keep their regular-expression meaning, as in
		// Chromium and Firefox.
		{`shExpMatch("b", "[abc]")`, "true"},
		{`shExpMatch("[abc]", "[abc]")`, "false"},
		{`shExpMatch("aab", "a+b")`, "true"},
		{`shExpMatch("a+b", "a+b")`, "false"},
		{`shExpMatch("foo", "(foo|bar)")`, "true"},
		{`shExpMatch("x", "(")`, "throw"},
		{`shExpMatch("a$", "a$")`, "false"},
		{`shExpMatch("a\\b", "a\\\\b")`, "true"},
		// "*" and "?" don't cross line terminators (regexp "."),
		{`shExpMatch("a\nb", "a*b")`, "false"},
		{`shExpMatch("a\nb", "a?b")`, "false"},
		// and work on UTF-16 code units.
		{`shExpMatch("h\u00e9llo", "h?llo")`, "true"},
		{`shExpMatch("\ud83d\ude00", "?")`, "false"},
		{`shExpMatch("\ud83d\ude00", "??")`, "true"},
	})
}

func TestGlobMatchesRegexp(t *testing.T) {
	// The fast path must agree with the regular-expression path.
	s, err := Compile([]byte(`function FindProxyForURL(u, h) { return ""; }`), baseOpts())
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	subjects := []string{"", "a", "ab", "abc", "aXbXc", "a.b", "a.b.c", "http://x.corp/a?b=c", "***", "?"}
	patterns := []string{"", "*", "?", "a*", "*c", "a?c", "a*b*c", "*.*", "a.b", "**", "?*?", "*?", "http://*.corp/*", "*\\?*"}
	for _, str := range subjects {
		for _, pat := range patterns {
			if !isPlainGlob(pat) {
				continue
			}
			src := strings.ReplaceAll(pat, ".", `\.`)
			src = strings.ReplaceAll(src, "*", ".*")
			src = strings.ReplaceAll(src, "?", ".")
			re, err := v.rt.New(v.regexpCtor, v.rt.ToValue("^"+src+"$"))
			if err != nil {
				t.Fatal(err)
			}
			want, _ := v.regexpTest(re, v.rt.ToValue(str))
			if got := globMatch(str, pat); got != want.ToBoolean() {
				t.Errorf("globMatch(%q, %q) = %v, regexp says %v", str, pat, got, want)
			}
		}
	}
}

func TestDNSCacheAndTimeout(t *testing.T) {
	r := testResolver()
	opts := baseOpts()
	opts.Resolver = r
	s, err := Compile([]byte(`function FindProxyForURL(u, h) {
		return String(dnsResolve(h)) + String(isResolvable(h)) + String(isInNet(h, "10.0.0.0", "255.0.0.0")); }`), opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, err := s.FindProxyForURL(context.Background(), "http://www.corp.test/", "www.corp.test"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FindProxyForURL(context.Background(), "http://nope.test/", "nope.test"); err != nil {
			t.Fatal(err)
		}
	}
	if r.calls != 2 {
		t.Errorf("resolver called %d times, want 2 (cache, negative cache)", r.calls)
	}

	slow := testResolver()
	slow.delay = time.Hour
	opts.Resolver = slow
	opts.DNSTimeout = 30 * time.Millisecond
	s, err = Compile([]byte(`function FindProxyForURL(u, h) { return String(dnsResolve(h)); }`), opts)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r2, err := s.FindProxyForURL(context.Background(), "http://www.corp.test/", "")
	if err != nil || r2 != "null" {
		t.Fatalf("slow DNS: %q, %v", r2, err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("slow lookup took %v", d)
	}
}

func TestURLPreparation(t *testing.T) {
	s, err := Compile([]byte(`function FindProxyForURL(url, host) { return url + " " + host; }`), baseOpts())
	if err != nil {
		t.Fatal(err)
	}
	keep, err := Compile([]byte(`function FindProxyForURL(url, host) { return url + " " + host; }`),
		Options{Resolver: testResolver(), KeepHTTPSURL: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s         *Script
		url, host string
		want      string
	}{
		{s, "https://www.corp.test/secret/path?q=1#frag", "", "https://www.corp.test/ www.corp.test"},
		{s, "https://www.corp.test:443/x", "", "https://www.corp.test/ www.corp.test"},
		{s, "https://www.corp.test:8443/x", "", "https://www.corp.test:8443/ www.corp.test"},
		{s, "wss://chat.corp.test/room?id=5", "", "wss://chat.corp.test/ chat.corp.test"},
		{s, "http://user:pw@www.corp.test/a?b#c", "", "http://www.corp.test/a?b www.corp.test"},
		{s, "http://[2001:db8::1]:8080/x", "", "http://[2001:db8::1]:8080/x 2001:db8::1"},
		{s, "http://WWW.Corp.Test/", "", "http://www.corp.test/ www.corp.test"},
		{s, "ftp://files.corp.test/pub", "given.host", "ftp://files.corp.test/pub given.host"},
		{keep, "https://www.corp.test/secret?q=1", "", "https://www.corp.test/secret?q=1 www.corp.test"},
	} {
		got, err := c.s.FindProxyForURL(context.Background(), c.url, c.host)
		if err != nil || got != c.want {
			t.Errorf("FindProxyForURL(%q, %q) = %q, %v; want %q", c.url, c.host, got, err, c.want)
		}
	}
}

func TestFindProxyForURLExPreferred(t *testing.T) {
	s, err := Compile([]byte(`
		function FindProxyForURL(u, h) { return "PROXY old:1"; }
		function FindProxyForURLEx(u, h) { return "PROXY new:2"; }`), baseOpts())
	if err != nil {
		t.Fatal(err)
	}
	if !s.HasEx() {
		t.Error("HasEx false")
	}
	r, err := s.FindProxyForURLEx(context.Background(), "http://a.test/", "")
	if err != nil || r != "PROXY new:2" {
		t.Errorf("got %q, %v", r, err)
	}
	s, err = Compile([]byte(`function FindProxyForURLEx(u, h) { return "DIRECT"; }`), baseOpts())
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := s.FindProxyForURL(context.Background(), "http://a.test/", ""); r != "DIRECT" {
		t.Errorf("Ex only: %q", r)
	}
}

func TestCompileErrors(t *testing.T) {
	for name, src := range map[string]string{
		"syntax":   "function FindProxyForURL(u, h) { return ",
		"missing":  "var x = 1;",
		"notfunc":  "var FindProxyForURL = 5;",
		"toplevel": "throw new Error('boom'); function FindProxyForURL(u, h) { return 'DIRECT'; }",
		"toploop":  "while (true) {} function FindProxyForURL(u, h) { return 'DIRECT'; }",
	} {
		opts := baseOpts()
		opts.Timeout = 100 * time.Millisecond
		if _, err := Compile([]byte(src), opts); err == nil {
			t.Errorf("%s: compiled", name)
		}
	}
	big := make([]byte, MaxScriptSize+1)
	if _, err := Compile(big, Options{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("big script: %v", err)
	}
}

func TestResultChecks(t *testing.T) {
	for _, c := range []struct{ body string }{
		{"return 5;"},
		{"return null;"},
		{"return;"},
		{"return {toString: function() { return 'DIRECT'; }};"},
		{"var s = 'PROXY a:1;'; while (s.length < 100000) s += s; return s;"},
	} {
		s, err := Compile([]byte("function FindProxyForURL(u, h) { "+c.body+" }"), baseOpts())
		if err != nil {
			t.Fatal(err)
		}
		if r, err := s.FindProxyForURL(context.Background(), "http://a.test/", ""); !errors.Is(err, ErrScript) {
			t.Errorf("%s: got %q, %v", c.body, r, err)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	s, err := Compile([]byte(`var n = 0;
		function FindProxyForURL(u, h) {
			n++;
			if (isInNet(h, "10.0.0.0", "255.0.0.0")) return "DIRECT";
			return "PROXY " + h + ":8080";
		}`), baseOpts())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				host := fmt.Sprintf("h%d-%d.test", g, i)
				want := "PROXY " + host + ":8080"
				if i%2 == 0 {
					host = fmt.Sprintf("10.0.%d.%d", g, i%250)
					want = "DIRECT"
				}
				r, err := s.FindProxyForURL(context.Background(), "http://"+host+"/", host)
				if err != nil || r != want {
					t.Errorf("%s: %q %v", host, r, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}
