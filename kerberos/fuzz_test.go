package kerberos

import (
	"testing"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/types"
)

// FuzzParseAcceptorToken feeds arbitrary bytes to the decoders of acceptor
// tokens and to AP-REP verification with a fixed session key: none may
// panic, and a token that verifies must be the one built for the context.
// Run locally with: go test ./kerberos -run '^$' -fuzz FuzzParseAcceptorToken -fuzztime 30s
func FuzzParseAcceptorToken(f *testing.F) {
	_, tok := testContext(f)
	f.Add(tok)
	f.Add(WrapToken(TokIDError, []byte{0x7e, 0x03, 0x30, 0x01, 0x00}))
	f.Add(WrapToken(TokIDAPReq, []byte{0x6e, 0x00}))
	f.Add([]byte{0x60, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseAcceptorToken(b)
		_, _ = ParseInitialToken(b)
		_, _ = ParseGSSChecksum(b)
		x, good := testContext(t)
		if err := x.Finish(b); err == nil && string(b) != string(good) {
			// A different encoding of the same AP-REP would be fine;
			// anything else verifying is a bug.
			if at, err := ParseAcceptorToken(b); err != nil || at.APRep == nil {
				t.Fatalf("verified a non-AP-REP: %x", b)
			}
		}
		_ = x.VerifyMIC([]byte("data"), b)
	})
}

// FuzzRC4VerifyMIC feeds arbitrary bytes to the RC4-HMAC MIC decoder under
// the key of MIT's test vector: nothing may panic, and nothing but MIT's
// token (up to its framing OID and the sequence number, which the
// checksum does not cover) may verify over its data.
// Run locally with: go test ./kerberos -run '^$' -fuzz FuzzRC4VerifyMIC -fuzztime 30s
func FuzzRC4VerifyMIC(f *testing.F) {
	key, tok := mustHex(f, rc4MICKey), mustHex(f, mitRC4MIC)
	f.Add(tok)
	f.Add(tok[:len(tok)-8])
	f.Add(rc4MIC(key, OIDMicrosoft, 1, true, nil))
	f.Add(WrapToken(tokIDMICv1, make([]byte, 22)))
	f.Add(WrapToken(0x0404, make([]byte, 26)))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := rc4VerifyMIC(key, b, false, []byte(rc4MICData)); err == nil {
			if len(b) != len(tok) || string(b[29:]) != string(tok[29:]) {
				t.Fatalf("verified a token with another checksum: %x", b)
			}
		}
		r := &AcceptResult{key: types.EncryptionKey{KeyType: etypeID.RC4_HMAC, KeyValue: key}}
		_ = r.VerifyMIC([]byte("data"), b)
	})
}
