package spnego_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
	"github.com/sesame-auth/sesame/kerberos"
	"github.com/sesame-auth/sesame/ntlm"
	"github.com/sesame-auth/sesame/spnego"
)

// The acceptor tests put spnego.Acceptor in front of: this package's
// Initiator (Kerberos and NTLM mechanisms), MIT's SPNEGO initiator
// (libgssapi through python3-gssapi) with Kerberos and with gss-ntlmssp,
// and curl --negotiate. The KDC is a real MIT KDC.

const alicePass = "AlicePass123"

type krbLab struct {
	k   *lab.KDC
	cfg *kerberos.Config
	cc  string
	acc *spnego.Acceptor
}

func startKrbLab(t *testing.T) *krbLab {
	t.Helper()
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: alicePass}}})
	cfg, err := kerberos.LoadConfig(k.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	kt, err := kerberos.LoadKeytab(k.ServiceKeytab)
	if err != nil {
		t.Fatal(err)
	}
	return &krbLab{k: k, cfg: cfg, cc: k.Kinit(t, "alice", alicePass),
		acc: &spnego.Acceptor{Kerberos: &kerberos.Acceptor{Keytab: kt}, NTLM: ntlmAcceptor(t)}}
}

func ntlmAcceptor(t *testing.T) *ntlm.Server {
	t.Helper()
	uf, err := ntlm.ParseUserFile(strings.NewReader("CORP:alice:"+alicePass+"\n"), false)
	if err != nil {
		t.Fatal(err)
	}
	return &ntlm.Server{Store: uf, NetBIOSDomain: "CORP", NetBIOSComputer: "SESAME"}
}

