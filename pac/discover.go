package pac

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Setting is one proxy configuration that discovery found: a PAC file, a
// set of static proxies, or "go direct". Exactly one of PACURL, the proxy
// fields and Direct is set.
type Setting struct {
	// Source names the step that found the setting, for `sesame pac -v`:
	// "env HTTP_PROXY", "gsettings org.gnome.system.proxy", "kioslaverc",
	// "scutil --proxy", "registry Internet Settings", "WPAD DNS
	// wpad.corp.example", "WPAD DHCP option 252 (nmcli)".
	Source string
	// PACURL is the PAC file's URL (http, https or file) or, from KDE, a
	// local path; Setting.Loader turns it into a Loader.
	PACURL string
	// Proxies are static proxies for every URL scheme that has no entry of
	// its own in SchemeProxies (a SOCKS proxy or ALL_PROXY, usually).
	Proxies []Proxy
	// SchemeProxies are static proxies by lower-case URL scheme ("http",
	// "https", "ftp").
	SchemeProxies map[string][]Proxy
	// NoProxy lists the hosts that go direct, comma-separated, in the
	// syntax of NO_PROXY (see proxy.ParseNoProxy): "<local>" stands for
	// plain host names, as on Windows.
	NoProxy string
	// Direct: the system is explicitly set to use no proxy.
	Direct bool
}

// ProxiesFor returns the static proxies for URL scheme (SchemeProxies,
// else Proxies).
func (s Setting) ProxiesFor(scheme string) []Proxy {
	if p, ok := s.SchemeProxies[strings.ToLower(scheme)]; ok {
		return p
	}
	return s.Proxies
}

// String describes s on one line, credentials never included (discovery
// drops them).
func (s Setting) String() string {
	var b strings.Builder
	switch {
	case s.Direct:
		b.WriteString("DIRECT")
	case s.PACURL != "":
		b.WriteString("PAC " + s.PACURL)
	default:
		var parts []string
		for _, sch := range slices.Sorted(maps.Keys(s.SchemeProxies)) {
			parts = append(parts, sch+"="+joinProxies(s.SchemeProxies[sch]))
		}
		if len(s.Proxies) > 0 {
			parts = append(parts, "*="+joinProxies(s.Proxies))
		}
		b.WriteString(strings.Join(parts, " "))
		if s.NoProxy != "" {
			b.WriteString(" no-proxy=" + s.NoProxy)
		}
	}
	b.WriteString(" (" + s.Source + ")")
	return b.String()
}

func joinProxies(ps []Proxy) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "; ")
}

// Loader returns a Loader for s.PACURL, or nil when s has no PAC URL.
// The file is fetched over client; a nil client means a fresh one that
// connects directly, because http.DefaultClient would honour HTTP_PROXY,
// and the PAC file must not travel through a proxy that the file itself,
// or a stale environment, picks. file:// URLs become paths (Windows drive
// letters included).
func (s Setting) Loader(client *http.Client) *Loader {
	if s.PACURL == "" {
		return nil
	}
	if client == nil {
		client = &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 30 * time.Second}
	}
	return &Loader{Source: pacSource(s.PACURL, runtime.GOOS), Client: client}
}

