package sspi

import (
	"encoding/binary"
	"testing"

	"github.com/sesame-auth/sesame/spnego"
)

func ntlmMsg(typ uint32) []byte {
	m := append([]byte("NTLMSSP\x00"), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(m[8:], typ)
	return append(m, make([]byte, 20)...)
}

// classify tells a Kerberos AP-REQ (final: the body goes with it) from an
// NTLM NEGOTIATE (not final), bare as Wine emits them and inside SPNEGO
// as Windows does.
func TestClassify(t *testing.T) {
	krb := []byte{0x60, 0x0f, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x01, 0x00, 0x6e, 0x00}
	wrap := func(oid []int, inner []byte) []byte {
		init := &spnego.NegTokenInit{MechToken: inner}
		for _, o := range oid {
			switch o {
			case 0:
				init.MechTypes = append(init.MechTypes, spnego.OIDMSKerberos)
			case 1:
				init.MechTypes = append(init.MechTypes, spnego.OIDNTLMSSP)
			}
		}
		b, err := init.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name  string
		tok   []byte
		mech  string
		final bool
	}{
		{"bare kerberos", krb, mechKerberos, true},
		{"bare ntlm negotiate", ntlmMsg(1), mechNTLM, false},
		{"bare ntlm authenticate", ntlmMsg(3), mechNTLM, true},
		{"spnego kerberos", wrap([]int{0, 1}, krb), mechKerberos, true},
		{"spnego ntlm", wrap([]int{1}, ntlmMsg(1)), mechNTLM, false},
		{"garbage", []byte{0x30, 0x01}, "", false},
		{"empty", nil, "", false},
	} {
		mech, final := classify(tc.tok)
		if mech != tc.mech || final != tc.final {
			t.Errorf("%s: classify = %q, %v; want %q, %v", tc.name, mech, final, tc.mech, tc.final)
		}
	}
}

// The SEC_CHANNEL_BINDINGS header points at the application data.
func TestChannelBindings(t *testing.T) {
	b := channelBindings([]byte("tls-server-end-point:xyz"))
	if len(b) != 32+24 || binary.LittleEndian.Uint32(b[24:]) != 24 || binary.LittleEndian.Uint32(b[28:]) != 32 || string(b[32:]) != "tls-server-end-point:xyz" {
		t.Fatalf("channelBindings = %x", b)
	}
	for i := 0; i < 24; i++ {
		if b[i] != 0 {
			t.Fatalf("address fields not zero: %x", b[:24])
		}
	}
}

// classify reads tokens from the security package and, through the
// SPNEGO parser, from nowhere else; it must still never panic.
func FuzzClassify(f *testing.F) {
	f.Add(ntlmMsg(1))
	f.Add([]byte{0x60, 0x03, 0x06, 0x01, 0x00})
	f.Add([]byte{0xa1, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		classify(b)
	})
}
