package spnego

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/ntlm"
)

func testNTLMServer(t *testing.T) *ntlm.Server {
	t.Helper()
	uf, err := ntlm.ParseUserFile(strings.NewReader("CORP:alice:AlicePass123\n"), false)
	if err != nil {
		t.Fatal(err)
	}
	return &ntlm.Server{Store: uf, NetBIOSDomain: "CORP", NetBIOSComputer: "SESAME", AllowAnonymous: true}
}

// TestNTLMMechanismWithNTLMServer runs the Initiator with NTLMMechanism
// against sesame's own NTLM acceptor, playing SPNEGO's acceptor side by
// hand, and checks both mechListMICs with the server's session security.
func TestNTLMMechanismWithNTLMServer(t *testing.T) {
	srv := testNTLMServer(t)
	mech := alice("AlicePass123")
	ini := &Initiator{Mechs: []Mechanism{mech}}

	first, _ := mustStep(t, ini, nil)
	init, err := ParseNegTokenInit(first)
	if err != nil {
		t.Fatal(err)
	}
	hs, chal, err := srv.Challenge(init.MechToken)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := mustStep(t, ini, resp(t, NegTokenResp{NegState: AcceptIncomplete, SupportedMech: OIDNTLMSSP, ResponseToken: chal}))
	r, err := ParseNegTokenResp(out)
	if err != nil {
		t.Fatal(err)
	}
	id, err := hs.Authenticate(context.Background(), r.ResponseToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	if id.User != "alice" {
		t.Fatalf("identity %+v", id)
	}
	// NTLMv2 with a MIC in AUTHENTICATE: the mechListMIC goes along.
	if len(r.MechListMIC) != 16 {
		t.Fatalf("mechListMIC %x, want 16 bytes", r.MechListMIC)
	}
	sess, err := ntlm.NewSession(id.Flags, id.SessionKey, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Verify(init.RawMechTypes, r.MechListMIC); err != nil {
		t.Fatalf("initiator's mechListMIC: %v", err)
	}
	final := resp(t, NegTokenResp{NegState: AcceptCompleted, MechListMIC: sess.Sign(init.RawMechTypes)})
	if _, done := mustStep(t, ini, final); !done {
		t.Fatal("not done")
	}
	if a := mech.Authentication(); a == nil || a.NTLMVersion != 2 {
		t.Errorf("Authentication %+v", a)
	}
	if s, err := mech.Session(); err != nil || s == nil {
		t.Errorf("Session: %v", err)
	}
}

func TestNTLMMechanismAnonymous(t *testing.T) {
	srv := testNTLMServer(t)
	m := NewNTLMMechanism(&ntlm.Client{})
	neg, done, err := m.Step(nil)
	if err != nil || done {
		t.Fatal(err)
	}
	_, chal, err := srv.Challenge(neg)
	if err != nil {
		t.Fatal(err)
	}
	if _, done, err := m.Step(chal); err != nil || !done {
		t.Fatalf("done %v, %v", done, err)
	}
	if _, err := m.MIC([]byte("x")); !errors.Is(err, ErrMICUnavailable) {
		t.Errorf("MIC: %v, want ErrMICUnavailable", err)
	}
	if err := m.VerifyMIC([]byte("x"), make([]byte, 16)); !errors.Is(err, ErrMICUnavailable) {
		t.Errorf("VerifyMIC: %v, want ErrMICUnavailable", err)
	}
	if m.MICRequired() {
		t.Error("MICRequired for anonymous")
	}
	if _, err := m.Session(); err == nil {
		t.Error("Session for anonymous")
	}
}

func TestNTLMMechanismMisuse(t *testing.T) {
	if _, _, err := (&NTLMMechanism{}).Step(nil); !errors.Is(err, ErrState) {
		t.Errorf("no client: %v", err)
	}
	m := alice("x")
	if _, _, err := m.Step([]byte("challenge first")); !errors.Is(err, ErrState) {
		t.Errorf("token before NEGOTIATE: %v", err)
	}
	m.Step(nil)
	if _, _, err := m.Step(nil); !errors.Is(err, ErrState) {
		t.Errorf("no CHALLENGE: %v", err)
	}
	if _, _, err := m.Step([]byte("not a challenge")); !errors.Is(err, ntlm.ErrMalformed) {
		t.Errorf("bad CHALLENGE: %v", err)
	}
	if _, err := m.MIC(nil); !errors.Is(err, ErrMICUnavailable) {
		t.Errorf("MIC before completion: %v", err)
	}
}
