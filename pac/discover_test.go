package pac

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

// fixture reads pac/testdata/discover/name.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "discover", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeCommands answers commands from recorded output, keyed by the
// command line; anything else fails as a missing program would.
func fakeCommands(t *testing.T, outputs map[string]string) CommandRunner {
	return func(_ context.Context, name string, args ...string) ([]byte, error) {
		line := strings.Join(append([]string{name}, args...), " ")
		if f, ok := outputs[line]; ok {
			return fixture(t, f), nil
		}
		return nil, &os.PathError{Op: "exec", Path: name, Err: os.ErrNotExist}
	}
}

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// offlineOptions touch nothing of the real system: no environment, no
// commands, no files, no WPAD.
func offlineOptions(t *testing.T) DiscoverOptions {
	return DiscoverOptions{
		Getenv:   envMap(nil),
		Commands: fakeCommands(t, nil),
		Files:    fstest.MapFS{},
		Hostname: func() (string, error) { return "host", nil },
		GOOS:     "linux",
		NoWPAD:   true,
		Trace:    func(s string) { t.Log("trace: " + s) },
		Resolver: failResolver{},
	}
}

type failResolver struct{}

func (failResolver) LookupHost(context.Context, string) ([]string, error) {
	return nil, errors.New("no DNS in this test")
}

