package pac

import (
	"bytes"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"strings"

	"github.com/dop251/goja"
)

// install defines the PAC functions in v's global object. The semantics are
// those of Chromium and Firefox (which share one definition), written anew
// in Go; differences from other engines are noted at each function.
func (v *vm) install() {
	rt := v.rt
	set := func(name string, f func(goja.FunctionCall) goja.Value) {
		if err := rt.Set(name, f); err != nil {
			panic(err)
		}
	}
	set("isPlainHostName", v.isPlainHostName)
	set("dnsDomainIs", v.dnsDomainIs)
	set("localHostOrDomainIs", v.localHostOrDomainIs)
	set("isResolvable", v.isResolvable)
	set("isInNet", v.isInNet)
	set("dnsResolve", v.dnsResolve)
	set("convert_addr", v.convertAddr)
	set("myIpAddress", v.myIPAddress)
	set("dnsDomainLevels", v.dnsDomainLevels)
	set("shExpMatch", v.shExpMatch)
	set("weekdayRange", v.weekdayRange)
	set("dateRange", v.dateRange)
	set("timeRange", v.timeRange)
	set("alert", v.alert)
	set("isResolvableEx", v.isResolvableEx)
	set("dnsResolveEx", v.dnsResolveEx)
	set("myIpAddressEx", v.myIPAddressEx)
	set("isInNetEx", v.isInNetEx)
	set("sortIpAddressList", v.sortIPAddressList)
	set("getClientVersion", func(goja.FunctionCall) goja.Value { return rt.ToValue("1.0") })
}

func (v *vm) arg(c goja.FunctionCall, i int) string {
	a := c.Argument(i)
	return a.String()
}

// isPlainHostName(host): true when host has no dot and is not an IPv6
// literal (Chromium's rule; Firefox looks at dots only).
func (v *vm) isPlainHostName(c goja.FunctionCall) goja.Value {
	h := v.arg(c, 0)
	if strings.Contains(h, ".") {
		return v.rt.ToValue(false)
	}
	_, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
	return v.rt.ToValue(err != nil)
}

// dnsDomainIs(host, domain): host ends with domain. Case-sensitive, as in
// Chromium and Firefox (browsers pass a lower-cased host, so scripts should
// write domains in lower case). dnsDomainIs("www.corp.com", "corp.com") is
// true too: there is no check for a dot boundary.
func (v *vm) dnsDomainIs(c goja.FunctionCall) goja.Value {
	return v.rt.ToValue(strings.HasSuffix(v.arg(c, 0), v.arg(c, 1)))
}

// localHostOrDomainIs(host, hostdom): host equals hostdom, or host is
// unqualified and hostdom starts with host + ".". Case-sensitive.
func (v *vm) localHostOrDomainIs(c goja.FunctionCall) goja.Value {
	h, hd := v.arg(c, 0), v.arg(c, 1)
	return v.rt.ToValue(h == hd || strings.HasPrefix(hd, h+"."))
}

// dnsDomainLevels(host): the number of dots.
func (v *vm) dnsDomainLevels(c goja.FunctionCall) goja.Value {
	return v.rt.ToValue(strings.Count(v.arg(c, 0), "."))
}

