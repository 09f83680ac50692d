// Choose the site proxy by the client's own address.
function FindProxyForURL(url, host) {
    var me = myIpAddress();
    if (isPlainHostName(host)) return "DIRECT";
    if (isInNet(me, "10.20.0.0", "255.255.0.0"))
        return "PROXY fra-proxy.corp.example.com:8080; PROXY ams-proxy.corp.example.com:8080";
    if (isInNet(me, "10.30.0.0", "255.255.0.0"))
        return "PROXY nyc-proxy.corp.example.com:8080";
    return "PROXY global-proxy.corp.example.com:8080";
}
