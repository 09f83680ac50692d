package ntlm

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

func testStore(t testing.TB) *UserFile {
	t.Helper()
	uf, err := ParseUserFile(strings.NewReader("# test users\nCORP:alice:AlicePass123\n\nCORP:bob:BobPass456\n:carol:CarolPass789\n"), false)
	if err != nil {
		t.Fatal(err)
	}
	return uf
}

func testServer(t testing.TB) *Server {
	return &Server{Store: testStore(t), NetBIOSDomain: "CORP", NetBIOSComputer: "SESAME"}
}

// handshake runs a full client/server exchange; mutate may change the
// AUTHENTICATE message before the server sees it.
func handshake(t testing.TB, c *Client, s *Server, cb []byte, mutate func([]byte) []byte) (*Identity, error) {
	t.Helper()
	neg, err := c.Negotiate()
	if err != nil {
		t.Fatal(err)
	}
	h, chal, err := s.Challenge(neg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Authenticate(neg, chal)
	if err != nil {
		t.Fatal(err)
	}
	msg := a.Message
	if mutate != nil {
		msg = mutate(msg)
	}
	id, err := h.Authenticate(context.Background(), msg, cb)
	if err == nil && !bytesEqual(id.SessionKey, a.SessionKey) {
		t.Errorf("server session key %x != client %x", id.SessionKey, a.SessionKey)
	}
	return id, err
}

// handshakeWithoutMIC runs an exchange in which the client does not know
// the NEGOTIATE it sent, so it cannot compute a MIC and announces none.
func handshakeWithoutMIC(t testing.TB, c *Client, s *Server) error {
	neg, _ := c.Negotiate()
	h, chal, err := s.Challenge(neg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Authenticate(nil, chal)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.Authenticate(context.Background(), a.Message, nil)
	return err
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

func TestServerAcceptsClient(t *testing.T) {
	for _, user := range []struct{ user, domain string }{
		{`CORP\alice`, ""}, {"alice@CORP", ""}, {"alice", "CORP"}, {"ALICE", "corp"}, {"alice", ""},
	} {
		c := &Client{User: user.user, Domain: user.domain, Password: "AlicePass123", Workstation: "WS1"}
		id, err := handshake(t, c, testServer(t), nil, nil)
		if err != nil {
			t.Errorf("%+v: %v", user, err)
			continue
		}
		if id.User != "alice" || id.Domain != "CORP" || id.Workstation != "WS1" || id.NTLMVersion != 2 || len(id.SessionKey) != 16 {
			t.Errorf("%+v: identity %+v", user, id)
		}
	}
	// A client that sends no MIC (curl) is accepted unless RequireMIC.
	if err := handshakeWithoutMIC(t, &Client{User: `CORP\alice`, Password: "AlicePass123"}, testServer(t)); err != nil {
		t.Errorf("without MIC: %v", err)
	}
	// NT hash instead of the password; entry without a domain.
	c := &Client{User: `ANY\carol`, NTHash: NTHash("CarolPass789")}
	if id, err := handshake(t, c, testServer(t), nil, nil); err != nil || id.User != "carol" {
		t.Errorf("carol by hash: %+v, %v", id, err)
	}
}

func TestServerRejects(t *testing.T) {
	alice := func() *Client { return &Client{User: `CORP\alice`, Password: "AlicePass123"} }
	stripMIC := func(msg []byte) []byte {
		m, err := ParseAuthenticate(msg)
		if err != nil {
			t.Fatal(err)
		}
		m.HasMIC = false
		out, _ := m.Marshal()
		return out
	}
	for _, tc := range []struct {
		name   string
		client *Client
		server func(*Server)
		cb     []byte
		mutate func([]byte) []byte
		noMIC  bool // client answers without the NEGOTIATE, so sends no MIC
		want   error
	}{
		{name: "wrong password", client: &Client{User: `CORP\alice`, Password: "wrong"}, want: ErrAuthFailed},
		{name: "unknown user", client: &Client{User: `CORP\mallory`, Password: "x"}, want: ErrAuthFailed},
		{name: "wrong domain", client: &Client{User: `OTHER\alice`, Password: "AlicePass123"}, want: ErrAuthFailed},
		{name: "MIC stripped (CVE-2019-1040)", client: alice(), mutate: stripMIC, want: ErrMIC},
		{name: "MIC zeroed", client: alice(), mutate: func(b []byte) []byte { clear(b[72:88]); return b }, want: ErrMIC},
		{name: "flags changed under MIC", client: alice(), mutate: func(b []byte) []byte { b[60] &^= byte(FlagSign | FlagSeal); return b }, want: ErrMIC},
		{name: "NTProofStr flipped", client: alice(), mutate: func(b []byte) []byte {
			m, _ := ParseAuthenticate(b)
			m.NTResponse[0] ^= 1
			out, _ := m.Marshal()
			return out
		}, want: ErrAuthFailed},
		{name: "MIC required, client sent none", client: alice(), server: func(s *Server) { s.RequireMIC = true },
			noMIC: true, want: ErrMIC},
		{name: "NTLMv1 refused by default", client: &Client{User: `CORP\alice`, Password: "AlicePass123", Compatibility: AllowNTLMv1}, want: ErrPolicy},
		{name: "LM refused by default", client: &Client{User: `CORP\alice`, Password: "AlicePass123", Compatibility: AllowLM}, want: ErrPolicy},
		{name: "anonymous refused by default", client: &Client{}, want: ErrPolicy},
		{name: "channel binding required, no TLS", client: alice(), server: func(s *Server) { s.ChannelBinding = ChannelBindingRequired }, want: ErrChannelBinding},
		{name: "channel binding required, client sent none", client: alice(), server: func(s *Server) { s.ChannelBinding = ChannelBindingRequired }, cb: []byte("tls-server-end-point:x"), want: ErrChannelBinding},
		{name: "SPN allow-list, client named none", client: alice(), server: func(s *Server) { s.AllowedSPNs = []string{"HTTP/www.corp.test"} }, want: ErrTargetName},
		{name: "SPN allow-list, other SPN", client: &Client{User: `CORP\alice`, Password: "AlicePass123", TargetSPN: "CIFS/fileserver"},
			server: func(s *Server) { s.AllowedSPNs = []string{"HTTP/www.corp.test"} }, want: ErrTargetName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testServer(t)
			if tc.server != nil {
				tc.server(s)
			}
			var err error
			if tc.noMIC {
				err = handshakeWithoutMIC(t, tc.client, s)
			} else {
				_, err = handshake(t, tc.client, s, tc.cb, tc.mutate)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), "AlicePass123") {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}

func TestServerClockSkew(t *testing.T) {
	s := testServer(t)
	neg, _ := (&Client{}).Negotiate()
	h, chal, err := s.Challenge(neg)
	if err != nil {
		t.Fatal(err)
	}
	// The client ignores the server's timestamp (strip it) and its clock
	// is a day behind.
	cm, _ := ParseChallenge(chal)
	var ti TargetInfo
	for _, p := range cm.TargetInfo {
		if p.ID != AvTimestamp {
			ti = append(ti, p)
		}
	}
	cm.TargetInfo = ti
	chal2, _ := cm.Marshal()
	c := &Client{User: `CORP\alice`, Password: "AlicePass123", Now: func() time.Time { return time.Now().Add(-24 * time.Hour) }}
	a, err := c.Authenticate(nil, chal2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Authenticate(context.Background(), a.Message, nil); !errors.Is(err, ErrChallenge) {
		t.Fatalf("err = %v, want ErrChallenge (skew)", err)
	}
}

func TestServerChallengeSingleUseAndExpiry(t *testing.T) {
	s := testServer(t)
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

	now := time.Now()
	s.Now = func() time.Time { return now }
	h, chal, _ = s.Challenge(neg)
	a, _ = c.Authenticate(neg, chal)
	now = now.Add(DefaultChallengeLifetime + time.Second)
	if _, err := h.Authenticate(context.Background(), a.Message, nil); !errors.Is(err, ErrChallenge) {
		t.Fatalf("expired: err = %v, want ErrChallenge", err)
	}
}

func TestServerPolicyOptIn(t *testing.T) {
	s := testServer(t)
	s.AllowNTLMv1, s.AllowLM, s.AllowAnonymous = true, true, true
	for _, c := range []*Client{
		{User: `CORP\alice`, Password: "AlicePass123", Compatibility: AllowNTLMv1},
		{User: `CORP\alice`, Password: "AlicePass123", Compatibility: AllowLM},
	} {
		id, err := handshake(t, c, s, nil, nil)
		if err != nil || id.NTLMVersion != 1 || id.User != "alice" {
			t.Errorf("compat %d: %+v, %v", c.Compatibility, id, err)
		}
	}
	if _, err := handshake(t, &Client{User: `CORP\alice`, Password: "bad", Compatibility: AllowNTLMv1}, s, nil, nil); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("v1 wrong password: %v", err)
	}
	id, err := handshake(t, &Client{}, s, nil, nil)
	if err != nil || !id.Anonymous {
		t.Errorf("anonymous: %+v, %v", id, err)
	}
}

func TestServerChannelBindingAndSPN(t *testing.T) {
	cert := selfSigned(t)
	other := selfSigned(t)
	cb := TLSServerEndPoint(cert)
	for _, tc := range []struct {
		name string
		mode ChannelBindingMode
		cert *x509.Certificate // client's view of the server
		cb   []byte            // server's channel
		ok   bool
	}{
		{"required, matching", ChannelBindingRequired, cert, cb, true},
		{"required, other cert (MITM)", ChannelBindingRequired, other, cb, false},
		{"accept, matching", ChannelBindingAccept, cert, cb, true},
		{"accept, none sent", ChannelBindingAccept, nil, cb, true},
		{"accept, other cert", ChannelBindingAccept, other, cb, false},
		{"accept, bound client on plain HTTP (relay)", ChannelBindingAccept, cert, nil, false},
		{"off, other cert", ChannelBindingOff, other, cb, true},
	} {
		s := testServer(t)
		s.ChannelBinding = tc.mode
		s.AllowedSPNs = []string{"HTTP/www.corp.test"}
		c := &Client{User: `CORP\alice`, Password: "AlicePass123", ServerCertificate: tc.cert, TargetSPN: "http/WWW.corp.test"}
		id, err := handshake(t, c, s, tc.cb, nil)
		if tc.ok != (err == nil) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
		if err == nil && id.TargetName != "http/WWW.corp.test" {
			t.Errorf("%s: target name %q", tc.name, id.TargetName)
		}
		if err != nil && !errors.Is(err, ErrChannelBinding) {
			t.Errorf("%s: err = %v, want ErrChannelBinding", tc.name, err)
		}
	}
}

func TestServerCompactMessages(t *testing.T) {
	// curl sends a 32-byte NEGOTIATE and an AUTHENTICATE without Version
	// and MIC; the server must accept both.
	s := testServer(t)
	neg := NegotiateMessage{Flags: FlagOEM | FlagRequestTarget | FlagNTLM | FlagAlwaysSign | FlagExtendedSessionSecurity}
	full, _ := neg.Marshal()
	compact := append(full[:16:16], make([]byte, 16)...)
	h, chal, err := s.Challenge(compact)
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{User: `CORP\alice`, Password: "AlicePass123"}
	a, err := c.Authenticate(nil, chal)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := ParseAuthenticate(a.Message)
	m.HasMIC = false
	m.Flags &^= FlagVersion
	msg, _ := m.Marshal()
	if off := le32(msg[32:]); off != 64 { // DomainName, the first payload field
		t.Fatalf("payload at %d, want a compact message with payload at 64", off)
	}
	if _, err := h.Authenticate(context.Background(), msg, nil); err != nil {
		t.Fatal(err)
	}
}

func TestUserFileErrorsDoNotLeak(t *testing.T) {
	_, err := ParseUserFile(strings.NewReader("CORP:alice:nothex-secret\n"), true)
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("err = %v", err)
	}
	_, err = ParseUserFile(strings.NewReader("justonefield-secret\n"), false)
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("err = %v", err)
	}
	uf, err := ParseUserFile(strings.NewReader("CORP:alice:"+strings.ToUpper("a4f49c406510bdcab6824ee7c30fd852")+"\n"), true)
	if err != nil || uf.Len() != 1 {
		t.Fatal(err)
	}
}

func selfSigned(t testing.TB) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "www.corp.test"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert
}
