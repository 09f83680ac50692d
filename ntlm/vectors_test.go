package ntlm

import (
	"bytes"
	"encoding/hex"
	"testing"
	"time"
)

// The values below are MS-NLMP 4.2 (see shared/ntlm-test-vectors.md).

var (
	vUser        = "User"
	vDomain      = "Domain"
	vPassword    = "Password"
	vWorkstation = "COMPUTER"
	vRandomKey   = h("55555555555555555555555555555555")
	vClientChal  = [8]byte{0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa}
	vServerChal  = [8]byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}
	vVersion     = Version{Major: 5, Minor: 1, Build: 2600, Revision: 15}
	vPlaintext   = h("50006c00610069006e007400650078007400")
)

func h(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func eq(t *testing.T, name string, got []byte, want string) {
	t.Helper()
	if !bytes.Equal(got, h(want)) {
		t.Errorf("%s =\n %x\nwant\n %s", name, got, want)
	}
}

func TestVectorNTLMv1(t *testing.T) { // MS-NLMP 4.2.2
	lmHash, ntHash := LMHash(vPassword), NTHash(vPassword)
	eq(t, "LMOWFv1", lmHash, "e52cac67419a9a224a3b108f3fa6cb6d")
	eq(t, "NTOWFv1", ntHash, "a4f49c406510bdcab6824ee7c30fd852")
	sbk := NTLMv1SessionBaseKey(ntHash)
	eq(t, "SessionBaseKey", sbk, "d87262b0cde4b1cb7499becccdf10784")
	nt := NTLMv1Response(ntHash, vServerChal)
	lm := NTLMv1Response(lmHash, vServerChal)
	eq(t, "NTLMv1 response", nt, "67c43011f30298a2ad35ece64f16331c44bdbed927841f94")
	eq(t, "LMv1 response", lm, "98def7b87f88aa5dafe2df779688a172def11c7d5ccdef13")

	base := NegotiateFlags(0xe2028233)
	kxPlain := KeyExchangeKey(base, sbk, lmHash, lm, vServerChal)
	eq(t, "KXKEY", kxPlain, "d87262b0cde4b1cb7499becccdf10784")
	kxNonNT := KeyExchangeKey(base|FlagRequestNonNTSessionKey, sbk, lmHash, lm, vServerChal)
	eq(t, "KXKEY NON_NT_SESSION_KEY", kxNonNT, "e52cac67419a9a220000000000000000")
	kxLM := KeyExchangeKey(base|FlagLMKey, sbk, lmHash, lm, vServerChal)
	eq(t, "KXKEY LM_KEY", kxLM, "b09e379f7fbecb1eaf0afdcb0383c8a0")
	for _, c := range []struct{ name, kx, want string }{
		{"SBK", hex.EncodeToString(kxPlain), "518822b1b3f350c8958682ecbb3e3cb7"},
		{"NON_NT", hex.EncodeToString(kxNonNT), "7452ca55c225a1ca04b48fae32cf56fc"},
		{"LM_KEY", hex.EncodeToString(kxLM), "4cd7bb57d697ef9b549f02b8f9b37864"},
	} {
		enc, err := EncryptSessionKey(h(c.kx), vRandomKey)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "EncryptedRandomSessionKey "+c.name, enc, c.want)
	}

	chal := &ChallengeMessage{Flags: base, TargetName: "Server", ServerChallenge: vServerChal, Version: Version{6, 0, 6000, 15}}
	wantChal := "4e544c4d53535000020000000c000c0038000000338202e20123456789abcdef00000000000000000000000000000000060070170000000f530065007200760065007200"
	checkChallenge(t, chal, wantChal)

	enc, _ := EncryptSessionKey(kxPlain, vRandomKey)
	auth := &AuthenticateMessage{
		Flags: 0xe2808235, LMResponse: lm, NTResponse: nt, Domain: vDomain, User: vUser,
		Workstation: vWorkstation, EncryptedRandomSessionKey: enc, Version: vVersion,
	}
	checkAuthenticate(t, auth, "4e544c4d5353500003000000180018006c00000018001800840000000c000c00480000000800080054000000100010005c000000100010009c000000358280e20501280a0000000f44006f006d00610069006e00550073006500720043004f004d005000550054004500520098def7b87f88aa5dafe2df779688a172def11c7d5ccdef1367c43011f30298a2ad35ece64f16331c44bdbed927841f94518822b1b3f350c8958682ecbb3e3cb7")

	// 4.2.2.4 GSS_WrapEx: no ESS, seal key = the random session key.
	s, err := NewSession(NegotiateFlags(0x02028233)|Flag56|Flag128|FlagKeyExchange, vRandomKey, true)
	if err != nil {
		t.Fatal(err)
	}
	sealed, sig := s.Seal(vPlaintext)
	eq(t, "sealed", sealed, "56fe04d861f9319af0d7238a2e3b4d457fb8")
	eq(t, "signature", sig, "010000000000000009dcd1df2e459d36")
}

