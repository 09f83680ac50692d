package spnego

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/ntlm"
)

// h decodes hex, ignoring spaces and "--" comments to the end of a line,
// so vectors can be laid out one field per line.
func h(s string) []byte {
	var sb strings.Builder
	for _, line := range strings.Split(s, "\n") {
		line, _, _ = strings.Cut(line, "--")
		sb.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(sb.String())
	if err != nil {
		panic(err)
	}
	return b
}

// Vectors built by hand from the ASN.1 of RFC 4178 (EXPLICIT TAGS) and
// RFC 2743 section 3.1, one line per TLV.
var (
	// NegTokenInit, mechTypes {NTLMSSP}, mechToken "abc".
	handInit = h(`
		60 23                                   -- [APPLICATION 0], 35 bytes
		  06 06 2b0601050502                    -- thisMech 1.3.6.1.5.5.2
		  a0 19                                 -- negTokenInit [0]
		    30 17                               -- SEQUENCE
		      a0 0e                             -- mechTypes [0]
		        30 0c                           -- SEQUENCE OF
		          06 0a 2b06010401823702020a    -- 1.3.6.1.4.1.311.2.2.10
		      a2 05                             -- mechToken [2]
		        04 03 616263                    -- "abc"
	`)

	// NegTokenResp: accept-completed, supportedMech Kerberos, no token.
	handResp = h(`
		a1 14                                   -- negTokenResp [1]
		  30 12                                 -- SEQUENCE
		    a0 03  0a 01 00                     -- negState ENUMERATED accept-completed
		    a1 0b  06 09 2a864886f712010202     -- supportedMech 1.2.840.113554.1.2.2
	`)

	// NegTokenInit2 as Windows acceptors send it: three mechanisms,
	// reqFlags mutual|integ, negHints with the famous hint name.
	handInit2 = h(`
		60 6a
		  06 06 2b0601050502
		  a0 60
		    30 5e
		      a0 24
		        30 22
		          06 09 2a864882f712010202      -- 1.2.840.48018.1.2.2
		          06 09 2a864886f712010202      -- 1.2.840.113554.1.2.2
		          06 0a 2b06010401823702020a    -- NTLMSSP
		      a1 04  03 02 01 42                -- reqFlags, 7 bits: mutual, integ
		      a3 2a
		        30 28
		          a0 26
		            1b 24 6e6f745f646566696e65645f696e5f524643343137384070 6c656173655f69676e6f7265
		      a4 04  04 02 cafe                 -- mechListMIC [4]
	`)

	// A raw Kerberos GSS-API token: framing with OIDKerberos, TOK_ID
	// 01 00 (AP-REQ) and a stub message.
	handKerberos = h(`60 0f 06 09 2a864886f712010202 0100 6e 00`)
)

// Tokens captured from MIT krb5 1.20's SPNEGO with gss-ntlmssp (Debian 12,
// python3-gssapi; see testdata/spnego_initiator.py --handshake), user
// CORP\alice: NegTokenInit, the acceptor's CHALLENGE, the initiator's
// AUTHENTICATE with mechListMIC, the acceptor's final accept-completed
// with its mechListMIC.
var (
	mitInit  = h(`604806062b0601050502a03e303ca00e300c060a2b06010401823702020aa22a04284e544c4d5353500001000000178208e200000000000000000000000000000000060200000000000f`)
	mitChal  = h(`a18199308196a0030a0101a10c060a2b06010401823702020aa28180047e4e544c4d5353500002000000040004003800000015828ae2b94240860f16dad20000000000000000420042003c000000060200000000000f56004d000100040056004d000200160057004f0052004b00530054004100540049004f004e000300040076006d000600040000000000070008003e141659667bdd0100000000`)
	mitAuth  = h(`a182013530820131a0030a0101a2820114048201104e544c4d53535000030000000000000058000000920092005800000008000800ea0000000a000a00f200000004000400fc000000100010000001000015828ae2060200000000000facdb9580a8bb766d065d7341f3a80faeddc28a04224081713b282ca43d72a27901010000000000003e141659667bdd01406fbcab3a2ead20000000000100040056004d000200160057004f0052004b00530054004100540049004f004e000300040076006d000600040002000000070008003e141659667bdd0109001c0048005400540050002f006c006f00630061006c0068006f0073007400000000000000000043004f005200500061006c0069006300650056004d00ee08ed0df9105058c8454c6bc606767fa31204100100000054123c5855828dbe00000000`)
	mitFinal = h(`a11b3019a0030a0100a3120410010000006cfff455e3e0315200000000`)
)

func TestHandVectors(t *testing.T) {
	init, err := ParseNegTokenInit(handInit)
	if err != nil {
		t.Fatal(err)
	}
	want := &NegTokenInit{
		MechTypes:    []asn1.ObjectIdentifier{OIDNTLMSSP},
		RawMechTypes: h("300c060a2b06010401823702020a"),
		MechToken:    []byte("abc"),
	}
	if !reflect.DeepEqual(init, want) {
		t.Fatalf("parsed %+v\nwant %+v", init, want)
	}
	if b, err := want.Marshal(); err != nil || !bytes.Equal(b, handInit) {
		t.Fatalf("Marshal: %v\n got %x\nwant %x", err, b, handInit)
	}

	r, err := ParseNegTokenResp(handResp)
	if err != nil {
		t.Fatal(err)
	}
	wantR := &NegTokenResp{NegState: AcceptCompleted, SupportedMech: OIDKerberos}
	if !reflect.DeepEqual(r, wantR) {
		t.Fatalf("parsed %+v", r)
	}
	if b, err := wantR.Marshal(); err != nil || !bytes.Equal(b, handResp) {
		t.Fatalf("Marshal: %v\n got %x\nwant %x", err, b, handResp)
	}

	i2, err := ParseNegTokenInit(handInit2)
	if err != nil {
		t.Fatal(err)
	}
	if len(i2.MechTypes) != 3 || !i2.MechTypes[0].Equal(OIDMSKerberos) || i2.NegHints == nil ||
		i2.NegHints.HintName != "not_defined_in_RFC4178@please_ignore" || !bytes.Equal(i2.MechListMIC, h("cafe")) ||
		i2.ReqFlags.BitLength != 7 || i2.ReqFlags.At(FlagMutual) != 1 || i2.ReqFlags.At(FlagInteg) != 1 || i2.ReqFlags.At(FlagDeleg) != 0 {
		t.Fatalf("NegTokenInit2 parsed as %+v (hints %+v)", i2, i2.NegHints)
	}
	if b, err := i2.Marshal(); err != nil || !bytes.Equal(b, handInit2) {
		t.Fatalf("Marshal NegTokenInit2: %v\n got %x\nwant %x", err, b, handInit2)
	}

	tok, err := Parse(handKerberos)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Kind != KindKerberos || !tok.Mech.Equal(OIDKerberos) || !bytes.Equal(tok.MechToken, h("01006e00")) {
		t.Fatalf("Parse Kerberos: %+v", tok)
	}
}

func TestMITVectors(t *testing.T) {
	init, err := ParseNegTokenInit(mitInit)
	if err != nil {
		t.Fatal(err)
	}
	if len(init.MechTypes) != 1 || !init.MechTypes[0].Equal(OIDNTLMSSP) || init.ReqFlags.BitLength != 0 {
		t.Fatalf("%+v", init)
	}
	if _, err := ntlm.ParseNegotiate(init.MechToken); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		b         []byte
		state     NegState
		mech      asn1.ObjectIdentifier
		parseMech func([]byte) error
		micLen    int
	}{
		{"challenge", mitChal, AcceptIncomplete, OIDNTLMSSP, func(b []byte) error { _, err := ntlm.ParseChallenge(b); return err }, 0},
		// MIT's initiator sends negState accept-incomplete in its own
		// NegTokenResp, which RFC 4178 does not ask for.
		{"authenticate", mitAuth, AcceptIncomplete, nil, func(b []byte) error { _, err := ntlm.ParseAuthenticate(b); return err }, 16},
		{"final", mitFinal, AcceptCompleted, nil, nil, 16},
	} {
		r, err := ParseNegTokenResp(tc.b)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if r.NegState != tc.state || !r.SupportedMech.Equal(tc.mech) || len(r.MechListMIC) != tc.micLen {
			t.Errorf("%s: %+v", tc.name, r)
		}
		if tc.parseMech != nil {
			if err := tc.parseMech(r.ResponseToken); err != nil {
				t.Errorf("%s: inner token: %v", tc.name, err)
			}
		}
		if b, err := r.Marshal(); err != nil || !bytes.Equal(b, tc.b) {
			t.Errorf("%s: re-marshal %v\n got %x\nwant %x", tc.name, err, b, tc.b)
		}
	}
	if b, err := init.Marshal(); err != nil || !bytes.Equal(b, mitInit) {
		t.Errorf("re-marshal NegTokenInit: %v", err)
	}
}

