package ntlm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// ResponseVerifier is implemented by a CredentialStore that holds no
// hashes but has the responses verified elsewhere: by a domain controller
// (pass-through authentication, as Samba's winbind or Windows' Netlogon
// does). When the Server's Store implements it, the Server calls
// VerifyResponse instead of LookupCredential.
//
// The Server keeps every check that does not need the password: the
// challenge's lifetime and single use, the response policy (NTLMv1 and
// LM), the NTLMv2 timestamp, the MIC (with the session key the verifier
// returns), channel bindings and the target name. A MIC can only be
// checked with the user session key, so a verifier that returns none
// fails every logon.
type ResponseVerifier interface {
	// VerifyResponse has the responses checked and returns the account's
	// canonical names, the user session key and the groups. A wrong
	// password or an unknown user is an error wrapping ErrAuthFailed; an
	// error that does not is reported as the verifier failing (the
	// domain controller unreachable, say), not as a refusal.
	VerifyResponse(ctx context.Context, r *ResponseToVerify) (*VerifiedResponse, error)
}

// ResponseToVerify is what a ResponseVerifier sends to the domain.
type ResponseToVerify struct {
	// Domain, User and Workstation are as the client sent them; Domain
	// may be empty.
	Domain, User, Workstation string
	// ServerChallenge is the challenge the responses answer: the
	// Server's, or for NTLMv1 with extended session security
	// MD5(server challenge ‖ client challenge)[:8], which is what
	// MS-APDS has a server pass to the domain controller.
	ServerChallenge [8]byte
	// LMResponse and NTResponse are the client's responses. For NTLMv2,
	// LMResponse is left out: a domain controller accepts a valid LMv2
	// response when the NTLMv2 one fails, and the LMv2 response does not
	// cover the AV pairs (timestamp, MIC flag, channel bindings, target
	// name) that the Server then trusts.
	LMResponse, NTResponse []byte
}

// VerifiedResponse is a verifier's answer for a successful logon.
type VerifiedResponse struct {
	// User and Domain are the account's canonical names; empty means
	// the client's spelling.
	User, Domain string
	// SessionKey is the 16-byte user session key (the session base key
	// of MS-NLMP), from which the Server derives the key exchange key.
	SessionKey []byte
	// UserSID is the account's SID, when the verifier knows it.
	UserSID string
	// Groups are the account's group SIDs (or names).
	Groups []string
}

// verifyRemote checks the parts of the AUTHENTICATE that need no secret
// and has the responses verified by rv. It returns the Identity so far,
// the key exchange key and (NTLMv2) the client's AV pairs.
func (h *ServerHandshake) verifyRemote(ctx context.Context, rv ResponseVerifier, m *AuthenticateMessage, flags NegotiateFlags, now time.Time) (*Identity, []byte, TargetInfo, error) {
	req := &ResponseToVerify{Domain: m.Domain, User: m.User, Workstation: m.Workstation, ServerChallenge: h.serverChallenge, NTResponse: m.NTResponse}
	id := &Identity{Workstation: m.Workstation, Flags: flags}
	var ti TargetInfo
	if len(m.NTResponse) > 24 {
		id.NTLMVersion = 2
		var err error
		// The timestamp is checked before the domain controller is
		// asked, so stale messages cost it nothing; it is authenticated
		// by the NTProofStr the controller verifies.
		if ti, err = h.checkV2Blob(m.NTResponse[16:], now); err != nil {
			return nil, nil, nil, err
		}
	} else {
		id.NTLMVersion = 1
		req.LMResponse = m.LMResponse
		if len(m.NTResponse) == 24 && flags.Has(FlagExtendedSessionSecurity) && len(m.LMResponse) == 24 {
			copy(req.ServerChallenge[:], md5Sum(h.serverChallenge[:], m.LMResponse[:8]))
		}
		// KXKEY with LM_KEY takes the LM hash, which a domain does not
		// hand out.
		if !flags.Has(FlagExtendedSessionSecurity) && flags.Has(FlagLMKey) {
			return nil, nil, nil, fmt.Errorf("%w: LM_KEY session key cannot be derived with pass-through authentication", ErrPolicy)
		}
	}
	vr, err := rv.VerifyResponse(ctx, req)
	if err != nil {
		if errors.Is(err, ErrAuthFailed) {
			return nil, nil, nil, err
		}
		return nil, nil, nil, fmt.Errorf("ntlm: response verifier: %w", err)
	}
	if len(vr.SessionKey) != 16 {
		return nil, nil, nil, fmt.Errorf("ntlm: response verifier returned a session key of %d bytes, want 16", len(vr.SessionKey))
	}
	id.User, id.Domain = vr.User, vr.Domain
	if id.User == "" {
		id.User, id.Domain = m.User, m.Domain
	}
	id.UserSID = vr.UserSID
	id.Groups = append([]string(nil), vr.Groups...)
	if id.NTLMVersion == 2 {
		// For NTLMv2 the key exchange key is the session base key.
		return id, bytes.Clone(vr.SessionKey), ti, nil
	}
	return id, KeyExchangeKey(flags, vr.SessionKey, make([]byte, 16), m.LMResponse, h.serverChallenge), nil, nil
}

// checkV2Blob checks an NTLMv2 blob's version and timestamp and returns
// its AV pairs.
func (h *ServerHandshake) checkV2Blob(blob []byte, now time.Time) (TargetInfo, error) {
	if blob[0] != 1 || blob[1] != 1 {
		return nil, fmt.Errorf("%w: NTLMv2 blob version %d.%d", ErrMalformed, blob[0], blob[1])
	}
	ti, err := ParseTargetInfo(blob[28:])
	if err != nil {
		return nil, fmt.Errorf("NTLMv2 blob: %w", err)
	}
	ts := FileTimeToTime(binary.LittleEndian.Uint64(blob[8:16]))
	skew := h.s.skew()
	if ts.Before(h.issued.Add(-skew)) || ts.After(now.Add(skew)) {
		return nil, fmt.Errorf("%w: client timestamp %v is outside the allowed skew of %v", ErrChallenge, ts.Format(time.RFC3339), skew)
	}
	return ti, nil
}
