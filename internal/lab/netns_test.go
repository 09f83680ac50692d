package lab

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
)

// Inside, the test has only lo, its own /etc/hosts (which Go's resolver
// reads too), 127.0.0.2 on lo, and no way out; outside, nothing changed.
func TestIsolate(t *testing.T) {
	if !Isolate(t, IsolateOptions{Hosts: map[string]string{"origin.lab.test": "127.0.0.2"}}) {
		if data, _ := os.ReadFile("/etc/hosts"); strings.Contains(string(data), "origin.lab.test") {
			t.Errorf("the isolated hosts entry leaked into the system's /etc/hosts:\n%s", data)
		}
		return
	}
	addrs, err := net.DefaultResolver.LookupHost(context.Background(), "origin.lab.test")
	if err != nil || len(addrs) != 1 || addrs[0] != "127.0.0.2" {
		t.Errorf("origin.lab.test resolves to %v, %v; want 127.0.0.2", addrs, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.2 in the namespace: %v", err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial 127.0.0.2 in the namespace: %v", err)
	}
	c.Close()
	// No route out: a documentation address (TEST-NET-1) is unreachable at
	// once, not after a timeout.
	if c, err := net.Dial("udp", "192.0.2.1:9"); err == nil {
		c.Close()
		t.Errorf("a UDP socket to 192.0.2.1 could be connected: the namespace has a route out")
	}
}

// The isolated /etc/hosts: localhost first, then the entries by name.
func TestIsolateHostsFile(t *testing.T) {
	got := string(hostsFile(t, map[string]string{"b.test": "127.0.0.3", "a.test": "::1"}))
	want := "# lab.Isolate: this test's own /etc/hosts\n127.0.0.1 localhost\n::1 localhost\n::1 a.test\n127.0.0.3 b.test\n"
	if got != want {
		t.Errorf("hosts file\n%s\nwant\n%s", got, want)
	}
}
