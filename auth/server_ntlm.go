package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"

	"github.com/sesame-auth/sesame/ntlm"
)

// serveNTLM runs one leg of a raw NTLM handshake on the request's
// connection: a NEGOTIATE gets a CHALLENGE (kept with the connection),
// an AUTHENTICATE is verified against the connection's CHALLENGE and
// nobody else's.
func (m *Middleware) serveNTLM(r *http.Request, cs *connState, tok []byte) outcome {
	if len(tok) < 12 || !bytes.HasPrefix(tok, []byte("NTLMSSP\x00")) {
		return outcome{err: fmt.Errorf("auth: ntlm: token is not an NTLMSSP message: %w", ErrMalformedAuthorization)}
	}
	switch typ := binary.LittleEndian.Uint32(tok[8:12]); typ {
	case 1:
		h, chal, err := m.NTLM.Challenge(tok)
		if err != nil {
			return outcome{err: fmt.Errorf("auth: ntlm: %w: %w", ErrMalformedAuthorization, err)}
		}
		m.setPending(cs, "NTLM", h)
		return outcome{cont: "NTLM " + base64.StdEncoding.EncodeToString(chal)}
	case 3:
		h, _ := m.takePending(cs, "NTLM").(*ntlm.ServerHandshake)
		if h == nil {
			return outcome{err: fmt.Errorf("auth: ntlm: AUTHENTICATE: %w", ErrNoHandshake)}
		}
		id, err := h.Authenticate(r.Context(), tok, m.channelBindings(r))
		if err != nil {
			if errors.Is(err, ntlm.ErrUnknownUser) {
				return outcome{err: fmt.Errorf("auth: %w: %w", ErrNoSuchUser, err)}
			}
			return outcome{err: fmt.Errorf("auth: %w: %w", ErrUnauthenticated, err)}
		}
		if id.Anonymous {
			return outcome{err: fmt.Errorf("auth: ntlm: anonymous logon: %w", ErrUnauthenticated)}
		}
		u := m.ntlmUser(id)
		m.setConnUser(cs, u)
		return outcome{user: u}
	default:
		return outcome{err: fmt.Errorf("auth: ntlm: message type %d out of place: %w", typ, ErrMalformedAuthorization)}
	}
}

func (m *Middleware) ntlmUser(id *ntlm.Identity) *User {
	u := &User{Name: id.User, Domain: id.Domain, Principal: id.User, Scheme: "NTLM", Mechanism: "ntlm", Verified: m.NTLMVerifiedBy}
	if id.Domain != "" {
		u.Principal = id.Domain + `\` + id.User
	}
	u.Groups = groupsOf(id.Groups)
	if u.Verified == "" {
		u.Verified = "ntlm user file"
	}
	return u
}
