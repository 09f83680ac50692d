package ntlm

import (
	"crypto/des"
	"crypto/hmac"
	"crypto/md5"
	"strings"

	"golang.org/x/crypto/md4"
)

// NTHash returns NTOWFv1(password) = MD4(UTF-16LE(password)), the NT hash
// that Windows stores and NTLM proves knowledge of.
func NTHash(password string) []byte {
	h := md4.New()
	h.Write(utf16le(password))
	return h.Sum(nil)
}

// LMHash returns LMOWFv1(password): DES of "KGS!@#$%" under the upper-cased,
// 14-byte-padded OEM password. It is weak and only used when LM is
// explicitly enabled.
func LMHash(password string) []byte {
	pw := make([]byte, 14)
	copy(pw, encodeString(strings.ToUpper(password), false))
	magic := []byte("KGS!@#$%")
	out := make([]byte, 16)
	desEncrypt(pw[:7], magic, out[:8])
	desEncrypt(pw[7:14], magic, out[8:])
	return out
}

// NTLMv2Hash returns NTOWFv2 = HMAC-MD5(NT hash, UTF-16LE(UPPER(user) +
// domain)), the key of every NTLMv2 computation. The domain is used as
// given: its case matters.
func NTLMv2Hash(ntHash []byte, user, domain string) []byte {
	m := hmac.New(md5.New, ntHash)
	m.Write(utf16le(strings.ToUpper(user) + domain))
	return m.Sum(nil)
}

// desEncrypt encrypts the 8-byte block in with the 56-bit key7 (expanded to
// a DES key with parity bits) into out.
func desEncrypt(key7, in, out []byte) {
	c, err := des.NewCipher(expandDESKey(key7))
	if err != nil {
		panic("ntlm: DES key of wrong size") // unreachable: always 8 bytes
	}
	c.Encrypt(out, in)
}

// expandDESKey spreads 7 key bytes over 8, leaving the low bit of each
// byte for parity (which DES ignores).
func expandDESKey(k []byte) []byte {
	return []byte{
		k[0] & 0xfe,
		(k[0]<<7 | k[1]>>1) & 0xfe,
		(k[1]<<6 | k[2]>>2) & 0xfe,
		(k[2]<<5 | k[3]>>3) & 0xfe,
		(k[3]<<4 | k[4]>>4) & 0xfe,
		(k[4]<<3 | k[5]>>5) & 0xfe,
		(k[5]<<2 | k[6]>>6) & 0xfe,
		k[6] << 1,
	}
}

// desl is DESL(K, D) of MS-NLMP 6: three DES encryptions of D under the
// 16-byte key K padded to 21 bytes.
func desl(key16, data []byte) []byte {
	k := make([]byte, 21)
	copy(k, key16)
	out := make([]byte, 24)
	desEncrypt(k[0:7], data, out[0:8])
	desEncrypt(k[7:14], data, out[8:16])
	desEncrypt(k[14:21], data, out[16:24])
	return out
}

func hmacMD5(key []byte, data ...[]byte) []byte {
	m := hmac.New(md5.New, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

func md5Sum(data ...[]byte) []byte {
	h := md5.New()
	for _, d := range data {
		h.Write(d)
	}
	return h.Sum(nil)
}

func md4Sum(data []byte) []byte {
	h := md4.New()
	h.Write(data)
	return h.Sum(nil)
}
