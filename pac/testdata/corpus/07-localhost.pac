// Loopback and this host bypass the proxy. localhost is in /etc/hosts, so
// resolving it asks no DNS server.
function FindProxyForURL(url, host) {
    if (host == "localhost" || shExpMatch(host, "127.*") || host == "[::1]" || host == "::1")
        return "DIRECT";
    if (isResolvable("localhost") && dnsResolve("localhost") == "127.0.0.1" &&
        isInNet("localhost", "127.0.0.0", "255.0.0.0") && shExpMatch(host, "*.localhost"))
        return "DIRECT";
    return "PROXY proxy.corp.example.com:8080";
}
