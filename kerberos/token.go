package kerberos

import (
	"encoding/asn1"
	"encoding/binary"
	"fmt"

	"github.com/jcmturner/gokrb5/v8/messages"
)

// MaxTokenSize bounds the GSS-API tokens the decoders accept. A Kerberos
// token with a large PAC is a few KiB to a few tens of KiB.
const MaxTokenSize = 64 << 10

// OID is the Kerberos V5 GSS-API mechanism, 1.2.840.113554.1.2.2 (RFC
// 4121), which frames every context token.
var OID = asn1.ObjectIdentifier{1, 2, 840, 113554, 1, 2, 2}

// OIDMicrosoft is the mis-encoded Kerberos OID Windows also uses,
// 1.2.840.48018.1.2.2. Acceptor tokens framed with it are accepted.
var OIDMicrosoft = asn1.ObjectIdentifier{1, 2, 840, 48018, 1, 2, 2}

// TOK_ID values of the context-establishment tokens (RFC 4121 section
// 4.1).
const (
	TokIDAPReq uint16 = 0x0100 // initiator's KRB_AP_REQ
	TokIDAPRep uint16 = 0x0200 // acceptor's KRB_AP_REP
	TokIDError uint16 = 0x0300 // acceptor's KRB_ERROR
)

// GSS-API context flags (RFC 2744), as carried in the checksum of the
// initiator's authenticator.
const (
	FlagDeleg    uint32 = 1
	FlagMutual   uint32 = 2
	FlagReplay   uint32 = 4
	FlagSequence uint32 = 8
	FlagConf     uint32 = 16
	FlagInteg    uint32 = 32
)

// gssChecksumType is the authenticator checksum type that carries the GSS
// checksum (RFC 4121 section 4.1.1).
const gssChecksumType = 0x8003

// WrapToken frames a Kerberos message as a GSS-API context token: the
// [APPLICATION 0] InitialContextToken header, OID, the two-byte TOK_ID
// and the message (RFC 2743 section 3.1, RFC 4121 section 4.1).
func WrapToken(tokID uint16, msg []byte) []byte {
	oid, _ := asn1.Marshal(OID) // a constant: cannot fail
	inner := make([]byte, 0, len(oid)+2+len(msg))
	inner = append(inner, oid...)
	inner = binary.BigEndian.AppendUint16(inner, tokID)
	inner = append(inner, msg...)
	out := []byte{0x60}
	out = appendLength(out, len(inner))
	return append(out, inner...)
}

func appendLength(b []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n < 0x100:
		return append(b, 0x81, byte(n))
	case n < 0x10000:
		return append(b, 0x82, byte(n>>8), byte(n))
	default:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
}

// UnwrapToken removes the GSS-API framing of a Kerberos context token,
// returning its TOK_ID and the Kerberos message. The mechanism OID must
// be OID or OIDMicrosoft. Errors wrap ErrMalformedToken.
func UnwrapToken(tok []byte) (tokID uint16, msg []byte, err error) {
	if len(tok) > MaxTokenSize {
		return 0, nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformedToken, len(tok), MaxTokenSize)
	}
	if len(tok) < 2 || tok[0] != 0x60 {
		return 0, nil, fmt.Errorf("%w: not a GSS-API token", ErrMalformedToken)
	}
	n, hdr, ok := readLength(tok[1:])
	if !ok || n != len(tok)-1-hdr {
		return 0, nil, fmt.Errorf("%w: bad GSS-API token length", ErrMalformedToken)
	}
	body := tok[1+hdr:]
	var oid asn1.ObjectIdentifier
	rest, err := asn1.Unmarshal(body, &oid)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: mechanism OID: %v", ErrMalformedToken, err)
	}
	if !oid.Equal(OID) && !oid.Equal(OIDMicrosoft) {
		return 0, nil, fmt.Errorf("%w: mechanism %v is not Kerberos", ErrMalformedToken, oid)
	}
	if len(rest) < 2 {
		return 0, nil, fmt.Errorf("%w: no TOK_ID", ErrMalformedToken)
	}
	return binary.BigEndian.Uint16(rest), rest[2:], nil
}

// readLength decodes a DER definite length (at most 4 length octets): the
// length and the number of octets it took.
func readLength(b []byte) (n, size int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	if b[0] < 0x80 {
		return int(b[0]), 1, true
	}
	k := int(b[0] & 0x7f)
	if k == 0 || k > 4 || len(b) < 1+k {
		return 0, 0, false
	}
	for _, c := range b[1 : 1+k] {
		n = n<<8 | int(c)
	}
	if n < 0x80 || n > MaxTokenSize {
		return 0, 0, false
	}
	return n, 1 + k, true
}

// AcceptorToken is a decoded acceptor context token: exactly one of
// APRep and Error is set.
type AcceptorToken struct {
	APRep *messages.APRep
	Error *messages.KRBError
}

