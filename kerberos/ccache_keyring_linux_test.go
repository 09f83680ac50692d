package kerberos

import "testing"

// FuzzKeyringPrimary feeds arbitrary payloads to the decoder of a keyring
// collection's krb_ccache:primary key.
func FuzzKeyringPrimary(f *testing.F) {
	f.Add(marshalKeyringPrimary("krb_ccache_abcdefgh"))
	f.Add([]byte{0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		name, err := parseKeyringPrimary(b)
		if err != nil {
			return
		}
		if again, err := parseKeyringPrimary(marshalKeyringPrimary(name)); err != nil || again != name {
			t.Fatalf("primary name does not round-trip: %q %v", again, err)
		}
	})
}