func discover(t *testing.T, o DiscoverOptions) []Setting {
	t.Helper()
	s, err := Discover(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func proxies(t Type, hosts ...string) []Proxy {
	var ps []Proxy
	for _, h := range hosts {
		ps = append(ps, Proxy{Type: t, Host: h})
	}
	return ps
}

func TestDiscoverEnv(t *testing.T) {
	o := offlineOptions(t)
	o.Getenv = envMap(map[string]string{
		"HTTP_PROXY":  "http://alice:secret@proxy.corp.example:8080",
		"http_proxy":  "http://lower.example:1",
		"https_proxy": "proxy.corp.example:3128",
		"ALL_PROXY":   "socks5h://socks.corp.example",
		"NO_PROXY":    "localhost, .corp.example,10.0.0.0/8",
	})
	got := discover(t, o)
	want := []Setting{{
		Source: "env HTTP_PROXY https_proxy ALL_PROXY NO_PROXY",
		SchemeProxies: map[string][]Proxy{
			"http":  proxies(PROXY, "proxy.corp.example:8080"),
			"https": proxies(PROXY, "proxy.corp.example:3128"),
		},
		Proxies: proxies(SOCKS5, "socks.corp.example:1080"),
		NoProxy: "localhost,.corp.example,10.0.0.0/8",
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
	if s := got[0].String(); strings.Contains(s, "secret") {
		t.Errorf("String shows the password: %s", s)
	}
	if p := got[0].ProxiesFor("ftp"); !reflect.DeepEqual(p, want[0].Proxies) {
		t.Errorf("ProxiesFor(ftp) = %v", p)
	}

	// Under CGI, HTTP_PROXY is the client's Proxy: header (httpoxy).
	o.Getenv = envMap(map[string]string{"HTTP_PROXY": "http://evil.example:80", "REQUEST_METHOD": "GET"})
	if got := discover(t, o); len(got) != 0 {
		t.Errorf("CGI: got %v, want nothing", got)
	}
}

func TestDiscoverGNOME(t *testing.T) {
	tests := []struct {
		fixture string
		want    []Setting
	}{
		{"gsettings-manual.txt", []Setting{{
			Source: "gsettings org.gnome.system.proxy",
			SchemeProxies: map[string][]Proxy{
				"http":  proxies(PROXY, "proxy.corp.example:8080"),
				"https": proxies(PROXY, "secure-proxy.corp.example:3128"),
			},
			Proxies: proxies(SOCKS5, "socks.corp.example:1080"),
			NoProxy: "localhost,127.0.0.0/8,::1,*.corp.example,10.0.0.0/8",
		}}},
		{"gsettings-auto.txt", []Setting{{Source: "gsettings org.gnome.system.proxy", PACURL: "http://pac.corp.example/proxy.pac"}}},
		{"gsettings-auto-wpad.txt", nil},
		{"gsettings-none.txt", []Setting{{Source: "gsettings org.gnome.system.proxy", Direct: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			o := offlineOptions(t)
			o.Commands = fakeCommands(t, map[string]string{"gsettings list-recursively org.gnome.system.proxy": tt.fixture})
			if got := discover(t, o); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestDiscoverGVariant(t *testing.T) {
	if s, ok := gvString(`"it's"`); !ok || s != "it's" {
		t.Errorf("gvString = %q %v", s, ok)
	}
	if s, ok := gvString(`'a\'b\\c\u00e9'`); !ok || s != `a'b\cé` {
		t.Errorf("gvString = %q %v", s, ok)
	}
	if got := gvStrings(`@as []`); len(got) != 0 {
		t.Errorf("gvStrings(@as []) = %q", got)
	}
	if got := gvStrings(`['a', "b'c", 'd,e']`); !reflect.DeepEqual(got, []string{"a", "b'c", "d,e"}) {
		t.Errorf("gvStrings = %q", got)
	}
	if n := gvInt("uint32 8080"); n != 8080 {
		t.Errorf("gvInt = %d", n)
	}
}

func TestDiscoverKDE(t *testing.T) {
	manual := Setting{
		Source: "kioslaverc",
		SchemeProxies: map[string][]Proxy{
			"http":  proxies(PROXY, "proxy.corp.example:8080"),
			"https": proxies(PROXY, "proxy.corp.example:8080"),
		},
		Proxies: proxies(SOCKS, "socks.corp.example:1080"),
		NoProxy: "localhost,127.0.0.1,.corp.example",
	}
	tests := []struct {
		fixture string
		env     map[string]string
		want    []Setting
	}{
		{"kioslaverc-manual", nil, []Setting{manual}},
		{"kioslaverc-pac", nil, []Setting{{Source: "kioslaverc", PACURL: "http://pac.corp.example/proxy.pac"}}},
		// ProxyType 4: the keys name variables; "no_proxy" and
		// "https_proxy" stand in for a KDE session's environment,
		// which the env step (upper-case names only here) misses.
		{"kioslaverc-env", map[string]string{"https_proxy": "http://p.corp.example:81", "no_proxy": ".corp.example"}, []Setting{{
			Source:        "kioslaverc",
			SchemeProxies: map[string][]Proxy{"https": proxies(PROXY, "p.corp.example:81")},
			NoProxy:       ".corp.example",
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			env := map[string]string{"HOME": "/home/alice", "XDG_CURRENT_DESKTOP": "KDE"}
			for k, v := range tt.env {
				env[k] = v
			}
			data := fixture(t, tt.fixture)
			s, _ := parseKioslaverc(data, envMap(env))
			if tt.env == nil {
				o := offlineOptions(t)
				o.Getenv = envMap(env)
				o.Files = fstest.MapFS{"home/alice/.config/kioslaverc": {Data: data}}
				// gsettings answers too, but KDE's settings come first
				// in a KDE session, and "direct" doesn't stop discovery.
				o.Commands = fakeCommands(t, map[string]string{"gsettings list-recursively org.gnome.system.proxy": "gsettings-none.txt"})
				s = discover(t, o)
			}
			if !reflect.DeepEqual(s, tt.want) {
				t.Fatalf("got %#v\nwant %#v", s, tt.want)
			}
		})
	}
}

func TestDiscoverScutil(t *testing.T) {
	const src = "scutil --proxy"
	tests := []struct {
		fixture string
		want    []Setting
	}{
		{"scutil-manual.txt", []Setting{
			{Source: src, PACURL: "http://pac.corp.example/proxy.pac"},
			{
				Source: src,
				SchemeProxies: map[string][]Proxy{
					"http":  proxies(PROXY, "proxy.corp.example:8080"),
					"https": proxies(PROXY, "proxy.corp.example:8443"),
				},
				NoProxy: "*.local,169.254.0.0/16,*.corp.example,<local>",
			},
		}},
		{"scutil-none.txt", []Setting{{Source: src, Direct: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			o := offlineOptions(t)
			o.GOOS = "darwin"
			o.All = true
			o.Commands = fakeCommands(t, map[string]string{"scutil --proxy": tt.fixture})
			if got := discover(t, o); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestDiscoverInternetSettings(t *testing.T) {
	const src = "registry Internet Settings"
	tests := []struct {
		name string
		v    internetSettings
		want []Setting
	}{
		{"off", internetSettings{ProxyServer: "stale:8080"}, []Setting{{Source: src, Direct: true}}},
		{"autodetect", internetSettings{AutoDetect: true}, nil},
		{"one proxy", internetSettings{
			ProxyEnable: true, ProxyServer: "proxy.corp.example:8080", ProxyOverride: "*.corp.example;10.*;<local>",
		}, []Setting{{Source: src, Proxies: proxies(PROXY, "proxy.corp.example:8080"), NoProxy: "*.corp.example,10.*,<local>"}}},
		{"per scheme and PAC", internetSettings{
			AutoConfigURL: "http://pac.corp.example/proxy.pac",
			ProxyEnable:   true, ProxyServer: "http=web.corp.example:8080;https=sec.corp.example:8443;socks=socks.corp.example",
		}, []Setting{
			{Source: src, PACURL: "http://pac.corp.example/proxy.pac"},
			{Source: src, SchemeProxies: map[string][]Proxy{
				"http":  proxies(PROXY, "web.corp.example:8080"),
				"https": proxies(PROXY, "sec.corp.example:8443"),
			}, Proxies: proxies(SOCKS4, "socks.corp.example:1080")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := tt.v.settings(); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestDiscoverPrecedence(t *testing.T) {
	o := offlineOptions(t)
	o.Getenv = envMap(map[string]string{"HTTPS_PROXY": "http://env.example:1"})
	o.Commands = fakeCommands(t, map[string]string{"gsettings list-recursively org.gnome.system.proxy": "gsettings-auto.txt"})
	got := discover(t, o)
	if len(got) != 1 || got[0].Source != "env HTTPS_PROXY" {
		t.Fatalf("without All: %v", got)
	}
	o.All = true
	got = discover(t, o)
	if len(got) != 2 || got[0].Source != "env HTTPS_PROXY" || got[1].PACURL != "http://pac.corp.example/proxy.pac" {
		t.Fatalf("with All: %v", got)
	}
}

func TestDiscoverPACSource(t *testing.T) {
	tests := []struct{ raw, goos, want string }{
		{"http://pac.example/x.pac", "linux", "http://pac.example/x.pac"},
		{"/etc/proxy.pac", "linux", "/etc/proxy.pac"},
		{"file:///etc/proxy.pac", "linux", "/etc/proxy.pac"},
		{"file://localhost/etc/proxy.pac", "darwin", "/etc/proxy.pac"},
		{"file:///C:/proxy/x.pac", "windows", "C:/proxy/x.pac"},
		{"file://C:/proxy/x.pac", "windows", "C:/proxy/x.pac"},
		{"file://server/share/x.pac", "windows", `\\server\share\x.pac`},
	}
	for _, tt := range tests {
		if got := pacSource(tt.raw, tt.goos); got != tt.want {
			t.Errorf("pacSource(%q, %s) = %q, want %q", tt.raw, tt.goos, got, tt.want)
		}
	}
}

func TestDiscoverLoaderFromFile(t *testing.T) {
	// A PAC URL from the OS settings becomes a Loader as it is.
	path, err := filepath.Abs(filepath.Join("testdata", "discover", "wpad.dat"))
	if err != nil {
		t.Fatal(err)
	}
	l := Setting{PACURL: "file://" + path}.Loader(nil)
	got, err := l.FindProxyForURL(context.Background(), "http://www.example.org/", "www.example.org")
	if err != nil || got != "PROXY proxy.corp.example:8080; DIRECT" {
		t.Fatalf("got %q, %v", got, err)
	}
	if (Setting{Direct: true}).Loader(nil) != nil {
		t.Error("Loader without PACURL is not nil")
	}
}

func TestDiscoverWPADNames(t *testing.T) {
	tests := []struct {
		domains []string
		want    []string
	}{
		{[]string{"a.b.corp.example"}, []string{"wpad.a.b.corp.example", "wpad.b.corp.example", "wpad.corp.example"}},
		{[]string{"x.co.uk"}, []string{"wpad.x.co.uk"}},
		{[]string{"eng.x.co.uk."}, []string{"wpad.eng.x.co.uk", "wpad.x.co.uk"}},
		{[]string{"Dept.Corp.COM.au"}, []string{"wpad.dept.corp.com.au", "wpad.corp.com.au"}},
		{[]string{"co.uk", "com", "corp", "", "bad_name!"}, nil},
		{[]string{"b.corp.example", "corp.example", "other.example"}, []string{"wpad.b.corp.example", "wpad.corp.example", "wpad.other.example"}},
	}
	for _, tt := range tests {
		if got := WPADNames(tt.domains); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("WPADNames(%q) = %q, want %q", tt.domains, got, tt.want)
		}
	}
}

func TestDiscoverResolvConf(t *testing.T) {
	got := parseResolvConfDomains(fixture(t, "resolv.conf"))
	if want := []string{"a.b.corp.example", "x.co.uk"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := parseResolvConfDomains([]byte("search a.example\ndomain b.example\n")); !reflect.DeepEqual(got, []string{"b.example"}) {
		t.Errorf("last line wins: got %q", got)
	}
}

func TestDiscoverDHCPLeases(t *testing.T) {
	lease := strings.ReplaceAll(string(fixture(t, "dhclient.leases")), "{{WPAD}}", "http://wpad.corp.example/wpad.dat")
	if got := parseLeaseWPAD([]byte(lease)); got != "http://wpad.corp.example/wpad.dat" {
		t.Errorf("dhclient lease: %q", got)
	}
	hex := "option unknown-252 " + strings.TrimSuffix(hexColon("http://h.example/w.dat\x00"), ":") + ";\n"
	if got := parseLeaseWPAD([]byte(hex)); got != "http://h.example/w.dat" {
		t.Errorf("hex option: %q", got)
	}
	if got := parseLeaseWPAD([]byte("ADDRESS=10.0.0.2\nWPAD=http://nm.example/wpad.dat\n")); got != "http://nm.example/wpad.dat" {
		t.Errorf("key=value lease: %q", got)
	}
	if got := parseLeaseWPAD([]byte(`option wpad "javascript:alert(1)";`)); got != "" {
		t.Errorf("non-HTTP URL accepted: %q", got)
	}
	if got := parseNmcliWPAD(fixture(t, "nmcli-dhcp4.txt")); !reflect.DeepEqual(got, []string{"http://wpad.corp.example/wpad.dat"}) {
		t.Errorf("nmcli: %q", got)
	}
}

func hexColon(s string) string {
	var b strings.Builder
	const digits = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		b.WriteByte(digits[s[i]>>4])
		b.WriteByte(digits[s[i]&15])
		b.WriteByte(':')
	}
	return b.String()
}
