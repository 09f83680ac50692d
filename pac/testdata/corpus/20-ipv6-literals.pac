// IPv6 literal hosts (passed without brackets).
function FindProxyForURL(url, host) {
    if (host.indexOf(":") >= 0) {
        if (shExpMatch(host, "fe80:*") || shExpMatch(host, "fd*")) return "DIRECT";
        return "PROXY v6.corp.example.com:8080";
    }
    if (isPlainHostName(host)) return "DIRECT";
    return "PROXY proxy.corp.example.com:8080";
}
