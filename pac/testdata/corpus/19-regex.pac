function FindProxyForURL(url, host) {
    if (/^(www|static|cdn)\d*\.example\.(com|org)$/.test(host))
        return "PROXY cdn-proxy.corp.example.com:8080";
    if (/\.(jpg|png|gif)(\?.*)?$/.test(url))
        return "PROXY images.corp.example.com:8080";
    if (/^https:/.test(url) && host.indexOf("bank") >= 0)
        return "DIRECT";
    return "PROXY proxy.corp.example.com:8080";
}
