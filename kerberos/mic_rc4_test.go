package kerberos

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/types"
)

// mitRC4MIC is a GSS_GetMIC token that MIT krb5 1.20.1's initiator made
// over rc4MICData under rc4MICKey (TestRC4MICWithMITInitiator logs such
// tokens), with its random initial sequence number.
const (
	rc4MICKey  = "762976dcc48e935f6e31123ee7ede802"
	rc4MICData = "sesame RC4-HMAC MIC test"
	mitRC4MIC  = "602306092a864886f71201020201011100ffffffff1acb135b164b2339b3d61ecb108ec2bd"
)

// mitSeq is the sequence number in mitRC4MIC.
const mitSeq = 0x1f9ed290

func seqOf(t *testing.T, key, tok []byte) uint32 {
	t.Helper()
	seq, err := rc4VerifyMIC(key, tok, false, []byte(rc4MICData))
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRC4MICVector verifies MIT's token and makes the same one: the
// sequence number recovered from MIT's token, put into a token of ours,
// gives MIT's bytes exactly.
func TestRC4MICVector(t *testing.T) {
	key, tok := mustHex(t, rc4MICKey), mustHex(t, mitRC4MIC)
	seq, err := rc4VerifyMIC(key, tok, false, []byte(rc4MICData))
	if err != nil {
		t.Fatalf("MIT's token: %v", err)
	}
	if seq != mitSeq {
		t.Errorf("sequence number %#x, want %#x", seq, mitSeq)
	}
	if got := rc4MIC(key, OID, seq, false, []byte(rc4MICData)); !bytes.Equal(got, tok) {
		t.Fatalf("our token with seq %#x:\n got %x\nwant %x", seq, got, tok)
	}
	// The acceptor's token over the same data differs in the encrypted
	// sequence number only, and verifies in the other direction alone.
	acc := rc4MIC(key, OID, seq, true, []byte(rc4MICData))
	if !bytes.Equal(acc[:21], tok[:21]) || bytes.Equal(acc[21:29], tok[21:29]) || !bytes.Equal(acc[29:], tok[29:]) {
		t.Errorf("acceptor's token %x", acc)
	}
	if _, err := rc4VerifyMIC(key, acc, true, []byte(rc4MICData)); err != nil {
		t.Errorf("acceptor's token: %v", err)
	}
	if _, err := rc4VerifyMIC(key, acc, false, []byte(rc4MICData)); !errors.Is(err, ErrBadMIC) {
		t.Errorf("acceptor's token taken as the initiator's: %v", err)
	}
	// Under Microsoft's OID only the framing changes.
	ms := rc4MIC(key, OIDMicrosoft, seq, false, []byte(rc4MICData))
	if !bytes.Equal(ms[13:], tok[13:]) || tokenOID(ms).String() != OIDMicrosoft.String() {
		t.Errorf("Microsoft OID token %x", ms)
	}
	if _, err := rc4VerifyMIC(key, ms, false, []byte(rc4MICData)); err != nil {
		t.Errorf("Microsoft OID token: %v", err)
	}
}

// TestRC4MICFlippedBits: every single-bit change of MIT's token, and of
// the data or the key, fails: framing and header as malformed, direction
// and checksum as ErrBadMIC, the sequence number (outside the checksum)
// in the context's sequence check. The one exception is the bit that
// turns the framing OID into Microsoft's.
func TestRC4MICFlippedBits(t *testing.T) {
	key, tok := mustHex(t, rc4MICKey), mustHex(t, mitRC4MIC)
	for i := range tok {
		for bit := 0; bit < 8; bit++ {
			bad := append([]byte(nil), tok...)
			bad[i] ^= 1 << bit
			seq, err := rc4VerifyMIC(key, bad, false, []byte(rc4MICData))
			switch {
			case err == nil && tokenOID(bad).Equal(OIDMicrosoft):
				// 113554 to 48018 is one bit: Microsoft's OID, which
				// frames tokens too and is outside the checksum, as
				// in RFC 1964.
			case err == nil && i >= 21 && i < 25:
				// The sequence number proper is outside the
				// checksum: the token verifies, with another
				// number, which the context's sequence check
				// refuses.
				n := uint64(mitSeq)
				if err := checkSeq(seq, &n); !errors.Is(err, ErrBadMIC) {
					t.Errorf("byte %d bit %d: sequence check %v", i, bit, err)
				}
			case i >= 21 && !errors.Is(err, ErrBadMIC):
				t.Errorf("byte %d bit %d (direction or checksum): %v, want ErrBadMIC", i, bit, err)
			case !errors.Is(err, ErrBadMIC) && !errors.Is(err, ErrMalformedToken):
				t.Errorf("byte %d bit %d: %v", i, bit, err)
			}
		}
	}
	data := []byte(rc4MICData)
	data[0] ^= 1
	if _, err := rc4VerifyMIC(key, tok, false, data); !errors.Is(err, ErrBadMIC) {
		t.Errorf("changed data: %v", err)
	}
	other := append([]byte(nil), key...)
	other[15] ^= 0x80
	if _, err := rc4VerifyMIC(other, tok, false, []byte(rc4MICData)); !errors.Is(err, ErrBadMIC) {
		t.Errorf("other key: %v", err)
	}
	for _, short := range [][]byte{tok[:len(tok)-1], append(append([]byte(nil), tok...), 0)} {
		if _, err := rc4VerifyMIC(key, short, false, []byte(rc4MICData)); !errors.Is(err, ErrMalformedToken) {
			t.Errorf("%d bytes: %v", len(short), err)
		}
	}
}

// TestRC4ContextKeys: which key an RC4 initiator context signs with, and
// that DES and 3DES contexts still have no MICs.
func TestRC4ContextKeys(t *testing.T) {
	rc4 := func(b byte) types.EncryptionKey {
		return types.EncryptionKey{KeyType: etypeID.RC4_HMAC, KeyValue: bytes.Repeat([]byte{b}, 16)}
	}
	aes := types.EncryptionKey{KeyType: etypeID.AES128_CTS_HMAC_SHA1_96, KeyValue: bytes.Repeat([]byte{3}, 16)}
	sub, accSub := rc4(1), rc4(2)
	for _, c := range []struct {
		name    string
		acc     *types.EncryptionKey
		want    types.EncryptionKey
		wantRC4 bool
	}{
		{"no acceptor subkey", nil, sub, true},
		// MIT keeps the initiator's subkey when an RFC 1964 acceptor
		// sends one of the same type.
		{"acceptor RC4 subkey", &accSub, sub, true},
		{"acceptor AES subkey", &aes, aes, false},
	} {
		x := &SecContext{state: ctxComplete, sessionKey: rc4(9), subkey: sub, acceptorSubkey: c.acc}
		k, _, isRC4, err := x.micKey()
		if err != nil || !bytes.Equal(k.KeyValue, c.want.KeyValue) || isRC4 != c.wantRC4 {
			t.Errorf("%s: key %x rc4 %v err %v", c.name, k.KeyValue, isRC4, err)
		}
	}
	des3 := types.EncryptionKey{KeyType: etypeID.DES3_CBC_SHA1_KD, KeyValue: make([]byte, 24)}
	x := &SecContext{state: ctxComplete, sessionKey: des3, subkey: des3}
	if _, err := x.MIC([]byte("x")); !errors.Is(err, ErrMICUnavailable) {
		t.Errorf("3DES initiator: %v", err)
	}
	r := &AcceptResult{key: des3}
	if _, err := r.MIC([]byte("x")); !errors.Is(err, ErrMICUnavailable) || r.MICAvailable() {
		t.Errorf("3DES acceptor: %v", err)
	}
	r = &AcceptResult{key: rc4(5), sendSeq: 7}
	mic, err := r.MIC([]byte("x"))
	if err != nil || !r.MICAvailable() {
		t.Fatal(err)
	}
	if seq, err := rc4VerifyMIC(rc4(5).KeyValue, mic, true, []byte("x")); err != nil || seq != 7 {
		t.Errorf("acceptor's token: seq %d, %v", seq, err)
	}
}
