// Spread hosts over four proxies by a hash of the host name, keeping one
// host on one proxy (sticky sessions), with the next one as failover.
var proxies = ["px1.corp.example.com:3128", "px2.corp.example.com:3128",
               "px3.corp.example.com:3128", "px4.corp.example.com:3128"];

function hashHost(h) {
    var sum = 0;
    for (var i = 0; i < h.length; i++) {
        sum = (sum * 31 + h.charCodeAt(i)) % 1000003;
    }
    return sum;
}

function FindProxyForURL(url, host) {
    if (isPlainHostName(host)) return "DIRECT";
    var n = hashHost(host.toLowerCase()) % proxies.length;
    var m = (n + 1) % proxies.length;
    return "PROXY " + proxies[n] + "; PROXY " + proxies[m] + "; DIRECT";
}
