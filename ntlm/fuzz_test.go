package ntlm

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Seeds shared by the message fuzzers: the MS-NLMP vectors, messages from
// our own client and server, and truncations of them.
func messageSeeds(t testing.TB) [][]byte {
	c := &Client{User: `CORP\alice`, Password: "AlicePass123", Workstation: "WS", TargetSPN: "HTTP/x", ServerCertificate: selfSigned(t)}
	neg, _ := c.Negotiate()
	_, chal, _ := testServer(t).Challenge(neg)
	a, _ := c.Authenticate(neg, chal)
	seeds := [][]byte{
		neg, chal, a.Message,
		h("4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef00000000000000002400240044000000060070170000000f53006500720076006500720002000c0044006f006d00610069006e0001000c0053006500720076006500720000000000"),
		h("4e544c4d5353500003000000180018006c00000018001800840000000c000c00480000000800080054000000100010005c000000100010009c000000358280e20501280a0000000f44006f006d00610069006e00550073006500720043004f004d005000550054004500520098def7b87f88aa5dafe2df779688a172def11c7d5ccdef1367c43011f30298a2ad35ece64f16331c44bdbed927841f94518822b1b3f350c8958682ecbb3e3cb7"),
	}
	for _, m := range seeds[:3] {
		seeds = append(seeds, m[:len(m)/2], m[:12])
	}
	return seeds
}

func FuzzParseNegotiate(f *testing.F) {
	for _, s := range messageSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseNegotiate(b)
		if err != nil {
			return
		}
		if _, err := m.Marshal(); err != nil && len(m.Domain)+len(m.Workstation) < 0xffff {
			t.Fatalf("re-marshal: %v", err)
		}
	})
}

func FuzzParseChallenge(f *testing.F) {
	for _, s := range messageSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseChallenge(b)
		if err != nil {
			return
		}
		// A decoded challenge round-trips through the encoder.
		out, err := m.Marshal()
		if err != nil {
			return // e.g. a target name that does not fit once re-encoded
		}
		back, err := ParseChallenge(out)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if back.ServerChallenge != m.ServerChallenge || back.Flags != m.Flags {
			t.Fatalf("round trip changed the message")
		}
		// The client answers any challenge without panicking.
		c := &Client{User: `CORP\alice`, Password: "x"}
		c.Authenticate(nil, b)
	})
}

func FuzzParseAuthenticate(f *testing.F) {
	for _, s := range messageSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseAuthenticate(b)
		if err != nil {
			return
		}
		out, err := m.Marshal()
		if err != nil {
			return
		}
		back, err := ParseAuthenticate(out)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !bytes.Equal(back.NTResponse, m.NTResponse) || back.User != m.User {
			t.Fatalf("round trip changed the message")
		}
	})
}

func FuzzParseTargetInfo(f *testing.F) {
	f.Add(vTargetInfo().Marshal())
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{6, 0, 4, 0, 2, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ti, err := ParseTargetInfo(b)
		if err != nil {
			return
		}
		back, err := ParseTargetInfo(ti.Marshal())
		if err != nil || len(back) != len(ti) {
			t.Fatalf("round trip: %v", err)
		}
		ti.Flags()
		ti.Timestamp()
		ti.String(AvTargetName)
	})
}

// FuzzServerAuthenticate feeds arbitrary AUTHENTICATE messages to the
// acceptor after a real challenge: it must refuse them without panicking.
func FuzzServerAuthenticate(f *testing.F) {
	for _, s := range messageSeeds(f) {
		f.Add(s)
	}
	s := testServer(f)
	s.AllowNTLMv1, s.AllowLM, s.AllowAnonymous = true, true, true
	s.ChannelBinding = ChannelBindingAccept
	neg, _ := (&Client{}).Negotiate()
	f.Fuzz(func(t *testing.T, b []byte) {
		h, _, err := s.Challenge(neg)
		if err != nil {
			t.Fatal(err)
		}
		id, err := h.Authenticate(context.Background(), b, nil)
		if err == nil && !id.Anonymous {
			t.Fatalf("accepted a forged AUTHENTICATE as %+v", id)
		}
	})
}

func FuzzParseUserFile(f *testing.F) {
	f.Add("CORP:alice:AlicePass123\n# c\n\n:bob:x:y\n", false)
	f.Add("CORP:alice:a4f49c406510bdcab6824ee7c30fd852\n", true)
	f.Add("no colon\n", false)
	f.Fuzz(func(t *testing.T, data string, hashes bool) {
		uf, err := ParseUserFile(strings.NewReader(data), hashes)
		if err != nil {
			return
		}
		uf.LookupCredential(context.Background(), "CORP", "alice")
		uf.LookupCredential(context.Background(), "", "alice@corp")
	})
}

// FuzzDescribe runs the token inspector, and the exchange checker with the
// vector's CHALLENGE, on arbitrary input: people paste garbage into
// `sesame token decode`, and it must answer with an error, not a panic.
func FuzzDescribe(f *testing.F) {
	for _, s := range messageSeeds(f) {
		f.Add(s)
	}
	chal := h(v2Challenge)
	hash := NTHash(vPassword)
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Describe(b)
		if err != nil {
			return
		}
		_ = d.String()
		if d.Type == "AUTHENTICATE" {
			CheckExchange(b, chal, b, hash)
			CheckExchange(nil, chal, b, hash)
		}
	})
}
