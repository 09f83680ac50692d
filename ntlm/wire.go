package ntlm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unicode/utf16"
)

// MaxMessageSize bounds every NTLM message this package decodes or accepts.
// Real messages stay under 2 KiB; the bound stops a peer from making us
// allocate or parse without limit.
const MaxMessageSize = 64 << 10

// MessageType is the MessageType field of an NTLM message.
type MessageType uint32

// The three NTLM message types.
const (
	TypeNegotiate    MessageType = 1
	TypeChallenge    MessageType = 2
	TypeAuthenticate MessageType = 3
)

// String returns the MS-NLMP name of the message type.
func (t MessageType) String() string {
	switch t {
	case TypeNegotiate:
		return "NEGOTIATE"
	case TypeChallenge:
		return "CHALLENGE"
	case TypeAuthenticate:
		return "AUTHENTICATE"
	}
	return fmt.Sprintf("type %d", uint32(t))
}

var signature = []byte("NTLMSSP\x00")

// PeekType returns the message type of an NTLM message after checking its
// signature, without decoding the rest.
func PeekType(msg []byte) (MessageType, error) {
	if len(msg) < 12 {
		return 0, fmt.Errorf("%w: %d bytes is shorter than the 12-byte header", ErrMalformed, len(msg))
	}
	if len(msg) > MaxMessageSize {
		return 0, fmt.Errorf("%w: %d bytes exceeds the %d-byte limit", ErrMalformed, len(msg), MaxMessageSize)
	}
	if !bytes.Equal(msg[:8], signature) {
		return 0, fmt.Errorf("%w: no NTLMSSP signature", ErrMalformed)
	}
	return MessageType(binary.LittleEndian.Uint32(msg[8:12])), nil
}

// checkHeader validates signature, type and minimum length.
func checkHeader(msg []byte, want MessageType, minLen int) error {
	t, err := PeekType(msg)
	if err != nil {
		return err
	}
	if t != want {
		return fmt.Errorf("%w: message is %v, want %v", ErrMalformed, t, want)
	}
	if len(msg) < minLen {
		return fmt.Errorf("%w: %v of %d bytes is shorter than its %d-byte header", ErrMalformed, want, len(msg), minLen)
	}
	return nil
}

// field is a security buffer (length, max length, offset) as read from the wire.
type field struct {
	len, off uint32
}

// readField reads the 8-byte security buffer at pos and checks that it lies
// inside msg. The arithmetic is done in 64 bits so offset+length cannot wrap.
func readField(msg []byte, pos int, name string) (field, error) {
	f := field{
		len: uint32(binary.LittleEndian.Uint16(msg[pos:])),
		off: binary.LittleEndian.Uint32(msg[pos+4:]),
	}
	if f.len == 0 {
		return f, nil
	}
	if uint64(f.off)+uint64(f.len) > uint64(len(msg)) {
		return f, fmt.Errorf("%w: %s field (offset %d, length %d) runs past the %d-byte message", ErrMalformed, name, f.off, f.len, len(msg))
	}
	return f, nil
}

func (f field) bytes(msg []byte) []byte {
	if f.len == 0 {
		return nil
	}
	return bytes.Clone(msg[f.off : f.off+f.len])
}

// payloadStart returns the lowest offset among non-empty fields, which tells
// a decoder whether optional header parts (Version, MIC) are present.
func payloadStart(msgLen int, fields ...field) int {
	start := msgLen
	for _, f := range fields {
		if f.len > 0 && int(f.off) < start {
			start = int(f.off)
		}
	}
	return start
}

// builder lays out a message: a fixed header followed by a payload that
// security buffers point into.
type builder struct {
	buf []byte
	err error
}

func newBuilder(t MessageType, headerLen int) *builder {
	b := &builder{buf: make([]byte, headerLen, headerLen+256)}
	copy(b.buf, signature)
	binary.LittleEndian.PutUint32(b.buf[8:], uint32(t))
	return b
}

// field appends data to the payload and writes its security buffer at pos.
// An empty value still gets the current offset, as Windows does, because
// some parsers check offsets of empty fields too.
func (b *builder) field(pos int, data []byte) {
	if len(data) > 0xffff || len(b.buf)+len(data) > MaxMessageSize {
		b.err = fmt.Errorf("ntlm: field of %d bytes does not fit in a message", len(data))
		return
	}
	binary.LittleEndian.PutUint16(b.buf[pos:], uint16(len(data)))
	binary.LittleEndian.PutUint16(b.buf[pos+2:], uint16(len(data)))
	binary.LittleEndian.PutUint32(b.buf[pos+4:], uint32(len(b.buf)))
	b.buf = append(b.buf, data...)
}

// bytes returns the finished message.
func (b *builder) bytes() ([]byte, error) { return b.buf, b.err }

func (b *builder) u32(pos int, v uint32) { binary.LittleEndian.PutUint32(b.buf[pos:], v) }

// encodeString encodes s as UTF-16LE when unicode is set, else as OEM.
// No OEM code page can be assumed, so OEM is Latin-1 here (the inverse of
// decodeString); other characters become '?'.
func encodeString(s string, unicode bool) []byte {
	if unicode {
		return utf16le(s)
	}
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			r = '?'
		}
		out = append(out, byte(r))
	}
	return out
}

// decodeString is the inverse of encodeString; OEM bytes are read as Latin-1.
func decodeString(b []byte, unicode bool) (string, error) {
	if !unicode {
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r), nil
	}
	if len(b)%2 != 0 {
		return "", fmt.Errorf("%w: UTF-16 string of odd length %d", ErrMalformed, len(b))
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u)), nil
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
