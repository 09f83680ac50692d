package pac

import (
	"bufio"
	"bytes"
	"context"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"
)

// GNOME keeps its proxy settings in GSettings. One `gsettings
// list-recursively` reads the whole schema and its child schemas (http,
// https, ftp, socks) in one consistent snapshot, instead of a process per
// key.
const gnomeSchema = "org.gnome.system.proxy"

func (d *discoverer) fromGNOME(ctx context.Context) []Setting {
	out, err := d.run(ctx, "gsettings", "list-recursively", gnomeSchema)
	if err != nil {
		d.tracef("gsettings %s: not available: %v", gnomeSchema, err)
		return nil
	}
	s, msg := parseGNOME(out)
	d.Trace("gsettings " + gnomeSchema + ": " + msg)
	return s
}

// parseGNOME turns `gsettings list-recursively org.gnome.system.proxy`
// output into settings, and says what it saw. mode 'none' is Direct,
// 'auto' is the autoconfig-url (or WPAD when empty), 'manual' the
// per-scheme hosts with ignore-hosts as exceptions.
func parseGNOME(out []byte) ([]Setting, string) {
	kv := map[string]string{} // "http.host" -> raw GVariant text
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		schema, rest, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if !ok || (schema != gnomeSchema && !strings.HasPrefix(schema, gnomeSchema+".")) {
			continue
		}
		key, val, ok := strings.Cut(rest, " ")
		if !ok {
			continue
		}
		sub := strings.TrimPrefix(strings.TrimPrefix(schema, gnomeSchema), ".")
		if sub != "" {
			key = sub + "." + key
		}
		kv[key] = strings.TrimSpace(val)
	}
	const src = "gsettings " + gnomeSchema
	mode, _ := gvString(kv["mode"])
	switch mode {
	case "none":
		return []Setting{{Source: src, Direct: true}}, "mode 'none': direct"
	case "auto":
		u, _ := gvString(kv["autoconfig-url"])
		if u = strings.TrimSpace(u); u == "" {
			return nil, "mode 'auto' without autoconfig-url: WPAD"
		}
		return []Setting{{Source: src, PACURL: u}}, "mode 'auto': " + u
	case "manual":
	default:
		return nil, "no proxy mode set"
	}
	s := Setting{Source: src, SchemeProxies: map[string][]Proxy{}}
	hostPort := func(scheme string, t Type) (Proxy, bool) {
		h, _ := gvString(kv[scheme+".host"])
		h = strings.TrimSpace(h)
		if h == "" {
			return Proxy{}, false
		}
		port := gvInt(kv[scheme+".port"])
		if port <= 0 {
			port = DefaultPort(t)
		}
		hp, ok := normalizeHostPort(h+":"+strconv.Itoa(port), DefaultPort(t))
		return Proxy{Type: t, Host: hp}, ok
	}
	for _, scheme := range []string{"http", "https", "ftp"} {
		if p, ok := hostPort(scheme, PROXY); ok {
			s.SchemeProxies[scheme] = []Proxy{p}
		}
	}
	// use-same-proxy (true by default) makes the HTTP proxy serve every
	// scheme, as in Chromium; a scheme with a host of its own keeps it,
	// which is what the GNOME settings panel shows its user.
	same, _ := strconv.ParseBool(kv["use-same-proxy"])
	if p, ok := s.SchemeProxies["http"]; ok && same {
		s.Proxies = p
	} else if p, ok := hostPort("socks", SOCKS5); ok {
		// Chromium's fallback: SOCKS for what has no proxy of its own.
		s.Proxies = []Proxy{p}
	}
	if len(s.SchemeProxies) == 0 {
		s.SchemeProxies = nil
	}
	if s.SchemeProxies == nil && s.Proxies == nil {
		return nil, "mode 'manual' without any host"
	}
	s.NoProxy = normalizeNoProxy(gvStrings(kv["ignore-hosts"]))
	return []Setting{s}, "mode 'manual': " + s.String()
}

// gvString parses a GVariant text string: 'text' or "text" with
// backslash escapes.
func gvString(v string) (string, bool) {
	s, rest, ok := gvParseString(strings.TrimSpace(v))
	return s, ok && strings.TrimSpace(rest) == ""
}

// gvParseString parses one quoted GVariant string at the start of v and
// returns the rest.
func gvParseString(v string) (string, string, bool) {
	if v == "" || (v[0] != '\'' && v[0] != '"') {
		return "", v, false
	}
	q := v[0]
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		c := v[i]
		switch {
		case c == q:
			return b.String(), v[i+1:], true
		case c == '\\' && i+1 < len(v):
			i++
			switch e := v[i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'u':
				if i+4 < len(v) {
					if r, err := strconv.ParseUint(v[i+1:i+5], 16, 32); err == nil {
						b.WriteRune(rune(r))
						i += 4
						continue
					}
				}
				b.WriteByte(e)
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", v, false
}

// gvStrings parses a GVariant string array: ['a', 'b'] or @as [].
func gvStrings(v string) []string {
	v = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), "@as"))
	if !strings.HasPrefix(v, "[") {
		return nil
	}
	v = v[1:]
	var out []string
	for {
		v = strings.TrimLeft(v, " ,")
		s, rest, ok := gvParseString(v)
		if !ok {
			return out
		}
		out = append(out, s)
		v = rest
	}
}

