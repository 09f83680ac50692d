package ntlm

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"
)

// Compatibility selects which responses a [Client] may send, like
// Windows' LmCompatibilityLevel. The zero value is NTLMv2 only.
type Compatibility int

const (
	// NTLMv2Only sends NTLMv2 and, unless the challenge carries a
	// timestamp, LMv2. This is the default and what current Windows does.
	NTLMv2Only Compatibility = iota
	// AllowNTLMv1 sends NTLMv1 (with extended session security when the
	// server offers it) and copies the NT response into the LM field.
	// NTLMv1 responses can be cracked: enable it only for legacy servers.
	AllowNTLMv1
	// AllowLM sends NTLMv1 plus a real LM response (LmCompatibilityLevel 0).
	// The LM response reveals the password to anyone who records it.
	AllowLM
)

// Client is an NTLM initiator. It holds configuration only, so one Client
// can serve any number of concurrent handshakes.
type Client struct {
	// User and Domain name the account. If Domain is empty, User may be
	// "DOMAIN\user" or "user@domain". An empty User with no password and
	// no hash means anonymous authentication.
	User, Domain string
	// Password, or NTHash (16 bytes, from NTHash or `sesame hash`), is the
	// secret. NTHash wins when both are set. LM responses need Password.
	Password string
	NTHash   []byte
	// NTLMv2Hash, if set, is NTOWFv2 (NTLMv2Hash of the NT hash, user and
	// domain; cntlm's PassNTLMv2). It proves only the one user and domain
	// spelling it was made for, and allows NTLMv2 only. It wins over
	// Password and NTHash.
	NTLMv2Hash []byte
	// Workstation is the client's computer name, sent in AUTHENTICATE.
	Workstation string
	// Compatibility selects NTLMv1/LM; the zero value is NTLMv2 only and
	// never falls back silently.
	Compatibility Compatibility
	// TargetSPN, if set, is sent as MsvAvTargetName (for example
	// "HTTP/proxy.example.com") so a server can refuse relayed logons.
	TargetSPN string
	// ServerCertificate, if set, is the TLS certificate of the server the
	// handshake runs over; its RFC 5929 tls-server-end-point hash is sent
	// as MsvAvChannelBindings (Extended Protection for Authentication).
	ServerCertificate *x509.Certificate
	// Version is announced in the messages; zero means DefaultVersion.
	Version Version

	// Rand and Now replace crypto/rand and time.Now, for tests.
	Rand io.Reader
	Now  func() time.Time
}

// clientFlags is what the client asks for in NEGOTIATE, as Windows does
// for HTTP, minus LM_KEY (an LM-derived key is never wanted).
const clientFlags = FlagUnicode | FlagOEM | FlagRequestTarget | FlagSign | FlagSeal |
	FlagNTLM | FlagAlwaysSign | FlagExtendedSessionSecurity | FlagTargetInfo |
	FlagVersion | Flag128 | FlagKeyExchange | Flag56

// Negotiate returns a NEGOTIATE message. It is 40 bytes with the Version
// field, as Windows sends and gss-ntlmssp requires. Pass the same bytes
// to Authenticate so the MIC covers them.
func (c *Client) Negotiate() ([]byte, error) {
	flags := clientFlags
	if c.anonymous() {
		flags |= FlagAnonymous
	}
	m := NegotiateMessage{Flags: flags, Version: c.version()}
	return m.Marshal()
}

// Authentication is the result of Client.Authenticate.
type Authentication struct {
	// Message is the AUTHENTICATE message to send.
	Message []byte
	// Flags are the negotiated flags (those in Message).
	Flags NegotiateFlags
	// SessionKey is the exported session key, for session security and
	// SPNEGO's mechListMIC. It is nil for anonymous authentication.
	SessionKey []byte
	// NTLMVersion is 2 or 1, or 0 for anonymous.
	NTLMVersion int
}

