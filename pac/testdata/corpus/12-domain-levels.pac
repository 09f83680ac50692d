function FindProxyForURL(url, host) {
    var levels = dnsDomainLevels(host);
    if (levels == 0) return "DIRECT";
    if (levels == 1) return "PROXY short.corp.example.com:8080";
    if (levels >= 4) return "PROXY deep.corp.example.com:8080; DIRECT";
    return "PROXY proxy.corp.example.com:8080";
}