func TestParseKinds(t *testing.T) {
	ntlmNeg, _ := (&ntlm.Client{User: "u", Password: "p"}).Negotiate()
	other := h("6009 0603 2a0304 deadbeef") // framing with OID 1.2.3.4
	for _, tc := range []struct {
		b    []byte
		kind Kind
	}{
		{handInit, KindNegTokenInit},
		{handInit[10:], KindNegTokenInit}, // bare [0] choice
		{handInit2, KindNegTokenInit},
		{handResp, KindNegTokenResp},
		{mitChal, KindNegTokenResp},
		{ntlmNeg, KindNTLMSSP},
		{handKerberos, KindKerberos},
		{other, KindGSSAPI},
	} {
		tok, err := Parse(tc.b)
		if err != nil {
			t.Errorf("%x: %v", tc.b[:4], err)
			continue
		}
		if tok.Kind != tc.kind {
			t.Errorf("%x: kind %v, want %v", tc.b[:4], tok.Kind, tc.kind)
		}
	}
	if tok, _ := Parse(ntlmNeg); !bytes.Equal(tok.MechToken, ntlmNeg) || !tok.Mech.Equal(OIDNTLMSSP) {
		t.Errorf("NTLMSSP token %+v", tok)
	}
	// The typed parsers say "not SPNEGO" for raw mechanism tokens.
	for _, b := range [][]byte{ntlmNeg, handKerberos} {
		if _, err := ParseNegTokenInit(b); !errors.Is(err, ErrNotSPNEGO) {
			t.Errorf("ParseNegTokenInit(%x…): %v, want ErrNotSPNEGO", b[:4], err)
		}
		if _, err := ParseNegTokenResp(b); !errors.Is(err, ErrNotSPNEGO) {
			t.Errorf("ParseNegTokenResp(%x…): %v, want ErrNotSPNEGO", b[:4], err)
		}
	}
}