func firstV4(addrs []netip.Addr) (netip.Addr, bool) {
	for _, a := range addrs {
		if a.Is4() {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// dnsResolve(host): the first IPv4 address of host, or null. Like
// Chromium, dnsResolve and isResolvable see IPv4 only; the Ex functions
// see both families.
func (v *vm) dnsResolve(c goja.FunctionCall) goja.Value {
	addrs, _ := v.lookup(v.arg(c, 0))
	if a, ok := firstV4(addrs); ok {
		return v.rt.ToValue(a.String())
	}
	return goja.Null()
}

// isResolvable(host): dnsResolve(host) is not null.
func (v *vm) isResolvable(c goja.FunctionCall) goja.Value {
	addrs, _ := v.lookup(v.arg(c, 0))
	_, ok := firstV4(addrs)
	return v.rt.ToValue(ok)
}

// isResolvableEx(host): host resolves to any address, IPv4 or IPv6.
func (v *vm) isResolvableEx(c goja.FunctionCall) goja.Value {
	_, ok := v.lookup(v.arg(c, 0))
	return v.rt.ToValue(ok)
}

// dnsResolveEx(host): all addresses of host separated by ";", or "".
func (v *vm) dnsResolveEx(c goja.FunctionCall) goja.Value {
	addrs, _ := v.lookup(v.arg(c, 0))
	return v.rt.ToValue(joinAddrs(addrs))
}

func joinAddrs(addrs []netip.Addr) string {
	var b strings.Builder
	for i, a := range addrs {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(a.String())
	}
	return b.String()
}

// myIpAddress(): the first IPv4 address of this host, "127.0.0.1" when
// there is none.
func (v *vm) myIPAddress(goja.FunctionCall) goja.Value {
	if a, ok := firstV4(v.s.myIP.get(v.ctx)); ok {
		return v.rt.ToValue(a.String())
	}
	return v.rt.ToValue("127.0.0.1")
}

// myIpAddressEx(): all addresses of this host separated by ";", or "".
func (v *vm) myIPAddressEx(goja.FunctionCall) goja.Value {
	return v.rt.ToValue(joinAddrs(v.s.myIP.get(v.ctx)))
}

// parseDottedQuad accepts exactly four groups of one to three ASCII digits,
// each at most 255 (the browsers' isValidIpAddress; leading zeros are
// decimal).
func parseDottedQuad(s string) (uint32, bool) {
	var out uint32
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return 0, false
	}
	for _, p := range parts {
		if len(p) < 1 || len(p) > 3 {
			return 0, false
		}
		n := 0
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return 0, false
			}
			n = n*10 + int(p[i]-'0')
		}
		if n > 255 {
			return 0, false
		}
		out = out<<8 | uint32(n)
	}
	return out, true
}

// isInNet(host, pattern, mask): pattern and mask must be dotted quads
// (else false); host is used as is when it is a dotted quad, else resolved
// with dnsResolve (IPv4 only); false when it does not resolve.
func (v *vm) isInNet(c goja.FunctionCall) goja.Value {
	pat, ok1 := parseDottedQuad(v.arg(c, 1))
	mask, ok2 := parseDottedQuad(v.arg(c, 2))
	if !ok1 || !ok2 {
		return v.rt.ToValue(false)
	}
	h := v.arg(c, 0)
	ip, ok := parseDottedQuad(h)
	if !ok {
		addrs, _ := v.lookup(h)
		a, found := firstV4(addrs)
		if !found {
			return v.rt.ToValue(false)
		}
		b := a.As4()
		ip = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	}
	return v.rt.ToValue(ip&mask == pat&mask)
}

// convert_addr("a.b.c.d"): the address as a signed 32-bit integer, each
// part taken as a JavaScript number modulo 256 (so junk gives 0, not an
// error), as browsers compute it.
func (v *vm) convertAddr(c goja.FunctionCall) goja.Value {
	parts := strings.Split(v.arg(c, 0), ".")
	var r uint32
	for i := 0; i < 4; i++ {
		var b uint32
		if i < len(parts) {
			b = uint32(toInt32(v.rt.ToValue(parts[i]).ToFloat())) & 0xff
		}
		r = r<<8 | b
	}
	return v.rt.ToValue(int32(r))
}

func toInt32(f float64) int32 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	f = math.Mod(math.Trunc(f), 4294967296)
	if f < 0 {
		f += 4294967296
	}
	return int32(uint32(f))
}

// isInNetEx(ip, prefix): ip (a literal, not resolved, as in Chromium) is in
// the CIDR block prefix ("10.0.0.0/8", "2001:db8::/32"). An IPv4 address
// and an IPv6 prefix (or the reverse) are compared through the
// IPv4-mapped form.
func (v *vm) isInNetEx(c goja.FunctionCall) goja.Value {
	ip, err := netip.ParseAddr(v.arg(c, 0))
	if err != nil {
		return v.rt.ToValue(false)
	}
	p, err := netip.ParsePrefix(v.arg(c, 1))
	if err != nil {
		return v.rt.ToValue(false)
	}
	ip = ip.WithZone("")
	if ip.Is4() != p.Addr().Is4() {
		ip = netip.AddrFrom16(ip.As16())
		if p.Addr().Is4() {
			p = netip.PrefixFrom(netip.AddrFrom16(p.Addr().As16()), p.Bits()+96)
		}
	}
	return v.rt.ToValue(p.Contains(ip))
}

