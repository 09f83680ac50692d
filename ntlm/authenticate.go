package ntlm

import (
	"fmt"
)

// Offsets in the AUTHENTICATE header (MS-NLMP 2.2.1.3).
const (
	authVersionOffset = 64
	authMICOffset     = 72
	authHeaderLen     = 88 // with Version and MIC
)

// AuthenticateMessage is the AUTHENTICATE_MESSAGE a client sends last
// (MS-NLMP 2.2.1.3).
type AuthenticateMessage struct {
	Flags NegotiateFlags
	// LMResponse and NTResponse are the challenge responses. Their lengths
	// tell the protocol: 24-byte NT response is NTLMv1, longer is NTLMv2.
	LMResponse, NTResponse    []byte
	Domain, User, Workstation string
	// EncryptedRandomSessionKey is present with FlagKeyExchange.
	EncryptedRandomSessionKey []byte
	Version                   Version
	// MIC is the message integrity code. HasMIC reports whether the
	// message has a MIC field (its payload starts at offset 88 or later);
	// the field may be present but zero.
	MIC    [16]byte
	HasMIC bool
}

// Marshal encodes the message. With HasMIC it writes the Version and the
// 16-byte MIC field (zero if not yet computed); [Client] always does,
// because gss-ntlmssp rejects AUTHENTICATE messages whose payload starts
// before offset 88, and Windows always leaves room for both.
func (m *AuthenticateMessage) Marshal() ([]byte, error) {
	headerLen := 64
	if m.HasMIC {
		headerLen = authHeaderLen
	} else if m.Flags.Has(FlagVersion) {
		headerLen = authMICOffset
	}
	b := newBuilder(TypeAuthenticate, headerLen)
	b.u32(60, uint32(m.Flags))
	if headerLen > authVersionOffset && m.Flags.Has(FlagVersion) {
		m.Version.marshal(b.buf[authVersionOffset:])
	}
	if m.HasMIC {
		copy(b.buf[authMICOffset:], m.MIC[:])
	}
	unicode := m.Flags.Has(FlagUnicode)
	// Payload order as Windows writes it: names first, then responses.
	b.field(28, encodeString(m.Domain, unicode))
	b.field(36, encodeString(m.User, unicode))
	b.field(44, encodeString(m.Workstation, unicode))
	b.field(12, m.LMResponse)
	b.field(20, m.NTResponse)
	b.field(52, m.EncryptedRandomSessionKey)
	return b.bytes()
}

// ParseAuthenticate decodes an AUTHENTICATE message. Compact messages
// without Version or MIC (curl, cntlm) are accepted; HasMIC tells whether a
// MIC field was present.
func ParseAuthenticate(msg []byte) (*AuthenticateMessage, error) {
	const minLen = 64 // all security buffers and the flags
	if err := checkHeader(msg, TypeAuthenticate, minLen); err != nil {
		return nil, fmt.Errorf("ntlm: decode authenticate: %w", err)
	}
	m := &AuthenticateMessage{Flags: NegotiateFlags(le32(msg[60:]))}
	names := [...]string{"LmChallengeResponse", "NtChallengeResponse", "DomainName", "UserName", "Workstation", "EncryptedRandomSessionKey"}
	var f [6]field
	for i, name := range names {
		var err error
		if f[i], err = readField(msg, 12+8*i, name); err != nil {
			return nil, fmt.Errorf("ntlm: decode authenticate: %w", err)
		}
	}
	m.LMResponse = f[0].bytes(msg)
	m.NTResponse = f[1].bytes(msg)
	m.EncryptedRandomSessionKey = f[5].bytes(msg)
	unicode := m.Flags.Has(FlagUnicode)
	for i, dst := range []*string{&m.Domain, &m.User, &m.Workstation} {
		s, err := decodeString(f[2+i].bytes(msg), unicode)
		if err != nil {
			return nil, fmt.Errorf("ntlm: decode authenticate: %s: %w", names[2+i], err)
		}
		*dst = s
	}
	start := payloadStart(len(msg), f[:]...)
	if m.Flags.Has(FlagVersion) && start >= authMICOffset {
		m.Version = parseVersion(msg[authVersionOffset:authMICOffset])
	}
	if start >= authHeaderLen {
		m.HasMIC = true
		copy(m.MIC[:], msg[authMICOffset:authHeaderLen])
	}
	return m, nil
}

// zeroMIC returns a copy of an AUTHENTICATE message with its MIC field
// zeroed, the form the MIC is computed over.
func zeroMIC(msg []byte) []byte {
	out := append([]byte(nil), msg...)
	if len(out) >= authHeaderLen {
		clear(out[authMICOffset:authHeaderLen])
	}
	return out
}
