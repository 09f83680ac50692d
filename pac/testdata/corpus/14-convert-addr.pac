// Hand-rolled subnet test with convert_addr, as in old Netscape examples.
function inSubnet(ip, net, bits) {
    var mask = bits == 0 ? 0 : (~0 << (32 - bits));
    return (convert_addr(ip) & mask) == (convert_addr(net) & mask);
}

function FindProxyForURL(url, host) {
    if (!/^[0-9.]+$/.test(host)) return "PROXY names.corp.example.com:8080";
    if (inSubnet(host, "10.0.0.0", 8)) return "DIRECT";
    if (inSubnet(host, "198.51.100.0", 24)) return "PROXY doc-net.corp.example.com:8080";
    if (convert_addr(host) < 0) return "PROXY high.corp.example.com:8080";
    return "PROXY low.corp.example.com:8080";
}
