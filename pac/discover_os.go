package pac

import (
	"bufio"
	"bytes"
	"context"
	"strconv"
	"strings"
)

// fromScutil reads the macOS settings with `scutil --proxy`, the
// unprivileged view of SystemConfiguration's merged proxy dictionary.
func (d *discoverer) fromScutil(ctx context.Context) []Setting {
	out, err := d.run(ctx, "scutil", "--proxy")
	if err != nil {
		d.tracef("scutil --proxy: not available: %v", err)
		return nil
	}
	s, msg := parseScutil(out)
	d.Trace("scutil --proxy: " + msg)
	return s
}

// parseScutil parses `scutil --proxy` output. Only the top-level keys
// count: __SCOPED__ repeats them per interface. The order of the result
// is that of CFNetwork and Chromium: the PAC file, then static proxies.
func parseScutil(out []byte) ([]Setting, string) {
	kv := map[string]string{}
	arrays := map[string][]string{}
	depth := 0
	curArray := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "}" {
			depth--
			if depth <= 1 {
				curArray = ""
			}
			continue
		}
		k, v, ok := strings.Cut(line, " : ")
		if !ok {
			if strings.HasSuffix(line, "{") {
				depth++
			}
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if strings.HasSuffix(v, "{") {
			if depth == 1 && strings.HasPrefix(v, "<array>") {
				curArray = k
			}
			depth++
			continue
		}
		switch {
		case depth == 1:
			kv[k] = v
		case depth == 2 && curArray != "":
			arrays[curArray] = append(arrays[curArray], v)
		}
	}
	const src = "scutil --proxy"
	on := func(k string) bool { return kv[k] == "1" }
	var out2 []Setting
	var notes []string
	if on("ProxyAutoDiscoveryEnable") {
		notes = append(notes, "auto-discovery on: WPAD")
	}
	if on("ProxyAutoConfigEnable") && kv["ProxyAutoConfigURLString"] != "" {
		out2 = append(out2, Setting{Source: src, PACURL: kv["ProxyAutoConfigURLString"]})
		notes = append(notes, "PAC "+kv["ProxyAutoConfigURLString"])
	}
	s := Setting{Source: src, SchemeProxies: map[string][]Proxy{}}
	hostPort := func(prefix string, t Type) (Proxy, bool) {
		if !on(prefix+"Enable") || kv[prefix+"Proxy"] == "" {
			return Proxy{}, false
		}
		port, err := strconv.Atoi(kv[prefix+"Port"])
		if err != nil || port <= 0 {
			port = DefaultPort(t)
		}
		hp, ok := normalizeHostPort(kv[prefix+"Proxy"]+":"+strconv.Itoa(port), DefaultPort(t))
		return Proxy{Type: t, Host: hp}, ok
	}
	for scheme, prefix := range map[string]string{"http": "HTTP", "https": "HTTPS", "ftp": "FTP"} {
		if p, ok := hostPort(prefix, PROXY); ok {
			s.SchemeProxies[scheme] = []Proxy{p}
		}
	}
	if p, ok := hostPort("SOCKS", SOCKS5); ok {
		s.Proxies = []Proxy{p}
	}
	if len(s.SchemeProxies) == 0 {
		s.SchemeProxies = nil
	}
	if s.SchemeProxies != nil || s.Proxies != nil {
		ex := arrays["ExceptionsList"]
		if on("ExcludeSimpleHostnames") {
			ex = append(ex, "<local>")
		}
		s.NoProxy = normalizeNoProxy(ex)
		out2 = append(out2, s)
		notes = append(notes, s.String())
	}
	if len(out2) == 0 && !on("ProxyAutoDiscoveryEnable") {
		return []Setting{{Source: src, Direct: true}}, "nothing enabled: direct"
	}
	return out2, strings.Join(notes, "; ")
}

// internetSettings are the values of
// HKCU\Software\Microsoft\Windows\CurrentVersion\Internet Settings that
// discovery reads (and the auto-detect bit of
// Connections\DefaultConnectionSettings).
type internetSettings struct {
	AutoConfigURL string
	ProxyEnable   bool
	ProxyServer   string
	ProxyOverride string
	AutoDetect    bool
}

// fromRegistry reads the WinINet settings (what Internet Options and
// Edge's "Proxy settings" show).
func (d *discoverer) fromRegistry(context.Context) []Setting {
	v, err := readInternetSettings()
	if err != nil {
		d.tracef("registry Internet Settings: %v", err)
		return nil
	}
	s, msg := v.settings()
	d.Trace("registry Internet Settings: " + msg)
	return s
}

// settings turns the registry values into settings in the order WinINet
// applies them: auto-detect (WPAD, later), the AutoConfigURL, the static
// proxies.
func (v internetSettings) settings() ([]Setting, string) {
	const src = "registry Internet Settings"
	var out []Setting
	var notes []string
	if v.AutoDetect {
		notes = append(notes, "auto-detect on: WPAD")
	}
	if u := strings.TrimSpace(v.AutoConfigURL); u != "" {
		out = append(out, Setting{Source: src, PACURL: u})
		notes = append(notes, "AutoConfigURL "+u)
	}
	if v.ProxyEnable && strings.TrimSpace(v.ProxyServer) != "" {
		s := parseProxyServer(v.ProxyServer)
		if s.SchemeProxies != nil || s.Proxies != nil {
			s.Source = src
			s.NoProxy = normalizeNoProxy(strings.Split(v.ProxyOverride, ";"))
			out = append(out, s)
			notes = append(notes, s.String())
		} else {
			notes = append(notes, "ProxyServer unusable")
		}
	}
	if len(out) == 0 && !v.AutoDetect {
		return []Setting{{Source: src, Direct: true}}, "no proxy enabled: direct"
	}
	return out, strings.Join(notes, "; ")
}

// parseProxyServer parses ProxyServer: "host:port" for every scheme, or
// "http=host:port;https=host:port;ftp=...;socks=host:port". WinINet's
// socks= is SOCKS version 4.
func parseProxyServer(v string) Setting {
	var s Setting
	if !strings.Contains(v, "=") {
		if p, err := parseProxyURL(v); err == nil {
			s.Proxies = []Proxy{p}
		}
		return s
	}
	for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ' ' }) {
		scheme, hp, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		scheme = strings.ToLower(strings.TrimSpace(scheme))
		if scheme == "socks" {
			if h, ok := normalizeHostPort(strings.TrimSpace(hp), DefaultPort(SOCKS4)); ok {
				s.Proxies = []Proxy{{Type: SOCKS4, Host: h}}
			}
			continue
		}
		p, err := parseProxyURL(hp)
		if err != nil {
			continue
		}
		if s.SchemeProxies == nil {
			s.SchemeProxies = map[string][]Proxy{}
		}
		s.SchemeProxies[scheme] = []Proxy{p}
	}
	return s
}
