package kerberos

import (
	"context"
	"testing"

	"github.com/sesame-auth/sesame/internal/lab"
)

// BenchmarkAcceptAPReq measures AP-REQ verifications per second: a
// service ticket from a real MIT KDC, a fresh authenticator (and so a
// fresh AP-REQ) per iteration, made before the timer starts, mutual
// authentication (AP-REP) and the replay cache on. The ticket carries
// MIT's minimal PAC, whose signature is verified each time.
//
// go test ./kerberos -run '^$' -bench BenchmarkAcceptAPReq -cpu 1
func BenchmarkAcceptAPReq(b *testing.B) {
	k := startKDCBench(b)
	cfg, err := LoadConfig(k.Krb5Conf)
	if err != nil {
		b.Fatal(err)
	}
	c, err := NewFromCCache(k.Kinit(b, "alice", alicePass), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	c.mu.Lock()
	tgt, err := c.tgtLocked()
	var st *ticket
	if err == nil {
		st, err = c.serviceTicketLocked(tgt, "HTTP/localhost", "CORP.TEST")
	}
	c.mu.Unlock()
	if err != nil {
		b.Fatal(err)
	}
	kt, err := LoadKeytab(k.ServiceKeytab)
	if err != nil {
		b.Fatal(err)
	}
	a := &Acceptor{Keytab: kt}
	tokens := make([][]byte, b.N)
	for i := range tokens {
		x := &SecContext{opts: ContextOptions{}}
		if err := x.build(st, nil); err != nil {
			b.Fatal(err)
		}
		tokens[i] = x.token
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r, err := a.Accept(ctx, tokens[i], nil)
		if err != nil || !r.PAC || r.MutualToken == nil {
			b.Fatalf("%d: %v", i, err)
		}
	}
}

func startKDCBench(b *testing.B) *lab.KDC {
	b.Helper()
	return lab.StartKDC(b, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: alicePass}}})
}
