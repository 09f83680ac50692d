package ntlm

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// ChannelBindingMode says what the Server does with MsvAvChannelBindings,
// like IIS's Extended Protection setting.
type ChannelBindingMode int

const (
	// ChannelBindingOff ignores channel bindings.
	ChannelBindingOff ChannelBindingMode = iota
	// ChannelBindingAccept checks bindings a client sends and accepts
	// clients that send none (or all zeros). A client bound to a TLS
	// channel is refused on a connection without TLS: that is a relay.
	ChannelBindingAccept
	// ChannelBindingRequired refuses clients without bindings matching the
	// TLS channel, and every client on a connection without TLS.
	ChannelBindingRequired
)

// String names the mode as in configuration: off, accept, required.
func (m ChannelBindingMode) String() string {
	switch m {
	case ChannelBindingOff:
		return "off"
	case ChannelBindingAccept:
		return "accept"
	case ChannelBindingRequired:
		return "required"
	}
	return fmt.Sprintf("ChannelBindingMode(%d)", int(m))
}

// ParseChannelBindingMode parses "off", "accept" or "required".
func ParseChannelBindingMode(s string) (ChannelBindingMode, error) {
	for _, m := range []ChannelBindingMode{ChannelBindingOff, ChannelBindingAccept, ChannelBindingRequired} {
		if strings.EqualFold(s, m.String()) {
			return m, nil
		}
	}
	return 0, fmt.Errorf("ntlm: channel binding mode %q: want off, accept or required", s)
}

// Defaults of the Server's limits.
const (
	DefaultChallengeLifetime = 2 * time.Minute
	DefaultMaxClockSkew      = 5 * time.Minute
	// DefaultMaxPendingPerClient is the default of
	// Server.MaxPendingPerClient.
	DefaultMaxPendingPerClient = 8
)

// Server is an NTLM acceptor. Configure its fields before first use; it is
// then safe for concurrent use by many connections. Each connection runs
// its own [ServerHandshake], started by Challenge or ChallengeFor.
//
// NTLM authenticates a TCP connection, so a handshake belongs to the
// connection its NEGOTIATE arrived on: the caller keeps the
// *ServerHandshake with that connection and drops it when the connection
// closes. The Server keeps no table of all issued challenges (a global
// table lets a flood of NEGOTIATE messages from one client fill it and
// refuse everyone's logons): each handshake carries its own challenge,
// answerable once and before it expires. A caller that cannot keep state
// per connection, or wants a bound per client, uses ChallengeFor, which
// keeps at most MaxPendingPerClient handshakes per client key and cancels
// the oldest when a client starts one more.
type Server struct {
	// Store verifies accounts. Required.
	Store CredentialStore

	// NetBIOSDomain and NetBIOSComputer are announced in the CHALLENGE
	// (the domain is also its TargetName). Defaults: "WORKGROUP" and the
	// upper-cased host name.
	NetBIOSDomain, NetBIOSComputer string
	// DNSDomain, DNSComputer and DNSTree are announced when set.
	DNSDomain, DNSComputer, DNSTree string

	// ChallengeLifetime is how long an issued challenge may be answered;
	// each is accepted once. Default DefaultChallengeLifetime.
	ChallengeLifetime time.Duration
	// MaxClockSkew bounds the difference between the client's NTLMv2
	// timestamp and the time the challenge was issued. Default
	// DefaultMaxClockSkew.
	MaxClockSkew time.Duration

	// ChannelBinding sets the Extended Protection mode; see
	// ChannelBindingMode. The zero value is off.
	ChannelBinding ChannelBindingMode
	// AllowedSPNs, when not empty, requires the client's MsvAvTargetName
	// to be one of these (compared case-insensitively), which stops
	// logons relayed from another service.
	AllowedSPNs []string
	// RequireMIC refuses AUTHENTICATE messages without a MIC. curl does not
	// send one, so it is off by default; a MIC that the client announces
	// in MsvAvFlags is always required and checked.
	RequireMIC bool

	// AllowNTLMv1 accepts NTLMv1 responses; AllowLM accepts LM-only
	// responses. Both are crackable and off by default.
	AllowNTLMv1, AllowLM bool
	// AllowAnonymous accepts anonymous AUTHENTICATE messages, returning an
	// Identity with Anonymous set.
	AllowAnonymous bool

	// Version is announced in the CHALLENGE; zero means DefaultVersion.
	Version Version

	// MaxPendingPerClient bounds the handshakes ChallengeFor keeps pending
	// for one client key; one more cancels that client's oldest. Default
	// DefaultMaxPendingPerClient. For a key naming one TCP connection, 1
	// is enough (HTTP runs one handshake at a time on a connection).
	MaxPendingPerClient int

	// Rand and Now replace crypto/rand and time.Now, for tests.
	Rand io.Reader
	Now  func() time.Time

	mu        sync.Mutex
	clients   map[string][]*ServerHandshake // ChallengeFor's pending handshakes, oldest first
	sweepSize int                           // len(clients) that triggers the next sweep of expired handshakes
}

