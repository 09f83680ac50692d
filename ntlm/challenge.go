package ntlm

import (
	"fmt"
)

// challengeHeaderLen is the CHALLENGE header with the Version field.
const challengeHeaderLen = 56

// ChallengeMessage is the CHALLENGE_MESSAGE a server answers with
// (MS-NLMP 2.2.1.2).
type ChallengeMessage struct {
	Flags NegotiateFlags
	// TargetName is the server's domain or computer name, in Unicode or
	// OEM depending on FlagUnicode.
	TargetName      string
	ServerChallenge [8]byte
	// TargetInfo is sent when FlagTargetInfo is set; NTLMv2 needs it.
	TargetInfo TargetInfo
	Version    Version
}

// Marshal encodes the message.
func (m *ChallengeMessage) Marshal() ([]byte, error) {
	b := newBuilder(TypeChallenge, challengeHeaderLen)
	b.u32(20, uint32(m.Flags))
	copy(b.buf[24:32], m.ServerChallenge[:])
	if m.Flags.Has(FlagVersion) {
		m.Version.marshal(b.buf[48:])
	}
	b.field(12, encodeString(m.TargetName, m.Flags.Has(FlagUnicode)))
	if m.Flags.Has(FlagTargetInfo) {
		b.field(40, m.TargetInfo.Marshal())
	} // else the field stays all zero, as in MS-NLMP 4.2.2.3
	return b.bytes()
}

// ParseChallenge decodes a CHALLENGE message. Messages without the Version
// field (48 bytes of header, or 32 from very old servers) are accepted.
func ParseChallenge(msg []byte) (*ChallengeMessage, error) {
	const minLen = 32 // up to and including ServerChallenge
	if err := checkHeader(msg, TypeChallenge, minLen); err != nil {
		return nil, fmt.Errorf("ntlm: decode challenge: %w", err)
	}
	m := &ChallengeMessage{Flags: NegotiateFlags(le32(msg[20:]))}
	copy(m.ServerChallenge[:], msg[24:32])
	tn, err := readField(msg, 12, "TargetName")
	if err != nil {
		return nil, fmt.Errorf("ntlm: decode challenge: %w", err)
	}
	if m.TargetName, err = decodeString(tn.bytes(msg), m.Flags.Has(FlagUnicode)); err != nil {
		return nil, fmt.Errorf("ntlm: decode challenge: target name: %w", err)
	}
	if len(msg) < 48 {
		return m, nil
	}
	ti, err := readField(msg, 40, "TargetInfo")
	if err != nil {
		return nil, fmt.Errorf("ntlm: decode challenge: %w", err)
	}
	if m.Flags.Has(FlagTargetInfo) && ti.len > 0 {
		if m.TargetInfo, err = ParseTargetInfo(ti.bytes(msg)); err != nil {
			return nil, fmt.Errorf("ntlm: decode challenge: target info: %w", err)
		}
	}
	if m.Flags.Has(FlagVersion) && len(msg) >= challengeHeaderLen && payloadStart(len(msg), tn, ti) >= challengeHeaderLen {
		m.Version = parseVersion(msg[48:56])
	}
	return m, nil
}