// pacSource turns a file:// URL into a path the Loader can stat on goos.
// Windows settings hold "file://C:/x.pac", "file:///C:/x.pac" or
// "file://server/share/x.pac", none of which os.Stat takes as URL paths.
func pacSource(raw, goos string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "file" {
		return raw
	}
	p := u.Path
	if goos == "windows" {
		switch {
		case len(u.Host) == 2 && u.Host[1] == ':':
			p = u.Host + p
		case u.Host != "" && !strings.EqualFold(u.Host, "localhost"):
			p = `\\` + u.Host + strings.ReplaceAll(p, "/", `\`)
		case len(p) >= 3 && p[0] == '/' && p[2] == ':':
			p = p[1:]
		}
	}
	return p
}

// CommandRunner runs a program and returns its standard output. Tests
// replace it to feed recorded gsettings, scutil and nmcli output.
type CommandRunner func(ctx context.Context, name string, args ...string) ([]byte, error)

// HostResolver resolves host names for WPAD; *net.Resolver satisfies it.
type HostResolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// DiscoverOptions configure Discover and Watch. The zero value discovers
// on the real system.
type DiscoverOptions struct {
	// Getenv reads environment variables (default os.Getenv).
	Getenv func(string) string
	// Resolver resolves WPAD names and the hosts the default HTTPClient
	// dials (default net.DefaultResolver). WPAD names are looked up fully
	// qualified (with a trailing dot) so the resolver's search list is
	// never appended to them.
	Resolver HostResolver
	// SearchDomains are the DNS domains WPAD walks up. nil means the
	// search or domain line of /etc/resolv.conf (read through Files).
	SearchDomains []string
	// Hostname returns this host's name; its domain (what follows the
	// first dot) is searched for WPAD too. Default os.Hostname.
	Hostname func() (string, error)
	// Timeout bounds each external operation: one command, one DNS
	// lookup, one wpad.dat fetch (default 5 s).
	Timeout time.Duration
	// Commands runs gsettings, scutil and nmcli (default: os/exec with
	// LC_ALL=C).
	Commands CommandRunner
	// Files is the file system rooted at "/" where kioslaverc, resolv.conf
	// and DHCP lease files are read (default os.DirFS("/")).
	Files fs.FS
	// HTTPClient fetches wpad.dat to validate it. The default connects
	// directly (never through a proxy), resolving names with Resolver.
	HTTPClient *http.Client
	// WPADPort is the port of http://wpad.<domain>/wpad.dat (default 80;
	// tests set their server's port).
	WPADPort int
	// PAC are the options wpad.dat is compiled with to validate it. When
	// PAC.Resolver is nil and Resolver also implements Resolver, Resolver
	// is used, so that a script's top level can't reach the system DNS
	// behind the caller's back.
	PAC Options
	// GOOS selects the operating-system settings to read (default
	// runtime.GOOS). The Windows registry can only be read on Windows;
	// every other source works anywhere through Commands and Files.
	GOOS string
	// All runs every step, for diagnostics. By default discovery stops
	// after the first step that found a PAC file or proxies; a Direct
	// setting does not stop it, because desktops report "no proxy" by
	// default whether or not anyone chose it.
	All bool
	// NoWPAD skips WPAD (DHCP and DNS). WPAD trusts whoever answers on
	// the local network; some sites forbid it.
	NoWPAD bool
	// Trace receives one line per step tried and its outcome, for
	// `sesame pac -v`. It is called from the discovering goroutine.
	Trace func(string)

	// InterfaceAddrs lists the local addresses Watch polls for changes
	// (default net.InterfaceAddrs).
	InterfaceAddrs func() ([]net.Addr, error)
	// AddrPoll is how often Watch polls InterfaceAddrs (default 5 s).
	AddrPoll time.Duration
}

// DefaultDiscoverTimeout bounds each external operation of discovery.
const DefaultDiscoverTimeout = 5 * time.Second

// discoverer holds the options with defaults applied.
type discoverer struct {
	DiscoverOptions
}

func newDiscoverer(o DiscoverOptions) *discoverer {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.Hostname == nil {
		o.Hostname = os.Hostname
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultDiscoverTimeout
	}
	if o.Commands == nil {
		o.Commands = runCommand
	}
	if o.Files == nil {
		o.Files = os.DirFS("/")
	}
	if o.WPADPort <= 0 {
		o.WPADPort = 80
	}
	if o.GOOS == "" {
		o.GOOS = runtime.GOOS
	}
	if o.PAC.Resolver == nil {
		if r, ok := o.Resolver.(Resolver); ok {
			o.PAC.Resolver = r
		}
	}
	if o.Trace == nil {
		o.Trace = func(string) {}
	}
	if o.InterfaceAddrs == nil {
		o.InterfaceAddrs = net.InterfaceAddrs
	}
	if o.AddrPoll <= 0 {
		o.AddrPoll = 5 * time.Second
	}
	d := &discoverer{o}
	if d.HTTPClient == nil {
		d.HTTPClient = &http.Client{
			Transport: &http.Transport{
				Proxy:             nil, // WPAD must be fetched direct.
				DialContext:       d.dial,
				DisableKeepAlives: true,
			},
			Timeout: o.Timeout,
		}
	}
	return d
}

func (d *discoverer) tracef(format string, args ...any) {
	d.Trace(fmt.Sprintf(format, args...))
}

// runCommand is the default CommandRunner. LC_ALL=C keeps gsettings and
// nmcli output in the untranslated form the parsers expect.
func runCommand(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return out, err
}

func (d *discoverer) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	return d.Commands(ctx, name, args...)
}

// readFile reads an absolute path through d.Files.
func (d *discoverer) readFile(path string) ([]byte, error) {
	return fs.ReadFile(d.Files, strings.TrimPrefix(path, "/"))
}

// dial connects to addr, resolving the host through d.Resolver so that
// WPAD fetches see the same names the WPAD lookups saw.
func (d *discoverer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var dialer net.Dialer
	if net.ParseIP(host) != nil {
		return dialer.DialContext(ctx, network, addr)
	}
	addrs, err := d.Resolver.LookupHost(ctx, strings.TrimSuffix(host, ".")+".")
	if err != nil {
		return nil, err
	}
	var first error
	for _, a := range addrs {
		c, err := dialer.DialContext(ctx, network, net.JoinHostPort(a, port))
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		first = fmt.Errorf("%s: no addresses", host)
	}
	return nil, first
}

// Discover looks for the system's proxy configuration in the order
// Chromium and px use: the environment (HTTPS_PROXY, HTTP_PROXY,
// ALL_PROXY, NO_PROXY), the operating system's settings (GNOME, KDE,
// macOS, Windows), then WPAD (DHCP option 252, then DNS). It returns what
// it found in that order of precedence; callers use the first entry, and
// an empty result means nothing is configured (go direct). Unless
// opts.All is set it stops after the first step that found a PAC file or
// proxies. A step that fails (a missing gsettings, an unreadable file) is
// traced and passed over; the error is only ever the context's.
//
// A WPAD result is returned only once its script was fetched and
// compiled. Other PAC URLs are returned as configured: the Loader that
// uses them applies its failure policy.
func Discover(ctx context.Context, opts DiscoverOptions) ([]Setting, error) {
	return newDiscoverer(opts).discover(ctx)
}

func (d *discoverer) discover(ctx context.Context) ([]Setting, error) {
	var out []Setting
	// done reports whether discovery may stop after adding found.
	done := func(found []Setting) bool {
		out = append(out, found...)
		if d.All {
			return false
		}
		for _, s := range found {
			if !s.Direct {
				return true
			}
		}
		return false
	}
	if done(d.fromEnv()) {
		return out, nil
	}
	for _, step := range d.osSteps() {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if done(step(ctx)) {
			return out, nil
		}
	}
	if d.NoWPAD {
		d.Trace("WPAD: skipped (disabled)")
		return out, ctx.Err()
	}
	// DHCP before DNS, as Windows does: the DHCP server's answer is the
	// network administrator's, whereas DNS guessing may reach a host
	// outside the organisation.
	if done(d.wpadDHCP(ctx)) {
		return out, nil
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	done(d.wpadDNS(ctx))
	return out, ctx.Err()
}

// osSteps returns the operating-system steps for d.GOOS in order.
func (d *discoverer) osSteps() []func(context.Context) []Setting {
	switch d.GOOS {
	case "darwin", "ios":
		return []func(context.Context) []Setting{d.fromScutil}
	case "windows":
		return []func(context.Context) []Setting{d.fromRegistry}
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly", "solaris", "illumos":
		// Chromium reads the settings of the running desktop; a KDE user
		// may have stale GNOME defaults and vice versa, so the running
		// desktop goes first and the other is still consulted.
		if d.isKDE() {
			return []func(context.Context) []Setting{d.fromKDE, d.fromGNOME}
		}
		return []func(context.Context) []Setting{d.fromGNOME, d.fromKDE}
	}
	d.tracef("OS settings: none known for %s", d.GOOS)
	return nil
}

func (d *discoverer) isKDE() bool {
	for _, v := range []string{d.Getenv("XDG_CURRENT_DESKTOP"), d.Getenv("DESKTOP_SESSION")} {
		if strings.Contains(strings.ToUpper(v), "KDE") {
			return true
		}
	}
	return d.Getenv("KDE_FULL_SESSION") != ""
}

// getenvAny returns the first non-empty variable of names and its name.
func (d *discoverer) getenvAny(names ...string) (string, string) {
	for _, n := range names {
		if v := d.Getenv(n); v != "" {
			return v, n
		}
	}
	return "", ""
}

// fromEnv reads the variables curl and Go read. The upper-case names win,
// as in Go's net/http. HTTP_PROXY is ignored when REQUEST_METHOD is set:
// under CGI it comes from the client's "Proxy:" header (httpoxy), as Go
// also assumes.
func (d *discoverer) fromEnv() []Setting {
	s := Setting{SchemeProxies: map[string][]Proxy{}}
	var names []string
	if d.Getenv("REQUEST_METHOD") != "" {
		d.Trace("env: REQUEST_METHOD is set (CGI): HTTP_PROXY ignored")
	} else if v, n := d.getenvAny("HTTP_PROXY", "http_proxy"); v != "" {
		if p, err := parseProxyURL(v); err != nil {
			d.tracef("env: %s: %v", n, err)
		} else {
			s.SchemeProxies["http"] = []Proxy{p}
			names = append(names, n)
		}
	}
	if v, n := d.getenvAny("HTTPS_PROXY", "https_proxy"); v != "" {
		if p, err := parseProxyURL(v); err != nil {
			d.tracef("env: %s: %v", n, err)
		} else {
			s.SchemeProxies["https"] = []Proxy{p}
			names = append(names, n)
		}
	}
	if v, n := d.getenvAny("ALL_PROXY", "all_proxy"); v != "" {
		if p, err := parseProxyURL(v); err != nil {
			d.tracef("env: %s: %v", n, err)
		} else {
			s.Proxies = []Proxy{p}
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		d.Trace("env: no HTTP_PROXY, HTTPS_PROXY or ALL_PROXY")
		return nil
	}
	if v, n := d.getenvAny("NO_PROXY", "no_proxy"); v != "" {
		s.NoProxy = normalizeNoProxy(strings.Split(v, ","))
		names = append(names, n)
	}
	s.Source = "env " + strings.Join(names, " ")
	if len(s.SchemeProxies) == 0 {
		s.SchemeProxies = nil
	}
	d.tracef("env: found %s", s)
	return []Setting{s}
}

// parseProxyURL parses a proxy given as a URL ("http://u:p@host:8080",
// "socks5h://host") or a bare "host[:port]". User information is
// dropped: credentials are sesame's to manage, and a Setting is printed.
func parseProxyURL(raw string) (Proxy, error) {
	raw = strings.TrimSpace(raw)
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the URL, which may hold a password.
		return Proxy{}, errors.New("not a proxy URL")
	}
	var t Type
	switch strings.ToLower(u.Scheme) {
	case "http":
		t = PROXY
	case "https":
		t = HTTPS
	case "socks5", "socks5h":
		t = SOCKS5
	case "socks4", "socks4a":
		t = SOCKS4
	case "socks":
		t = SOCKS
	default:
		return Proxy{}, fmt.Errorf("unsupported proxy scheme %q", u.Scheme)
	}
	hp, ok := normalizeHostPort(u.Host, DefaultPort(t))
	if !ok {
		return Proxy{}, fmt.Errorf("bad proxy host %q", u.Host)
	}
	return Proxy{Type: t, Host: hp}, nil
}

// normalizeNoProxy trims and joins exception patterns with commas.
// Shortened IPv4 networks ("169.254/16", as macOS writes them) are
// completed, since NO_PROXY parsers want four octets.
func normalizeNoProxy(items []string) string {
	var out []string
	for _, it := range items {
		it = strings.TrimSpace(it)
		if it == "" {
			continue
		}
		if addr, bits, ok := strings.Cut(it, "/"); ok && !strings.Contains(addr, ":") {
			if n := strings.Count(addr, "."); n < 3 && net.ParseIP(addr) == nil {
				it = addr + strings.Repeat(".0", 3-n) + "/" + bits
			}
		}
		if !slices.Contains(out, it) {
			out = append(out, it)
		}
	}
	return strings.Join(out, ",")
}