// Identity is who a successful AUTHENTICATE proved to be.
type Identity struct {
	// User and Domain are the account's names as the store spells them;
	// Workstation is what the client sent.
	User, Domain, Workstation string
	// Anonymous is set for an anonymous logon (User and Domain empty).
	Anonymous bool
	// NTLMVersion is 2 or 1 (0 for anonymous).
	NTLMVersion int
	// Flags are the negotiated flags: those the server offered in its
	// CHALLENGE and the client kept in its AUTHENTICATE.
	Flags NegotiateFlags
	// SessionKey is the exported session key, for session security.
	SessionKey []byte
	// TargetName is the SPN the client named in MsvAvTargetName, if any.
	TargetName string
	// UserSID and Groups are the account's SID and its group SIDs (or
	// names), as a ResponseVerifier reports them; a local store leaves
	// them empty.
	UserSID string
	Groups  []string
}

// ServerHandshake is the acceptor's state for one connection between the
// CHALLENGE it sent and the AUTHENTICATE it receives.
type ServerHandshake struct {
	s                    *Server
	negotiate, challenge []byte
	serverChallenge      [8]byte
	flags                NegotiateFlags
	issued               time.Time
	client               string // ChallengeFor's key
	tracked              bool   // in s.clients

	mu   sync.Mutex
	used bool
	// cancelled says why the handshake can no longer be completed
	// before it was used (ChallengeFor evicted it, or Forget).
	cancelled string
}

// Challenge reads a client's NEGOTIATE and returns the handshake state and
// the CHALLENGE to send. Compact NEGOTIATE messages (curl's 32 bytes) are
// accepted. The caller keeps the handshake with the connection the
// NEGOTIATE came on (a new NEGOTIATE on that connection replaces it); the
// Server does not track it.
func (s *Server) Challenge(negotiate []byte) (*ServerHandshake, []byte, error) {
	return s.challenge(negotiate, s.now())
}

// ChallengeFor is Challenge for a client named by key: a connection's
// identity (its remote address and accept time, say) or, when the caller
// has no per-connection state, the client's address. The Server keeps at
// most MaxPendingPerClient handshakes pending per key; starting one more
// cancels that key's oldest, whose Authenticate then fails with
// ErrChallenge. A flood of NEGOTIATE messages from one key therefore
// costs that key its own pending logons and nobody else's. Handshakes
// leave the table when they are completed or expire, or by Forget.
func (s *Server) ChallengeFor(key string, negotiate []byte) (*ServerHandshake, []byte, error) {
	now := s.now()
	h, chal, err := s.challenge(negotiate, now)
	if err != nil {
		return nil, nil, err
	}
	h.client = key
	s.track(h, now)
	return h, chal, nil
}

// Forget cancels the handshakes ChallengeFor keeps pending for key; call
// it when the connection the key names closes.
func (s *Server) Forget(key string) {
	s.mu.Lock()
	hs := s.clients[key]
	delete(s.clients, key)
	s.mu.Unlock()
	for _, h := range hs {
		h.cancel("the client's connection closed")
	}
}

// Pending reports how many handshakes ChallengeFor keeps pending for key.
func (s *Server) Pending(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients[key])
}

