package spnego

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"testing"
)

// fakeMech is a scripted mechanism: it sends "<oid>-<n>" tokens, is done
// after legs calls of Step, and makes MICs with HMAC-SHA256 under a key
// both "sides" know, so tests can play the acceptor.
type fakeMech struct {
	oid       asn1.ObjectIdentifier
	legs      int
	noMIC     bool
	failStart bool

	steps  int
	inputs [][]byte
}

func (m *fakeMech) OID() asn1.ObjectIdentifier { return m.oid }

func (m *fakeMech) Step(in []byte) ([]byte, bool, error) {
	if m.failStart && m.steps == 0 {
		return nil, false, errors.New("no credentials")
	}
	if m.steps >= m.legs {
		return nil, false, errors.New("fake: stepped after completion")
	}
	m.inputs = append(m.inputs, in)
	m.steps++
	return []byte(fmt.Sprintf("%v-%d", m.oid, m.steps)), m.steps >= m.legs, nil
}

func fakeMAC(side string, data []byte) []byte {
	h := hmac.New(sha256.New, []byte("fake key "+side))
	h.Write(data)
	return h.Sum(nil)
}

func (m *fakeMech) MIC(data []byte) ([]byte, error) {
	if m.noMIC {
		return nil, ErrMICUnavailable
	}
	return fakeMAC("initiator", data), nil
}

func (m *fakeMech) VerifyMIC(data, mic []byte) error {
	if m.noMIC {
		return ErrMICUnavailable
	}
	if !hmac.Equal(mic, fakeMAC("acceptor", data)) {
		return errors.New("fake: bad MIC")
	}
	return nil
}

var oidFakeA = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}

