package pac

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// WPAD (Web Proxy Auto-Discovery, draft-ietf-wrec-wpad-01) finds a PAC
// file with no configuration: the DHCP server may hand out its URL
// (option 252), or DNS may resolve wpad.<domain>, from which
// http://wpad.<domain>/wpad.dat is fetched. Whoever answers to those
// names controls the traffic of every client that uses WPAD, so
// discovery only accepts a file that compiles and defines
// FindProxyForURL, and never asks beyond the organisation's own domain.

// wpadDHCP looks for option 252 where the system keeps it readable
// without privileges: NetworkManager's device state (nmcli) and the lease
// files of NetworkManager and dhclient. systemd-networkd does not request
// or expose the option; macOS and Windows are not covered.
func (d *discoverer) wpadDHCP(ctx context.Context) []Setting {
	switch d.GOOS {
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly":
	default:
		d.tracef("WPAD DHCP: not read on %s", d.GOOS)
		return nil
	}
	type cand struct{ url, src string }
	var cands []cand
	add := func(u, src string) {
		for _, c := range cands {
			if c.url == u {
				return
			}
		}
		cands = append(cands, cand{u, src})
	}
	// nmcli first: it is the live state of the current connections,
	// whereas lease files remember networks the host has left.
	if out, err := d.run(ctx, "nmcli", "-t", "-f", "DHCP4", "device", "show"); err != nil {
		d.tracef("WPAD DHCP: nmcli: not available: %v", err)
	} else {
		for _, u := range parseNmcliWPAD(out) {
			add(u, "nmcli")
		}
	}
	for _, pattern := range []string{
		"var/lib/NetworkManager/*.lease",
		"var/lib/dhcp/*.leases",
		"var/lib/dhclient/*.lease",
		"var/lib/dhclient/*.leases",
	} {
		files, _ := fs.Glob(d.Files, pattern)
		for _, f := range files {
			data, err := fs.ReadFile(d.Files, f)
			if err != nil {
				continue
			}
			if u := parseLeaseWPAD(data); u != "" {
				add(u, "/"+f)
			}
		}
	}
	if len(cands) == 0 {
		d.Trace("WPAD DHCP: no option 252 (nmcli, NetworkManager and dhclient leases)")
		return nil
	}
	for _, c := range cands {
		if err := d.validatePAC(ctx, c.url); err != nil {
			d.tracef("WPAD DHCP: %s (%s): %v", c.url, c.src, err)
			continue
		}
		d.tracef("WPAD DHCP: %s (%s): valid PAC file", c.url, c.src)
		return []Setting{{Source: "WPAD DHCP option 252 (" + c.src + ")", PACURL: c.url}}
	}
	return nil
}

// parseNmcliWPAD extracts option 252 from `nmcli -t -f DHCP4 device
// show` ("DHCP4.OPTION[12]:wpad = http://wpad.corp/wpad.dat").
func parseNmcliWPAD(out []byte) []string {
	var urls []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		_, opt, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		name, val, ok := strings.Cut(opt, "=")
		if !ok || strings.TrimSpace(name) != "wpad" {
			continue
		}
		if u := cleanWPADURL(val); u != "" && !slices.Contains(urls, u) {
			urls = append(urls, u)
		}
	}
	return urls
}

// parseLeaseWPAD extracts option 252 from a lease file: dhclient's
// `option wpad "http://..."` (NetworkManager's dhclient configuration
// declares the name; plain dhclient writes `option unknown-252` unless
// dhclient.conf does) or a WPAD= line of a key=value lease. The last
// occurrence wins: dhclient appends each new lease.
func parseLeaseWPAD(data []byte) string {
	last := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		var val string
		switch {
		case strings.HasPrefix(line, "option wpad "):
			val = strings.TrimPrefix(line, "option wpad ")
		case strings.HasPrefix(line, "option unknown-252 "):
			val = strings.TrimPrefix(line, "option unknown-252 ")
		case strings.HasPrefix(line, "WPAD="):
			val = strings.TrimPrefix(line, "WPAD=")
		default:
			continue
		}
		if u := cleanWPADURL(dhclientValue(strings.TrimSuffix(val, ";"))); u != "" {
			last = u
		}
	}
	return last
}

// dhclientValue decodes a dhclient option value: a quoted string with
// octal escapes ("...\000"), or colon-separated hex bytes, which is how
// dhclient writes a string holding unprintable bytes (the trailing NUL
// many DHCP servers append to option 252).
func dhclientValue(v string) string {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, `"`) {
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			c := v[i]
			switch {
			case c == '"':
				return b.String()
			case c == '\\' && i+3 < len(v) && isOctal(v[i+1]) && isOctal(v[i+2]) && isOctal(v[i+3]):
				n, _ := strconv.ParseUint(v[i+1:i+4], 8, 8)
				b.WriteByte(byte(n))
				i += 3
			case c == '\\' && i+1 < len(v):
				i++
				b.WriteByte(v[i])
			default:
				b.WriteByte(c)
			}
		}
		return b.String()
	}
	if strings.Contains(v, ":") && !strings.Contains(v, "/") {
		var b []byte
		for _, h := range strings.Split(v, ":") {
			n, err := strconv.ParseUint(h, 16, 8)
			if err != nil {
				return v
			}
			b = append(b, byte(n))
		}
		return string(b)
	}
	return v
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// cleanWPADURL trims what DHCP servers add (NUL terminators, blanks) and
// keeps only http and https URLs with a host.
func cleanWPADURL(v string) string {
	v = strings.Trim(v, "\x00 \t\r\n\"")
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return v
}