func (s *Server) challenge(negotiate []byte, now time.Time) (*ServerHandshake, []byte, error) {
	neg, err := ParseNegotiate(negotiate)
	if err != nil {
		return nil, nil, err
	}
	h := &ServerHandshake{s: s, negotiate: bytes.Clone(negotiate), issued: now}
	if _, err := io.ReadFull(s.rand(), h.serverChallenge[:]); err != nil {
		return nil, nil, fmt.Errorf("ntlm: challenge: random: %w", err)
	}
	h.flags = s.challengeFlags(neg.Flags)
	domain, computer := s.names()
	ti := TargetInfo{
		{ID: AvNbDomainName, Value: utf16le(domain)},
		{ID: AvNbComputerName, Value: utf16le(computer)},
	}
	for _, p := range []struct {
		id AVID
		v  string
	}{{AvDNSDomainName, s.DNSDomain}, {AvDNSComputerName, s.DNSComputer}, {AvDNSTreeName, s.DNSTree}} {
		if p.v != "" {
			ti = append(ti, AVPair{ID: p.id, Value: utf16le(p.v)})
		}
	}
	ti = append(ti, AVPair{ID: AvTimestamp, Value: binary.LittleEndian.AppendUint64(nil, TimeToFileTime(now))})
	m := &ChallengeMessage{Flags: h.flags, ServerChallenge: h.serverChallenge, TargetInfo: ti, Version: s.version()}
	if h.flags.Has(FlagRequestTarget) {
		m.TargetName = domain
	}
	if h.challenge, err = m.Marshal(); err != nil {
		return nil, nil, fmt.Errorf("ntlm: challenge: %w", err)
	}
	return h, bytes.Clone(h.challenge), nil
}

// challengeFlags answers the client's flags: Unicode when offered, always
// NTLM, target info and version, and the session security options the
// client asked for. Extended session security wins over LM_KEY.
func (s *Server) challengeFlags(client NegotiateFlags) NegotiateFlags {
	f := FlagNTLM | FlagTargetInfo | FlagVersion | FlagAlwaysSign
	if client.Has(FlagUnicode) {
		f |= FlagUnicode
	} else {
		f |= FlagOEM
	}
	if client.Has(FlagRequestTarget) {
		f |= FlagRequestTarget | FlagTargetTypeDomain
	}
	f |= client & (FlagSign | FlagSeal | Flag128 | Flag56 | FlagKeyExchange | FlagIdentify)
	switch {
	case client.Has(FlagExtendedSessionSecurity):
		f |= FlagExtendedSessionSecurity
	case client.Has(FlagLMKey) && s.AllowLM:
		f |= FlagLMKey
	}
	return f
}

// track adds a ChallengeFor handshake to its client's list, cancelling the
// client's oldest beyond the limit. When the table has grown, expired
// handshakes of all clients are swept first (amortised: the next sweep
// waits until the table doubles), so keys that never come back cost
// memory only for a challenge lifetime.
func (s *Server) track(h *ServerHandshake, now time.Time) {
	var evicted []*ServerHandshake
	s.mu.Lock()
	if s.clients == nil {
		s.clients = make(map[string][]*ServerHandshake)
	}
	if len(s.clients) >= s.sweepSize {
		for k, hs := range s.clients {
			live := hs[:0]
			for _, x := range hs {
				if x.expired(now) {
					x.tracked = false
				} else {
					live = append(live, x)
				}
			}
			clear(hs[len(live):])
			if len(live) == 0 {
				delete(s.clients, k)
			} else {
				s.clients[k] = live
			}
		}
		s.sweepSize = max(1024, 2*len(s.clients))
	}
	hs := append(s.clients[h.client], h)
	if n := len(hs) - s.maxPerClient(); n > 0 {
		evicted = append(evicted, hs[:n]...)
		for _, x := range hs[:n] {
			x.tracked = false
		}
		hs = append([]*ServerHandshake(nil), hs[n:]...)
	}
	h.tracked = true
	s.clients[h.client] = hs
	s.mu.Unlock()
	for _, x := range evicted {
		x.cancel("the client started newer handshakes")
	}
}

// untrack removes a completed handshake from its client's list.
func (s *Server) untrack(h *ServerHandshake) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !h.tracked {
		return
	}
	h.tracked = false
	hs := s.clients[h.client]
	for i, x := range hs {
		if x == h {
			hs = append(hs[:i:i], hs[i+1:]...)
			break
		}
	}
	if len(hs) == 0 {
		delete(s.clients, h.client)
	} else {
		s.clients[h.client] = hs
	}
}

func (h *ServerHandshake) cancel(why string) {
	h.mu.Lock()
	if !h.used && h.cancelled == "" {
		h.cancelled = why
	}
	h.mu.Unlock()
}

func (h *ServerHandshake) expired(now time.Time) bool {
	return now.After(h.issued.Add(h.s.lifetime()))
}

