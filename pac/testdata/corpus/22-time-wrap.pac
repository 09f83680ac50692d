// Ranges that wrap around: the browsers' definition says they hold across
// the wrap point.
function FindProxyForURL(url, host) {
    if (weekdayRange("FRI", "MON")) return "PROXY long-weekend.corp.example.com:8080";
    if (dateRange("NOV", "FEB")) return "PROXY winter.corp.example.com:8080";
    if (timeRange(22, 0, 6, 0)) return "PROXY night.corp.example.com:8080";
    return "PROXY day.corp.example.com:8080";
}
