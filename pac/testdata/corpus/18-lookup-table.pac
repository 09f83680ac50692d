var routes = {
    "example.org": "PROXY org.corp.example.com:8080",
    "example.net": "PROXY net.corp.example.com:8080",
    "corp.example.com": "DIRECT",
    "partner.example.net": "PROXY partner.corp.example.com:8080; DIRECT"
};

function FindProxyForURL(url, host) {
    var parts = host.split(".");
    for (var i = 0; i < parts.length; i++) {
        var suffix = parts.slice(i).join(".");
        if (routes.hasOwnProperty(suffix)) return routes[suffix];
    }
    return "PROXY proxy.corp.example.com:8080";
}