// Negotiated returns the flags both sides agreed on given the client's
// AUTHENTICATE flags: those the CHALLENGE offered and the client kept. A
// flag the client sets without the server's offer is not negotiated.
func (h *ServerHandshake) negotiated(client NegotiateFlags) NegotiateFlags {
	return h.flags & client
}

// Authenticate verifies the client's AUTHENTICATE message. channelBindings
// is the channel's application data, TLSServerEndPoint of the server's own
// certificate on a TLS connection, or nil without TLS. A handshake can be
// completed once; later calls fail with ErrChallenge.
//
// Errors wrap ErrAuthFailed, ErrPolicy, ErrMIC, ErrChannelBinding,
// ErrTargetName, ErrChallenge or ErrMalformed. They name the user but
// never carry a secret.
func (h *ServerHandshake) Authenticate(ctx context.Context, authenticate, channelBindings []byte) (*Identity, error) {
	h.mu.Lock()
	used, cancelled := h.used, h.cancelled
	h.used = true
	h.mu.Unlock()
	if used {
		return nil, fmt.Errorf("ntlm: authenticate: %w: handshake already completed", ErrChallenge)
	}
	s := h.s
	s.untrack(h)
	if cancelled != "" {
		return nil, fmt.Errorf("ntlm: authenticate: %w: handshake cancelled: %s", ErrChallenge, cancelled)
	}
	now := s.now()
	if h.expired(now) {
		return nil, fmt.Errorf("ntlm: authenticate: %w: challenge expired %v ago", ErrChallenge,
			now.Sub(h.issued.Add(s.lifetime())).Round(time.Second))
	}
	m, err := ParseAuthenticate(authenticate)
	if err != nil {
		return nil, err
	}
	id, err := h.verify(ctx, m, authenticate, channelBindings, now)
	if err != nil {
		return nil, fmt.Errorf("ntlm: authenticate %s\\%s: %w", m.Domain, m.User, err)
	}
	return id, nil
}

func (h *ServerHandshake) verify(ctx context.Context, m *AuthenticateMessage, raw, channelBindings []byte, now time.Time) (*Identity, error) {
	s := h.s
	if m.User == "" && len(m.NTResponse) == 0 && (len(m.LMResponse) == 0 || bytes.Equal(m.LMResponse, []byte{0})) {
		if !s.AllowAnonymous {
			return nil, fmt.Errorf("%w: anonymous logon", ErrPolicy)
		}
		if s.ChannelBinding == ChannelBindingRequired || len(s.AllowedSPNs) > 0 || s.RequireMIC {
			return nil, fmt.Errorf("%w: anonymous logon cannot satisfy channel binding, SPN or MIC requirements", ErrPolicy)
		}
		return &Identity{Anonymous: true, Workstation: m.Workstation, Flags: h.negotiated(m.Flags)}, nil
	}
	if m.User == "" {
		return nil, fmt.Errorf("%w: empty user name", ErrAuthFailed)
	}
	if s.Store == nil {
		return nil, errors.New("ntlm: server has no credential store")
	}
	switch n := len(m.NTResponse); {
	case n > 24 && n < 16+28+4:
		return nil, fmt.Errorf("%w: NTLMv2 response of %d bytes is too short", ErrMalformed, n)
	case n == 24 && !s.AllowNTLMv1:
		return nil, fmt.Errorf("%w: NTLMv1 response", ErrPolicy)
	case n == 0 && !s.AllowLM:
		return nil, fmt.Errorf("%w: LM-only response", ErrPolicy)
	case n != 0 && n < 24:
		return nil, fmt.Errorf("%w: NT response of %d bytes", ErrMalformed, n)
	}
	flags := h.negotiated(m.Flags)
	var (
		id             *Identity
		keyExchangeKey []byte
		ti             TargetInfo
		err            error
	)
	if rv, ok := s.Store.(ResponseVerifier); ok {
		id, keyExchangeKey, ti, err = h.verifyRemote(ctx, rv, m, flags, now)
	} else {
		id, keyExchangeKey, ti, err = h.verifyLocal(ctx, m, flags, now)
	}
	if err != nil {
		return nil, err
	}
	id.SessionKey = keyExchangeKey
	if flags.Has(FlagKeyExchange) {
		if len(m.EncryptedRandomSessionKey) != 16 {
			return nil, fmt.Errorf("%w: KEY_EXCH with an encrypted session key of %d bytes", ErrMalformed, len(m.EncryptedRandomSessionKey))
		}
		if id.SessionKey, err = EncryptSessionKey(keyExchangeKey, m.EncryptedRandomSessionKey); err != nil {
			return nil, err
		}
	}
	avFlags := ti.Flags()
	switch {
	case avFlags&AvFlagMICPresent != 0:
		// CVE-2019-1040: the flag is covered by the NTProofStr, the MIC
		// field is not; an announced MIC that is absent is an attack.
		if !m.HasMIC {
			return nil, fmt.Errorf("%w: MsvAvFlags announces a MIC but the message has no MIC field", ErrMIC)
		}
		want := ComputeMIC(id.SessionKey, h.negotiate, h.challenge, raw)
		if subtle.ConstantTimeCompare(want, m.MIC[:]) != 1 {
			return nil, fmt.Errorf("%w: MIC does not verify", ErrMIC)
		}
	case s.RequireMIC:
		return nil, fmt.Errorf("%w: client sent no MIC", ErrMIC)
	}
	if err := s.checkChannelBinding(ti, channelBindings); err != nil {
		return nil, err
	}
	id.TargetName = ti.String(AvTargetName)
	if len(s.AllowedSPNs) > 0 && !containsFold(s.AllowedSPNs, id.TargetName) {
		if id.TargetName == "" {
			return nil, fmt.Errorf("%w: client named no target", ErrTargetName)
		}
		return nil, fmt.Errorf("%w: %q", ErrTargetName, id.TargetName)
	}
	return id, nil
}

