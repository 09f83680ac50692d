package ntlm

import (
	"context"
	"testing"
)

// BenchmarkClientAuthenticate measures the client's answer to a CHALLENGE:
// NTLMv2 response, key exchange and MIC.
func BenchmarkClientAuthenticate(b *testing.B) {
	c := &Client{User: `CORP\alice`, Password: "AlicePass123", Workstation: "WS"}
	neg, _ := c.Negotiate()
	_, chal, err := testServer(b).Challenge(neg)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Authenticate(neg, chal); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServerVerify measures the acceptor: issuing a CHALLENGE and
// verifying the AUTHENTICATE (NTProofStr, key exchange, MIC). Client work
// is done outside the timer.
func BenchmarkServerVerify(b *testing.B) {
	s := testServer(b)
	c := &Client{User: `CORP\alice`, NTHash: NTHash("AlicePass123"), Workstation: "WS"}
	neg, _ := c.Negotiate()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		h, chal, err := s.Challenge(neg)
		if err != nil {
			b.Fatal(err)
		}
		a, _ := c.Authenticate(neg, chal)
		b.StartTimer()
		if _, err := h.Authenticate(context.Background(), a.Message, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandshake is a whole exchange, both sides.
func BenchmarkHandshake(b *testing.B) {
	s := testServer(b)
	c := &Client{User: `CORP\alice`, Password: "AlicePass123", Workstation: "WS"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := handshake(b, c, s, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}
