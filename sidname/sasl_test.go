package sidname

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"

	krbgssapi "github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/types"
)

var testKey = types.EncryptionKey{KeyType: etypeID.AES256_CTS_HMAC_SHA1_96, KeyValue: bytes.Repeat([]byte{7}, 32)}

// acceptorToken makes a wrap token as a server does, rotated by rrc.
func acceptorToken(t testing.TB, payload []byte, rrc int) []byte {
	tok := &krbgssapi.WrapToken{Flags: 0b101, EC: 12, SndSeqNum: 9, Payload: payload}
	if err := tok.SetCheckSum(testKey, keyusage.GSSAPI_ACCEPTOR_SEAL); err != nil {
		t.Fatal(err)
	}
	b, _ := tok.Marshal()
	data := b[16:]
	rrc %= len(data)
	rot := append(append([]byte(nil), data[len(data)-rrc:]...), data[:len(data)-rrc]...)
	binary.BigEndian.PutUint16(b[6:8], uint16(rrc))
	return append(b[:16], rot...)
}

func TestUnwrap(t *testing.T) {
	for _, rrc := range []int{0, 5, 12, 28} {
		p, err := unwrap(acceptorToken(t, []byte("ldap message"), rrc), testKey)
		if err != nil || string(p) != "ldap message" {
			t.Errorf("rrc %d: %q, %v", rrc, p, err)
		}
	}
	tok := acceptorToken(t, []byte("ldap message"), 0)
	tok[20] ^= 1
	if _, err := unwrap(tok, testKey); err == nil {
		t.Error("tampered token accepted")
	}
}

// The layer's reader unwraps SASL buffers, including bytes that arrived
// in a read started before activation.
func TestSASLConnRead(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := &saslConn{Conn: a}
	c.arm(testKey, 1<<16)
	go func() {
		tok := acceptorToken(t, []byte("hello"), 12)
		b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(tok))))
		b.Write(tok)
	}()
	buf := make([]byte, 2)
	n, err := c.Read(buf) // not active yet: a raw read of the length prefix
	if err != nil {
		t.Fatal(err)
	}
	c.raw = append(c.raw, buf[:n]...) // as if activation had come during that read
	if err := c.activate(); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for len(got) < 5 {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "hello" {
		t.Fatalf("read %q", got)
	}
}

func FuzzUnwrap(f *testing.F) {
	f.Add(acceptorToken(f, []byte("x"), 3))
	f.Add([]byte{5, 4, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		unwrap(b, testKey) // must not panic
	})
}
