package lab

import (
	"net"
	"strings"
	"testing"
	"time"
)

// These tests check the cntlm fixture the way the benchmarks use it: curl
// (no credentials of its own) -> cntlm -> squid demanding NTLM -> origin,
// and that stopping cntlm leaves no process or listening socket.

// startCntlmChain starts squid demanding NTLM (with the shim: cntlm's
// messages are compact) and a cntlm that authenticates to it as user
// CORP\alice with password.
func startCntlmChain(t *testing.T, password string) (*Squid, *Cntlm) {
	t.Helper()
	s := StartSquid(t, SquidOptions{Auth: "ntlm", Users: proxyUsers, NTLMShim: true})
	c := StartCntlm(t, CntlmOptions{Upstream: s.Addr, Domain: "CORP", User: "alice", Password: password})
	return s, c
}

func TestCntlmThroughSquid(t *testing.T) {
	plain := origin(t)
	tls := tlsOrigin(t)
	s, c := startCntlmChain(t, "AlicePass123")

	// Two URLs on one client connection, as a keep-alive client sends
	// them. (cntlm 0.92.3 authenticates each on a new parent connection;
	// the benchmark measures that, this test only needs both to pass.)
	code, body := curl(t, nil, "-x", c.URL, plain.URL+"/one", plain.URL+"/two")
	if code != 200 || strings.Count(body, "proxy_user=CORP\\alice\n") != 2 {
		t.Fatalf("curl through cntlm: %d %q, want 200 and proxy_user=CORP\\alice twice\ncntlm:\n%s\nsquid:\n%s", code, body, c.Log(), s.CacheLog())
	}
	code, body = curl(t, nil, "-x", c.URL, "-p", "-k", tls.URL+"/tls")
	if code != 200 || body != "tls=yes\n" {
		t.Errorf("CONNECT through cntlm: %d %q, want 200 tls=yes\ncntlm:\n%s", code, body, c.Log())
	}
	for _, path := range []string{"/one", "/two"} {
		s.WaitAccessEntry(t, func(e SquidAccess) bool {
			return e.Method == "GET" && e.URL == plain.URL+path && e.Status == 200 && e.User == `CORP\alice`
		})
	}
	s.WaitAccessEntry(t, func(e SquidAccess) bool {
		return e.Method == "CONNECT" && e.URL == strings.TrimPrefix(tls.URL, "https://") && e.Status == 200 && e.User == `CORP\alice`
	})
}

// TestCntlmWrongPassword checks that squid really verifies what cntlm
// sends (the shim pads messages, it does not wave them through): with a
// wrong password the client gets squid's 407.
func TestCntlmWrongPassword(t *testing.T) {
	plain := origin(t)
	s, c := startCntlmChain(t, "wrong")
	if code, body := curl(t, nil, "-x", c.URL, plain.URL+"/wrong"); code != 407 {
		t.Fatalf("wrong password through cntlm: %d %q, want 407\ncntlm:\n%s\nsquid:\n%s", code, body, c.Log(), s.CacheLog())
	}
}

// TestCntlmStopLeavesNothing stops cntlm while a client holds an idle
// keep-alive connection (as a benchmark or a test failing midway would):
// no process of its group and no listening socket may remain.
func TestCntlmStopLeavesNothing(t *testing.T) {
	plain := origin(t)
	_, c := startCntlmChain(t, "AlicePass123")
	if code, body := curl(t, nil, "-x", c.URL, plain.URL); code != 200 {
		t.Fatalf("curl: %d %q\n%s", code, body, c.Log())
	}
	conn, err := net.DialTimeout("tcp", c.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pgid := c.Pid()
	if left := groupMembers(pgid); len(left) != 1 || !strings.Contains(left[0], "(cntlm)") {
		t.Fatalf("cntlm's process group %d: %v, want cntlm alone", pgid, left)
	}

	begin := time.Now()
	c.Stop()
	t.Logf("stop took %v", time.Since(begin).Round(time.Millisecond))

	if left := groupMembers(pgid); len(left) > 0 {
		t.Fatalf("processes left in group %d: %v", pgid, left)
	}
	if procs := procsMentioning(c.Dir); len(procs) > 0 {
		t.Fatalf("processes still mention %s: %v", c.Dir, procs)
	}
	if cc, err := net.DialTimeout("tcp", c.Addr, 2*time.Second); err == nil {
		cc.Close()
		t.Fatalf("%s still accepts connections after stop", c.Addr)
	}
}
