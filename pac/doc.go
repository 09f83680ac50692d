// Package pac evaluates proxy auto-config (PAC) files.
//
// Compile turns a PAC file into a Script once; Script.FindProxyForURL runs
// it for a URL and ParseResult splits the answer ("PROXY a:8080; DIRECT")
// into Proxy entries. A Loader fetches the file from disk or HTTP, keeps it
// fresh and applies a failure policy.
//
// # Engine and safety
//
// Scripts run in github.com/dop251/goja (pure Go, ES5.1+). A Script keeps a
// pool of runtimes, so it can be used from many goroutines. Each
// evaluation is limited in time (Options.Timeout, 1 s by default: the
// runtime is interrupted), recursion depth (4096 frames), result length
// (32 KiB) and, heuristically, memory (Options.MaxHeapGrowth: goja has no
// heap limit, so a watchdog samples the process heap of evaluations that
// run longer than 20 ms). Sources are limited to 1 MiB. A script that
// throws, loops or allocates without end returns an error; its runtime is
// dropped and the Script stays usable.
//
// # PAC functions
//
// All the Netscape functions (isPlainHostName, dnsDomainIs,
// localHostOrDomainIs, isResolvable, isInNet, dnsResolve, convert_addr,
// myIpAddress, dnsDomainLevels, shExpMatch, weekdayRange, dateRange,
// timeRange, alert) and Microsoft's IPv6 extensions (isResolvableEx,
// dnsResolveEx, myIpAddressEx, isInNetEx, sortIpAddressList,
// getClientVersion) are defined, with the semantics of Chromium and
// Firefox, which share one definition:
//
//   - dnsDomainIs, localHostOrDomainIs and shExpMatch are case-sensitive
//     (browsers pass the host in lower case).
//   - shExpMatch turns "*" into ".*", "?" into "." and escapes "." only:
//     every other regular-expression character keeps its meaning
//     ("[abc]" is a class, "(" is a syntax error that makes the script
//     throw).
//   - isPlainHostName is false for IPv6 literals (Chromium).
//   - dnsResolve, isResolvable and isInNet see IPv4 addresses only; the Ex
//     functions see both families. isInNetEx does not resolve names.
//   - weekdayRange, dateRange and timeRange accept a final "GMT", and
//     ranges wrap (weekdayRange("FRI", "MON"), dateRange("DEC", "JAN"),
//     timeRange(22, 0, 6, 0)), except timeRange(h1, h2), which never wraps
//     in the browsers either. See timefuncs.go for the kept quirks.
//
// FindProxyForURLEx is called instead of FindProxyForURL when the script
// defines it, as Windows does. https:// and wss:// URLs are cut to
// scheme://host[:port]/ before the script sees them, as browsers do
// (Options.KeepHTTPSURL turns that off).
//
// Name lookups go through Options.Resolver with a per-lookup timeout and a
// small TTL cache; myIpAddress comes from Options.MyIP (by default the
// address of the default-route interface, found without sending a packet).
//
// [Discover] finds the proxy settings in effect, in the order browsers
// use: environment, the desktop's or OS's settings (GNOME, KDE, macOS,
// Windows), then WPAD (DHCP option 252, then DNS up to the organisation's
// domain); [Watch] repeats it when the network changes.
package pac
