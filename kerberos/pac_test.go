package kerberos

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPACSynthetic(t *testing.T) {
	kt, key := testKeytab(t)
	now := time.Now().UTC().Truncate(time.Second)
	a := &Acceptor{Keytab: kt}
	r, err := a.Accept(context.Background(), syntheticToken(t, key, withPAC(t, buildPAC(t, key, "alice", now)), now, now), nil)
	if err != nil || !r.PAC {
		t.Fatalf("good PAC: %v", err)
	}
	for name, mutate := range map[string]func([]byte){
		"server signature": func(p []byte) { p[len(p)-16-16+5] ^= 1 }, // inside the server signature
		"client name":      func(p []byte) { p[8+16*3+10] ^= 1 },
	} {
		p := buildPAC(t, key, "alice", now)
		mutate(p)
		_, err := a.Accept(context.Background(), syntheticToken(t, key, withPAC(t, p), now, now), nil)
		if !errors.Is(err, ErrBadPAC) {
			t.Errorf("%s tampered: %v, want ErrBadPAC", name, err)
		}
	}
	// A PAC for someone else, correctly signed, is refused too.
	_, err = a.Accept(context.Background(), syntheticToken(t, key, withPAC(t, buildPAC(t, key, "bob", now)), now, now), nil)
	if !errors.Is(err, ErrBadPAC) {
		t.Errorf("PAC of bob in alice's ticket: %v", err)
	}
}

// TestPACTamperedMIT flips a byte of the server signature in the PAC of a
// real MIT KDC ticket, re-encrypts the ticket with the keytab key and
// sends it with a fresh authenticator: ErrBadPAC.
func TestPACTamperedMIT(t *testing.T) {
	k, cfg := startKDC(t)
	a := acceptorFor(t, k)
	x := ownToken(t, k, cfg, "HTTP/localhost", ContextOptions{})
	tok := tamperPAC(t, a, x.Token(), func(p *pacData) {
		_, sig, off, err := p.signature(pacServerChecksum)
		if err != nil {
			t.Fatal(err)
		}
		p.raw[off+len(sig)-1] ^= 0x01
	})
	if _, err := a.Accept(context.Background(), tok, nil); !errors.Is(err, ErrBadPAC) {
		t.Fatalf("tampered MIT PAC: %v, want ErrBadPAC", err)
	}
	// The untampered re-encryption passes: the test changes only the PAC.
	if _, err := a.Accept(context.Background(), tamperPAC(t, a, x.Token(), func(*pacData) {}), nil); err != nil {
		t.Fatalf("re-encrypted ticket: %v", err)
	}
}

// tamperPAC decrypts the ticket of tok with the acceptor's keytab, lets
// f modify its PAC in place, re-encrypts it and returns a fresh AP-REQ.
func tamperPAC(t testing.TB, a *Acceptor, tok []byte, f func(*pacData)) []byte {
	t.Helper()
	ap, _, err := parseAPReq(tok)
	if err != nil {
		t.Fatal(err)
	}
	key, err := a.serviceKey(&ap.Ticket)
	if err != nil {
		t.Fatal(err)
	}
	if err := ap.Ticket.Decrypt(key); err != nil {
		t.Fatal(err)
	}
	tp := ap.Ticket.DecryptedEncPart
	raw, err := ticketPAC(&ap.Ticket)
	if err != nil || raw == nil {
		t.Fatalf("no PAC in the ticket: %v", err)
	}
	p, err := parsePAC(append([]byte(nil), raw...))
	if err != nil {
		t.Fatal(err)
	}
	f(p)
	tp.AuthorizationData = withPAC(t, p.raw)
	tkt := sealTicket(t, tp, ap.Ticket.SName, ap.Ticket.Realm, key, ap.Ticket.EncPart.KVNO)
	return apReqToken(t, tkt, tp.Key, tp.CName, tp.CRealm, 0, time.Now())
}