// gvInt parses a GVariant integer, with or without a type annotation
// ("8080", "uint32 8080").
func gvInt(v string) int {
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[len(f)-1])
	return n
}

// KDE keeps its proxy settings in kioslaverc, an INI file.
func (d *discoverer) kioslavercPaths() []string {
	var paths []string
	home := d.Getenv("HOME")
	if x := d.Getenv("XDG_CONFIG_HOME"); x != "" {
		paths = append(paths, path.Join(x, "kioslaverc"))
	} else if home != "" {
		paths = append(paths, path.Join(home, ".config/kioslaverc"))
	}
	if home != "" {
		// KDE 4 locations, still found on long-lived home directories.
		paths = append(paths, path.Join(home, ".kde4/share/config/kioslaverc"), path.Join(home, ".kde/share/config/kioslaverc"))
	}
	return paths
}

func (d *discoverer) fromKDE(context.Context) []Setting {
	paths := d.kioslavercPaths()
	for _, p := range paths {
		data, err := d.readFile(p)
		if err != nil {
			continue
		}
		s, msg := parseKioslaverc(data, d.Getenv)
		d.tracef("kioslaverc %s: %s", p, msg)
		return s
	}
	if len(paths) == 0 {
		d.Trace("kioslaverc: no HOME or XDG_CONFIG_HOME")
		return nil
	}
	d.tracef("kioslaverc: none found (%s)", strings.Join(paths, ", "))
	return nil
}

// parseKioslaverc reads the [Proxy Settings] group of kioslaverc.
// ProxyType is 0 none, 1 manual, 2 PAC ("Proxy Config Script"), 3 WPAD,
// 4 "system" (the keys then name environment variables, read through
// getenv).
func parseKioslaverc(data []byte, getenv func(string) string) ([]Setting, string) {
	kv := map[string]string{}
	group := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			group = strings.TrimSuffix(line[1:], "]")
			continue
		}
		if group != "Proxy Settings" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		// Drop KConfig flags and locales: "httpProxy[$e]".
		if i := strings.IndexByte(k, '['); i >= 0 {
			k = k[:i]
		}
		kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	const src = "kioslaverc"
	switch kv["ProxyType"] {
	case "", "0":
		return []Setting{{Source: src, Direct: true}}, "ProxyType 0: direct"
	case "2":
		u := kv["Proxy Config Script"]
		if u == "" {
			return nil, "ProxyType 2 without Proxy Config Script"
		}
		return []Setting{{Source: src, PACURL: u}}, "ProxyType 2: " + u
	case "3":
		return nil, "ProxyType 3: WPAD"
	case "1", "4":
	default:
		return nil, "unknown ProxyType " + kv["ProxyType"]
	}
	fromEnv := kv["ProxyType"] == "4"
	value := func(key string) string {
		v := kv[key]
		if fromEnv {
			// The key holds variable names, possibly several.
			for _, name := range strings.Split(v, ",") {
				if e := getenv(strings.TrimSpace(name)); e != "" {
					return e
				}
			}
			return ""
		}
		return v
	}
	s := Setting{Source: src, SchemeProxies: map[string][]Proxy{}}
	for _, scheme := range []string{"http", "https", "ftp"} {
		if p, ok := kdeProxy(value(scheme+"Proxy"), "http"); ok {
			s.SchemeProxies[scheme] = []Proxy{p}
		}
	}
	if p, ok := kdeProxy(value("socksProxy"), "socks5"); ok {
		s.Proxies = []Proxy{p}
	}
	if len(s.SchemeProxies) == 0 {
		s.SchemeProxies = nil
	}
	if s.SchemeProxies == nil && s.Proxies == nil {
		return nil, "ProxyType " + kv["ProxyType"] + " without any proxy"
	}
	msg := "ProxyType " + kv["ProxyType"]
	if strings.EqualFold(kv["ReversedException"], "true") {
		// "Use the proxy only for the listed hosts" has no NO_PROXY
		// form; the proxy then serves every host, which behind a
		// corporate proxy is the lesser evil.
		msg += " (ReversedException not supported: exceptions ignored)"
	} else {
		s.NoProxy = normalizeNoProxy(strings.Split(value("NoProxyFor"), ","))
	}
	return []Setting{s}, msg + ": " + s.String()
}

// kdeProxy parses a kioslaverc proxy: "http://host 8080" (KDE 5 puts the
// port after a space), "http://host:8080" or "host:8080".
func kdeProxy(v, defScheme string) (Proxy, bool) {
	v = strings.TrimSpace(v)
	if v == "" || !utf8.ValidString(v) {
		return Proxy{}, false
	}
	if h, port, ok := strings.Cut(v, " "); ok {
		v = strings.TrimSuffix(h, "/") + ":" + strings.TrimSpace(port)
	}
	if !strings.Contains(v, "://") {
		v = defScheme + "://" + v
	}
	p, err := parseProxyURL(v)
	return p, err == nil
}