// verifyLocal checks the responses with the account's hashes from the
// credential store, and returns the Identity so far, the key exchange key
// and (NTLMv2) the client's AV pairs.
func (h *ServerHandshake) verifyLocal(ctx context.Context, m *AuthenticateMessage, flags NegotiateFlags, now time.Time) (*Identity, []byte, TargetInfo, error) {
	cred, err := h.s.Store.LookupCredential(ctx, m.Domain, m.User)
	if err != nil {
		if errors.Is(err, ErrUnknownUser) {
			return nil, nil, nil, fmt.Errorf("%w: %w", ErrAuthFailed, err)
		}
		return nil, nil, nil, fmt.Errorf("ntlm: credential store: %w", err)
	}
	if len(cred.NTHash) != 16 {
		return nil, nil, nil, fmt.Errorf("ntlm: credential store returned an NT hash of %d bytes", len(cred.NTHash))
	}
	id := &Identity{User: cred.User, Domain: cred.Domain, Workstation: m.Workstation, Flags: flags}
	if len(m.NTResponse) > 24 {
		id.NTLMVersion = 2
		kxk, ti, err := h.verifyV2(m, cred, now)
		return id, kxk, ti, err
	}
	id.NTLMVersion = 1
	kxk, err := h.verifyV1(m, flags, cred)
	return id, kxk, nil, err
}

// verifyV2 checks an NTLMv2 response as received (the blob is never
// rebuilt: implementations differ in its padding) and the client's
// timestamp, and returns the key exchange key and the client's AV pairs.
func (h *ServerHandshake) verifyV2(m *AuthenticateMessage, cred *Credential, now time.Time) ([]byte, TargetInfo, error) {
	proof, blob := m.NTResponse[:16], m.NTResponse[16:]
	if blob[0] != 1 || blob[1] != 1 {
		return nil, nil, fmt.Errorf("%w: NTLMv2 blob version %d.%d", ErrMalformed, blob[0], blob[1])
	}
	ti, err := ParseTargetInfo(blob[28:])
	if err != nil {
		return nil, nil, fmt.Errorf("NTLMv2 blob: %w", err)
	}
	v2 := NTLMv2Hash(cred.NTHash, m.User, m.Domain)
	want := hmacMD5(v2, h.serverChallenge[:], blob)
	if !hmac.Equal(want, proof) {
		return nil, nil, fmt.Errorf("%w: wrong NTProofStr (wrong password?)", ErrAuthFailed)
	}
	ts := FileTimeToTime(binary.LittleEndian.Uint64(blob[8:16]))
	skew := h.s.skew()
	if ts.Before(h.issued.Add(-skew)) || ts.After(now.Add(skew)) {
		return nil, nil, fmt.Errorf("%w: client timestamp %v is outside the allowed skew of %v", ErrChallenge, ts.Format(time.RFC3339), skew)
	}
	return hmacMD5(v2, proof), ti, nil
}

