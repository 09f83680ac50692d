function FindProxyForURL(url, host) {
    if (localHostOrDomainIs(host, "www.corp.example.com") ||
        localHostOrDomainIs(host, "wiki.corp.example.com") ||
        localHostOrDomainIs(host, "home.corp.example.com"))
        return "DIRECT";
    return "PROXY proxy.corp.example.com:8080";
}
