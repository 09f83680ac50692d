// URL pattern rules, as exported by many proxy appliances.
function FindProxyForURL(url, host) {
    if (shExpMatch(url, "http://*.windowsupdate.com/*") ||
        shExpMatch(url, "*://download.example.org/*"))
        return "PROXY updates-cache.corp.example.com:3128";
    if (shExpMatch(url, "*/api/v?/*"))
        return "PROXY api-gw.corp.example.com:8443";
    if (shExpMatch(url, "*.pdf") || shExpMatch(url, "*.zip"))
        return "PROXY av-scan.corp.example.com:8080";
    if (shExpMatch(host, "*.example.com") && !shExpMatch(host, "www.example.com"))
        return "DIRECT";
    return "PROXY proxy.corp.example.com:8080";
}
