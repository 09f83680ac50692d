package pac

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Type is the kind of one entry of a FindProxyForURL result, in upper case
// as the PAC keyword that produced it.
type Type string

// The entry types a PAC result can hold. PROXY and HTTP both name a plain
// HTTP proxy (PROXY is the Netscape keyword; HTTP is accepted by Firefox).
// SOCKS without a version means SOCKS v4 in Chromium; callers that only
// speak SOCKS5 may treat it as such at their own risk.
const (
	DIRECT Type = "DIRECT"
	PROXY  Type = "PROXY"
	HTTP   Type = "HTTP"
	HTTPS  Type = "HTTPS"
	SOCKS  Type = "SOCKS"
	SOCKS4 Type = "SOCKS4"
	SOCKS5 Type = "SOCKS5"
)

// Proxy is one entry of a parsed PAC result.
type Proxy struct {
	// Type is the keyword of the entry.
	Type Type
	// Host is "host:port" (IPv6 literals in brackets), always with a port;
	// it is empty for DIRECT.
	Host string
}

// String formats p the way a PAC script would return it.
func (p Proxy) String() string {
	if p.Type == DIRECT {
		return string(DIRECT)
	}
	return string(p.Type) + " " + p.Host
}

// DefaultPort is the port assumed for an entry of type t that names none:
// 80 for PROXY and HTTP, 443 for HTTPS, 1080 for the SOCKS types (as
// Chromium does). It is 0 for DIRECT and unknown types.
func DefaultPort(t Type) int {
	switch t {
	case PROXY, HTTP:
		return 80
	case HTTPS:
		return 443
	case SOCKS, SOCKS4, SOCKS5:
		return 1080
	}
	return 0
}

// ParseResult parses the string returned by FindProxyForURL, such as
// "PROXY a.corp:8080; SOCKS5 b.corp; DIRECT", into its entries in order.
// Keywords are case-insensitive; blank entries, repeated separators and
// surrounding white space are ignored; an entry that can't be parsed (an
// unknown keyword, a missing or malformed host, a bad port, "DIRECT host")
// is skipped, as browsers skip it. Hosts are lower-cased and get their
// type's default port when none is given. An empty result means the script
// gave nothing usable; browsers then fall back to DIRECT.
func ParseResult(s string) []Proxy {
	var out []Proxy
	for _, elem := range strings.Split(s, ";") {
		if p, ok := parseElement(elem); ok {
			out = append(out, p)
		}
	}
	return out
}

func parseElement(elem string) (Proxy, bool) {
	fields := strings.Fields(elem)
	if len(fields) == 0 {
		return Proxy{}, false
	}
	t := Type(strings.ToUpper(fields[0]))
	switch t {
	case DIRECT:
		if len(fields) != 1 {
			return Proxy{}, false
		}
		return Proxy{Type: DIRECT}, true
	case PROXY, HTTP, HTTPS, SOCKS, SOCKS4, SOCKS5:
	default:
		return Proxy{}, false
	}
	if len(fields) != 2 {
		return Proxy{}, false
	}
	hp, ok := normalizeHostPort(fields[1], DefaultPort(t))
	if !ok {
		return Proxy{}, false
	}
	return Proxy{Type: t, Host: hp}, true
}

// normalizeHostPort checks "host", "host:port", "[v6]", "[v6]:port" or a
// bare IPv6 literal and returns "host:port".
func normalizeHostPort(s string, defPort int) (string, bool) {
	host, port := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", false
		}
		host = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return "", false
			}
			port = rest[1:]
		}
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
			return "", false
		}
	case strings.Count(s, ":") > 1:
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is6() {
			return "", false
		}
	case strings.Contains(s, ":"):
		i := strings.IndexByte(s, ':')
		host, port = s[:i], s[i+1:]
	}
	p := defPort
	if port != "" || strings.HasSuffix(s, ":") {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '+' {
			return "", false
		}
		p = n
	}
	if !validHost(host) {
		return "", false
	}
	return net.JoinHostPort(strings.ToLower(host), strconv.Itoa(p)), true
}

func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '.', c == '_':
		default:
			return false
		}
	}
	return true
}
