package pac

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// A backtracking pattern goes to regexp2, where goja's interrupt does not
// reach: the evaluation must still return at its deadline (it ran 38.7 s
// under a 200 ms limit), and the Script must keep working afterwards.
func TestBacktrackingRegexpReturnsAtDeadline(t *testing.T) {
	const limit = 200 * time.Millisecond
	opts := baseOpts()
	opts.Timeout = limit
	s, err := Compile([]byte(`function FindProxyForURL(url, host) {
		if (host == "evil.test" && /^(?=x?)(a+)+$/.test("`+strings.Repeat("a", 29)+`!")) return "PROXY matched:1";
		return "DIRECT";
	}`), opts)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		r   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		r, err := s.FindProxyForURL(context.Background(), "http://evil.test/", "")
		ch <- result{r, err}
	}()
	select {
	case r := <-ch:
		if !errors.Is(r.err, ErrTimeout) {
			t.Fatalf("backtracking regexp: %q, %v; want ErrTimeout", r.r, r.err)
		}
	case <-time.After(10 * limit):
		t.Fatalf("backtracking regexp: no answer within %v (limit %v)", 10*limit, limit)
	}
	for i := 0; i < 3; i++ {
		if r, err := s.FindProxyForURL(context.Background(), "http://ok.test/", ""); err != nil || r != "DIRECT" {
			t.Fatalf("evaluation after the timeout: %q, %v", r, err)
		}
	}
}

// gateResolver blocks every lookup until gate is closed (or the lookup's
// context ends), and reports each lookup that started.
type gateResolver struct {
	gate    chan struct{}
	started chan struct{}
}

func (g *gateResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	g.started <- struct{}{}
	select {
	case <-g.gate:
		return []netip.Addr{netip.MustParseAddr("10.0.0.1")}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func TestMaxConcurrentEvaluations(t *testing.T) {
	g := &gateResolver{gate: make(chan struct{}), started: make(chan struct{}, 10)}
	opts := Options{Resolver: g, MyIP: StaticMyIP("10.20.30.40"), DNSCacheTTL: -1,
		Timeout: time.Minute, DNSTimeout: time.Minute, MaxConcurrent: 1}
	s, err := Compile([]byte(`function FindProxyForURL(url, host) {
		if (host == "slow.test") dnsResolve(host);
		return "DIRECT";
	}`), opts)
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		_, err := s.FindProxyForURL(context.Background(), "http://slow.test/", "")
		first <- err
	}()
	<-g.started // the only slot is taken
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.FindProxyForURL(ctx, "http://fast.test/", "")
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrBusy) {
			t.Fatalf("second evaluation while the slot is taken: %v, want ErrBusy", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("waiting for a slot ignored the context's deadline")
	}
	close(g.gate)
	if err := <-first; err != nil {
		t.Fatalf("first evaluation: %v", err)
	}
	if r, err := s.FindProxyForURL(context.Background(), "http://fast.test/", ""); err != nil || r != "DIRECT" {
		t.Fatalf("after the slot was freed: %q, %v", r, err)
	}
}

// Browsers lower-case the host before calling FindProxyForURL, in both
// arguments; a script comparing case-sensitively must route as they do.
func TestHostLowerCased(t *testing.T) {
	s, err := Compile([]byte(`function FindProxyForURL(url, host) {
		if (host == "upper.corp.example" && url.indexOf("://upper.corp.example/") > 0) return "PROXY inside:3128";
		return "DIRECT; " + url + " " + host;
	}`), baseOpts())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ url, host string }{
		{"https://UPPER.Corp.Example/", ""},
		{"https://UPPER.Corp.Example/", "UPPER.Corp.Example"},
		{"http://Upper.CORP.example/Path/Kept", ""},
		{"https://upper.corp.example:443/x", "Upper.Corp.Example"},
	} {
		if r, err := s.FindProxyForURL(context.Background(), c.url, c.host); err != nil || r != "PROXY inside:3128" {
			t.Errorf("FindProxyForURL(%q, %q) = %q, %v", c.url, c.host, r, err)
		}
	}
	// Only the host is lower-cased.
	s, err = Compile([]byte(`function FindProxyForURL(url, host) { return url; }`), baseOpts())
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := s.FindProxyForURL(context.Background(), "http://WWW.Corp.Test/Some/Path?Q=A", ""); r != "http://www.corp.test/Some/Path?Q=A" {
		t.Errorf("url = %q", r)
	}
}