// sortIpAddressList("a;b;..."): the addresses sorted, IPv6 before IPv4,
// each family in ascending order; false when the list is empty or holds
// anything that is not an address.
func (v *vm) sortIPAddressList(c goja.FunctionCall) goja.Value {
	s := v.arg(c, 0)
	if strings.TrimSpace(s) == "" {
		return v.rt.ToValue(false)
	}
	var addrs []netip.Addr
	for _, f := range strings.Split(s, ";") {
		a, err := netip.ParseAddr(strings.TrimSpace(f))
		if err != nil {
			return v.rt.ToValue(false)
		}
		addrs = append(addrs, a)
	}
	slices.SortStableFunc(addrs, func(a, b netip.Addr) int {
		if a.Is4() != b.Is4() {
			if a.Is6() {
				return -1
			}
			return 1
		}
		a16, b16 := a.As16(), b.As16()
		return bytes.Compare(a16[:], b16[:])
	})
	return v.rt.ToValue(joinAddrs(addrs))
}

// alert(msg) logs msg at level Info (browsers show it in a console too).
func (v *vm) alert(c goja.FunctionCall) goja.Value {
	msg := v.arg(c, 0)
	if len(msg) > 1024 {
		msg = msg[:1024] + "…"
	}
	v.s.opts.Logger.Info("pac alert", slog.String("msg", msg))
	return goja.Undefined()
}

// shExpMatch(str, pattern): the browsers turn the pattern into a regular
// expression by escaping ".", turning "*" into ".*" and "?" into ".", and
// anchor it; every other character keeps its regular-expression meaning.
// So "[abc]" is a character class, "a+b" matches "aab", "(" alone is a
// syntax error that makes the script throw, and "*" and "?" do not match
// line terminators. Matching is case-sensitive. Plain patterns (ASCII,
// only "*", "?" and literal characters) take a fast path that gives the
// same answers without building a regular expression.
func (v *vm) shExpMatch(c goja.FunctionCall) goja.Value {
	str, pat := v.arg(c, 0), v.arg(c, 1)
	if isPlainGlob(pat) && isPlainSubject(str) {
		return v.rt.ToValue(globMatch(str, pat))
	}
	re, ok := v.reCache[pat]
	if !ok {
		src := strings.ReplaceAll(pat, ".", `\.`)
		src = strings.ReplaceAll(src, "*", ".*")
		src = strings.ReplaceAll(src, "?", ".")
		obj, err := v.rt.New(v.regexpCtor, v.rt.ToValue("^"+src+"$"))
		if err != nil {
			panic(err)
		}
		re = obj
		if len(v.reCache) >= 256 {
			clear(v.reCache)
		}
		v.reCache[pat] = re
	}
	r, err := v.regexpTest(re, v.rt.ToValue(str))
	if err != nil {
		panic(err)
	}
	return r
}

func isPlainGlob(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c >= 0x80 || c < 0x20 {
			return false
		}
		switch c {
		case '\\', '^', '$', '+', '(', ')', '[', ']', '{', '}', '|':
			return false
		}
	}
	return true
}

func isPlainSubject(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || c == '\n' || c == '\r' {
			return false
		}
	}
	return true
}

// globMatch matches s against p where "*" is any run and "?" any one
// character; callers make sure s has no line terminators, so this is
// exactly the anchored regular expression.
func globMatch(s, p string) bool {
	si, pi := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			si++
			pi++
		case star >= 0:
			mark++
			si, pi = mark, star+1
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// lookup resolves host through the Script's cache, pausing the heap watch.
func (v *vm) lookup(host string) ([]netip.Addr, bool) {
	v.inLookup.Store(true)
	defer v.inLookup.Store(false)
	return v.s.dns.lookup(v.ctx, host)
}