func TestVectorNTLMv1ESS(t *testing.T) { // MS-NLMP 4.2.3
	flags := NegotiateFlags(0x820a8233)
	ntHash := NTHash(vPassword)
	lm, nt := NTLMv1ESSResponse(ntHash, vServerChal, vClientChal)
	eq(t, "LMv1 response", lm, "aaaaaaaaaaaaaaaa00000000000000000000000000000000")
	eq(t, "NTLMv1 response", nt, "7537f803ae367128ca458204bde7caf81e97ed2683267232")
	sbk := NTLMv1SessionBaseKey(ntHash)
	eq(t, "SessionBaseKey", sbk, "d87262b0cde4b1cb7499becccdf10784")
	kx := KeyExchangeKey(flags, sbk, LMHash(vPassword), lm, vServerChal)
	eq(t, "KXKEY", kx, "eb93429a8bd952f8b89c55b87f475edc")
	// No KEY_EXCH: the exported session key is the key exchange key.
	eq(t, "ClientSealKey", SealKey(flags, kx, true), "04dd7f014d8504d265a25cc86a3a7c06")
	eq(t, "ClientSignKey", SignKey(kx, true), "60e799be5c72fc92922ae8ebe961fb8d")
	s, err := NewSession(flags, kx, true)
	if err != nil {
		t.Fatal(err)
	}
	sealed, sig := s.Seal(vPlaintext)
	eq(t, "sealed", sealed, "a02372f6530273f3aa1eb90190ce5200c99d")
	eq(t, "signature", sig, "01000000ff2aeb52f681793a00000000")
}

func vTargetInfo() TargetInfo {
	return TargetInfo{
		{ID: AvNbDomainName, Value: utf16le("Domain")},
		{ID: AvNbComputerName, Value: utf16le("Server")},
	}
}

