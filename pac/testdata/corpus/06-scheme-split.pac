function FindProxyForURL(url, host) {
    if (url.substring(0, 5) == "http:")
        return "PROXY http-proxy.corp.example.com:80";
    if (url.substring(0, 6) == "https:")
        return "PROXY https-proxy.corp.example.com:443";
    if (url.substring(0, 4) == "ftp:")
        return "PROXY ftp-proxy.corp.example.com:2121";
    if (url.substring(0, 3) == "ws:" || url.substring(0, 4) == "wss:")
        return "DIRECT";
    return "PROXY other.corp.example.com:8080";
}
