package ntlm

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// domainVerifier verifies responses the way a domain controller does, from
// a user file, and records what it was asked. The real domain (Samba AD
// through winbind) is in package winbind's tests; this one lets the
// Server's own checks be tested one at a time.
type domainVerifier struct {
	users  *UserFile
	groups []string
	err    error // returned instead of verifying, when set
	noKey  bool

	mu   sync.Mutex
	reqs []ResponseToVerify
}

func (d *domainVerifier) LookupCredential(context.Context, string, string) (*Credential, error) {
	return nil, errors.New("domainVerifier: LookupCredential must not be called")
}

func (d *domainVerifier) VerifyResponse(ctx context.Context, r *ResponseToVerify) (*VerifiedResponse, error) {
	d.mu.Lock()
	d.reqs = append(d.reqs, *r)
	d.mu.Unlock()
	if d.err != nil {
		return nil, d.err
	}
	cred, err := d.users.LookupCredential(ctx, r.Domain, r.User)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAuthFailed, err)
	}
	vr := &VerifiedResponse{User: cred.User, Domain: cred.Domain, UserSID: "S-1-5-21-1-2-3-1104", Groups: d.groups}
	switch {
	case len(r.NTResponse) > 24:
		v2 := NTLMv2Hash(cred.NTHash, r.User, r.Domain)
		proof := hmacMD5(v2, r.ServerChallenge[:], r.NTResponse[16:])
		if !hmac.Equal(proof, r.NTResponse[:16]) {
			return nil, fmt.Errorf("%w: wrong password", ErrAuthFailed)
		}
		vr.SessionKey = hmacMD5(v2, proof)
	case len(r.NTResponse) == 24:
		if !hmac.Equal(NTLMv1Response(cred.NTHash, r.ServerChallenge), r.NTResponse) {
			return nil, fmt.Errorf("%w: wrong password", ErrAuthFailed)
		}
		vr.SessionKey = NTLMv1SessionBaseKey(cred.NTHash)
	default:
		return nil, fmt.Errorf("%w: no NT response", ErrAuthFailed)
	}
	if d.noKey {
		vr.SessionKey = nil
	}
	return vr, nil
}

func passthroughServer(t testing.TB) (*Server, *domainVerifier) {
	d := &domainVerifier{users: testStore(t), groups: []string{"S-1-5-21-1-2-3-513", "S-1-5-21-1-2-3-1103"}}
	return &Server{Store: d, NetBIOSDomain: "CORP", NetBIOSComputer: "SESAME"}, d
}

func TestPassThroughAccepts(t *testing.T) {
	for _, c := range []*Client{
		{User: `CORP\alice`, Password: "AlicePass123", Workstation: "WS1"},
		{User: `corp\ALICE`, Password: "AlicePass123"},
		{User: "alice@CORP", Password: "AlicePass123", TargetSPN: "HTTP/www.corp.test"},
	} {
		s, d := passthroughServer(t)
		id, err := handshake(t, c, s, nil, nil) // also compares the session keys
		if err != nil {
			t.Fatalf("%s: %v", c.User, err)
		}
		if id.User != "alice" || id.Domain != "CORP" || id.NTLMVersion != 2 || id.UserSID == "" || len(id.Groups) != 2 || id.Groups[1] != "S-1-5-21-1-2-3-1103" {
			t.Errorf("%s: identity %+v", c.User, id)
		}
		if len(d.reqs) != 1 || d.reqs[0].LMResponse != nil {
			t.Errorf("%s: verifier asked %d times, LM response %x (must not be sent for NTLMv2)", c.User, len(d.reqs), d.reqs[0].LMResponse)
		}
	}
}

