// Rules in GMT for a global fleet.
function FindProxyForURL(url, host) {
    if (isPlainHostName(host)) return "DIRECT";
    if (weekdayRange("SAT", "GMT") || weekdayRange("SUN", "GMT"))
        return "PROXY weekend-gmt.corp.example.com:8080";
    if (timeRange(0, 6, "GMT")) return "PROXY maint.corp.example.com:8080; DIRECT";
    if (dateRange(1, "GMT")) return "PROXY first.corp.example.com:8080";
    return "PROXY proxy.corp.example.com:8080";
}
