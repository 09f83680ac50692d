package kerberos

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

func TestWrapUnwrap(t *testing.T) {
	for _, n := range []int{0, 1, 100, 200, 300, 70000 - 20} {
		msg := bytes.Repeat([]byte{0xab}, n)
		tok := WrapToken(TokIDAPRep, msg)
		id, got, err := UnwrapToken(tok)
		if n > MaxTokenSize-20 {
			if !errors.Is(err, ErrMalformedToken) {
				t.Errorf("%d bytes: %v", n, err)
			}
			continue
		}
		if err != nil || id != TokIDAPRep || !bytes.Equal(got, msg) {
			t.Fatalf("%d bytes: %#x %v", n, id, err)
		}
	}
	for _, bad := range [][]byte{nil, {0x60}, {0x60, 0x00}, {0x60, 0x81, 0x05}, {0x61, 0x02, 0x06, 0x00}} {
		if _, _, err := UnwrapToken(bad); !errors.Is(err, ErrMalformedToken) {
			t.Errorf("%x: %v", bad, err)
		}
	}
}

func TestGSSChecksumRoundTrip(t *testing.T) {
	for _, c := range []GSSChecksum{
		{Flags: FlagMutual | FlagInteg},
		{Flags: FlagDeleg | FlagMutual, Deleg: []byte("krb-cred")},
		{Flags: FlagConf, Exts: []byte{1, 2, 3}},
	} {
		b, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseGSSChecksum(b)
		if err != nil || got.Flags != c.Flags || !bytes.Equal(got.Deleg, c.Deleg) || !bytes.Equal(got.Exts, c.Exts) {
			t.Errorf("%+v -> %+v %v", c, got, err)
		}
	}
	if _, err := ParseGSSChecksum([]byte{16, 0, 0, 0}); !errors.Is(err, ErrMalformedToken) {
		t.Error(err)
	}
}

func TestServiceName(t *testing.T) {
	for in, want := range map[string]string{"WWW.Corp.Example": "HTTP/www.corp.example", "[::1]": "HTTP/::1", "host.": "HTTP/host", "127.0.0.1": "HTTP/127.0.0.1"} {
		if got := ServiceName("", in); got != want {
			t.Errorf("%s: %s", in, got)
		}
	}
	if h, err := CanonicalHost(context.Background(), nil, "127.0.0.1"); err != nil || h != "127.0.0.1" {
		t.Errorf("IP literal: %q %v", h, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := CanonicalHost(ctx, nil, "example.invalid"); err == nil {
		t.Error("cancelled context: no error")
	}
	for _, s := range []string{"none", "policy", "always"} {
		if d, err := ParseDelegation(s); err != nil || d.String() != s {
			t.Errorf("%s: %v %v", s, d, err)
		}
	}
	if _, err := ParseDelegation("sometimes"); err == nil {
		t.Error("bad delegation accepted")
	}
}

// testContext returns a context in the state after sending its token,
// with a fixed session key, and an AP-REP for it.
func testContext(t testing.TB) (*SecContext, []byte) {
	key := types.EncryptionKey{KeyType: etypeID.AES256_CTS_HMAC_SHA1_96, KeyValue: bytes.Repeat([]byte{7}, 32)}
	ctime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	x := &SecContext{spn: "HTTP/h@R", sessionKey: key, subkey: key, ctime: ctime, cusec: 4242, flags: FlagMutual, seq: 1}
	sub := types.EncryptionKey{KeyType: key.KeyType, KeyValue: bytes.Repeat([]byte{9}, 32)}
	part, err := asn1.Marshal(messages.EncAPRepPart{CTime: ctime, Cusec: 4242, Subkey: sub, SequenceNumber: 77})
	if err != nil {
		t.Fatal(err)
	}
	part = asn1tools.AddASNAppTag(part, 27)
	ed, err := crypto.GetEncryptedData(part, key, keyusage.AP_REP_ENCPART, 0)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := asn1.Marshal(messages.APRep{PVNO: 5, MsgType: 15, EncPart: ed})
	if err != nil {
		t.Fatal(err)
	}
	return x, WrapToken(TokIDAPRep, asn1tools.AddASNAppTag(rep, 15))
}

func TestAPRepAndMIC(t *testing.T) {
	x, tok := testContext(t)
	if _, err := x.MIC([]byte("x")); !errors.Is(err, ErrMICUnavailable) {
		t.Errorf("MIC before completion: %v", err)
	}
	if err := x.Finish(tok); err != nil {
		t.Fatal(err)
	}
	if !x.MutualVerified() || x.acceptorSubkey == nil || x.peerSeq != 77 {
		t.Fatalf("verified %v subkey %v seq %d", x.MutualVerified(), x.acceptorSubkey, x.peerSeq)
	}
	if err := x.Finish(tok); !errors.Is(err, ErrMutualAuth) {
		t.Errorf("second AP-REP: %v", err)
	}
	data := []byte("mechTypes")
	mic, err := x.MIC(data)
	if err != nil {
		t.Fatal(err)
	}
	// The acceptor's check of our MIC: initiator usage, acceptor subkey.
	var m gssapi.MICToken
	if err := m.Unmarshal(mic, false); err != nil {
		t.Fatal(err)
	}
	m.Payload = data
	if ok, err := m.Verify(*x.acceptorSubkey, keyusage.GSSAPI_INITIATOR_SIGN); !ok || m.SndSeqNum != 1 {
		t.Fatalf("our MIC: %v seq %d", err, m.SndSeqNum)
	}
	// An acceptor MIC.
	am := gssapi.MICToken{Flags: gssapi.MICTokenFlagSentByAcceptor | gssapi.MICTokenFlagAcceptorSubkey, SndSeqNum: 77, Payload: data}
	if err := am.SetChecksum(*x.acceptorSubkey, keyusage.GSSAPI_ACCEPTOR_SIGN); err != nil {
		t.Fatal(err)
	}
	ab, _ := am.Marshal()
	if err := x.VerifyMIC(data, ab); err != nil {
		t.Fatalf("acceptor MIC: %v", err)
	}
	if err := x.VerifyMIC([]byte("other"), ab); err == nil {
		t.Error("MIC over other data verified")
	}
	if err := x.VerifyMIC(data, mic); err == nil {
		t.Error("our own MIC verified as the acceptor's")
	}

	// Wrong time echoed.
	y, tok2 := testContext(t)
	y.cusec++
	if err := y.Finish(tok2); !errors.Is(err, ErrMutualAuth) {
		t.Errorf("wrong cusec: %v", err)
	}
}