func TestParseMalformed(t *testing.T) {
	manyMechs := bytes.Repeat(h("06 03 2a0304"), MaxMechTypes+1)
	for _, tc := range []struct {
		name string
		b    []byte
		init bool // ParseNegTokenInit rather than ParseNegTokenResp
	}{
		{"empty", nil, false},
		{"too large", append(h("a1 83 010000 30 82 fffc"), make([]byte, 0x10000)...), false},
		{"truncated", handResp[:len(handResp)-1], false},
		{"trailing byte", append(bytes.Clone(handResp), 0), false},
		{"indefinite length", h("a1 80 3000 0000"), false},
		{"non-minimal length", h("a1 81 02 3000"), false},
		{"init as resp", handInit[10:], false},
		{"resp as init", handResp, true},
		{"not a sequence", h("a1 03 04 01 00"), false},
		{"implicit field", h("a1 05 30 03 80 01 00"), false},
		{"fields out of order", h("a1 0c 30 0a a1 03 06 01 2a a0 03 0a 01 00"), false},
		{"repeated field", h("a1 0c 30 0a a0 03 0a 01 00 a0 03 0a 01 01"), false},
		{"two elements in a tag", h("a1 09 30 07 a0 05 0a 01 00 05 00"), false},
		{"negState as INTEGER", h("a1 07 30 05 a0 03 02 01 00"), false},
		{"negative negState", h("a1 07 30 05 a0 03 0a 01 ff"), false},
		{"empty OID", h("a1 06 30 04 a1 02 06 00"), false},
		{"responseToken as BIT STRING", h("a1 07 30 05 a2 03 03 01 00"), false},
		{"constructed OCTET STRING", h("a1 09 30 07 a2 05 24 03 04 01 00"), false},
		{"other GSS mech as init", h("600a 0603 2a0304 a0 03 30 01 00"), true},
		{"GSS framing not application", h("a0 0a 06 06 2b0601050502 a000"), true},
		{"mechTypes not SEQUENCE", h("a0 06 30 04 a0 02 05 00"), true},
		{"mechType not OID", h("a0 08 30 06 a0 04 30 02 05 00"), true},
		{"too many mechs", initWithMechList(manyMechs), true},
		{"bad bit string", h("a0 0b 30 09 a0 02 30 00 a1 03 03 01 08"), true},
		{"bit string unused without bytes", h("a0 0a 30 08 a0 02 30 00 a1 02 03 01"), true},
		{"hintName not GeneralString", h("a0 0e 30 0c a0 02 30 00 a3 06 30 04 a0 02 0c 00"), true},
	} {
		var err error
		if tc.init {
			_, err = ParseNegTokenInit(tc.b)
		} else {
			_, err = ParseNegTokenResp(tc.b)
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", tc.name, err)
		}
		// Parse must refuse it too, unless it is merely the other
		// kind of token.
		if _, err := Parse(tc.b); err == nil && !strings.Contains(tc.name, " as ") {
			t.Errorf("%s: Parse accepted it", tc.name)
		}
	}
	// Exactly MaxMechTypes is fine.
	if ti, err := ParseNegTokenInit(initWithMechList(manyMechs[5:])); err != nil || len(ti.MechTypes) != MaxMechTypes {
		t.Errorf("%d mechs: %v", MaxMechTypes, err)
	}
}

