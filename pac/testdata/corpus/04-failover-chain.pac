function FindProxyForURL(url, host) {
    if (shExpMatch(host, "*.local") || host == "localhost")
        return "DIRECT";
    if (dnsDomainIs(host, ".partner.example.net"))
        return "PROXY partner-gw.corp.example.com:8080; DIRECT";
    return "PROXY primary.corp.example.com:8080; PROXY backup.corp.example.com:8080; " +
           "SOCKS5 socks.corp.example.com:1080; DIRECT";
}
