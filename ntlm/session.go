package ntlm

import (
	"crypto/rc4"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Session is NTLM session security (MS-NLMP 3.4): signing and sealing of
// messages after authentication, with the exported session key. SPNEGO
// uses it for the mechListMIC. A Session keeps sequence numbers and RC4
// state, so it is not safe for concurrent use.
type Session struct {
	flags              NegotiateFlags
	signKey, verifyKey []byte
	sealer, unsealer   *rc4.Cipher
	sendSeq, recvSeq   uint32
}

const (
	clientSignMagic = "session key to client-to-server signing key magic constant\x00"
	serverSignMagic = "session key to server-to-client signing key magic constant\x00"
	clientSealMagic = "session key to client-to-server sealing key magic constant\x00"
	serverSealMagic = "session key to server-to-client sealing key magic constant\x00"
)

// NewSession returns the session security state of the client (client true)
// or server side of an authenticated exchange, from the negotiated flags
// and the exported session key.
func NewSession(flags NegotiateFlags, exportedSessionKey []byte, client bool) (*Session, error) {
	if len(exportedSessionKey) != 16 {
		return nil, fmt.Errorf("ntlm: session key of %d bytes, want 16", len(exportedSessionKey))
	}
	s := &Session{flags: flags}
	var sendSeal, recvSeal []byte
	if flags.Has(FlagExtendedSessionSecurity) {
		cs, ss := SignKey(exportedSessionKey, true), SignKey(exportedSessionKey, false)
		cl, sl := SealKey(flags, exportedSessionKey, true), SealKey(flags, exportedSessionKey, false)
		if client {
			s.signKey, s.verifyKey, sendSeal, recvSeal = cs, ss, cl, sl
		} else {
			s.signKey, s.verifyKey, sendSeal, recvSeal = ss, cs, sl, cl
		}
	} else {
		k := SealKey(flags, exportedSessionKey, client)
		sendSeal, recvSeal = k, k
	}
	var err error
	if s.sealer, err = rc4.NewCipher(sendSeal); err != nil {
		return nil, fmt.Errorf("ntlm: seal key: %w", err)
	}
	if s.unsealer, err = rc4.NewCipher(recvSeal); err != nil {
		return nil, fmt.Errorf("ntlm: seal key: %w", err)
	}
	return s, nil
}

// SignKey returns SIGNKEY of MS-NLMP 3.4.5.2 (extended session security
// only) for the client-to-server (client true) or server-to-client
// direction.
func SignKey(exportedSessionKey []byte, client bool) []byte {
	magic := serverSignMagic
	if client {
		magic = clientSignMagic
	}
	return md5Sum(exportedSessionKey, []byte(magic))
}

// SealKey returns SEALKEY of MS-NLMP 3.4.5.3 for the given direction,
// weakened to 56 or 40 bits when the flags ask for it.
func SealKey(flags NegotiateFlags, exportedSessionKey []byte, client bool) []byte {
	if flags.Has(FlagExtendedSessionSecurity) {
		k := exportedSessionKey
		switch {
		case flags.Has(Flag128):
		case flags.Has(Flag56):
			k = k[:7]
		default:
			k = k[:5]
		}
		magic := serverSealMagic
		if client {
			magic = clientSealMagic
		}
		return md5Sum(k, []byte(magic))
	}
	if flags.Has(FlagLMKey) || flags.Has(FlagDatagram) {
		if flags.Has(Flag56) {
			return append(append([]byte(nil), exportedSessionKey[:7]...), 0xa0)
		}
		return append(append([]byte(nil), exportedSessionKey[:5]...), 0xe5, 0x38, 0xb0)
	}
	return append([]byte(nil), exportedSessionKey...)
}

// Sign returns the 16-byte NTLMSSP_MESSAGE_SIGNATURE of msg (GSS_GetMIC)
// and advances the send sequence number.
func (s *Session) Sign(msg []byte) []byte {
	sig := s.mac(s.sealer, s.signKey, s.sendSeq, msg)
	s.sendSeq++
	return sig
}

// Verify checks a signature made by the peer's Sign (GSS_VerifyMIC) and
// advances the receive sequence number.
func (s *Session) Verify(msg, signature []byte) error {
	want := s.mac(s.unsealer, s.verifyKey, s.recvSeq, msg)
	s.recvSeq++
	if subtle.ConstantTimeCompare(want, signature) != 1 {
		return fmt.Errorf("%w: bad message signature", ErrMIC)
	}
	return nil
}

// Seal encrypts msg and signs the plaintext (GSS_WrapEx), returning the
// sealed message and its signature.
func (s *Session) Seal(msg []byte) (sealed, signature []byte) {
	sealed = make([]byte, len(msg))
	s.sealer.XORKeyStream(sealed, msg)
	return sealed, s.Sign(msg)
}

// Unseal decrypts a sealed message and verifies its signature
// (GSS_UnwrapEx).
func (s *Session) Unseal(sealed, signature []byte) ([]byte, error) {
	msg := make([]byte, len(sealed))
	s.unsealer.XORKeyStream(msg, sealed)
	if err := s.Verify(msg, signature); err != nil {
		return nil, err
	}
	return msg, nil
}

// mac computes MAC() of MS-NLMP 3.4.4, with or without extended session
// security. The RandomPad of the non-ESS form is written as zero, as every
// implementation does, though RC4 still runs over it.
func (s *Session) mac(handle *rc4.Cipher, key []byte, seq uint32, msg []byte) []byte {
	sig := make([]byte, 16)
	binary.LittleEndian.PutUint32(sig, 1)
	if s.flags.Has(FlagExtendedSessionSecurity) {
		var seqb [4]byte
		binary.LittleEndian.PutUint32(seqb[:], seq)
		sum := hmacMD5(key, seqb[:], msg)[:8]
		if s.flags.Has(FlagKeyExchange) {
			handle.XORKeyStream(sum, sum)
		}
		copy(sig[4:12], sum)
		copy(sig[12:], seqb[:])
		return sig
	}
	var pad, crc, zero [4]byte
	binary.LittleEndian.PutUint32(crc[:], crc32.ChecksumIEEE(msg))
	handle.XORKeyStream(pad[:], pad[:])
	handle.XORKeyStream(crc[:], crc[:])
	handle.XORKeyStream(zero[:], zero[:])
	binary.LittleEndian.PutUint32(sig[12:], binary.LittleEndian.Uint32(zero[:])^seq)
	copy(sig[8:12], crc[:])
	return sig
}