func TestVectorNTLMv2(t *testing.T) { // MS-NLMP 4.2.4
	ti := vTargetInfo()
	eq(t, "TargetInfo", ti.Marshal(), "02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000")
	v2 := NTLMv2Hash(NTHash(vPassword), vUser, vDomain)
	eq(t, "NTOWFv2", v2, "0c868a403bfd7a93a3001ef22ef02e3f")
	blob := NTLMv2Blob(0, vClientChal, ti)
	eq(t, "temp", blob, "0101000000000000"+"0000000000000000"+"aaaaaaaaaaaaaaaa"+"00000000"+
		"02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000"+"00000000")
	nt, sbk := NTLMv2Response(v2, vServerChal, blob)
	eq(t, "NTProofStr", nt[:16], "68cd0ab851e51c96aabc927bebef6a1c")
	eq(t, "LMv2 response", LMv2Response(v2, vServerChal, vClientChal), "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa")
	eq(t, "SessionBaseKey", sbk, "8de40ccadbc14a82f15cb0ad0de95ca3")
	enc, _ := EncryptSessionKey(sbk, vRandomKey)
	eq(t, "EncryptedRandomSessionKey", enc, "c5dad2544fc9799094ce1ce90bc9d03e")

	chal := &ChallengeMessage{Flags: 0xe28a8233, TargetName: "Server", ServerChallenge: vServerChal,
		TargetInfo: ti, Version: Version{6, 0, 6000, 15}}
	checkChallenge(t, chal, "4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef00000000000000002400240044000000060070170000000f53006500720076006500720002000c0044006f006d00610069006e0001000c0053006500720076006500720000000000")

	const wantAuth = "4e544c4d5353500003000000180018006c00000054005400840000000c000c00480000000800080054000000100010005c00000010001000d8000000358288e20501280a0000000f44006f006d00610069006e00550073006500720043004f004d005000550054004500520086c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa68cd0ab851e51c96aabc927bebef6a1c01010000000000000000000000000000aaaaaaaaaaaaaaaa0000000002000c0044006f006d00610069006e0001000c005300650072007600650072000000000000000000c5dad2544fc9799094ce1ce90bc9d03e"
	auth := &AuthenticateMessage{
		Flags: 0xe2888235, LMResponse: LMv2Response(v2, vServerChal, vClientChal), NTResponse: nt,
		Domain: vDomain, User: vUser, Workstation: vWorkstation, EncryptedRandomSessionKey: enc, Version: vVersion,
	}
	checkAuthenticate(t, auth, wantAuth)

	// The Client produces the same responses from the same inputs.
	chalBytes, _ := chal.Marshal()
	c := &Client{User: vUser, Domain: vDomain, Password: vPassword, Workstation: vWorkstation,
		Rand: bytes.NewReader(append(vClientChal[:], vRandomKey...)), Now: func() time.Time { return FileTimeToTime(0) }}
	a, err := c.Authenticate(nil, chalBytes)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseAuthenticate(a.Message)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ParseAuthenticate(h(wantAuth))
	eq(t, "client NT response", got.NTResponse, hex.EncodeToString(want.NTResponse))
	eq(t, "client LM response", got.LMResponse, hex.EncodeToString(want.LMResponse))
	eq(t, "client encrypted key", got.EncryptedRandomSessionKey, hex.EncodeToString(want.EncryptedRandomSessionKey))
	eq(t, "client exported key", a.SessionKey, hex.EncodeToString(vRandomKey))
	if !got.HasMIC || got.MIC != [16]byte{} {
		t.Errorf("client without NEGOTIATE: HasMIC=%v MIC=%x, want a zero MIC field", got.HasMIC, got.MIC)
	}

	// 4.2.4.4 GSS_WrapEx with KEY_EXCH and 128-bit keys.
	flags := NegotiateFlags(0xe28a8233)
	eq(t, "ClientSignKey", SignKey(vRandomKey, true), "4788dc861b4782f35d43fd98fe1a2d39")
	eq(t, "ClientSealKey", SealKey(flags, vRandomKey, true), "59f600973cc4960a25480a7c196e4c58")
	eq(t, "ServerSignKey", SignKey(vRandomKey, false), "d04d6f10741041d1d246d64188d7a8ad")
	eq(t, "ServerSealKey", SealKey(flags, vRandomKey, false), "9355f3a957c1583d25c4c2f11e40390e")
	eq(t, "56-bit ClientSealKey", SealKey(flags&^Flag128, vRandomKey, true), "a5f7253c1065e8d3d68642040e71cfe0")
	eq(t, "56-bit ServerSealKey", SealKey(flags&^Flag128, vRandomKey, false), "583e2f98959b385cd158f3734b5f5d3f")
	eq(t, "40-bit ClientSealKey", SealKey(flags&^(Flag128|Flag56), vRandomKey, true), "42f964a471091a02ff4a77455366e4e5")
	eq(t, "40-bit ServerSealKey", SealKey(flags&^(Flag128|Flag56), vRandomKey, false), "c5d3853b406b7c1241c595f0ce0750e2")
	eq(t, "LM_KEY 56-bit seal key", SealKey(FlagLMKey|Flag56, vRandomKey, true), "55555555555555a0")
	eq(t, "LM_KEY 40-bit seal key", SealKey(FlagLMKey, vRandomKey, true), "5555555555e538b0")
	s, err := NewSession(flags, vRandomKey, true)
	if err != nil {
		t.Fatal(err)
	}
	sealed, sig := s.Seal(vPlaintext)
	eq(t, "sealed", sealed, "54e50165bf1936dc996020c1811b0f06fb5f")
	eq(t, "signature", sig, "010000007fb38ec5c55d497600000000")
	// Without KEY_EXCH the checksum is not encrypted.
	s2, _ := NewSession(flags&^FlagKeyExchange, vRandomKey, true)
	eq(t, "signature without KEY_EXCH", s2.Sign(vPlaintext)[4:12], "70352851f2564309")

	// And the server side unseals what the client sealed.
	srv, _ := NewSession(flags, vRandomKey, false)
	plain, err := srv.Unseal(sealed, sig)
	if err != nil || !bytes.Equal(plain, vPlaintext) {
		t.Errorf("server Unseal = %x, %v", plain, err)
	}
}

func checkChallenge(t *testing.T, m *ChallengeMessage, want string) {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "CHALLENGE_MESSAGE", b, want)
	back, err := ParseChallenge(h(want))
	if err != nil {
		t.Fatal(err)
	}
	if back.Flags != m.Flags || back.TargetName != m.TargetName || back.ServerChallenge != m.ServerChallenge || back.Version != m.Version {
		t.Errorf("ParseChallenge = %+v, want %+v", back, m)
	}
	if !bytes.Equal(back.TargetInfo.Marshal(), m.TargetInfo.Marshal()) {
		t.Errorf("ParseChallenge target info = %x", back.TargetInfo.Marshal())
	}
}

func checkAuthenticate(t *testing.T, m *AuthenticateMessage, want string) {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "AUTHENTICATE_MESSAGE", b, want)
	back, err := ParseAuthenticate(h(want))
	if err != nil {
		t.Fatal(err)
	}
	if back.HasMIC {
		t.Errorf("vector message has no MIC field, parser found one")
	}
	if back.User != m.User || back.Domain != m.Domain || back.Workstation != m.Workstation ||
		back.Flags != m.Flags || back.Version != m.Version ||
		!bytes.Equal(back.NTResponse, m.NTResponse) || !bytes.Equal(back.LMResponse, m.LMResponse) ||
		!bytes.Equal(back.EncryptedRandomSessionKey, m.EncryptedRandomSessionKey) {
		t.Errorf("ParseAuthenticate = %+v, want %+v", back, m)
	}
}
