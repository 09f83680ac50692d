package pac

import (
	"context"
	"testing"
)

// BenchmarkFindProxyForURL evaluates a typical corporate script (bypass
// list, private ranges, load balancing by host hash) on a mix of URLs,
// from all cores: go test -run '^$' -bench FindProxyForURL ./pac/
func BenchmarkFindProxyForURL(b *testing.B) {
	src := []byte(`
var bypass = ["*.corp.example.com", "*.intra.example", "intranet", "*.internal",
              "10.*", "192.168.*", "*.svc.cluster.local", "*-dev.example.com"];
var proxies = ["px1.corp.example.com:3128", "px2.corp.example.com:3128", "px3.corp.example.com:3128"];
function FindProxyForURL(url, host) {
    host = host.toLowerCase();
    if (isPlainHostName(host)) return "DIRECT";
    for (var i = 0; i < bypass.length; i++)
        if (shExpMatch(host, bypass[i])) return "DIRECT";
    if (/^\d+\.\d+\.\d+\.\d+$/.test(host) && (isInNet(host, "172.16.0.0", "255.240.0.0") ||
        isInNet(host, "127.0.0.0", "255.0.0.0"))) return "DIRECT";
    if (dnsDomainIs(host, ".partner.example.net")) return "PROXY partner.corp.example.com:8080; DIRECT";
    var h = 0;
    for (var j = 0; j < host.length; j++) h = (h * 31 + host.charCodeAt(j)) % 1000003;
    return "PROXY " + proxies[h % proxies.length] + "; DIRECT";
}`)
	s, err := Compile(src, Options{Resolver: testResolver(), MyIP: StaticMyIP("10.20.30.40")})
	if err != nil {
		b.Fatal(err)
	}
	urls := []string{
		"http://www.example.org/index.html", "https://login.example.com/x", "http://wiki/",
		"http://jira.corp.example.com/browse/A-1", "http://172.20.1.1/", "http://x.partner.example.net/",
		"http://feature-dev.example.com/", "http://cdn.example.net/lib.js",
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.FindProxyForURL(context.Background(), urls[i%len(urls)], ""); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evals/s")
}