func (l *krbLab) client(t *testing.T) *kerberos.Client {
	t.Helper()
	c, err := kerberos.NewFromCCache(l.cc, l.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// converse runs an Initiator against an AcceptContext until both are
// done; tamper may change the initiator's tokens.
func converse(t *testing.T, ini *spnego.Initiator, ac *spnego.AcceptContext, tamper func(leg int, tok []byte) []byte) error {
	t.Helper()
	ctx := context.Background()
	tok, done, err := ini.Step(nil)
	if err != nil {
		t.Fatal(err)
	}
	for leg := 0; leg < 6; leg++ {
		if tamper != nil {
			tok = tamper(leg, tok)
		}
		out, adone, err := ac.Step(ctx, tok)
		if err != nil {
			return err
		}
		if len(out) == 0 {
			if adone && done {
				return nil
			}
			return fmt.Errorf("acceptor sent nothing (done %v)", adone)
		}
		tok, done, err = ini.Step(out)
		if err != nil {
			return fmt.Errorf("initiator: %w", err)
		}
		if done {
			if !adone {
				return errors.New("initiator done before the acceptor")
			}
			return nil
		}
	}
	return errors.New("too many legs")
}

func TestAcceptSPNEGOKerberosOwnInitiator(t *testing.T) {
	l := startKrbLab(t)
	km := spnego.NewKerberosMechanism(context.Background(), l.client(t), "HTTP/localhost", kerberos.ContextOptions{})
	ini := &spnego.Initiator{Mechs: []spnego.Mechanism{km, spnego.NewNTLMMechanism(&ntlm.Client{User: "alice", Domain: "CORP", Password: alicePass})}}
	ac := l.acc.NewContext(nil)
	if err := converse(t, ini, ac, nil); err != nil {
		t.Fatal(err)
	}
	if r := ac.Kerberos(); r == nil || r.Principal != "alice@CORP.TEST" || ac.NTLM() != nil {
		t.Fatalf("kerberos %+v ntlm %+v", ac.Kerberos(), ac.NTLM())
	}
	if !km.SecContext().MutualVerified() {
		t.Error("AP-REP not verified by the initiator")
	}
	if _, _, err := ac.Step(context.Background(), []byte{0xa1, 0}); !errors.Is(err, spnego.ErrState) {
		t.Errorf("step after done: %v", err)
	}
}

// TestAcceptSPNEGOSkipsFirstChoice: the acceptor has NTLM only, the
// initiator prefers Kerberos, so NTLM runs and the mechListMIC exchange
// is mandatory both ways.
func TestAcceptSPNEGOSkipsFirstChoice(t *testing.T) {
	l := startKrbLab(t)
	acc := &spnego.Acceptor{NTLM: ntlmAcceptor(t)}
	km := spnego.NewKerberosMechanism(context.Background(), l.client(t), "HTTP/localhost", kerberos.ContextOptions{})
	ini := &spnego.Initiator{Mechs: []spnego.Mechanism{km, spnego.NewNTLMMechanism(&ntlm.Client{User: "alice", Domain: "CORP", Password: alicePass})}}
	ac := acc.NewContext(nil)
	if err := converse(t, ini, ac, nil); err != nil {
		t.Fatal(err)
	}
	if id := ac.NTLM(); id == nil || id.User != "alice" {
		t.Fatalf("identity %+v", id)
	}
	// Without the initiator's MIC (stripped on the way) the acceptor
	// refuses: the list may have been trimmed.
	ini = &spnego.Initiator{Mechs: []spnego.Mechanism{
		spnego.NewKerberosMechanism(context.Background(), l.client(t), "HTTP/localhost", kerberos.ContextOptions{}),
		spnego.NewNTLMMechanism(&ntlm.Client{User: "alice", Domain: "CORP", Password: alicePass})}}
	err := converse(t, ini, acc.NewContext(nil), func(leg int, tok []byte) []byte {
		r, err := spnego.ParseNegTokenResp(tok)
		if err != nil || len(r.MechListMIC) == 0 {
			return tok
		}
		r.MechListMIC[len(r.MechListMIC)-1] ^= 1
		b, _ := r.Marshal()
		return b
	})
	if !errors.Is(err, spnego.ErrMechListMIC) {
		t.Fatalf("tampered initiator MIC: %v", err)
	}
}

func TestAcceptSPNEGONTLMOwnInitiator(t *testing.T) {
	acc := &spnego.Acceptor{NTLM: ntlmAcceptor(t)}
	for _, pw := range []string{alicePass, "wrong"} {
		ini := &spnego.Initiator{Mechs: []spnego.Mechanism{spnego.NewNTLMMechanism(&ntlm.Client{User: "alice", Domain: "CORP", Password: pw})}}
		ac := acc.NewContext(nil)
		err := converse(t, ini, ac, nil)
		if pw == alicePass {
			if err != nil || ac.NTLM() == nil || ac.NTLM().User != "alice" {
				t.Fatalf("right password: %v", err)
			}
		} else if !errors.Is(err, ntlm.ErrAuthFailed) {
			t.Fatalf("wrong password: %v", err)
		}
	}
}

func TestAcceptRawTokens(t *testing.T) {
	l := startKrbLab(t)
	// Raw Kerberos, as some clients send under Negotiate.
	x, err := l.client(t).InitContext(context.Background(), "HTTP/localhost", kerberos.ContextOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ac := l.acc.NewContext(nil)
	out, done, err := ac.Step(context.Background(), x.Token())
	if err != nil || !done {
		t.Fatalf("raw Kerberos: %v", err)
	}
	if err := x.Step(out); err != nil {
		t.Fatalf("AP-REP of the raw exchange: %v", err)
	}
	if ac.Kerberos().Principal != "alice@CORP.TEST" {
		t.Error(ac.Kerberos().Principal)
	}
	// The same AP-REQ again: a replay.
	if _, _, err := l.acc.NewContext(nil).Step(context.Background(), x.Token()); !errors.Is(err, kerberos.ErrReplay) {
		t.Errorf("replayed raw token: %v", err)
	}
	// Raw NTLMSSP.
	c := &ntlm.Client{User: "alice", Domain: "CORP", Password: alicePass}
	neg, err := c.Negotiate()
	if err != nil {
		t.Fatal(err)
	}
	ac = l.acc.NewContext(nil)
	chal, done, err := ac.Step(context.Background(), neg)
	if err != nil || done {
		t.Fatal(err)
	}
	a, err := c.Authenticate(neg, chal)
	if err != nil {
		t.Fatal(err)
	}
	if out, done, err := ac.Step(context.Background(), a.Message); err != nil || !done || out != nil {
		t.Fatalf("raw NTLM: %v %v", err, done)
	}
	if ac.NTLM().User != "alice" {
		t.Error(ac.NTLM().User)
	}
}

// mitPeer runs ../kerberos/testdata/gss_initiator.py.
type mitPeer struct {
	t   *testing.T
	in  io.WriteCloser
	out *bufio.Reader
}

func startMIT(t *testing.T, env []string, args ...string) (*mitPeer, []byte) {
	t.Helper()
	lab.RequirePython(t, "gssapi")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", append([]string{"../kerberos/testdata/gss_initiator.py"}, args...)...)
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	in, _ := cmd.StdinPipe()
	outp, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		_ = cmd.Wait()
		cancel()
		if t.Failed() {
			t.Logf("initiator stderr:\n%s", stderr.String())
		}
	})
	p := &mitPeer{t: t, in: in, out: bufio.NewReader(outp)}
	kind, tok := p.read()
	if kind != "TOKEN" {
		t.Fatalf("MIT initiator: %s %s", kind, tok)
	}
	return p, tok
}

func (p *mitPeer) read() (string, []byte) {
	line, err := p.out.ReadString('\n')
	if err != nil {
		p.t.Fatalf("MIT initiator: %v", err)
	}
	kind, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	if kind == "ERROR" {
		return kind, []byte(rest)
	}
	b, _ := base64.StdEncoding.DecodeString(rest)
	return kind, b
}

func (p *mitPeer) step(tok []byte) (string, []byte) {
	s := "-"
	if len(tok) > 0 {
		s = base64.StdEncoding.EncodeToString(tok)
	}
	io.WriteString(p.in, s+"\n")
	return p.read()
}

// runMIT drives the MIT initiator against ac until both are done.
func runMIT(t *testing.T, p *mitPeer, tok []byte, ac *spnego.AcceptContext) {
	t.Helper()
	for leg := 0; leg < 6; leg++ {
		out, done, err := ac.Step(context.Background(), tok)
		if err != nil {
			t.Fatalf("acceptor, leg %d: %v", leg, err)
		}
		kind, next := p.step(out)
		switch kind {
		case "COMPLETE":
			if len(next) > 0 {
				if _, done, err = ac.Step(context.Background(), next); err != nil {
					t.Fatalf("acceptor, last leg: %v", err)
				}
			}
			if !done {
				t.Fatal("MIT initiator complete, acceptor not")
			}
			return
		case "TOKEN":
			tok = next
		default:
			t.Fatalf("MIT initiator: %s %s", kind, next)
		}
	}
	t.Fatal("too many legs")
}

func TestAcceptSPNEGOKerberosMIT(t *testing.T) {
	l := startKrbLab(t)
	env := append(l.k.Env(), "KRB5CCNAME=FILE:"+l.cc)
	for _, flags := range [][]string{{"--mutual"}, nil, {"--mutual", "--deleg"}} {
		p, tok := startMIT(t, env, append([]string{"HTTP@localhost", "spnego"}, flags...)...)
		ac := l.acc.NewContext(nil)
		runMIT(t, p, tok, ac)
		r := ac.Kerberos()
		if r == nil || r.Principal != "alice@CORP.TEST" {
			t.Fatalf("flags %v: %+v", flags, r)
		}
		if len(flags) == 2 && r.Delegated == nil {
			t.Error("no delegated credentials")
		}
	}
}

func TestAcceptSPNEGONTLMMIT(t *testing.T) {
	lab.Require(t, "/etc/gss/mech.d/mech.ntlmssp.conf")
	env := append(os.Environ(), "GSS_USE_PROXY=no", "KRB5_CONFIG=/dev/null")
	p, tok := startMIT(t, env, "HTTP@localhost", "spnego", "--mutual", "--ntlm", `CORP\alice`, alicePass)
	ac := (&spnego.Acceptor{NTLM: ntlmAcceptor(t)}).NewContext(nil)
	runMIT(t, p, tok, ac)
	if id := ac.NTLM(); id == nil || id.User != "alice" || id.NTLMVersion != 2 {
		t.Fatalf("identity %+v", id)
	}
}

// TestAcceptCurlNegotiate serves a page behind the SPNEGO acceptor and
// fetches it with curl --negotiate after kinit.
func TestAcceptCurlNegotiate(t *testing.T) {
	lab.Require(t, "curl")
	l := startKrbLab(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b64, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Negotiate ")
		tok, err := base64.StdEncoding.DecodeString(b64)
		if !ok || err != nil {
			w.Header().Set("WWW-Authenticate", "Negotiate")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		ac := l.acc.NewContext(nil)
		out, done, err := ac.Step(r.Context(), tok)
		if len(out) > 0 {
			w.Header().Set("WWW-Authenticate", "Negotiate "+base64.StdEncoding.EncodeToString(out))
		}
		if err != nil || !done {
			t.Logf("acceptor: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "hello %s\n", ac.Kerberos().Principal)
	}))
	defer srv.Close()
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "curl", "-sS", "--negotiate", "-u", ":", "--noproxy", "*", "-w", "%{http_code}", url)
	cmd.Env = append(l.k.Env(), "KRB5CCNAME=FILE:"+l.cc)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "hello alice@CORP.TEST") || !strings.HasSuffix(string(out), "200") {
		t.Fatalf("curl: %v\n%s\n%s", err, out, l.k.Log())
	}
}
