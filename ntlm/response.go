package ntlm

import (
	"crypto/rc4"
	"encoding/binary"
	"fmt"
)

// NTLMv1Response returns the NTLMv1 response DESL(hash, serverChallenge),
// used for both the NT response (with the NT hash) and the LM response
// (with the LM hash).
func NTLMv1Response(hash []byte, serverChallenge [8]byte) []byte {
	return desl(hash, serverChallenge[:])
}

// NTLMv1ESSResponse returns the LM and NT responses of NTLMv1 with extended
// session security (MS-NLMP 3.3.1): the LM response carries the client
// challenge, and the NT response is keyed on MD5(server ‖ client challenge).
func NTLMv1ESSResponse(ntHash []byte, serverChallenge, clientChallenge [8]byte) (lm, nt []byte) {
	lm = make([]byte, 24)
	copy(lm, clientChallenge[:])
	nt = desl(ntHash, md5Sum(serverChallenge[:], clientChallenge[:])[:8])
	return lm, nt
}

// NTLMv2Blob builds the NTLMv2_CLIENT_CHALLENGE ("temp" in MS-NLMP 3.3.2):
// version bytes, FILETIME timestamp, client challenge and the AV pairs,
// followed by the four zero bytes Windows and the spec append.
func NTLMv2Blob(timestamp uint64, clientChallenge [8]byte, targetInfo TargetInfo) []byte {
	ti := targetInfo.Marshal()
	b := make([]byte, 28, 28+len(ti)+4)
	b[0], b[1] = 1, 1 // RespType, HiRespType
	binary.LittleEndian.PutUint64(b[8:], timestamp)
	copy(b[16:24], clientChallenge[:])
	b = append(b, ti...)
	return append(b, 0, 0, 0, 0)
}

// NTLMv2Response returns the NT response NTProofStr ‖ blob for a blob made by
// NTLMv2Blob (or received from a client), and the session base key
// HMAC-MD5(NTOWFv2, NTProofStr).
func NTLMv2Response(v2Hash []byte, serverChallenge [8]byte, blob []byte) (nt, sessionBaseKey []byte) {
	proof := hmacMD5(v2Hash, serverChallenge[:], blob)
	nt = append(proof, blob...)
	return nt, hmacMD5(v2Hash, proof)
}

// LMv2Response returns HMAC-MD5(NTOWFv2, server ‖ client challenge) ‖ client
// challenge.
func LMv2Response(v2Hash []byte, serverChallenge, clientChallenge [8]byte) []byte {
	return append(hmacMD5(v2Hash, serverChallenge[:], clientChallenge[:]), clientChallenge[:]...)
}

// NTLMv1SessionBaseKey returns MD4(NT hash), the NTLMv1 session base key.
func NTLMv1SessionBaseKey(ntHash []byte) []byte { return md4Sum(ntHash) }

// KeyExchangeKey computes KXKEY of MS-NLMP 3.4.5.1 for NTLMv1. (For NTLMv2
// the key exchange key is the session base key itself.) lmResponse is the
// LM response as sent; lmHash is only used with LM_KEY or
// REQUEST_NON_NT_SESSION_KEY.
func KeyExchangeKey(flags NegotiateFlags, sessionBaseKey, lmHash, lmResponse []byte, serverChallenge [8]byte) []byte {
	switch {
	case flags.Has(FlagExtendedSessionSecurity):
		var lm8 []byte
		if len(lmResponse) >= 8 {
			lm8 = lmResponse[:8]
		}
		return hmacMD5(sessionBaseKey, serverChallenge[:], lm8)
	case flags.Has(FlagLMKey):
		k := make([]byte, 16)
		var lm8 [8]byte
		copy(lm8[:], lmResponse)
		desEncrypt(lmHash[:7], lm8[:], k[:8])
		desEncrypt([]byte{lmHash[7], 0xbd, 0xbd, 0xbd, 0xbd, 0xbd, 0xbd}, lm8[:], k[8:])
		return k
	case flags.Has(FlagRequestNonNTSessionKey):
		k := make([]byte, 16)
		copy(k, lmHash[:8])
		return k
	}
	return append([]byte(nil), sessionBaseKey...)
}

// rc4Crypt returns RC4(key, data); encryption and decryption are one.
func rc4Crypt(key, data []byte) ([]byte, error) {
	c, err := rc4.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("ntlm: rc4: %w", err)
	}
	out := make([]byte, len(data))
	c.XORKeyStream(out, data)
	return out, nil
}

// EncryptSessionKey returns RC4(keyExchangeKey, exportedSessionKey), the
// EncryptedRandomSessionKey of KEY_EXCH; decryption is the same operation.
func EncryptSessionKey(keyExchangeKey, exportedSessionKey []byte) ([]byte, error) {
	return rc4Crypt(keyExchangeKey, exportedSessionKey)
}

// ComputeMIC returns HMAC-MD5(exportedSessionKey, negotiate ‖ challenge ‖
// authenticate), where authenticate has its MIC field zeroed.
func ComputeMIC(exportedSessionKey, negotiate, challenge, authenticate []byte) []byte {
	return hmacMD5(exportedSessionKey, negotiate, challenge, zeroMIC(authenticate))
}
