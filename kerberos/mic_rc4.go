package kerberos

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rc4"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
)

// RC4-HMAC (encryption type 23) predates RFC 4121: its per-message tokens
// keep RFC 1964's layout with the algorithms of RFC 4757 section 7.3.
// A GetMIC token is GSS-API framed (0x60, mechanism OID) and its body is
//
//	TOK_ID    01 01
//	SGN_ALG   11 00         HMAC-MD5
//	Filler    ff ff ff ff
//	SND_SEQ   8 bytes       RC4-encrypted: big-endian sequence number,
//	                        then 00 00 00 00 from the initiator,
//	                        ff ff ff ff from the acceptor
//	SGN_CKSUM 8 bytes       HMAC-MD5 checksum, key usage 15
//
// The direction bytes are MIT's and Windows' (and RFC 1964's); the
// pseudo code of RFC 4757 has them the other way round.

const (
	tokIDMICv1   uint16 = 0x0101
	sgnAlgHMAC   uint16 = 0x1100
	rc4MICBody          = 2 + 2 + 4 + 8 + 8 // TOK_ID to SGN_CKSUM
	rc4SignUsage        = 15                // KG_USAGE_SIGN
)

// hmacMD5 returns HMAC-MD5(key, parts...).
func hmacMD5(key []byte, parts ...[]byte) []byte {
	h := hmac.New(md5.New, key)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// rc4MICChecksum is the first 8 bytes of the HMAC-MD5 checksum (RFC 4757
// section 4, checksum type -138) of header and data with key usage 15.
func rc4MICChecksum(key, header, data []byte) []byte {
	ksign := hmacMD5(key, []byte("signaturekey\x00"))
	var usage [4]byte
	binary.LittleEndian.PutUint32(usage[:], rc4SignUsage)
	h := md5.New()
	h.Write(usage[:])
	h.Write(header)
	h.Write(data)
	return hmacMD5(ksign, h.Sum(nil))[:8]
}

// rc4SeqCipher returns the RC4 cipher that encrypts SND_SEQ: keyed with
// HMAC(HMAC(key, usage 0), checksum).
func rc4SeqCipher(key, cksum []byte) *rc4.Cipher {
	k0 := hmacMD5(key, []byte{0, 0, 0, 0})
	c, _ := rc4.NewCipher(hmacMD5(k0, cksum)) // a 16-byte key: cannot fail
	return c
}

// rc4MIC makes an RC4-HMAC GetMIC token over data with sequence number
// seq, framed with the mechanism oid (OID, or OIDMicrosoft when the
// context was established under it).
func rc4MIC(key []byte, oid asn1.ObjectIdentifier, seq uint32, fromAcceptor bool, data []byte) []byte {
	body := make([]byte, rc4MICBody)
	binary.BigEndian.PutUint16(body[0:], tokIDMICv1)
	binary.BigEndian.PutUint16(body[2:], sgnAlgHMAC)
	copy(body[4:8], []byte{0xff, 0xff, 0xff, 0xff})
	cksum := rc4MICChecksum(key, body[:8], data)
	copy(body[16:], cksum)
	var plain [8]byte
	binary.BigEndian.PutUint32(plain[:], seq)
	if fromAcceptor {
		copy(plain[4:], []byte{0xff, 0xff, 0xff, 0xff})
	}
	rc4SeqCipher(key, cksum).XORKeyStream(body[8:16], plain[:])
	return frameToken(oid, body)
}

// rc4VerifyMIC checks an RC4-HMAC GetMIC token over data, expected from
// the acceptor when fromAcceptor is set, else from the initiator, and
// returns its sequence number. A token that does not decode wraps
// ErrMalformedToken, one that does not verify ErrBadMIC.
func rc4VerifyMIC(key, tok []byte, fromAcceptor bool, data []byte) (uint32, error) {
	id, body, err := UnwrapToken(tok)
	if err != nil {
		return 0, fmt.Errorf("RC4-HMAC MIC token: %w", err)
	}
	// UnwrapToken returns the message after TOK_ID; the checksum covers
	// TOK_ID too.
	if id != tokIDMICv1 {
		return 0, fmt.Errorf("%w: RC4-HMAC MIC token: TOK_ID %#04x, want %#04x", ErrMalformedToken, id, tokIDMICv1)
	}
	if len(body) != rc4MICBody-2 {
		return 0, fmt.Errorf("%w: RC4-HMAC MIC token: %d bytes after TOK_ID, want %d", ErrMalformedToken, len(body), rc4MICBody-2)
	}
	if alg := binary.BigEndian.Uint16(body); alg != sgnAlgHMAC {
		return 0, fmt.Errorf("%w: RC4-HMAC MIC token: SGN_ALG %#04x, want HMAC-MD5 %#04x", ErrMalformedToken, alg, sgnAlgHMAC)
	}
	if binary.BigEndian.Uint32(body[2:]) != 0xffffffff {
		return 0, fmt.Errorf("%w: RC4-HMAC MIC token: filler %x", ErrMalformedToken, body[2:6])
	}
	header := make([]byte, 8)
	binary.BigEndian.PutUint16(header, tokIDMICv1)
	copy(header[2:], body[:6])
	want := rc4MICChecksum(key, header, data)
	got := body[14:22]
	if !hmac.Equal(want, got) {
		return 0, fmt.Errorf("%w: RC4-HMAC checksum", ErrBadMIC)
	}
	var plain [8]byte
	rc4SeqCipher(key, got).XORKeyStream(plain[:], body[6:14])
	dir := binary.BigEndian.Uint32(plain[4:])
	wantDir := uint32(0)
	if fromAcceptor {
		wantDir = 0xffffffff
	}
	if dir != wantDir {
		// A reflected token: our own MIC sent back to us.
		return 0, fmt.Errorf("%w: RC4-HMAC token has direction %#08x, want %#08x (a reflected token?)", ErrBadMIC, dir, wantDir)
	}
	return binary.BigEndian.Uint32(plain[:4]), nil
}

// checkSeq compares an RC4-HMAC token's sequence number with the next
// expected one and advances it. The sequence number is outside the
// checksum, so this is what detects a changed, replayed or reordered
// token; MIT's acceptor and initiator fail such tokens as well
// (GSS_S_DUPLICATE_TOKEN, GSS_S_GAP_TOKEN).
func checkSeq(got uint32, next *uint64) error {
	if want := uint32(*next); got != want {
		return fmt.Errorf("%w: RC4-HMAC token has sequence number %d, want %d (changed, replayed or out of order)", ErrBadMIC, got, want)
	}
	*next++
	return nil
}

// frameToken puts the GSS-API framing (RFC 2743 section 3.1) around a
// per-message token body that starts with its TOK_ID.
func frameToken(oid asn1.ObjectIdentifier, body []byte) []byte {
	o, _ := asn1.Marshal(oid) // a valid constant OID: cannot fail
	out := []byte{0x60}
	out = appendLength(out, len(o)+len(body))
	out = append(out, o...)
	return append(out, body...)
}

// tokenOID returns the mechanism OID that frames a GSS-API token: OID or
// OIDMicrosoft; OID for a raw or undecodable token.
func tokenOID(tok []byte) asn1.ObjectIdentifier {
	if len(tok) < 2 || tok[0] != 0x60 {
		return OID
	}
	_, hdr, ok := readLength(tok[1:])
	if !ok {
		return OID
	}
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(tok[1+hdr:], &oid); err == nil && oid.Equal(OIDMicrosoft) {
		return OIDMicrosoft
	}
	return OID
}
