// Seasonal rules (non-wrapping ranges only: see 22-time-wrap.pac).
function FindProxyForURL(url, host) {
    if (dateRange("DEC")) return "PROXY december.corp.example.com:8080";
    if (dateRange("JUN", "AUG")) return "PROXY summer.corp.example.com:8080";
    if (dateRange(1, 10)) return "PROXY early.corp.example.com:8080";
    if (dateRange(2024)) return "PROXY y2024.corp.example.com:8080";
    return "PROXY default.corp.example.com:8080";
}
