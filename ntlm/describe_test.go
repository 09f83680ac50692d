package ntlm

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// The MS-NLMP 4.2.4 exchange, as bytes.
const (
	v2Challenge    = "4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef00000000000000002400240044000000060070170000000f53006500720076006500720002000c0044006f006d00610069006e0001000c0053006500720076006500720000000000"
	v2Authenticate = "4e544c4d5353500003000000180018006c00000054005400840000000c000c00480000000800080054000000100010005c00000010001000d8000000358288e20501280a0000000f44006f006d00610069006e00550073006500720043004f004d005000550054004500520086c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa68cd0ab851e51c96aabc927bebef6a1c01010000000000000000000000000000aaaaaaaaaaaaaaaa0000000002000c0044006f006d00610069006e0001000c005300650072007600650072000000000000000000c5dad2544fc9799094ce1ce90bc9d03e"
)

func TestDescribeVectors(t *testing.T) {
	d, err := Describe(h(v2Challenge))
	if err != nil {
		t.Fatal(err)
	}
	if d.Type != "CHALLENGE" || d.TargetName != "Server" || d.ServerChallenge != "0123456789abcdef" || d.Flags != "0xe28a8233" || d.Version != "6.0.6000 rev 15" {
		t.Errorf("challenge description = %+v", d)
	}
	if len(d.TargetInfo) != 2 || d.TargetInfo[0] != (DescribedAVPair{"MsvAvNbDomainName", "Domain"}) || d.TargetInfo[1] != (DescribedAVPair{"MsvAvNbComputerName", "Server"}) {
		t.Errorf("target info = %+v", d.TargetInfo)
	}

	d, err = Describe(h(v2Authenticate))
	if err != nil {
		t.Fatal(err)
	}
	if d.Type != "AUTHENTICATE" || d.User != "User" || d.Domain != "Domain" || d.Workstation != "COMPUTER" || d.Response != "NTLMv2" || d.HasMIC {
		t.Errorf("authenticate description = %+v", d)
	}
	if d.NTLMv2 == nil || d.NTLMv2.NTProofStr != "68cd0ab851e51c96aabc927bebef6a1c" || d.NTLMv2.ClientChallenge != "aaaaaaaaaaaaaaaa" || !d.NTLMv2.Timestamp.Equal(FileTimeToTime(0)) {
		t.Errorf("NTLMv2 part = %+v", d.NTLMv2)
	}
	text := d.String()
	for _, want := range []string{"AUTHENTICATE message, 232 bytes", "User:", "NTProofStr:", "68cd0ab851e51c96aabc927bebef6a1c", "(no MIC field)", "KEY_EXCH 56"} {
		if !strings.Contains(text, want) {
			t.Errorf("text dump lacks %q:\n%s", want, text)
		}
	}
	js, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"nt_proof_str":"68cd0ab851e51c96aabc927bebef6a1c"`) {
		t.Errorf("JSON = %s", js)
	}
}

func TestDescribeMalformed(t *testing.T) {
	for _, in := range [][]byte{nil, []byte("NTLMSSP\x00"), []byte("NTLMSSP\x00\x04\x00\x00\x00"), h(v2Challenge)[:20]} {
		if _, err := Describe(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("Describe(%x) error = %v, want ErrMalformed", in, err)
		}
	}
}

func TestCheckExchangeVector(t *testing.T) {
	r, err := CheckExchange(nil, h(v2Challenge), h(v2Authenticate), NTHash(vPassword))
	if err != nil {
		t.Fatal(err)
	}
	want := ExchangeCheck{User: "User", Domain: "Domain", Response: "NTLMv2", ProofValid: true,
		SessionBaseKey: "8de40ccadbc14a82f15cb0ad0de95ca3", KeyExchangeKey: "8de40ccadbc14a82f15cb0ad0de95ca3",
		ExportedSessionKey: "55555555555555555555555555555555", MIC: "absent"}
	if *r != want {
		t.Errorf("CheckExchange =\n %+v\nwant\n %+v", *r, want)
	}
	r, err = CheckExchange(nil, h(v2Challenge), h(v2Authenticate), NTHash("wrong"))
	if err != nil {
		t.Fatal(err)
	}
	if r.ProofValid || r.ExportedSessionKey != "" {
		t.Errorf("wrong password: %+v", r)
	}
}

// A full client exchange with a MIC: CheckExchange must find the MIC valid
// with the NEGOTIATE, unchecked without it, and invalid when tampered.
func TestCheckExchangeMIC(t *testing.T) {
	c := &Client{User: `CORP\alice`, Password: "AlicePass123"}
	s := testServer(t)
	neg, _ := c.Negotiate()
	_, chal, err := s.Challenge(neg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Authenticate(neg, chal)
	if err != nil {
		t.Fatal(err)
	}
	hash := NTHash("AlicePass123")
	r, err := CheckExchange(neg, chal, a.Message, hash)
	if err != nil || !r.ProofValid || r.MIC != "valid" || r.User != "alice" || r.Domain != "CORP" {
		t.Fatalf("CheckExchange = %+v, %v", r, err)
	}
	if r.ExportedSessionKey != strings.ToLower(hexString(a.SessionKey)) {
		t.Errorf("exported key %s, client has %x", r.ExportedSessionKey, a.SessionKey)
	}
	if r, _ := CheckExchange(nil, chal, a.Message, hash); r.MIC != "unchecked" {
		t.Errorf("without NEGOTIATE: MIC %q", r.MIC)
	}
	bad := append([]byte(nil), a.Message...)
	bad[authMICOffset] ^= 1
	if r, _ := CheckExchange(neg, chal, bad, hash); r.MIC != "invalid" {
		t.Errorf("tampered MIC: %q", r.MIC)
	}
	d, err := Describe(a.Message)
	if err != nil || !d.HasMIC || d.NTLMv2 == nil || !d.NTLMv2.MICAnnounced {
		t.Errorf("Describe = %+v, %v", d, err)
	}
	if d.NTLMv2.Timestamp.Before(time.Now().Add(-time.Hour)) {
		t.Errorf("timestamp %v", d.NTLMv2.Timestamp)
	}
}

func TestCheckExchangeNTLMv1(t *testing.T) {
	for _, ess := range []bool{false, true} {
		c := &Client{User: `CORP\alice`, Password: "AlicePass123", Compatibility: AllowNTLMv1}
		flags := NegotiateFlags(FlagUnicode | FlagNTLM | FlagTargetInfo)
		if ess {
			flags |= FlagExtendedSessionSecurity
		}
		chal, _ := (&ChallengeMessage{Flags: flags, TargetName: "CORP", ServerChallenge: vServerChal}).Marshal()
		a, err := c.Authenticate(nil, chal)
		if err != nil {
			t.Fatal(err)
		}
		r, err := CheckExchange(nil, chal, a.Message, NTHash("AlicePass123"))
		if err != nil || !r.ProofValid || !strings.HasPrefix(r.Response, "NTLMv1") || r.ExportedSessionKey != hexString(a.SessionKey) {
			t.Errorf("ess=%v: %+v, %v (client key %x)", ess, r, err, a.SessionKey)
		}
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// NTLMv1 with LM_KEY or REQUEST_NON_NT_SESSION_KEY derives its keys from
// the LM hash, which the NT hash does not give: CheckExchange says so
// instead of printing keys made from zeros.
func TestCheckExchangeNTLMv1LMDerivedKeys(t *testing.T) {
	checked := 0
	for _, extra := range []NegotiateFlags{FlagLMKey, FlagRequestNonNTSessionKey} {
		c := &Client{User: `CORP\alice`, Password: "AlicePass123", Compatibility: AllowNTLMv1}
		chal, _ := (&ChallengeMessage{Flags: FlagUnicode | FlagNTLM | FlagTargetInfo | extra, TargetName: "CORP", ServerChallenge: vServerChal}).Marshal()
		a, err := c.Authenticate(nil, chal)
		if err != nil {
			t.Fatal(err)
		}
		// Our client declines these flags; a peer that sets them anyway
		// (the NegotiateFlags field at offset 60 is outside what an
		// NTLMv1 response covers) is what the checker must explain.
		msg := append([]byte(nil), a.Message...)
		binary.LittleEndian.PutUint32(msg[60:], binary.LittleEndian.Uint32(msg[60:])|uint32(extra))
		if m, err := ParseAuthenticate(msg); err != nil || !m.Flags.Has(extra) {
			t.Fatalf("flag %v not set in the AUTHENTICATE: %v", extra, err)
		}
		checked++
		r, err := CheckExchange(nil, chal, msg, NTHash("AlicePass123"))
		if err != nil || !r.ProofValid || r.KeyExchangeKey != "" || r.ExportedSessionKey != "" || r.Note == "" {
			t.Errorf("flag %v: %+v, %v; want a valid proof, no keys and a note", extra, r, err)
		}
	}
	if checked == 0 {
		t.Fatal("the client kept neither LM_KEY nor REQUEST_NON_NT_SESSION_KEY: nothing was checked")
	}
}
