// Plain host names and the company domains go direct; the rest via proxy.
function FindProxyForURL(url, host) {
    if (isPlainHostName(host) ||
        dnsDomainIs(host, ".corp.example.com") ||
        dnsDomainIs(host, ".intra.example"))
        return "DIRECT";
    return "PROXY proxy.corp.example.com:8080";
}
