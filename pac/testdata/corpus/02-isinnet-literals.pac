// Private address literals bypass the proxy. isInNet is only asked about
// IP literals, so no name lookup happens.
function FindProxyForURL(url, host) {
    var isIP = /^\d+\.\d+\.\d+\.\d+$/.test(host);
    if (isIP) {
        if (isInNet(host, "10.0.0.0", "255.0.0.0") ||
            isInNet(host, "172.16.0.0", "255.240.0.0") ||
            isInNet(host, "192.168.0.0", "255.255.0.0") ||
            isInNet(host, "127.0.0.0", "255.0.0.0"))
            return "DIRECT";
        if (isInNet(host, "100.64.0.0", "255.192.0.0"))
            return "PROXY cgnat-gw.corp.example.com:3128";
    }
    return "PROXY proxy1.corp.example.com:8080; PROXY proxy2.corp.example.com:8080";
}
