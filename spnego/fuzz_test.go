package spnego

import (
	"bytes"
	"encoding/asn1"
	"reflect"
	"testing"
)

// fuzzSeeds are the hand-built and captured vectors, tokens from our own
// encoder, and truncations of them.
func fuzzSeeds(t testing.TB) [][]byte {
	seeds := [][]byte{handInit, handResp, handInit2, handKerberos, mitInit, mitChal, mitAuth, mitFinal,
		[]byte("NTLMSSP\x00\x01\x00\x00\x00")}
	for _, tok := range []interface{ Marshal() ([]byte, error) }{
		&NegTokenInit{MechTypes: []asn1.ObjectIdentifier{OIDMSKerberos, OIDKerberos, OIDNTLMSSP}, ReqFlags: asn1.BitString{Bytes: []byte{0x60}, BitLength: 3}, MechToken: []byte("t"), MechListMIC: []byte("m")},
		&NegTokenResp{NegState: RequestMIC, SupportedMech: OIDNTLMSSP, ResponseToken: []byte("r"), MechListMIC: []byte("m")},
	} {
		b, err := tok.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	for _, s := range seeds[:8] {
		seeds = append(seeds, s[:len(s)/2], s[:len(s)-1])
	}
	return seeds
}

// FuzzParse feeds arbitrary bytes to all three decoders: none may panic,
// and whatever decodes must survive an encode/decode round trip.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		Parse(b)
		if init, err := ParseNegTokenInit(b); err == nil {
			if want, err := MechTypeListBytes(init.MechTypes); err == nil && init.RawMechTypes != nil && !bytes.Equal(init.RawMechTypes, want) {
				t.Fatalf("RawMechTypes %x differ from the re-encoded list %x", init.RawMechTypes, want)
			}
			out, err := init.Marshal()
			if err != nil {
				return // e.g. a reqFlags encoding we accept but do not write
			}
			back, err := ParseNegTokenInit(out)
			if err != nil {
				t.Fatalf("re-parse NegTokenInit: %v\n%x", err, out)
			}
			back.RawMechTypes, init.RawMechTypes = nil, nil
			if len(init.MechTypes) == 0 {
				back.MechTypes, init.MechTypes = nil, nil
			}
			normalise(&init.MechToken, &back.MechToken)
			normalise(&init.MechListMIC, &back.MechListMIC)
			if !reflect.DeepEqual(back, init) {
				t.Fatalf("NegTokenInit round trip:\n got %+v\nwant %+v", back, init)
			}
		}
		if resp, err := ParseNegTokenResp(b); err == nil {
			out, err := resp.Marshal()
			if err != nil {
				t.Fatalf("re-marshal NegTokenResp: %v", err)
			}
			back, err := ParseNegTokenResp(out)
			if err != nil {
				t.Fatalf("re-parse NegTokenResp: %v\n%x", err, out)
			}
			normalise(&resp.ResponseToken, &back.ResponseToken)
			normalise(&resp.MechListMIC, &back.MechListMIC)
			if !reflect.DeepEqual(back, resp) {
				t.Fatalf("NegTokenResp round trip:\n got %+v\nwant %+v", back, resp)
			}
		}
	})
}

// normalise treats an empty field as absent: the encoder leaves empty
// OCTET STRINGs out.
func normalise(a, b *[]byte) {
	if len(*a) == 0 {
		*a = nil
	}
	if len(*b) == 0 {
		*b = nil
	}
}

// FuzzInitiator feeds arbitrary acceptor replies to an initiator that has
// sent its NegTokenInit, then to one that is mid-way: no panic, and a
// failure leaves it failed.
func FuzzInitiator(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, first, second []byte) {
		i := &Initiator{Mechs: []Mechanism{&fakeMech{oid: OIDKerberos, legs: 2}, &fakeMech{oid: OIDNTLMSSP, legs: 2}}}
		if _, _, err := i.Step(nil); err != nil {
			t.Fatal(err)
		}
		if _, done, err := i.Step(first); err != nil || done {
			return
		}
		if _, _, err := i.Step(second); err != nil && i.state != stateFailed {
			t.Fatalf("state %v after error %v", i.state, err)
		}
	})
}