// ParseAcceptorToken decodes the acceptor's answer to an AP-REQ: a
// GSS-API framed KRB_AP_REP (TOK_ID 0x0200) or KRB_ERROR (0x0300). It only
// decodes; SecContext verifies. Errors wrap ErrMalformedToken.
func ParseAcceptorToken(tok []byte) (*AcceptorToken, error) {
	id, msg, err := UnwrapToken(tok)
	if err != nil {
		return nil, err
	}
	switch id {
	case TokIDAPRep:
		var r messages.APRep
		if err := safeUnmarshal(func() error { return r.Unmarshal(msg) }); err != nil {
			return nil, fmt.Errorf("%w: AP-REP: %v", ErrMalformedToken, err)
		}
		if r.PVNO != 5 {
			return nil, fmt.Errorf("%w: AP-REP pvno %d", ErrMalformedToken, r.PVNO)
		}
		return &AcceptorToken{APRep: &r}, nil
	case TokIDError:
		var e messages.KRBError
		if err := safeUnmarshal(func() error { return e.Unmarshal(msg) }); err != nil {
			return nil, fmt.Errorf("%w: KRB-ERROR: %v", ErrMalformedToken, err)
		}
		return &AcceptorToken{Error: &e}, nil
	}
	return nil, fmt.Errorf("%w: TOK_ID %#04x is not an acceptor token", ErrMalformedToken, id)
}

// ParseInitialToken decodes an initiator's context token (TOK_ID 0x0100)
// into its AP-REQ, for inspection and tests. The authenticator stays
// encrypted; an acceptor with the service key can decrypt it.
func ParseInitialToken(tok []byte) (*messages.APReq, error) {
	id, msg, err := UnwrapToken(tok)
	if err != nil {
		return nil, err
	}
	if id != TokIDAPReq {
		return nil, fmt.Errorf("%w: TOK_ID %#04x is not an AP-REQ", ErrMalformedToken, id)
	}
	var r messages.APReq
	if err := safeUnmarshal(func() error { return r.Unmarshal(msg) }); err != nil {
		return nil, fmt.Errorf("%w: AP-REQ: %v", ErrMalformedToken, err)
	}
	return &r, nil
}

// safeUnmarshal runs one of gokrb5's decoders, turning a panic on hostile
// input into an error.
func safeUnmarshal(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder panic: %v", r)
		}
	}()
	return f()
}

// GSSChecksum is the content of the authenticator checksum of type 0x8003
// (RFC 4121 section 4.1.1).
type GSSChecksum struct {
	// Bindings is the MD5 hash of the channel bindings, zero when none.
	Bindings [16]byte
	// Flags are the requested context flags (FlagMutual, ...).
	Flags uint32
	// Deleg is the KRB_CRED message with the forwarded TGT, present when
	// Flags has FlagDeleg.
	Deleg []byte
	// Exts are any bytes after the fixed fields (extensions), kept as is.
	Exts []byte
}

// Marshal encodes the checksum value.
func (c *GSSChecksum) Marshal() ([]byte, error) {
	b := binary.LittleEndian.AppendUint32(nil, 16)
	b = append(b, c.Bindings[:]...)
	b = binary.LittleEndian.AppendUint32(b, c.Flags)
	if c.Flags&FlagDeleg != 0 {
		if len(c.Deleg) > 0xffff {
			return nil, fmt.Errorf("kerberos: KRB-CRED of %d bytes does not fit the GSS checksum", len(c.Deleg))
		}
		b = binary.LittleEndian.AppendUint16(b, 1)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(c.Deleg)))
		b = append(b, c.Deleg...)
	}
	return append(b, c.Exts...), nil
}

// ParseGSSChecksum decodes a checksum value of type 0x8003. Errors wrap
// ErrMalformedToken.
func ParseGSSChecksum(b []byte) (*GSSChecksum, error) {
	if len(b) < 24 {
		return nil, fmt.Errorf("%w: GSS checksum of %d bytes", ErrMalformedToken, len(b))
	}
	if binary.LittleEndian.Uint32(b) != 16 {
		return nil, fmt.Errorf("%w: GSS checksum binding length %d", ErrMalformedToken, binary.LittleEndian.Uint32(b))
	}
	c := &GSSChecksum{Flags: binary.LittleEndian.Uint32(b[20:])}
	copy(c.Bindings[:], b[4:20])
	rest := b[24:]
	if c.Flags&FlagDeleg != 0 {
		if len(rest) < 4 || binary.LittleEndian.Uint16(rest) != 1 {
			return nil, fmt.Errorf("%w: GSS checksum: delegation flag without DlgOpt 1", ErrMalformedToken)
		}
		n := int(binary.LittleEndian.Uint16(rest[2:]))
		if len(rest) < 4+n {
			return nil, fmt.Errorf("%w: GSS checksum: KRB-CRED truncated", ErrMalformedToken)
		}
		c.Deleg = rest[4 : 4+n]
		rest = rest[4+n:]
	}
	if len(rest) > 0 {
		c.Exts = rest
	}
	return c, nil
}
