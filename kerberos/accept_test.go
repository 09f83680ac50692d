package kerberos

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// The acceptor tests use a real MIT KDC (lab.StartKDC) and two
// initiators: this package's SecContext and MIT's libgssapi through
// python3-gssapi.

func acceptorFor(t *testing.T, k *lab.KDC) *Acceptor {
	t.Helper()
	kt, err := LoadKeytab(k.ServiceKeytab)
	if err != nil {
		t.Fatal(err)
	}
	return &Acceptor{Keytab: kt}
}

func ownToken(t *testing.T, k *lab.KDC, cfg *Config, spn string, opts ContextOptions) *SecContext {
	t.Helper()
	cc := k.Kinit(t, "alice", alicePass)
	c, err := NewFromCCache(cc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	x, err := c.InitContext(context.Background(), spn, opts)
	if err != nil {
		t.Fatalf("%v\n%s", err, k.Log())
	}
	return x
}

func TestAcceptOwnInitiatorMutual(t *testing.T) {
	k, cfg := startKDC(t)
	a := acceptorFor(t, k)
	x := ownToken(t, k, cfg, "HTTP/localhost", ContextOptions{})
	r, err := a.Accept(context.Background(), x.Token(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Principal != "alice@CORP.TEST" || r.Name != "alice" || r.Realm != "CORP.TEST" || r.Service != "HTTP/localhost@CORP.TEST" {
		t.Errorf("result %+v", r)
	}
	if r.Flags&FlagMutual == 0 || r.MutualToken == nil {
		t.Fatalf("no AP-REP for a mutual request: flags %#x", r.Flags)
	}
	if time.Until(r.Expires) < time.Hour || len(r.SessionKey) == 0 || r.Delegated != nil {
		t.Errorf("expires %v, key %d bytes, delegated %d bytes", r.Expires, len(r.SessionKey), len(r.Delegated))
	}
	if err := x.Step(r.MutualToken); err != nil {
		t.Fatalf("initiator refuses the AP-REP: %v", err)
	}
	if !x.MutualVerified() || !x.Complete() {
		t.Fatal("context not complete")
	}
	// MIC tokens both ways, as SPNEGO's mechListMIC uses them.
	m, err := x.MIC([]byte("mechlist"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.VerifyMIC([]byte("mechlist"), m); err != nil {
		t.Errorf("initiator MIC: %v", err)
	}
	if err := r.VerifyMIC([]byte("other"), m); err == nil {
		t.Error("MIC over other data verified")
	}
	am, err := r.MIC([]byte("mechlist"))
	if err != nil {
		t.Fatal(err)
	}
	if err := x.VerifyMIC([]byte("mechlist"), am); err != nil {
		t.Errorf("acceptor MIC: %v", err)
	}
	// MIT's minimal PAC (krb5 1.20+): present, signed, no groups.
	if !r.PAC || len(r.GroupSIDs) != 0 {
		t.Errorf("PAC %v groups %v", r.PAC, r.GroupSIDs)
	}
}

func TestAcceptNoMutual(t *testing.T) {
	k, cfg := startKDC(t)
	a := acceptorFor(t, k)
	x := ownToken(t, k, cfg, "HTTP/127.0.0.1", ContextOptions{Mutual: MutualDisabled})
	r, err := a.Accept(context.Background(), x.Token(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.MutualToken != nil || r.Flags&FlagMutual != 0 {
		t.Errorf("AP-REP without a mutual request (flags %#x)", r.Flags)
	}
	if r.Service != "HTTP/127.0.0.1@CORP.TEST" {
		t.Errorf("service %q", r.Service)
	}
}

func TestAcceptReplay(t *testing.T) {
	k, cfg := startKDC(t)
	a := acceptorFor(t, k)
	x := ownToken(t, k, cfg, "HTTP/localhost", ContextOptions{})
	if _, err := a.Accept(context.Background(), x.Token(), nil); err != nil {
		t.Fatal(err)
	}
	_, err := a.Accept(context.Background(), x.Token(), nil)
	if !errors.Is(err, ErrReplay) {
		t.Fatalf("second Accept of one AP-REQ: %v, want ErrReplay", err)
	}
	// A shared cache catches the replay at another Acceptor too.
	shared := &ReplayCache{}
	a1, a2 := acceptorFor(t, k), acceptorFor(t, k)
	a1.Replay, a2.Replay = shared, shared
	y := ownToken(t, k, cfg, "HTTP/localhost", ContextOptions{})
	if _, err := a1.Accept(context.Background(), y.Token(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a2.Accept(context.Background(), y.Token(), nil); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay at a second acceptor with a shared cache: %v", err)
	}
}

func TestAcceptClockSkew(t *testing.T) {
	k, cfg := startKDC(t)
	for _, shift := range []time.Duration{10 * time.Minute, -10 * time.Minute} {
		a := acceptorFor(t, k)
		a.Now = func() time.Time { return time.Now().Add(shift) }
		x := ownToken(t, k, cfg, "HTTP/localhost", ContextOptions{})
		_, err := a.Accept(context.Background(), x.Token(), nil)
		if !errors.Is(err, ErrClockSkew) {
			t.Fatalf("acceptor clock %v off: %v, want ErrClockSkew", shift, err)
		}
		want := "behind"
		if shift < 0 {
			want = "ahead of"
		}
		if !strings.Contains(err.Error(), "10m0s "+want) || !strings.Contains(err.Error(), "limit 5m0s") {
			t.Errorf("message does not say how far: %v", err)
		}
		// Within the limit the same clock passes.
		a.MaxClockSkew = 15 * time.Minute
		if _, err := a.Accept(context.Background(), ownToken(t, k, cfg, "HTTP/localhost", ContextOptions{}).Token(), nil); err != nil {
			t.Errorf("skew %v within a 15m limit: %v", shift, err)
		}
	}
}

func TestAcceptWrongService(t *testing.T) {
	k, cfg := startKDC(t)
	a := acceptorFor(t, k)
	a.Principal = "HTTP/127.0.0.1"
	x := ownToken(t, k, cfg, "HTTP/localhost", ContextOptions{})
	if _, err := a.Accept(context.Background(), x.Token(), nil); !errors.Is(err, ErrWrongService) {
		t.Fatalf("ticket for HTTP/localhost at an HTTP/127.0.0.1 acceptor: %v", err)
	}
	a.Principal = "HTTP/localhost@CORP.TEST"
	if _, err := a.Accept(context.Background(), ownToken(t, k, cfg, "HTTP/localhost", ContextOptions{}).Token(), nil); err != nil {
		t.Fatalf("configured SPN: %v", err)
	}
	// A keytab without the principal.
	b := acceptorFor(t, k)
	kt := *b.Keytab
	kt.Entries = kt.Entries[:0:0]
	for _, e := range b.Keytab.Entries {
		if e.Principal.Components[1] != "localhost" {
			kt.Entries = append(kt.Entries, e)
		}
	}
	b.Keytab = &kt
	_, err := b.Accept(context.Background(), ownToken(t, k, cfg, "HTTP/localhost", ContextOptions{}).Token(), nil)
	if !errors.Is(err, ErrWrongService) || !strings.Contains(err.Error(), "no key for HTTP/localhost@CORP.TEST") {
		t.Fatalf("SPN not in the keytab: %v", err)
	}
	// A keytab from another KDC: the principal is there, the key is not.
	k2, _ := startKDC(t)
	c := acceptorFor(t, k2)
	_, err = c.Accept(context.Background(), ownToken(t, k, cfg, "HTTP/localhost", ContextOptions{}).Token(), nil)
	if !errors.Is(err, ErrBadTicket) && !errors.Is(err, ErrWrongService) {
		t.Fatalf("ticket from another KDC: %v", err)
	}
}

func TestAcceptMITInitiator(t *testing.T) {
	k, _ := startKDC(t)
	cc := k.Kinit(t, "alice", alicePass)
	for _, mutual := range []bool{true, false} {
		var flags []string
		if mutual {
			flags = append(flags, "--mutual")
		}
		p := startGSSPeer(t, k, cc, "HTTP@localhost", "krb5", nil, flags...)
		a := acceptorFor(t, k)
		r, err := a.Accept(context.Background(), p.Token, nil)
		if err != nil {
			t.Fatalf("mutual %v: %v", mutual, err)
		}
		if r.Principal != "alice@CORP.TEST" || !r.PAC {
			t.Errorf("result %+v", r)
		}
		if (r.MutualToken != nil) != mutual {
			t.Fatalf("mutual %v, AP-REP %v", mutual, r.MutualToken != nil)
		}
		if mutual {
			// MIT's initiator verifies the AP-REP.
			if kind, msg := p.Step(r.MutualToken); kind != "COMPLETE" {
				t.Fatalf("MIT initiator on the AP-REP: %s %s", kind, msg)
			}
		} else if kind, _ := p.read(); kind != "COMPLETE" {
			t.Fatalf("MIT initiator: %s", kind)
		}
		if _, err := a.Accept(context.Background(), p.Token, nil); !errors.Is(err, ErrReplay) {
			t.Errorf("MIT token replayed: %v", err)
		}
	}
}

func TestAcceptChannelBindings(t *testing.T) {
	k, _ := startKDC(t)
	cc := k.Kinit(t, "alice", alicePass)
	cb := append([]byte("tls-server-end-point:"), bytes.Repeat([]byte{0xab}, 32)...)
	other := append([]byte("tls-server-end-point:"), bytes.Repeat([]byte{0xcd}, 32)...)
	for _, tc := range []struct {
		name         string
		client, want []byte
		err          error
		bound        bool
	}{
		{"match", cb, cb, nil, true},
		{"mismatch", other, cb, ErrChannelBinding, false},
		{"client none", nil, cb, nil, false},
		{"acceptor none", cb, nil, nil, false},
	} {
		p := startGSSPeer(t, k, cc, "HTTP@localhost", "krb5", tc.client, "--mutual")
		r, err := acceptorFor(t, k).Accept(context.Background(), p.Token, tc.want)
		if !errors.Is(err, tc.err) || (err != nil) != (tc.err != nil) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.err)
		}
		if err == nil && r.ChannelBound != tc.bound {
			t.Errorf("%s: ChannelBound %v", tc.name, r.ChannelBound)
		}
	}
}

func TestAcceptDelegation(t *testing.T) {
	k, cfg := startKDC(t)
	lab.Require(t, "/usr/bin/klist")
	check := func(name string, r *AcceptResult) {
		t.Helper()
		if r.Flags&FlagDeleg == 0 || r.Delegated == nil {
			t.Fatalf("%s: no delegated credentials (flags %#x)", name, r.Flags)
		}
		path := filepath.Join(t.TempDir(), "deleg.ccache")
		if err := os.WriteFile(path, r.Delegated, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("/usr/bin/klist", "-f", "-c", "FILE:"+path)
		cmd.Env = k.Env()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: klist: %v\n%s", name, err, out)
		}
		if !strings.Contains(string(out), "Default principal: alice@CORP.TEST") || !strings.Contains(string(out), "krbtgt/CORP.TEST@CORP.TEST") {
			t.Fatalf("%s: klist of the delegated ccache:\n%s", name, out)
		}
		// The forwarded TGT works: a service ticket from it is accepted.
		c, err := NewFromCCache(path, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		x, err := c.InitContext(context.Background(), "HTTP/127.0.0.1", ContextOptions{})
		if err != nil {
			t.Fatalf("%s: using the delegated TGT: %v", name, err)
		}
		if r2, err := acceptorFor(t, k).Accept(context.Background(), x.Token(), nil); err != nil || r2.Principal != "alice@CORP.TEST" {
			t.Fatalf("%s: ticket from the delegated TGT: %v", name, err)
		}
	}
	x := ownToken(t, k, cfg, "HTTP/localhost", ContextOptions{Delegation: DelegateAlways})
	r, err := acceptorFor(t, k).Accept(context.Background(), x.Token(), nil)
	if err != nil {
		t.Fatal(err)
	}
	check("own initiator", r)

	cc := k.Kinit(t, "alice", alicePass)
	p := startGSSPeer(t, k, cc, "HTTP@localhost", "krb5", nil, "--mutual", "--deleg")
	r, err = acceptorFor(t, k).Accept(context.Background(), p.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	check("MIT initiator", r)
	if kind, msg := p.Step(r.MutualToken); kind != "COMPLETE" {
		t.Fatalf("MIT initiator on the AP-REP: %s %s", kind, msg)
	}

	// Without delegation asked there is nothing.
	x = ownToken(t, k, cfg, "HTTP/localhost", ContextOptions{})
	if r, err := acceptorFor(t, k).Accept(context.Background(), x.Token(), nil); err != nil || r.Delegated != nil {
		t.Fatalf("no delegation: %v, %d bytes", err, len(r.Delegated))
	}
}

func TestVerifyPassword(t *testing.T) {
	k, cfg := startKDC(t)
	a := acceptorFor(t, k)
	a.Principal = "HTTP/localhost"
	r, err := a.VerifyPassword(context.Background(), cfg, "alice", alicePass)
	if err != nil {
		t.Fatalf("right password: %v\n%s", err, k.Log())
	}
	if r.Principal != "alice@CORP.TEST" || r.Service != "HTTP/localhost@CORP.TEST" {
		t.Errorf("result %+v", r)
	}
	if _, err := a.VerifyPassword(context.Background(), cfg, `CORP\alice`, alicePass); err != nil {
		t.Errorf(`CORP\alice: %v`, err)
	}
	_, err = a.VerifyPassword(context.Background(), cfg, "alice@CORP.TEST", "wrong")
	if !errors.Is(err, ErrLoginRefused) {
		t.Fatalf("wrong password: %v", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error quotes the password: %v", err)
	}

	// A second KDC of the same realm that knows alice's password but not
	// the service's key cannot vouch for her.
	fake := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: alicePass}}})
	fcfg, err := LoadConfig(fake.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.VerifyPassword(context.Background(), fcfg, "alice", alicePass)
	if !errors.Is(err, ErrBadTicket) && !errors.Is(err, ErrWrongService) {
		t.Fatalf("fake KDC: %v, want the ticket refused", err)
	}
	t.Logf("fake KDC refused: %v", err)
}

func TestReplayCacheBound(t *testing.T) {
	c := &ReplayCache{MaxEntries: 3}
	now := time.Now()
	keep := 10 * time.Minute
	for i := range 5 {
		ct := now.Add(time.Duration(i) * time.Second)
		if err := c.check(newReplayKey("s", "c", ct, i, nil), ct, now, keep); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 3 {
		t.Fatalf("len %d", c.Len())
	}
	// Dropped entries (ctime +0s, +1s) cannot come back.
	if err := c.check(newReplayKey("s", "c", now, 0, nil), now, now, keep); !errors.Is(err, ErrReplay) {
		t.Errorf("dropped entry replayed: %v", err)
	}
	if err := c.check(newReplayKey("s", "c", now.Add(4*time.Second), 4, nil), now.Add(4*time.Second), now, keep); !errors.Is(err, ErrReplay) {
		t.Errorf("kept entry replayed: %v", err)
	}
	// Entries expire.
	later := now.Add(time.Hour)
	if err := c.check(newReplayKey("s", "c", later, 9, nil), later, later, keep); err != nil || c.Len() != 1 {
		t.Errorf("after expiry: %v, len %d", err, c.Len())
	}
}