func resp(t *testing.T, r NegTokenResp) []byte {
	t.Helper()
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustStep(t *testing.T, i *Initiator, in []byte) ([]byte, bool) {
	t.Helper()
	out, done, err := i.Step(in)
	if err != nil {
		t.Fatalf("Step: %v", err)
	}
	return out, done
}

func TestInitiatorOptimisticSingleLeg(t *testing.T) {
	// Kerberos-like: one token, done at once; the acceptor completes with
	// no MIC, which is allowed because it took our first choice.
	k := &fakeMech{oid: OIDKerberos, legs: 1}
	n := &fakeMech{oid: OIDNTLMSSP, legs: 2}
	i := &Initiator{Mechs: []Mechanism{k, n}}
	out, done := mustStep(t, i, nil)
	if done {
		t.Fatal("done after the first token")
	}
	init, err := ParseNegTokenInit(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(init.MechTypes) != 2 || !init.MechTypes[0].Equal(OIDKerberos) || !init.MechTypes[1].Equal(OIDNTLMSSP) {
		t.Fatalf("MechTypes %v", init.MechTypes)
	}
	if string(init.MechToken) != OIDKerberos.String()+"-1" {
		t.Fatalf("MechToken %q", init.MechToken)
	}
	out, done = mustStep(t, i, resp(t, NegTokenResp{NegState: AcceptCompleted, SupportedMech: OIDMSKerberos}))
	if !done || out != nil {
		t.Fatalf("done %v out %x", done, out)
	}
	if n.steps != 0 {
		t.Error("NTLM was stepped though not chosen")
	}
	if _, _, err := i.Step(nil); !errors.Is(err, ErrState) {
		t.Errorf("Step after done: %v, want ErrState", err)
	}
}

func TestInitiatorAcceptorChoosesSecond(t *testing.T) {
	k := &fakeMech{oid: OIDKerberos, legs: 1}
	n := &fakeMech{oid: OIDNTLMSSP, legs: 2}
	i := &Initiator{Mechs: []Mechanism{k, n}}
	first, _ := mustStep(t, i, nil)
	init, _ := ParseNegTokenInit(first)
	// Acceptor picks NTLM, which must start from an empty input.
	out, done := mustStep(t, i, resp(t, NegTokenResp{NegState: AcceptIncomplete, SupportedMech: OIDNTLMSSP}))
	if done {
		t.Fatal("done too early")
	}
	r, err := ParseNegTokenResp(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(r.ResponseToken) != OIDNTLMSSP.String()+"-1" || n.inputs[0] != nil || r.MechListMIC != nil {
		t.Fatalf("restart: token %q, input %x, mic %x", r.ResponseToken, n.inputs[0], r.MechListMIC)
	}
	// Second NTLM leg completes the mech: our MIC is mandatory now.
	out, _ = mustStep(t, i, resp(t, NegTokenResp{NegState: AcceptIncomplete, ResponseToken: []byte("challenge")}))
	r, _ = ParseNegTokenResp(out)
	if !bytes.Equal(r.MechListMIC, fakeMAC("initiator", init.RawMechTypes)) {
		t.Fatalf("MIC %x is not over the sent MechTypeList", r.MechListMIC)
	}
	// The acceptor must answer with its MIC: completing without one is a
	// possible downgrade.
	saved := *i
	if _, _, err := i.Step(resp(t, NegTokenResp{NegState: AcceptCompleted})); !errors.Is(err, ErrMechListMIC) {
		t.Fatalf("completion without MIC: %v, want ErrMechListMIC", err)
	}
	*i = saved
	if _, _, err := i.Step(resp(t, NegTokenResp{NegState: AcceptCompleted, MechListMIC: []byte("bad")})); !errors.Is(err, ErrMechListMIC) {
		t.Fatalf("bad MIC: %v, want ErrMechListMIC", err)
	}
	*i = saved
	_, done = mustStep(t, i, resp(t, NegTokenResp{NegState: AcceptCompleted, MechListMIC: fakeMAC("acceptor", init.RawMechTypes)}))
	if !done {
		t.Fatal("not done")
	}
}

func TestInitiatorRequestMIC(t *testing.T) {
	// Acceptor takes our first choice but asks for the MIC anyway, and
	// sends its own first (as a Kerberos acceptor with mutual auth would).
	k := &fakeMech{oid: OIDKerberos, legs: 2}
	i := &Initiator{Mechs: []Mechanism{k}}
	first, _ := mustStep(t, i, nil)
	init, _ := ParseNegTokenInit(first)
	out, _ := mustStep(t, i, resp(t, NegTokenResp{NegState: RequestMIC, SupportedMech: OIDKerberos,
		ResponseToken: []byte("ap-rep"), MechListMIC: fakeMAC("acceptor", init.RawMechTypes)}))
	r, err := ParseNegTokenResp(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.ResponseToken) == 0 || !bytes.Equal(r.MechListMIC, fakeMAC("initiator", init.RawMechTypes)) {
		t.Fatalf("reply %+v", r)
	}
	if _, done := mustStep(t, i, resp(t, NegTokenResp{NegState: AcceptCompleted})); !done {
		t.Fatal("not done")
	}
}

func TestInitiatorNoIntegrity(t *testing.T) {
	// A second-choice mechanism without integrity: no MIC can be
	// exchanged, and RFC 4178 lets the negotiation finish.
	k := &fakeMech{oid: OIDKerberos, legs: 1}
	n := &fakeMech{oid: OIDNTLMSSP, legs: 2, noMIC: true}
	i := &Initiator{Mechs: []Mechanism{k, n}}
	mustStep(t, i, nil)
	mustStep(t, i, resp(t, NegTokenResp{NegState: AcceptIncomplete, SupportedMech: OIDNTLMSSP}))
	out, _ := mustStep(t, i, resp(t, NegTokenResp{NegState: AcceptIncomplete, ResponseToken: []byte("challenge")}))
	if r, _ := ParseNegTokenResp(out); r.MechListMIC != nil {
		t.Fatalf("MIC sent without integrity: %x", r.MechListMIC)
	}
	if _, done := mustStep(t, i, resp(t, NegTokenResp{NegState: AcceptCompleted})); !done {
		t.Fatal("not done")
	}
}

func TestInitiatorFirstMechCannotStart(t *testing.T) {
	k := &fakeMech{oid: OIDKerberos, legs: 1, failStart: true}
	n := &fakeMech{oid: OIDNTLMSSP, legs: 2}
	i := &Initiator{Mechs: []Mechanism{k, n}}
	out, _ := mustStep(t, i, nil)
	init, err := ParseNegTokenInit(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(init.MechTypes) != 1 || !init.MechTypes[0].Equal(OIDNTLMSSP) {
		t.Fatalf("MechTypes %v, want only NTLMSSP", init.MechTypes)
	}

	all := &Initiator{Mechs: []Mechanism{&fakeMech{oid: OIDKerberos, failStart: true}}}
	if _, _, err := all.Step(nil); err == nil {
		t.Fatal("no error when no mechanism starts")
	}
}

func TestInitiatorErrors(t *testing.T) {
	start := func() *Initiator {
		i := &Initiator{Mechs: []Mechanism{&fakeMech{oid: OIDKerberos, legs: 3}, &fakeMech{oid: OIDNTLMSSP, legs: 2}}}
		mustStep(t, i, nil)
		return i
	}
	for _, tc := range []struct {
		name  string
		reply []byte
		want  error
	}{
		{"reject", resp(t, NegTokenResp{NegState: Reject}), ErrRejected},
		{"unoffered mech", resp(t, NegTokenResp{NegState: AcceptIncomplete, SupportedMech: oidFakeA}), ErrUnsupportedMech},
		{"token for unstarted mech", resp(t, NegTokenResp{NegState: AcceptIncomplete, SupportedMech: OIDNTLMSSP, ResponseToken: []byte("x")}), ErrMalformed},
		{"unknown negState", resp(t, NegTokenResp{NegState: 7, SupportedMech: OIDKerberos, ResponseToken: []byte("x")}), ErrMalformed},
		{"raw NTLM", []byte("NTLMSSP\x00\x02\x00\x00\x00"), ErrNotSPNEGO},
		{"garbage", []byte{0xa1, 0x05, 0x30}, ErrMalformed},
		{"empty", nil, ErrState},
		{"completed too early", resp(t, NegTokenResp{NegState: AcceptCompleted, SupportedMech: OIDKerberos}), ErrState},
		{"MIC before completion", resp(t, NegTokenResp{NegState: AcceptIncomplete, SupportedMech: OIDKerberos, ResponseToken: []byte("x"), MechListMIC: []byte("m")}), ErrMechListMIC},
		{"no token, mech incomplete", resp(t, NegTokenResp{NegState: AcceptIncomplete, SupportedMech: OIDKerberos}), ErrState},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i := start()
			if _, _, err := i.Step(tc.reply); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if _, _, err := i.Step(tc.reply); !errors.Is(err, ErrState) {
				t.Fatalf("Step after failure: %v, want ErrState", err)
			}
		})
	}
	if _, _, err := (&Initiator{}).Step(nil); !errors.Is(err, ErrState) {
		t.Errorf("no mechs: %v", err)
	}
	// An unsolicited NegTokenInit2 from the acceptor is accepted as the
	// opening input; anything else is not.
	hint, _ := (&NegTokenInit{MechTypes: []asn1.ObjectIdentifier{OIDNTLMSSP}, NegHints: &NegHints{HintName: "not_defined_in_RFC4178@please_ignore"}}).Marshal()
	if _, _, err := (&Initiator{Mechs: []Mechanism{&fakeMech{oid: OIDNTLMSSP, legs: 2}}}).Step(hint); err != nil {
		t.Errorf("opening NegTokenInit2: %v", err)
	}
	if _, _, err := (&Initiator{Mechs: []Mechanism{&fakeMech{oid: OIDNTLMSSP, legs: 2}}}).Step([]byte{1, 2}); err == nil {
		t.Error("opening garbage accepted")
	}
}