// Authenticate answers a CHALLENGE. negotiate is the NEGOTIATE message
// that was sent on this connection; when it is given (and NTLMv2 is used)
// the answer carries a MIC over all three messages. Without it the MIC
// field is left zero and MsvAvFlags does not announce one.
func (c *Client) Authenticate(negotiate, challenge []byte) (*Authentication, error) {
	ch, err := ParseChallenge(challenge)
	if err != nil {
		return nil, err
	}
	if negotiate != nil {
		if _, err := ParseNegotiate(negotiate); err != nil {
			return nil, err
		}
	}
	if ch.Flags.Has(FlagLMKey) && !ch.Flags.Has(FlagExtendedSessionSecurity) && c.Compatibility == NTLMv2Only {
		return nil, fmt.Errorf("ntlm: authenticate: %w: challenge offers LM_KEY without extended session security", ErrPolicy)
	}
	user, domain := c.User, c.Domain
	if domain == "" {
		user, domain = SplitUser(user)
	}
	for _, s := range []string{user, domain, c.Workstation} {
		if len(s) > 256 {
			return nil, fmt.Errorf("ntlm: authenticate: name of %d characters is too long", len(s))
		}
	}
	// Negotiated flags: what both sides support. OEM only if the server
	// did not choose Unicode.
	flags := ch.Flags & clientFlags
	if flags.Has(FlagUnicode) {
		flags &^= FlagOEM
	}
	if c.anonymous() {
		return c.authenticateAnonymous(flags, domain)
	}
	ntHash := c.NTHash
	if ntHash == nil {
		ntHash = NTHash(c.Password)
	}
	if len(ntHash) != 16 {
		return nil, fmt.Errorf("ntlm: authenticate: NT hash of %d bytes, want 16", len(ntHash))
	}
	if c.NTLMv2Hash != nil {
		if len(c.NTLMv2Hash) != 16 {
			return nil, fmt.Errorf("ntlm: authenticate: NTLMv2 hash of %d bytes, want 16", len(c.NTLMv2Hash))
		}
		if c.Compatibility != NTLMv2Only {
			return nil, fmt.Errorf("ntlm: authenticate: %w: an NTLMv2 hash cannot answer with NTLMv1 or LM", ErrPolicy)
		}
	}
	var cc [8]byte
	if _, err := io.ReadFull(c.rand(), cc[:]); err != nil {
		return nil, fmt.Errorf("ntlm: authenticate: random: %w", err)
	}
	m := &AuthenticateMessage{
		Flags: flags, Domain: domain, User: user, Workstation: c.Workstation,
		Version: c.version(), HasMIC: true,
	}
	var keyExchangeKey []byte
	useMIC := false
	switch c.Compatibility {
	case NTLMv2Only:
		v2 := c.NTLMv2Hash
		if v2 == nil {
			v2 = NTLMv2Hash(ntHash, user, domain)
		}
		ti := ch.TargetInfo.Clone()
		ts, _, hasTS := ch.TargetInfo.Timestamp()
		if !hasTS {
			ts = TimeToFileTime(c.now())
		}
		avFlags := ti.Flags()
		if negotiate != nil {
			avFlags |= AvFlagMICPresent
			useMIC = true
		}
		if avFlags != 0 {
			ti = ti.set(AvFlags, binary.LittleEndian.AppendUint32(nil, avFlags))
		}
		if c.ServerCertificate != nil {
			h := ChannelBindingHash(TLSServerEndPoint(c.ServerCertificate))
			ti = ti.set(AvChannelBindings, h[:])
		}
		if c.TargetSPN != "" {
			ti = ti.set(AvTargetName, utf16le(c.TargetSPN))
		}
		blob := NTLMv2Blob(ts, cc, ti)
		m.NTResponse, keyExchangeKey = NTLMv2Response(v2, ch.ServerChallenge, blob)
		if hasTS {
			// MS-NLMP 3.1.5.1.2: with a server timestamp the LM response
			// is all zero.
			m.LMResponse = make([]byte, 24)
		} else {
			m.LMResponse = LMv2Response(v2, ch.ServerChallenge, cc)
		}
	case AllowNTLMv1, AllowLM:
		var lmHash []byte
		if c.Compatibility == AllowLM {
			if c.NTHash != nil && c.Password == "" {
				return nil, fmt.Errorf("ntlm: authenticate: %w: an LM response needs the password, not the NT hash", ErrPolicy)
			}
			lmHash = LMHash(c.Password)
		}
		if flags.Has(FlagExtendedSessionSecurity) {
			m.LMResponse, m.NTResponse = NTLMv1ESSResponse(ntHash, ch.ServerChallenge, cc)
		} else {
			m.NTResponse = NTLMv1Response(ntHash, ch.ServerChallenge)
			if lmHash != nil {
				m.LMResponse = NTLMv1Response(lmHash, ch.ServerChallenge)
			} else {
				m.LMResponse = m.NTResponse
			}
		}
		if lmHash == nil {
			flags &^= FlagLMKey | FlagRequestNonNTSessionKey
			lmHash = make([]byte, 16)
		}
		m.Flags = flags
		keyExchangeKey = KeyExchangeKey(flags, NTLMv1SessionBaseKey(ntHash), lmHash, m.LMResponse, ch.ServerChallenge)
	default:
		return nil, fmt.Errorf("ntlm: authenticate: unknown compatibility %d", c.Compatibility)
	}
	exported := keyExchangeKey
	if flags.Has(FlagKeyExchange) {
		exported = make([]byte, 16)
		if _, err := io.ReadFull(c.rand(), exported); err != nil {
			return nil, fmt.Errorf("ntlm: authenticate: random: %w", err)
		}
		if m.EncryptedRandomSessionKey, err = EncryptSessionKey(keyExchangeKey, exported); err != nil {
			return nil, err
		}
	}
	msg, err := m.Marshal()
	if err != nil {
		return nil, fmt.Errorf("ntlm: authenticate: %w", err)
	}
	if useMIC {
		copy(msg[authMICOffset:], ComputeMIC(exported, negotiate, challenge, msg))
	}
	ver := 2
	if c.Compatibility != NTLMv2Only {
		ver = 1
	}
	return &Authentication{Message: msg, Flags: flags, SessionKey: exported, NTLMVersion: ver}, nil
}