// initWithMechList wraps the content of a MechTypeList into a bare
// NegTokenInit choice.
func initWithMechList(content []byte) []byte {
	list := tlv(asn1.ClassUniversal, asn1.TagSequence, true, content)
	return tlv(asn1.ClassContextSpecific, 0, true,
		tlv(asn1.ClassUniversal, asn1.TagSequence, true, tlv(asn1.ClassContextSpecific, 0, true, list)))
}

func TestUnknownFieldsIgnored(t *testing.T) {
	// RFC 4178's types end with "...": a later field must not break us.
	b := h("a1 0c 30 0a a0 03 0a 01 01 a7 03 02 01 05")
	r, err := ParseNegTokenResp(b)
	if err != nil || r.NegState != AcceptIncomplete {
		t.Fatalf("%+v, %v", r, err)
	}
	// [4] in a plain NegTokenInit (no negHints) is unknown too.
	b = h("a0 0b 30 09 a0 02 30 00 a4 03 04 01 00")
	ti, err := ParseNegTokenInit(b)
	if err != nil || ti.MechListMIC != nil {
		t.Fatalf("%+v, %v", ti, err)
	}
	// reqFlags with non-zero padding bits, which encoding/asn1 refuses.
	b = h("a0 0c 30 0a a0 02 30 00 a1 04 03 02 01 ff")
	if ti, err := ParseNegTokenInit(b); err != nil || ti.ReqFlags.BitLength != 7 {
		t.Fatalf("sloppy reqFlags: %+v, %v", ti, err)
	}
}

