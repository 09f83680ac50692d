package pac_test

import (
	"context"
	"fmt"

	"github.com/sesame-auth/sesame/pac"
)

func Example() {
	src := []byte(`
		function FindProxyForURL(url, host) {
			if (isPlainHostName(host) || dnsDomainIs(host, ".corp.example.com"))
				return "DIRECT";
			if (shExpMatch(url, "*.pdf"))
				return "PROXY scan.corp.example.com:8080";
			return "PROXY proxy1.corp.example.com:8080; PROXY proxy2.corp.example.com; DIRECT";
		}`)
	script, err := pac.Compile(src, pac.Options{MyIP: pac.StaticMyIP("10.0.0.5")})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, u := range []string{"http://wiki/", "https://www.example.org/secret.pdf", "http://www.example.org/a.pdf"} {
		res, err := script.FindProxyForURL(context.Background(), u, "")
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s -> %v\n", u, pac.ParseResult(res))
	}
	// Output:
	// http://wiki/ -> [DIRECT]
	// https://www.example.org/secret.pdf -> [PROXY proxy1.corp.example.com:8080 PROXY proxy2.corp.example.com:80 DIRECT]
	// http://www.example.org/a.pdf -> [PROXY scan.corp.example.com:8080]
}

func ExampleParseResult() {
	for _, p := range pac.ParseResult("proxy a.corp:3128;; SOCKS5 b.corp ; bogus x; HTTPS c.corp; DIRECT") {
		fmt.Printf("%s %q\n", p.Type, p.Host)
	}
	// Output:
	// PROXY "a.corp:3128"
	// SOCKS5 "b.corp:1080"
	// HTTPS "c.corp:443"
	// DIRECT ""
}

func ExampleLoader() {
	l := &pac.Loader{
		Source: "testdata/corpus/01-intranet-plain.pac",
		Fail:   pac.FailDirect,
	}
	res, err := l.FindProxyForURL(context.Background(), "http://www.example.org/", "")
	fmt.Println(res, err)
	// Output:
	// PROXY proxy.corp.example.com:8080 <nil>
}