// authenticateAnonymous builds the anonymous AUTHENTICATE of MS-NLMP
// 3.1.5.1.2: empty user and NT response, a single zero LM byte.
func (c *Client) authenticateAnonymous(flags NegotiateFlags, domain string) (*Authentication, error) {
	flags |= FlagAnonymous
	flags &^= FlagKeyExchange | FlagSign | FlagSeal
	m := &AuthenticateMessage{Flags: flags, Domain: domain, Workstation: c.Workstation,
		LMResponse: []byte{0}, Version: c.version(), HasMIC: true}
	msg, err := m.Marshal()
	if err != nil {
		return nil, fmt.Errorf("ntlm: authenticate: %w", err)
	}
	return &Authentication{Message: msg, Flags: flags}, nil
}

func (c *Client) anonymous() bool {
	return c.User == "" && c.Password == "" && c.NTHash == nil && c.NTLMv2Hash == nil
}

func (c *Client) version() Version {
	if c.Version == (Version{}) {
		return DefaultVersion
	}
	return c.Version
}

func (c *Client) rand() io.Reader {
	if c.Rand != nil {
		return c.Rand
	}
	return rand.Reader
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// ParseNTHash decodes an NT hash written as 32 hex digits, the form
// `sesame hash` prints (an optional "NT:" prefix is accepted).
func ParseNTHash(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "NT:"), "nt:")
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		return nil, fmt.Errorf("ntlm: NT hash must be 32 hex digits")
	}
	return b, nil
}