func TestPassThroughRejects(t *testing.T) {
	alice := func() *Client { return &Client{User: `CORP\alice`, Password: "AlicePass123"} }
	stripMIC := func(msg []byte) []byte {
		m, _ := ParseAuthenticate(msg)
		m.HasMIC = false
		out, _ := m.Marshal()
		return out
	}
	for _, tc := range []struct {
		name   string
		client *Client
		setup  func(*Server, *domainVerifier)
		cb     []byte
		mutate func([]byte) []byte
		want   error
		asked  bool // whether the verifier is to be asked at all
	}{
		{name: "wrong password", client: &Client{User: `CORP\alice`, Password: "wrong"}, want: ErrAuthFailed, asked: true},
		{name: "unknown user", client: &Client{User: `CORP\mallory`, Password: "x"}, want: ErrAuthFailed, asked: true},
		{name: "MIC stripped", client: alice(), mutate: stripMIC, want: ErrMIC, asked: true},
		{name: "MIC zeroed", client: alice(), mutate: func(b []byte) []byte { clear(b[72:88]); return b }, want: ErrMIC, asked: true},
		{name: "NTLMv1 refused by default", client: &Client{User: `CORP\alice`, Password: "AlicePass123", Compatibility: AllowNTLMv1}, want: ErrPolicy},
		{name: "LM refused by default", client: &Client{User: `CORP\alice`, Password: "AlicePass123", Compatibility: AllowLM}, want: ErrPolicy},
		{name: "channel binding required, no TLS", client: alice(), setup: func(s *Server, _ *domainVerifier) { s.ChannelBinding = ChannelBindingRequired },
			want: ErrChannelBinding, asked: true},
		{name: "SPN allow-list, other SPN", client: &Client{User: `CORP\alice`, Password: "AlicePass123", TargetSPN: "CIFS/fs"},
			setup: func(s *Server, _ *domainVerifier) { s.AllowedSPNs = []string{"HTTP/www.corp.test"} }, want: ErrTargetName, asked: true},
		{name: "verifier returns no session key", client: alice(), setup: func(_ *Server, d *domainVerifier) { d.noKey = true }, asked: true},
		{name: "verifier unreachable", client: alice(), setup: func(_ *Server, d *domainVerifier) { d.err = errors.New("winbind: no answer") }, asked: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, d := passthroughServer(t)
			if tc.setup != nil {
				tc.setup(s, d)
			}
			_, err := handshake(t, tc.client, s, tc.cb, tc.mutate)
			if err == nil {
				t.Fatal("accepted")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == nil && errors.Is(err, ErrAuthFailed) {
				t.Fatalf("err = %v: a failing verifier is not a refused logon", err)
			}
			if asked := len(d.reqs) > 0; asked != tc.asked {
				t.Fatalf("verifier asked: %v, want %v (err %v)", asked, tc.asked, err)
			}
			if strings.Contains(err.Error(), "AlicePass123") {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}

func TestPassThroughReplayAndSkew(t *testing.T) {
	s, d := passthroughServer(t)
	c := &Client{User: `CORP\alice`, Password: "AlicePass123"}
	neg, _ := c.Negotiate()
	h, chal, _ := s.Challenge(neg)
	a, _ := c.Authenticate(neg, chal)
	if _, err := h.Authenticate(context.Background(), a.Message, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Authenticate(context.Background(), a.Message, nil); !errors.Is(err, ErrChallenge) {
		t.Fatalf("replay: err = %v, want ErrChallenge", err)
	}
	// The same AUTHENTICATE against a fresh challenge fails at the domain.
	h2, _, _ := s.Challenge(neg)
	if _, err := h2.Authenticate(context.Background(), a.Message, nil); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("replay on a new challenge: err = %v, want ErrAuthFailed", err)
	}
	if len(d.reqs) != 2 {
		t.Fatalf("verifier asked %d times, want 2", len(d.reqs))
	}
}

func TestPassThroughNTLMv1OptIn(t *testing.T) {
	s, d := passthroughServer(t)
	s.AllowNTLMv1 = true
	c := &Client{User: `CORP\alice`, Password: "AlicePass123", Compatibility: AllowNTLMv1}
	id, err := handshake(t, c, s, nil, nil) // ESS: the key exchange key is checked against the client's
	if err != nil || id.NTLMVersion != 1 {
		t.Fatalf("%+v, %v", id, err)
	}
	if len(d.reqs) != 1 || len(d.reqs[0].LMResponse) != 24 {
		t.Fatalf("requests %+v", d.reqs)
	}
	// Without ESS, LM_KEY cannot be served: the LM hash stays with the domain.
	s.AllowLM = true
	if _, _, err := exchangeWith(t, s, &Client{User: `CORP\alice`, Password: "AlicePass123", Compatibility: AllowNTLMv1},
		clientFlags&^FlagExtendedSessionSecurity|FlagLMKey, FlagLMKey); !errors.Is(err, ErrPolicy) {
		t.Fatalf("LM_KEY: err = %v, want ErrPolicy", err)
	}
}
