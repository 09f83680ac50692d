// Mixed proxy types and keyword case, left for the result parser.
function FindProxyForURL(url, host) {
    if (shExpMatch(host, "*.git.example.com") || shExpMatch(url, "ssh://*"))
        return "SOCKS socks.corp.example.com:1080";
    if (shExpMatch(host, "*.video.example.com"))
        return "socks5 socks5.corp.example.com; DIRECT";
    if (shExpMatch(host, "secure*"))
        return "HTTPS tls-proxy.corp.example.com:443;PROXY proxy.corp.example.com";
    return "Proxy proxy.corp.example.com:8080 ;  direct";
}
