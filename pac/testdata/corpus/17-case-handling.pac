// dnsDomainIs and shExpMatch are case-sensitive: normalise first.
function FindProxyForURL(url, host) {
    var h = host.toLowerCase();
    if (dnsDomainIs(h, ".corp.example.com")) return "DIRECT";
    if (dnsDomainIs(host, ".CORP.EXAMPLE.COM")) return "PROXY upper.corp.example.com:8080";
    if (shExpMatch(url.toLowerCase(), "*/download/*")) return "PROXY dl.corp.example.com:8080";
    return "PROXY proxy.corp.example.com:8080";
}
