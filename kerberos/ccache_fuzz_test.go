package kerberos

import (
	"bytes"
	"testing"
	"time"
)

func sampleContents() *CCacheContents {
	alice := CCPrincipal{NameType: 1, Components: []string{"alice"}, Realm: "CORP.TEST"}
	return &CCacheContents{Principal: alice, Credentials: []*CCCredential{{
		Client: alice, Server: CCPrincipal{NameType: 2, Components: []string{"krbtgt", "CORP.TEST"}, Realm: "CORP.TEST"},
		AuthTime: time.Unix(1700000000, 0), EndTime: time.Unix(1700036000, 0), Flags: 0x40e10000,
		Ticket: []byte{0x61, 0x03, 0x02, 0x01, 0x05},
	}}}
}

// FuzzParseFileCCache: no input panics or allocates without bound, and
// what decodes re-encodes to something that decodes the same.
func FuzzParseFileCCache(f *testing.F) {
	f.Add(MarshalFileCCache(sampleContents()))
	f.Add([]byte{5, 4, 0, 0})
	f.Add([]byte{5, 3, 0, 0, 0, 1})
	f.Add([]byte{5, 1, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		cc, err := ParseFileCCache(b)
		if err != nil {
			return
		}
		again, err := ParseFileCCache(MarshalFileCCache(cc))
		if err != nil {
			t.Fatalf("re-encoded cache does not decode: %v", err)
		}
		if !bytes.Equal(MarshalFileCCache(again), MarshalFileCCache(cc)) {
			t.Fatal("re-encoding is not stable")
		}
	})
}

// FuzzKCMReply feeds arbitrary daemon replies to the KCM decoders.
func FuzzKCMReply(f *testing.F) {
	f.Add(append([]byte{0, 0, 0, 0}, MarshalCCCredential(sampleContents().Credentials[0])...))
	f.Add([]byte{0, 0, 0, 0, '0', ':', '1', 0})
	f.Add(make([]byte, 4+32))
	f.Fuzz(func(t *testing.T, b []byte) {
		frame := append([]byte{0, 0, 0, 0, 0, 0, 0, 0}, b...)
		frame[3] = byte(len(b))
		_, _, _ = readKCMReply(bytes.NewReader(frame))
		_, body, err := parseKCMReply(b)
		if err != nil {
			return
		}
		_, _ = kcmName(body)
		_, _ = kcmUUIDs(body)
		_, _ = ParseCCPrincipal(body)
		_, _ = ParseCCCredential(body)
	})
}

// FuzzKeyringPayload feeds arbitrary key payloads to the keyring
// decoders: the collection's primary key, __krb5_princ__, a ticket key.
func FuzzKeyringPayload(f *testing.F) {
	f.Add(MarshalCCPrincipal(sampleContents().Principal))
	f.Add(MarshalCCCredential(sampleContents().Credentials[0]))
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 3, 't', 'k', 't'})
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := ParseCCPrincipal(b); err == nil {
			if q, err := ParseCCPrincipal(MarshalCCPrincipal(p)); err != nil || q.String() != p.String() {
				t.Fatalf("principal does not round-trip: %v", err)
			}
		}
		if c, err := ParseCCCredential(b); err == nil {
			if _, err := ParseCCCredential(MarshalCCCredential(c)); err != nil {
				t.Fatalf("credential does not round-trip: %v", err)
			}
		}
	})
}