func TestMarshalErrors(t *testing.T) {
	big := make([]byte, MaxTokenSize)
	if _, err := (&NegTokenInit{MechTypes: []asn1.ObjectIdentifier{OIDNTLMSSP}, MechToken: big}).Marshal(); err == nil {
		t.Error("oversized NegTokenInit encoded")
	}
	if _, err := (&NegTokenResp{NegState: NegStateAbsent, ResponseToken: big}).Marshal(); err == nil {
		t.Error("oversized NegTokenResp encoded")
	}
	if _, err := (&NegTokenResp{NegState: -2}).Marshal(); err == nil {
		t.Error("negative negState encoded")
	}
	if _, err := MechTypeListBytes([]asn1.ObjectIdentifier{{1}}); err == nil {
		t.Error("one-arc OID encoded")
	}
	if _, err := MechTypeListBytes([]asn1.ObjectIdentifier{{1, 2, -3}}); err == nil {
		t.Error("negative arc encoded")
	}
	if _, err := MechTypeListBytes(make([]asn1.ObjectIdentifier, MaxMechTypes+1)); err == nil {
		t.Error("too many mechs encoded")
	}
	if _, err := (&NegTokenInit{ReqFlags: asn1.BitString{Bytes: []byte{1}, BitLength: 9}}).Marshal(); err == nil {
		t.Error("inconsistent BIT STRING encoded")
	}
	if b, err := MechTypeListBytes(nil); err != nil || !bytes.Equal(b, h("3000")) {
		t.Errorf("empty list: %x, %v", b, err)
	}
}

func TestRoundTrip(t *testing.T) {
	inits := []*NegTokenInit{
		{MechTypes: []asn1.ObjectIdentifier{OIDMSKerberos, OIDKerberos, OIDNTLMSSP}, MechToken: bytes.Repeat([]byte{7}, 300)},
		{MechTypes: []asn1.ObjectIdentifier{OIDNTLMSSP}, ReqFlags: asn1.BitString{Bytes: []byte{0x42, 0, 0, 0}, BitLength: 32}, MechListMIC: []byte{1, 2}},
		{MechTypes: nil, NegHints: &NegHints{HintName: "x", HintAddress: []byte{}}},
		{MechTypes: []asn1.ObjectIdentifier{OIDKerberos}, NegHints: &NegHints{}},
	}
	for _, in := range inits {
		b, err := in.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out, err := ParseNegTokenInit(b)
		if err != nil {
			t.Fatalf("%+v: %v", in, err)
		}
		if want, _ := MechTypeListBytes(in.MechTypes); !bytes.Equal(out.RawMechTypes, want) {
			t.Errorf("RawMechTypes %x, want %x", out.RawMechTypes, want)
		}
		out.RawMechTypes = nil
		if !reflect.DeepEqual(out, in) {
			t.Errorf("round trip:\n got %+v\nwant %+v", out, in)
		}
	}
	resps := []*NegTokenResp{
		{NegState: NegStateAbsent},
		{NegState: RequestMIC, SupportedMech: OIDNTLMSSP, ResponseToken: bytes.Repeat([]byte{9}, 1000), MechListMIC: make([]byte, 16)},
		{NegState: Reject},
	}
	for _, in := range resps {
		b, err := in.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out, err := ParseNegTokenResp(b)
		if err != nil || !reflect.DeepEqual(out, in) {
			t.Errorf("round trip: %v\n got %+v\nwant %+v", err, out, in)
		}
	}
}

func TestStrings(t *testing.T) {
	for s, want := range map[string]string{
		AcceptCompleted.String(): "accept-completed", RequestMIC.String(): "request-mic",
		NegStateAbsent.String(): "absent", NegState(9).String(): "NegState(9)",
		KindKerberos.String(): "Kerberos", Kind(0).String(): "Kind(0)",
	} {
		if s != want {
			t.Errorf("%q, want %q", s, want)
		}
	}
}
