package pac

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// testDNS is a UDP DNS server on 127.0.0.1 that answers A queries for
// the names in a, NXDOMAIN for the rest, and records every name asked.
type testDNS struct {
	conn net.PacketConn
	a    map[string]net.IP // lower case, no trailing dot

	mu      sync.Mutex
	queried []string
}

func startTestDNS(t *testing.T, a map[string]net.IP) *testDNS {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testDNS{conn: c, a: a}
	done := make(chan struct{})
	t.Cleanup(func() { c.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := s.answer(buf[:n]); resp != nil {
				c.WriteTo(resp, from)
			}
		}
	}()
	return s
}

func (s *testDNS) answer(req []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(req)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	name := strings.ToLower(strings.TrimSuffix(q.Name.String(), "."))
	s.mu.Lock()
	if !slices.Contains(s.queried, name) {
		s.queried = append(s.queried, name)
	}
	s.mu.Unlock()
	ip, known := s.a[name]
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	if known && q.Type == dnsmessage.TypeA {
		var a [4]byte
		copy(a[:], ip.To4())
		b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: a})
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}

func (s *testDNS) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.queried)
}

// resolver returns a Go resolver that asks only s, whatever
// /etc/resolv.conf names.
func (s *testDNS) resolver() *net.Resolver {
	addr := s.conn.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", addr)
		},
	}
}

// wpadServer serves body as /wpad.dat on 127.0.0.1 and records the Host
// headers it saw.
func wpadServer(t *testing.T, body string) (*httptest.Server, *[]string) {
	var mu sync.Mutex
	hosts := new([]string)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		*hosts = append(*hosts, r.Host)
		mu.Unlock()
		if r.URL.Path != "/wpad.dat" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/x-ns-proxy-autoconfig")
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, hosts
}

