package sspi

import (
	"bytes"

	"github.com/sesame-auth/sesame/ntlm"
	"github.com/sesame-auth/sesame/spnego"
)

// Mechanisms a Negotiate token may carry, as auth.HandshakeInfo names them.
const (
	mechKerberos = "kerberos"
	mechNTLM     = "ntlm"
)

// ntlmSignature starts every NTLM message.
var ntlmSignature = []byte("NTLMSSP\x00")

// classify tells which mechanism an initiator token of the Negotiate
// package carries, and whether it completes the client's side on the HTTP
// level. SSPI does not say: InitializeSecurityContext returns
// SEC_I_CONTINUE_NEEDED both for a Kerberos AP-REQ that asks for mutual
// authentication (the AP-REP comes with the final 200) and for an NTLM
// NEGOTIATE (a CHALLENGE comes with a 401), and the request body must go
// with the first but not the second.
//
// Windows wraps the token in SPNEGO; Wine's Negotiate emits a bare
// Kerberos or NTLMSSP token; both are read here. An NTLM message is final
// only if it is the AUTHENTICATE (type 3). Anything unreadable is taken
// as not final: the transport then sends the leg without a body and the
// server's answer decides.
func classify(tok []byte) (mech string, final bool) {
	if bytes.HasPrefix(tok, ntlmSignature) {
		return mechNTLM, ntlmType(tok) == 3
	}
	t, err := spnego.Parse(tok)
	if err != nil {
		return "", false
	}
	switch t.Kind {
	case spnego.KindKerberos:
		return mechKerberos, true
	case spnego.KindNTLMSSP:
		return mechNTLM, ntlmType(t.MechToken) == 3
	case spnego.KindNegTokenInit:
		inner := t.Init.MechToken
		if bytes.HasPrefix(inner, ntlmSignature) {
			return mechNTLM, ntlmType(inner) == 3
		}
		if it, err := spnego.Parse(inner); err == nil && it.Kind == spnego.KindKerberos {
			return mechKerberos, true
		}
		if len(t.Init.MechTypes) > 0 && t.Init.MechTypes[0].Equal(spnego.OIDNTLMSSP) {
			return mechNTLM, false
		}
		return mechKerberos, len(inner) > 0
	case spnego.KindNegTokenResp:
		// A later leg: the NTLM AUTHENTICATE inside SPNEGO.
		inner := t.Resp.ResponseToken
		if bytes.HasPrefix(inner, ntlmSignature) {
			return mechNTLM, ntlmType(inner) == 3
		}
		return "", true
	}
	return "", false
}

// ntlmType returns the MessageType of an NTLM message, 0 if too short.
func ntlmType(m []byte) uint32 {
	if len(m) < 12 {
		return 0
	}
	return uint32(m[8]) | uint32(m[9])<<8 | uint32(m[10])<<16 | uint32(m[11])<<24
}

// channelBindings builds the SEC_CHANNEL_BINDINGS structure for RFC 5929
// tls-server-end-point data: eight 32-bit fields (no initiator or
// acceptor address, the application data right after the header),
// followed by the data, as SECBUFFER_CHANNEL_BINDINGS carries it.
func channelBindings(appData []byte) []byte {
	const header = 32
	b := make([]byte, header+len(appData))
	le32 := func(off int, v uint32) {
		b[off], b[off+1], b[off+2], b[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	le32(24, uint32(len(appData))) // cbApplicationDataLength
	le32(28, header)               // dwApplicationDataOffset
	copy(b[header:], appData)
	return b
}

// authenticateName returns DOMAIN\user (or user) of an NTLM AUTHENTICATE,
// raw or inside SPNEGO; "" if tok is none.
func authenticateName(tok []byte) string {
	msg := tok
	if !bytes.HasPrefix(tok, ntlmSignature) {
		t, err := spnego.Parse(tok)
		if err != nil || t.Kind != spnego.KindNegTokenResp {
			return ""
		}
		msg = t.Resp.ResponseToken
	}
	m, err := ntlm.ParseAuthenticate(msg)
	if err != nil || m.User == "" {
		return ""
	}
	if m.Domain == "" {
		return m.User
	}
	return m.Domain + `\` + m.User
}
