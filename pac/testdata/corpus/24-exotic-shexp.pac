// shExpMatch patterns with characters that are special in regular
// expressions; browsers (and pacparser) keep their regexp meaning.
function FindProxyForURL(url, host) {
    if (shExpMatch(host, "[wW]ww.example.org")) return "PROXY class.corp.example.com:8080";
    if (shExpMatch(host, "a+b.example.com")) return "PROXY plus.corp.example.com:8080";
    if (shExpMatch(host, "(api|web).example.net")) return "PROXY group.corp.example.com:8080";
    if (shExpMatch(url, "*?q=*")) return "PROXY query.corp.example.com:8080";
    return "DIRECT";
}
