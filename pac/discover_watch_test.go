package pac

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAddrs is a settable address source for Watch.
type fakeAddrs struct {
	mu    sync.Mutex
	addrs []net.Addr
}

func (f *fakeAddrs) set(cidrs ...string) {
	var as []net.Addr
	for _, c := range cidrs {
		ip, n, err := net.ParseCIDR(c)
		if err != nil {
			panic(err)
		}
		n.IP = ip
		as = append(as, n)
	}
	f.mu.Lock()
	f.addrs = as
	f.mu.Unlock()
}

func (f *fakeAddrs) get() ([]net.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addrs, nil
}

func TestDiscoverWatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var mu sync.Mutex
	proxyEnv := "http://first.example:8080"
	addrs := &fakeAddrs{}
	addrs.set("192.168.1.10/24", "127.0.0.1/8")
	runs := make(chan struct{}, 100) // one per discovery
	o := offlineOptions(t)
	o.Getenv = func(k string) string {
		mu.Lock()
		defer mu.Unlock()
		if k == "HTTP_PROXY" {
			return proxyEnv
		}
		return ""
	}
	o.InterfaceAddrs = addrs.get
	o.AddrPoll = 5 * time.Millisecond
	o.Trace = func(s string) {
		if strings.HasPrefix(s, "env:") {
			runs <- struct{}{}
		}
	}
	waitRun := func() {
		t.Helper()
		select {
		case <-runs:
		case <-ctx.Done():
			t.Fatal("no discovery run")
		}
	}
	w := Watch(ctx, o, time.Hour)
	recv := func() []Setting {
		t.Helper()
		select {
		case s, ok := <-w:
			if !ok {
				t.Fatal("channel closed")
			}
			return s
		case <-ctx.Done():
			t.Fatal("no result")
		}
		return nil
	}
	proxyOf := func(s []Setting) string {
		if len(s) != 1 {
			return ""
		}
		return s[0].ProxiesFor("http")[0].Host
	}

	if got := proxyOf(recv()); got != "first.example:8080" {
		t.Fatalf("first result: %q", got)
	}
	waitRun()

	// New addresses, same result: discovery runs again but sends
	// nothing. When the run after it starts, the previous one has made
	// its decision (a send would still be blocked on the channel).
	addrs.set("10.20.30.40/16", "127.0.0.1/8")
	waitRun()
	addrs.set("10.20.30.41/16", "127.0.0.1/8")
	waitRun()
	select {
	case s := <-w:
		t.Fatalf("unchanged result sent: %v", s)
	default:
	}

	// New network, new proxy: the change is sent.
	mu.Lock()
	proxyEnv = "http://second.example:3128"
	mu.Unlock()
	addrs.set("172.16.0.5/12")
	if got := proxyOf(recv()); got != "second.example:3128" {
		t.Fatalf("after the change: %q", got)
	}

	cancel()
	for range w {
	}
}