// verifyV1 checks NTLMv1 (plain or with extended session security) or an
// LM-only response, as the policy allows, and returns the key exchange key
// (KXKEY of MS-NLMP 3.4.5.1) for the negotiated flags.
func (h *ServerHandshake) verifyV1(m *AuthenticateMessage, flags NegotiateFlags, cred *Credential) ([]byte, error) {
	sc := h.serverChallenge
	ok := false
	switch {
	case len(m.NTResponse) == 24 && flags.Has(FlagExtendedSessionSecurity) && len(m.LMResponse) == 24:
		var cc [8]byte
		copy(cc[:], m.LMResponse)
		_, nt := NTLMv1ESSResponse(cred.NTHash, sc, cc)
		ok = hmac.Equal(nt, m.NTResponse)
	case len(m.NTResponse) == 24:
		ok = hmac.Equal(NTLMv1Response(cred.NTHash, sc), m.NTResponse)
	case len(m.LMResponse) == 24 && cred.LMHash != nil:
		ok = hmac.Equal(NTLMv1Response(cred.LMHash, sc), m.LMResponse)
	}
	if !ok {
		return nil, fmt.Errorf("%w: wrong NTLMv1/LM response (wrong password?)", ErrAuthFailed)
	}
	// KXKEY takes the LM hash with LM_KEY (negotiated only when AllowLM)
	// and with REQUEST_NON_NT_SESSION_KEY (never offered, so never
	// negotiated: a client that sets it on its own still gets the
	// session base key). Without the account's LM hash, an LM_KEY key
	// cannot be derived; refuse rather than derive one from a zero hash,
	// which anyone could compute.
	if !flags.Has(FlagExtendedSessionSecurity) && flags.Has(FlagLMKey) && len(cred.LMHash) != 16 {
		return nil, fmt.Errorf("%w: LM_KEY session key needs the account's LM hash, which the store does not hold", ErrPolicy)
	}
	lmHash := cred.LMHash
	if len(lmHash) != 16 {
		lmHash = make([]byte, 16) // not used: no LM_KEY, no NON_NT_SESSION_KEY
	}
	return KeyExchangeKey(flags, NTLMv1SessionBaseKey(cred.NTHash), lmHash, m.LMResponse, sc), nil
}

// checkChannelBinding applies the ChannelBinding mode. expected is the
// channel's application data, nil without TLS.
func (s *Server) checkChannelBinding(ti TargetInfo, expected []byte) error {
	if s.ChannelBinding == ChannelBindingOff {
		return nil
	}
	got, present := ti.Get(AvChannelBindings)
	zero := !present || bytes.Equal(got, make([]byte, 16))
	switch {
	case zero && s.ChannelBinding == ChannelBindingRequired:
		return fmt.Errorf("%w: client sent no channel bindings", ErrChannelBinding)
	case zero:
		return nil
	case expected == nil:
		return fmt.Errorf("%w: client is bound to a TLS channel, this connection has none", ErrChannelBinding)
	}
	want := ChannelBindingHash(expected)
	if subtle.ConstantTimeCompare(want[:], got) != 1 {
		return fmt.Errorf("%w: bindings are for another TLS channel", ErrChannelBinding)
	}
	return nil
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if s != "" && strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func (s *Server) names() (domain, computer string) {
	domain, computer = s.NetBIOSDomain, s.NetBIOSComputer
	if domain == "" {
		domain = "WORKGROUP"
	}
	if computer == "" {
		host, _ := os.Hostname()
		host, _, _ = strings.Cut(host, ".")
		computer = strings.ToUpper(host)
	}
	return domain, computer
}

func (s *Server) lifetime() time.Duration {
	if s.ChallengeLifetime > 0 {
		return s.ChallengeLifetime
	}
	return DefaultChallengeLifetime
}

func (s *Server) maxPerClient() int {
	if s.MaxPendingPerClient > 0 {
		return s.MaxPendingPerClient
	}
	return DefaultMaxPendingPerClient
}

func (s *Server) skew() time.Duration {
	if s.MaxClockSkew > 0 {
		return s.MaxClockSkew
	}
	return DefaultMaxClockSkew
}

func (s *Server) version() Version {
	if s.Version == (Version{}) {
		return DefaultVersion
	}
	return s.Version
}

func (s *Server) rand() io.Reader {
	if s.Rand != nil {
		return s.Rand
	}
	return rand.Reader
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
