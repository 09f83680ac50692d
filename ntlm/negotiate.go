package ntlm

import (
	"fmt"
)

// negotiateHeaderLen is the NEGOTIATE header with the Version field.
const negotiateHeaderLen = 40

// NegotiateMessage is the NEGOTIATE_MESSAGE a client sends first
// (MS-NLMP 2.2.1.1).
type NegotiateMessage struct {
	Flags NegotiateFlags
	// Domain and Workstation are sent in OEM encoding and only when their
	// *_SUPPLIED flags are set; Marshal sets those flags itself.
	Domain, Workstation string
	// Version is present when FlagVersion is set.
	Version Version
}

// Marshal encodes the message. It always writes the 8-byte Version field
// (zero when FlagVersion is clear): gss-ntlmssp rejects NEGOTIATE messages
// shorter than 40 bytes.
func (m *NegotiateMessage) Marshal() ([]byte, error) {
	flags := m.Flags &^ (FlagOEMDomainSupplied | FlagOEMWorkstationSupplied)
	if m.Domain != "" {
		flags |= FlagOEMDomainSupplied
	}
	if m.Workstation != "" {
		flags |= FlagOEMWorkstationSupplied
	}
	b := newBuilder(TypeNegotiate, negotiateHeaderLen)
	b.u32(12, uint32(flags))
	if flags.Has(FlagVersion) {
		m.Version.marshal(b.buf[32:])
	}
	b.field(16, encodeString(m.Domain, false))
	b.field(24, encodeString(m.Workstation, false))
	return b.bytes()
}

// ParseNegotiate decodes a NEGOTIATE message. Short (32-byte) messages
// without a Version field, as curl sends, are accepted.
func ParseNegotiate(msg []byte) (*NegotiateMessage, error) {
	const minLen = 16 // signature, type, flags; older clients stop here
	if err := checkHeader(msg, TypeNegotiate, minLen); err != nil {
		return nil, fmt.Errorf("ntlm: decode negotiate: %w", err)
	}
	m := &NegotiateMessage{Flags: NegotiateFlags(le32(msg[12:]))}
	if len(msg) < 32 {
		return m, nil
	}
	dom, err := readField(msg, 16, "DomainName")
	if err != nil {
		return nil, fmt.Errorf("ntlm: decode negotiate: %w", err)
	}
	ws, err := readField(msg, 24, "Workstation")
	if err != nil {
		return nil, fmt.Errorf("ntlm: decode negotiate: %w", err)
	}
	if m.Flags.Has(FlagOEMDomainSupplied) {
		m.Domain, _ = decodeString(dom.bytes(msg), false)
	}
	if m.Flags.Has(FlagOEMWorkstationSupplied) {
		m.Workstation, _ = decodeString(ws.bytes(msg), false)
	}
	if m.Flags.Has(FlagVersion) && payloadStart(len(msg), dom, ws) >= negotiateHeaderLen && len(msg) >= negotiateHeaderLen {
		m.Version = parseVersion(msg[32:40])
	}
	return m, nil
}
