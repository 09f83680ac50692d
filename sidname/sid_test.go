package sidname

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func TestSIDRoundTrip(t *testing.T) {
	for _, tc := range []struct{ text, hex string }{
		{"S-1-5-32-545", "01020000000000052000000021020000"},
		{"S-1-1-0", "010100000000000100000000"},
		{"S-1-5-21-1694828465-1180312108-3888633339-1104", "010500000000000515000000b10705652c225a46fbd5c7e750040000"},
		{"S-1-0x123456789ABC-1", "0101123456789abc01000000"},
		{"S-1-5", "0100000000000005"},
	} {
		b, err := ParseSID(tc.text)
		if err != nil {
			t.Fatalf("%s: %v", tc.text, err)
		}
		if hex.EncodeToString(b) != tc.hex {
			t.Errorf("%s: %x, want %s", tc.text, b, tc.hex)
		}
		back, err := FormatSID(b)
		if err != nil || back != tc.text {
			t.Errorf("%x: %q, %v, want %s", b, back, err, tc.text)
		}
	}
	for _, bad := range []string{"", "S-1", "S-2-5-32", "S-1-5-x", "S-1--5", "S-1-5-+3", "S-1-5-4294967296", "S-1-281474976710656",
		"S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16", "X-1-5", "S-1-5-3_2"} {
		if _, err := ParseSID(bad); !errors.Is(err, ErrMalformedSID) {
			t.Errorf("ParseSID(%q): err = %v", bad, err)
		}
	}
	if c, _ := CanonicalSID("s-1-5-032"); c != "S-1-5-32" {
		t.Errorf("CanonicalSID: %q", c)
	}
}

func FuzzSID(f *testing.F) {
	f.Add("S-1-5-21-1694828465-1180312108-3888633339-1104", []byte{1, 1, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0})
	f.Add("S-1-0x123456789ABC-1", []byte{})
	f.Fuzz(func(t *testing.T, s string, b []byte) {
		if bin, err := ParseSID(s); err == nil {
			text, err := FormatSID(bin)
			if err != nil {
				t.Fatalf("FormatSID(ParseSID(%q)): %v", s, err)
			}
			again, err := ParseSID(text)
			if err != nil || !bytes.Equal(again, bin) {
				t.Fatalf("%q -> %q does not round-trip", s, text)
			}
		}
		if text, err := FormatSID(b); err == nil {
			again, err := ParseSID(text)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("%x -> %q does not round-trip: %v", b, text, err)
			}
		}
	})
}
