// Office hours go through the filtering proxy, the rest through the
// batch proxy.
function FindProxyForURL(url, host) {
    if (dnsDomainIs(host, ".corp.example.com")) return "DIRECT";
    if (weekdayRange("MON", "FRI") && timeRange(8, 17))
        return "PROXY filter.corp.example.com:8080";
    if (weekdayRange("SAT", "SUN"))
        return "PROXY weekend.corp.example.com:8080";
    return "PROXY night.corp.example.com:8080";
}
