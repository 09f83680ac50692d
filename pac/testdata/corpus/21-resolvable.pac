// Names that don't resolve go to the proxy; only localhost and literals
// resolve in the test environment (no DNS server is asked).
function FindProxyForURL(url, host) {
    if (!isResolvable(host)) return "PROXY proxy.corp.example.com:8080";
    var ip = dnsResolve(host);
    if (isInNet(ip, "127.0.0.0", "255.0.0.0")) return "DIRECT";
    if (isInNet(host, "10.0.0.0", "255.0.0.0")) return "PROXY ten.corp.example.com:8080";
    return "PROXY resolved.corp.example.com:8080; DIRECT";
}