func serverPort(t *testing.T, srv *httptest.Server) int {
	_, p, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

func wpadOptions(t *testing.T, dns *testDNS, port int) DiscoverOptions {
	o := offlineOptions(t)
	o.NoWPAD = false
	o.Resolver = dns.resolver()
	o.WPADPort = port
	o.Timeout = 2 * time.Second
	o.Files = fstest.MapFS{"etc/resolv.conf": {Data: fixture(t, "resolv.conf")}}
	return o
}

var loopback = net.IPv4(127, 0, 0, 1)

func TestDiscoverWPADDNS(t *testing.T) {
	srv, hosts := wpadServer(t, string(fixture(t, "wpad.dat")))
	// wpad.b.corp.example resolves but serves no PAC file there (a web
	// server that answers 404): discovery must go on to wpad.corp.example.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.2", strconv.Itoa(serverPort(t, srv))))
	if err != nil {
		t.Fatal(err)
	}
	other := httptest.NewUnstartedServer(http.NotFoundHandler())
	other.Listener = ln
	other.Start()
	defer other.Close()
	dns := startTestDNS(t, map[string]net.IP{
		"wpad.b.corp.example": net.IPv4(127, 0, 0, 2),
		"wpad.corp.example":   loopback,
		"wpad.example":        loopback, // must never be asked
		"wpad.co.uk":          loopback, // idem
	})
	o := wpadOptions(t, dns, serverPort(t, srv))
	o.Hostname = func() (string, error) { return "laptop.eng.corp.example", nil }

	got := discover(t, o)
	want := []Setting{{Source: "WPAD DNS wpad.corp.example", PACURL: "http://wpad.corp.example:" + strconv.Itoa(serverPort(t, srv)) + "/wpad.dat"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// The walk from a.b.corp.example stops at the first hit, and the
	// fetch carried the WPAD name.
	if q, w := dns.names(), []string{"wpad.a.b.corp.example", "wpad.b.corp.example", "wpad.corp.example"}; !slices.Equal(q, w) {
		t.Errorf("queried %q, want %q", q, w)
	}
	if len(*hosts) != 1 || !strings.HasPrefix((*hosts)[0], "wpad.corp.example:") {
		t.Errorf("HTTP Host headers: %q", *hosts)
	}

	// The discovered URL becomes a Loader that evaluates the script.
	client := &http.Client{Transport: &http.Transport{DialContext: newDiscoverer(o).dial}}
	l := got[0].Loader(client)
	res, err := l.FindProxyForURL(context.Background(), "http://www.example.org/", "www.example.org")
	if err != nil || res != "PROXY proxy.corp.example:8080; DIRECT" {
		t.Errorf("FindProxyForURL = %q, %v", res, err)
	}
	if res, _ := l.FindProxyForURL(context.Background(), "http://intranet.corp.example/", "intranet.corp.example"); res != "DIRECT" {
		t.Errorf("intranet: %q", res)
	}
}

// TestDiscoverWPADBoundary: nothing answers, so every candidate is asked;
// none lies beyond an organisation's domain.
func TestDiscoverWPADBoundary(t *testing.T) {
	dns := startTestDNS(t, map[string]net.IP{
		"wpad.example": loopback,
		"wpad.co.uk":   loopback,
		"wpad.uk":      loopback,
	})
	o := wpadOptions(t, dns, 1) // nothing is ever fetched
	o.Hostname = func() (string, error) { return "host.dept.x.co.uk", nil }
	var trace []string
	o.Trace = func(s string) { trace = append(trace, s) }
	if got := discover(t, o); len(got) != 0 {
		t.Fatalf("got %v, want nothing", got)
	}
	want := []string{"wpad.a.b.corp.example", "wpad.b.corp.example", "wpad.corp.example", "wpad.x.co.uk", "wpad.dept.x.co.uk"}
	if q := dns.names(); !slices.Equal(q, want) {
		t.Errorf("queried %q, want %q", q, want)
	}
	if !slices.ContainsFunc(trace, func(s string) bool { return s == "WPAD DNS: wpad.corp.example: not found" }) {
		t.Errorf("trace lacks the lookup of wpad.corp.example: %q", trace)
	}
}

// TestDiscoverWPADInvalid: a name that resolves but serves something
// that is not a PAC file is passed over.
func TestDiscoverWPADInvalid(t *testing.T) {
	srv, _ := wpadServer(t, "<html><body>It works!</body></html>")
	dns := startTestDNS(t, map[string]net.IP{"wpad.corp.example": loopback})
	o := wpadOptions(t, dns, serverPort(t, srv))
	var trace []string
	o.Trace = func(s string) { trace = append(trace, s) }
	if got := discover(t, o); len(got) != 0 {
		t.Fatalf("got %v, want nothing", got)
	}
	if !slices.ContainsFunc(trace, func(s string) bool {
		return strings.HasPrefix(s, "WPAD DNS: wpad.corp.example (127.0.0.1): pac: script error")
	}) {
		t.Errorf("trace: %q", trace)
	}

	// Valid JavaScript without FindProxyForURL is no PAC file either.
	srv2, _ := wpadServer(t, "var x = 1;")
	o.WPADPort = serverPort(t, srv2)
	if got := discover(t, o); len(got) != 0 {
		t.Fatalf("script without FindProxyForURL: got %v", got)
	}
}

func TestDiscoverWPADDHCP(t *testing.T) {
	srv, _ := wpadServer(t, string(fixture(t, "wpad.dat")))
	u := srv.URL + "/wpad.dat"
	lease := strings.ReplaceAll(string(fixture(t, "dhclient.leases")), "{{WPAD}}", u)
	// No name resolves, so nmcli's URL below fails before any
	// connection is tried.
	dns := startTestDNS(t, nil)
	o := wpadOptions(t, dns, serverPort(t, srv))
	o.Files = fstest.MapFS{
		"etc/resolv.conf":                    {Data: fixture(t, "resolv.conf")},
		"var/lib/dhcp/dhclient.eth0.leases":  {Data: []byte(lease)},
		"var/lib/NetworkManager/secret-key":  {Data: []byte("not a lease")},
		"var/lib/NetworkManager/x.lease.old": {Data: []byte("WPAD=http://stale.example/wpad.dat")},
	}
	got := discover(t, o)
	want := []Setting{{Source: "WPAD DHCP option 252 (/var/lib/dhcp/dhclient.eth0.leases)", PACURL: u}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// DHCP answered: DNS was not asked.
	if q := dns.names(); len(q) != 0 {
		t.Errorf("DNS queried after a DHCP hit: %q", q)
	}

	// nmcli goes first; its URL (wpad.corp.example) does not resolve,
	// so the lease file's URL wins.
	o.Commands = fakeCommands(t, map[string]string{"nmcli -t -f DHCP4 device show": "nmcli-dhcp4.txt"})
	var trace []string
	o.Trace = func(s string) { trace = append(trace, s) }
	if got := discover(t, o); !reflect.DeepEqual(got, want) {
		t.Fatalf("with nmcli: got %v, want %v", got, want)
	}
	if len(trace) == 0 || !slices.ContainsFunc(trace, func(s string) bool {
		return strings.HasPrefix(s, "WPAD DHCP: http://wpad.corp.example/wpad.dat (nmcli): ")
	}) {
		t.Errorf("nmcli URL not tried: %q", trace)
	}
}
