package proxy

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/auth"
)

// hang bounds the waits of these tests: they end as soon as the awaited
// thing happens, and fail only if it never does.
const hang = 30 * time.Second

// A tunnel whose far end never reads ends after TunnelIdle: the write
// that cannot complete has a deadline, so neither a goroutine nor the two
// descriptors stay behind.
func TestTunnelStalledReaderEnds(t *testing.T) {
	sink, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	held := make(chan net.Conn, 1)
	go func() {
		c, err := sink.Accept()
		if err == nil {
			held <- c // never read
		}
	}()
	defer func() {
		select {
		case c := <-held:
			c.Close()
		default:
		}
	}()

	srv := &Server{Transport: &auth.Transport{}, TunnelIdle: 200 * time.Millisecond}
	px := httptest.NewServer(srv)
	defer px.Close()
	c, err := net.DialTimeout("tcp", px.Listener.Addr().String(), hang)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(hang))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %[1]s\r\n\r\n", sink.Addr())
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "CONNECT"})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	if n := srv.Stats().ActiveTunnels.Load(); n != 1 {
		t.Fatalf("%d active tunnels, want 1", n)
	}
	// Send until every buffer on the way is full and the proxy's write to
	// the sink blocks; the proxy then gives up and closes our side.
	go func() {
		chunk := make([]byte, 64<<10)
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}()
	deadline := time.Now().Add(hang)
	for srv.Stats().ActiveTunnels.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("tunnel to a peer that never reads still open after %v", hang)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