// searchDomains returns the DNS domains to walk: SearchDomains, or those
// of resolv.conf, then the host's own domain.
func (d *discoverer) searchDomains() []string {
	var domains []string
	if d.SearchDomains != nil {
		domains = slices.Clone(d.SearchDomains)
	} else if data, err := d.readFile("/etc/resolv.conf"); err == nil {
		domains = parseResolvConfDomains(data)
	} else {
		d.tracef("WPAD DNS: /etc/resolv.conf: %v", err)
	}
	if h, err := d.Hostname(); err == nil {
		if _, dom, ok := strings.Cut(h, "."); ok {
			domains = append(domains, dom)
		}
	}
	return domains
}

// parseResolvConfDomains returns the search list of resolv.conf. As in
// glibc, "domain" and "search" replace each other and the last one wins.
func parseResolvConfDomains(data []byte) []string {
	var domains []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "search":
			domains = slices.Clone(f[1:])
		case "domain":
			domains = []string{f[1]}
		}
	}
	return domains
}

// WPADNames returns the names WPAD over DNS tries for the given search
// domains, in order: for each domain, wpad.<domain>, then one label
// shorter at a time, down to the organisation's registrable domain
// (public suffix + 1 label, from the Public Suffix List compiled into
// golang.org/x/net/publicsuffix) and never beyond. So a.b.corp.example
// gives wpad.a.b.corp.example, wpad.b.corp.example, wpad.corp.example
// and never wpad.example; x.co.uk gives wpad.x.co.uk only. Going further
// is the "WPAD devolution" hole: wpad.co.uk belongs to whoever registers
// it. A domain that is itself a public suffix, or a single label, gives
// nothing.
//
// The list only knows public suffixes as of its x/net release, and it
// can't know an organisation that delegates subdomains to others (a
// university's departments, a hosting company's customers): such
// networks should set their search domains or disable WPAD.
func WPADNames(domains []string) []string {
	var names []string
	for _, dom := range domains {
		dom = strings.ToLower(strings.Trim(strings.TrimSpace(dom), "."))
		if dom == "" || !validHost(dom) {
			continue
		}
		org, err := publicsuffix.EffectiveTLDPlusOne(dom)
		if err != nil {
			continue
		}
		for cur := dom; ; {
			if n := "wpad." + cur; !slices.Contains(names, n) {
				names = append(names, n)
			}
			if cur == org {
				break
			}
			_, cur, _ = strings.Cut(cur, ".")
		}
	}
	return names
}

// wpadDNS resolves each WPAD name and takes the first that serves a
// valid wpad.dat, as browsers do.
func (d *discoverer) wpadDNS(ctx context.Context) []Setting {
	names := WPADNames(d.searchDomains())
	if len(names) == 0 {
		d.Trace("WPAD DNS: no search domain to try")
		return nil
	}
	for _, name := range names {
		if ctx.Err() != nil {
			return nil
		}
		lctx, cancel := context.WithTimeout(ctx, d.Timeout)
		// The trailing dot keeps the resolver from appending its
		// search domains: wpad.corp.example.other.example is not ours
		// to ask.
		addrs, err := d.Resolver.LookupHost(lctx, name+".")
		cancel()
		if err != nil || len(addrs) == 0 {
			d.tracef("WPAD DNS: %s: not found", name)
			continue
		}
		u := "http://" + name
		if d.WPADPort != 80 {
			u += ":" + strconv.Itoa(d.WPADPort)
		}
		u += "/wpad.dat"
		if err := d.validatePAC(ctx, u); err != nil {
			d.tracef("WPAD DNS: %s (%s): %v", name, strings.Join(addrs, " "), err)
			continue
		}
		d.tracef("WPAD DNS: %s: %s is a valid PAC file", name, u)
		return []Setting{{Source: "WPAD DNS " + name, PACURL: u}}
	}
	return nil
}

// validatePAC fetches rawURL directly and checks that it compiles and
// defines FindProxyForURL (Compile checks that), so that a stray web
// server answering on a wpad name is not taken for a proxy
// configuration.
func (d *discoverer) validatePAC(ctx context.Context, rawURL string) error {
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	resp, err := d.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch: %s", resp.Status)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxFetch))
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	charset := ""
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err == nil {
		charset = params["charset"]
	}
	_, err = Compile(DecodeText(raw, charset), d.PAC)
	return err
}
