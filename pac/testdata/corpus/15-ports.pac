// Non-standard ports go through a dedicated proxy.
function FindProxyForURL(url, host) {
    var m = /^[a-z]+:\/\/[^\/]*:(\d+)/i.exec(url);
    var port = m ? parseInt(m[1], 10) : 0;
    if (port == 8080 || port == 8443) return "PROXY alt.corp.example.com:8080";
    if (port != 0 && port != 80 && port != 443) return "PROXY ports.corp.example.com:3128; DIRECT";
    return "PROXY proxy.corp.example.com:8080";
}
