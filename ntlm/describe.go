package ntlm

import (
	"crypto/hmac"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Description is a decoded NTLM message in a form meant for people (String)
// and for programs (its JSON encoding). Byte strings are lower-case hex.
// Fields that do not apply to the message's type are empty and omitted
// from JSON.
type Description struct {
	Type  string   `json:"type"`
	Size  int      `json:"size"`
	Flags string   `json:"flags"` // hex, e.g. "0xe2088297"
	Names []string `json:"flag_names"`

	Version string `json:"version,omitempty"`

	// NEGOTIATE and AUTHENTICATE.
	Domain      string `json:"domain,omitempty"`
	Workstation string `json:"workstation,omitempty"`

	// CHALLENGE.
	TargetName      string            `json:"target_name,omitempty"`
	ServerChallenge string            `json:"server_challenge,omitempty"`
	TargetInfo      []DescribedAVPair `json:"target_info,omitempty"`

	// AUTHENTICATE.
	User                      string `json:"user,omitempty"`
	LMResponse                string `json:"lm_response,omitempty"`
	NTResponse                string `json:"nt_response,omitempty"`
	EncryptedRandomSessionKey string `json:"encrypted_random_session_key,omitempty"`
	HasMIC                    bool   `json:"has_mic,omitempty"`
	MIC                       string `json:"mic,omitempty"`
	// Response names the kind of answer: "NTLMv2", "NTLMv1",
	// "NTLMv1 (extended session security)", "LM" or "anonymous".
	Response string `json:"response,omitempty"`
	// NTLMv2 is the decoded NTLMv2 response, when Response is NTLMv2.
	NTLMv2 *DescribedNTLMv2 `json:"ntlmv2,omitempty"`
}

// DescribedNTLMv2 is the structure inside an NTLMv2 response.
type DescribedNTLMv2 struct {
	NTProofStr      string            `json:"nt_proof_str"`
	Timestamp       time.Time         `json:"timestamp"`
	ClientChallenge string            `json:"client_challenge"`
	AVPairs         []DescribedAVPair `json:"av_pairs"`
	// MICAnnounced is true when MsvAvFlags says the message carries a
	// MIC; a server must then insist on it (CVE-2019-1040).
	MICAnnounced bool `json:"mic_announced"`
}

// DescribedAVPair is one AV pair with its value decoded where the type is
// known: names as text, MsvAvFlags as hex with bit names, timestamps as
// RFC 3339, anything else as hex.
type DescribedAVPair struct {
	ID    string `json:"id"`
	Value string `json:"value"`
}

// Describe decodes any NTLM message. It accepts what the parsers accept;
// a malformed message gives an error wrapping ErrMalformed.
func Describe(msg []byte) (*Description, error) {
	t, err := PeekType(msg)
	if err != nil {
		return nil, fmt.Errorf("ntlm: describe: %w", err)
	}
	d := &Description{Type: t.String(), Size: len(msg)}
	var flags NegotiateFlags
	var version Version
	switch t {
	case TypeNegotiate:
		m, err := ParseNegotiate(msg)
		if err != nil {
			return nil, err
		}
		flags, version = m.Flags, m.Version
		d.Domain, d.Workstation = m.Domain, m.Workstation
	case TypeChallenge:
		m, err := ParseChallenge(msg)
		if err != nil {
			return nil, err
		}
		flags, version = m.Flags, m.Version
		d.TargetName = m.TargetName
		d.ServerChallenge = hex.EncodeToString(m.ServerChallenge[:])
		d.TargetInfo = describeAVPairs(m.TargetInfo)
	case TypeAuthenticate:
		m, err := ParseAuthenticate(msg)
		if err != nil {
			return nil, err
		}
		flags, version = m.Flags, m.Version
		describeAuthenticate(d, m)
	default:
		return nil, fmt.Errorf("ntlm: describe: %w: unknown message %v", ErrMalformed, t)
	}
	d.Flags = fmt.Sprintf("0x%08x", uint32(flags))
	d.Names = flags.Names()
	if flags.Has(FlagVersion) {
		d.Version = version.String()
	}
	return d, nil
}

func describeAuthenticate(d *Description, m *AuthenticateMessage) {
	d.Domain, d.User, d.Workstation = m.Domain, m.User, m.Workstation
	d.LMResponse = hex.EncodeToString(m.LMResponse)
	d.NTResponse = hex.EncodeToString(m.NTResponse)
	d.EncryptedRandomSessionKey = hex.EncodeToString(m.EncryptedRandomSessionKey)
	d.HasMIC = m.HasMIC
	if m.HasMIC {
		d.MIC = hex.EncodeToString(m.MIC[:])
	}
	switch n := len(m.NTResponse); {
	case m.User == "" && n == 0:
		d.Response = "anonymous"
	case n > 24:
		d.Response = "NTLMv2"
		if v2, err := parseV2Response(m.NTResponse); err == nil {
			d.NTLMv2 = v2
		} else {
			d.Response = "NTLMv2 (undecodable: " + err.Error() + ")"
		}
	case n == 24 && m.Flags.Has(FlagExtendedSessionSecurity):
		d.Response = "NTLMv1 (extended session security)"
	case n == 24:
		d.Response = "NTLMv1"
	case n == 0:
		d.Response = "LM"
	default:
		d.Response = fmt.Sprintf("unknown (NT response of %d bytes)", n)
	}
}

// parseV2Response splits NTProofStr ‖ NTLMv2_CLIENT_CHALLENGE.
func parseV2Response(nt []byte) (*DescribedNTLMv2, error) {
	if len(nt) < 16+28+4 {
		return nil, fmt.Errorf("%w: NTLMv2 response of %d bytes", ErrMalformed, len(nt))
	}
	blob := nt[16:]
	ti, err := ParseTargetInfo(blob[28:])
	if err != nil {
		return nil, err
	}
	return &DescribedNTLMv2{
		NTProofStr:      hex.EncodeToString(nt[:16]),
		Timestamp:       FileTimeToTime(binary.LittleEndian.Uint64(blob[8:16])),
		ClientChallenge: hex.EncodeToString(blob[16:24]),
		AVPairs:         describeAVPairs(ti),
		MICAnnounced:    ti.Flags()&AvFlagMICPresent != 0,
	}, nil
}

func describeAVPairs(ti TargetInfo) []DescribedAVPair {
	out := make([]DescribedAVPair, 0, len(ti))
	for _, p := range ti {
		var v string
		switch p.ID {
		case AvNbComputerName, AvNbDomainName, AvDNSComputerName, AvDNSDomainName, AvDNSTreeName, AvTargetName:
			s, err := decodeString(p.Value, true)
			if err != nil {
				v = hex.EncodeToString(p.Value)
			} else {
				v = s
			}
		case AvFlags:
			f := binary.LittleEndian.Uint32(p.Value)
			v = fmt.Sprintf("0x%08x%s", f, avFlagNames(f))
		case AvTimestamp:
			v = FileTimeToTime(binary.LittleEndian.Uint64(p.Value)).Format(time.RFC3339Nano)
		default:
			v = hex.EncodeToString(p.Value)
		}
		out = append(out, DescribedAVPair{ID: p.ID.String(), Value: v})
	}
	return out
}

func avFlagNames(f uint32) string {
	var names []string
	for _, b := range []struct {
		bit  uint32
		name string
	}{{AvFlagConstrained, "CONSTRAINED"}, {AvFlagMICPresent, "MIC_PRESENT"}, {AvFlagUntrustedSPN, "UNTRUSTED_SPN"}} {
		if f&b.bit != 0 {
			names = append(names, b.name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return " (" + strings.Join(names, " ") + ")"
}

// String formats the description as an indented, line-per-field dump.
func (d *Description) String() string {
	var b strings.Builder
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "  %-26s %s\n", k+":", v)
		}
	}
	fmt.Fprintf(&b, "%s message, %d bytes\n", d.Type, d.Size)
	line("Flags", d.Flags+" "+strings.Join(d.Names, " "))
	line("Version", d.Version)
	line("Domain", d.Domain)
	line("User", d.User)
	line("Workstation", d.Workstation)
	line("TargetName", d.TargetName)
	line("ServerChallenge", d.ServerChallenge)
	for _, p := range d.TargetInfo {
		line("TargetInfo "+p.ID, p.Value)
	}
	line("Response", d.Response)
	line("LmChallengeResponse", d.LMResponse)
	line("NtChallengeResponse", d.NTResponse)
	if v := d.NTLMv2; v != nil {
		line("NTProofStr", v.NTProofStr)
		line("ClientTimestamp", v.Timestamp.Format(time.RFC3339Nano))
		line("ClientChallenge", v.ClientChallenge)
		for _, p := range v.AVPairs {
			line("AVPair "+p.ID, p.Value)
		}
	}
	line("EncryptedRandomSessionKey", d.EncryptedRandomSessionKey)
	if d.Type == TypeAuthenticate.String() {
		switch {
		case !d.HasMIC:
			line("MIC", "(no MIC field)")
		default:
			line("MIC", d.MIC)
		}
	}
	return b.String()
}

// ExchangeCheck is the result of CheckExchange: whether the AUTHENTICATE
// proves knowledge of the secret, and the keys derived from it.
type ExchangeCheck struct {
	// User and Domain are as the AUTHENTICATE names them; the NTLMv2 proof
	// covers both.
	User   string `json:"user"`
	Domain string `json:"domain"`
	// Response is "NTLMv2", "NTLMv1" or "NTLMv1 (extended session
	// security)".
	Response string `json:"response"`
	// ProofValid reports that the response matches the secret.
	ProofValid bool `json:"proof_valid"`
	// SessionBaseKey, KeyExchangeKey and ExportedSessionKey are derived
	// as the server would (hex); empty when the proof is invalid.
	SessionBaseKey     string `json:"session_base_key,omitempty"`
	KeyExchangeKey     string `json:"key_exchange_key,omitempty"`
	ExportedSessionKey string `json:"exported_session_key,omitempty"`
	// MIC is "valid", "invalid", "absent" (no MIC field or all zero),
	// or "unchecked" (no NEGOTIATE given, which the MIC also covers, or
	// keys that cannot be derived).
	MIC string `json:"mic"`
	// Note explains keys left out: NTLMv1 with LM_KEY or
	// REQUEST_NON_NT_SESSION_KEY derives them from the LM hash, which the
	// NT hash does not give.
	Note string `json:"note,omitempty"`
}

// CheckExchange verifies an AUTHENTICATE message against the CHALLENGE it
// answers, given the account's NT hash (NTHash of the password), and
// derives the session keys, as a debugging aid in the spirit of
// pyspnego-parse. negotiate may be nil; it is needed to check the MIC.
// NTLMv1 and LM are checked too, whatever the policy, because the point is
// to explain what a peer sent.
//
// The result carries secret keys: print it only where the user asked for
// it, never to a log.
func CheckExchange(negotiate, challenge, authenticate, ntHash []byte) (*ExchangeCheck, error) {
	if len(ntHash) != 16 {
		return nil, fmt.Errorf("ntlm: check exchange: NT hash of %d bytes, want 16", len(ntHash))
	}
	ch, err := ParseChallenge(challenge)
	if err != nil {
		return nil, err
	}
	m, err := ParseAuthenticate(authenticate)
	if err != nil {
		return nil, err
	}
	r := &ExchangeCheck{User: m.User, Domain: m.Domain}
	sc := ch.ServerChallenge
	var baseKey, kxKey []byte
	switch n := len(m.NTResponse); {
	case n > 24:
		r.Response = "NTLMv2"
		if n < 16+28+4 {
			return nil, fmt.Errorf("ntlm: check exchange: %w: NTLMv2 response of %d bytes", ErrMalformed, n)
		}
		v2 := NTLMv2Hash(ntHash, m.User, m.Domain)
		proof := m.NTResponse[:16]
		r.ProofValid = hmac.Equal(hmacMD5(v2, sc[:], m.NTResponse[16:]), proof)
		baseKey = hmacMD5(v2, proof)
		kxKey = baseKey
	case n == 24:
		baseKey = NTLMv1SessionBaseKey(ntHash)
		if m.Flags.Has(FlagExtendedSessionSecurity) && len(m.LMResponse) >= 8 {
			r.Response = "NTLMv1 (extended session security)"
			var cc [8]byte
			copy(cc[:], m.LMResponse)
			_, nt := NTLMv1ESSResponse(ntHash, sc, cc)
			r.ProofValid = hmac.Equal(nt, m.NTResponse)
		} else {
			r.Response = "NTLMv1"
			r.ProofValid = hmac.Equal(NTLMv1Response(ntHash, sc), m.NTResponse)
		}
		if !m.Flags.Has(FlagExtendedSessionSecurity) && (m.Flags.Has(FlagLMKey) || m.Flags.Has(FlagRequestNonNTSessionKey)) {
			// These keys come from the LM hash, which the NT hash does
			// not give: derived from zeros they would be wrong, and
			// look right.
			kxKey = nil
			break
		}
		kxKey = KeyExchangeKey(m.Flags, baseKey, nil, m.LMResponse, sc)
	default:
		return nil, fmt.Errorf("ntlm: check exchange: %w: no NT response to check (anonymous or LM-only)", ErrMalformed)
	}
	r.MIC = "unchecked"
	if !r.ProofValid {
		return r, nil
	}
	if kxKey == nil {
		r.SessionBaseKey = hex.EncodeToString(baseKey)
		r.Note = "LM_KEY or REQUEST_NON_NT_SESSION_KEY: the key exchange key comes from the LM hash, which an NT hash does not give; keys and MIC not derived"
		return r, nil
	}
	exported := kxKey
	if m.Flags.Has(FlagKeyExchange) && len(m.EncryptedRandomSessionKey) == 16 {
		if exported, err = EncryptSessionKey(kxKey, m.EncryptedRandomSessionKey); err != nil {
			return nil, err
		}
	}
	r.SessionBaseKey = hex.EncodeToString(baseKey)
	r.KeyExchangeKey = hex.EncodeToString(kxKey)
	r.ExportedSessionKey = hex.EncodeToString(exported)
	switch {
	case !m.HasMIC || m.MIC == [16]byte{}:
		r.MIC = "absent"
	case negotiate != nil:
		if _, err := ParseNegotiate(negotiate); err != nil {
			return nil, err
		}
		zeroed := append([]byte(nil), authenticate...)
		clear(zeroed[authMICOffset : authMICOffset+16])
		if hmac.Equal(ComputeMIC(exported, negotiate, challenge, zeroed), m.MIC[:]) {
			r.MIC = "valid"
		} else {
			r.MIC = "invalid"
		}
	}
	return r, nil
}
