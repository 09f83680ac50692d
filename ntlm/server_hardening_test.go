package ntlm

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// hashStore holds CORP\user with the NT hash of "Password" only, as a
// hash file does: no LM hash.
func hashStore(t testing.TB) *UserFile {
	t.Helper()
	uf, err := ParseUserFile(strings.NewReader("CORP:user:"+hex.EncodeToString(NTHash("Password"))+"\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	return uf
}

// exchangeWith runs a handshake whose NEGOTIATE asks for negFlags; setFlags
// adds flags to the client's AUTHENTICATE (which has no MIC, as an
// NTLMv1 one never does, so the change goes unnoticed as it would on the
// wire). It returns the server's identity and the client's result.
func exchangeWith(t *testing.T, s *Server, c *Client, negFlags, setFlags NegotiateFlags) (*Identity, *Authentication, error) {
	t.Helper()
	neg, err := (&NegotiateMessage{Flags: negFlags, Version: DefaultVersion}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	h, chal, err := s.Challenge(neg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Authenticate(nil, chal)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseAuthenticate(a.Message)
	if err != nil {
		t.Fatal(err)
	}
	m.Flags |= setFlags
	m.HasMIC = false
	msg, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	id, err := h.Authenticate(context.Background(), msg, nil)
	return id, a, err
}

// A flood of NEGOTIATE messages must not refuse anyone else's logon: the
// old Server kept one table of 65,536 pending challenges for all clients.
func TestServerNegotiateFloodDoesNotBlockOthers(t *testing.T) {
	s := testServer(t)
	neg, _ := (&Client{}).Negotiate()
	for i := 0; i < 1<<16+1; i++ {
		if _, _, err := s.Challenge(neg); err != nil {
			t.Fatalf("NEGOTIATE %d refused: %v", i, err)
		}
	}
	if _, err := handshake(t, &Client{User: `CORP\alice`, Password: "AlicePass123"}, s, nil, nil); err != nil {
		t.Fatalf("after a NEGOTIATE flood, alice's logon failed: %v", err)
	}
}

func TestServerChallengeForBoundsPerClient(t *testing.T) {
	s := testServer(t)
	s.MaxPendingPerClient = 3
	alice := &Client{User: `CORP\alice`, Password: "AlicePass123"}
	neg, _ := alice.Negotiate()

	// alice starts a handshake, then mallory floods from his own key.
	ha, chalA, err := s.ChallengeFor("10.0.0.1:5000", neg)
	if err != nil {
		t.Fatal(err)
	}
	var mallory []*ServerHandshake
	var chals [][]byte
	for i := 0; i < 1000; i++ {
		h, chal, err := s.ChallengeFor("10.6.6.6:666", neg)
		if err != nil {
			t.Fatalf("mallory's NEGOTIATE %d: %v", i, err)
		}
		mallory, chals = append(mallory, h), append(chals, chal)
	}
	if n := s.Pending("10.6.6.6:666"); n != 3 {
		t.Errorf("mallory has %d pending handshakes, want 3", n)
	}
	a, err := alice.Authenticate(neg, chalA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ha.Authenticate(context.Background(), a.Message, nil); err != nil {
		t.Fatalf("alice's logon during the flood: %v", err)
	}
	if n := s.Pending("10.0.0.1:5000"); n != 0 {
		t.Errorf("completed handshake still pending (%d)", n)
	}
	// The flooder's oldest handshakes are cancelled, his newest still work.
	a, _ = alice.Authenticate(neg, chals[0])
	if _, err := mallory[0].Authenticate(context.Background(), a.Message, nil); !errors.Is(err, ErrChallenge) {
		t.Errorf("evicted handshake: err = %v, want ErrChallenge", err)
	}
	a, _ = alice.Authenticate(neg, chals[999])
	if _, err := mallory[999].Authenticate(context.Background(), a.Message, nil); err != nil {
		t.Errorf("newest handshake: %v", err)
	}
	// Forget cancels what is left, as when the connection closes.
	s.Forget("10.6.6.6:666")
	if n := s.Pending("10.6.6.6:666"); n != 0 {
		t.Errorf("after Forget: %d pending", n)
	}
	a, _ = alice.Authenticate(neg, chals[998])
	if _, err := mallory[998].Authenticate(context.Background(), a.Message, nil); !errors.Is(err, ErrChallenge) {
		t.Errorf("forgotten handshake: err = %v, want ErrChallenge", err)
	}
}

// Identity.Flags are the negotiated flags, not what the client claims.
func TestServerIdentityFlagsAreNegotiated(t *testing.T) {
	s := testServer(t)
	c := &Client{User: `CORP\alice`, Password: "AlicePass123"}
	// The client asks for no signing or sealing, then claims them (and
	// more the server never offers) in its AUTHENTICATE.
	negFlags := clientFlags &^ (FlagSign | FlagSeal | FlagKeyExchange)
	claimed := FlagSign | FlagSeal | FlagDatagram | FlagRequestNonNTSessionKey | FlagLMKey
	id, a, err := exchangeWith(t, s, c, negFlags, claimed)
	if err != nil {
		t.Fatal(err)
	}
	if id.Flags&claimed != 0 {
		t.Errorf("identity flags %v include flags never negotiated: %v", id.Flags, id.Flags&claimed)
	}
	if id.Flags != a.Flags {
		t.Errorf("identity flags %v, client negotiated %v", id.Flags, a.Flags)
	}
}

// MS-NLMP 3.4.5.1 KXKEY: REQUEST_NON_NT_SESSION_KEY selects LMOWF[0..7] ‖
// Z(8) only when negotiated, which this server never offers; a client
// setting it must not get a key derived from a zero LM hash. The old code
// took the client's flag and, with no LM hash in the store, returned an
// all-zero key-exchange key.
func TestServerV1NonNTSessionKeyIsNotZero(t *testing.T) {
	s := &Server{Store: hashStore(t), NetBIOSDomain: "CORP", AllowNTLMv1: true}
	c := &Client{User: `CORP\user`, Password: "Password", Compatibility: AllowNTLMv1}
	sbk, _ := hex.DecodeString("d87262b0cde4b1cb7499becccdf10784") // MS-NLMP 4.2.2 SessionBaseKey
	for _, tc := range []struct {
		name string
		neg  NegotiateFlags
	}{
		{"without KEY_EXCH", clientFlags&^(FlagExtendedSessionSecurity|FlagKeyExchange) | FlagRequestNonNTSessionKey},
		{"with KEY_EXCH", clientFlags&^FlagExtendedSessionSecurity | FlagRequestNonNTSessionKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, a, err := exchangeWith(t, s, c, tc.neg, FlagRequestNonNTSessionKey)
			if err != nil {
				t.Fatal(err)
			}
			if id.NTLMVersion != 1 || id.Flags.Has(FlagExtendedSessionSecurity) {
				t.Fatalf("not a plain NTLMv1 exchange: %+v", id)
			}
			if string(id.SessionKey) == string(make([]byte, 16)) || string(id.SessionKey[8:]) == string(make([]byte, 8)) {
				t.Fatalf("session key derived from a zero LM hash")
			}
			if string(id.SessionKey) != string(a.SessionKey) {
				t.Fatalf("server and client session keys differ")
			}
			if !tc.neg.Has(FlagKeyExchange) && string(id.SessionKey) != string(sbk) {
				t.Errorf("session key is not KXKEY = SessionBaseKey of MS-NLMP 4.2.2")
			}
		})
	}
}

// LM_KEY needs the LM hash for KXKEY; without one in the store the logon is
// refused rather than keyed by DES of a zero hash.
func TestServerV1LMKeyWithoutLMHashRefused(t *testing.T) {
	s := &Server{Store: hashStore(t), NetBIOSDomain: "CORP", AllowNTLMv1: true, AllowLM: true}
	c := &Client{User: `CORP\user`, Password: "Password", Compatibility: AllowNTLMv1}
	_, _, err := exchangeWith(t, s, c, clientFlags&^FlagExtendedSessionSecurity|FlagLMKey, FlagLMKey)
	if !errors.Is(err, ErrPolicy) {
		t.Fatalf("err = %v, want ErrPolicy", err)
	}
}
