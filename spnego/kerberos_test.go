package spnego_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/sesame-auth/sesame/internal/lab"
	"github.com/sesame-auth/sesame/kerberos"
	"github.com/sesame-auth/sesame/ntlm"
	"github.com/sesame-auth/sesame/spnego"
)

// TestKerberosMechanism checks the Kerberos mechanism inside the SPNEGO
// initiator against a real KDC: offered first with its optimistic AP-REQ
// when there is a ticket, left out for NTLM when there is none.
func TestKerberosMechanism(t *testing.T) {
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: "AlicePass123"}}})
	cfg, err := kerberos.LoadConfig(k.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	withTicket, err := kerberos.NewFromCCache(k.Kinit(t, "alice", "AlicePass123"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	noTicket, err := kerberos.NewFromCCache(filepath.Join(t.TempDir(), "none"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	nt := &ntlm.Client{User: "alice", Domain: "CORP", Password: "AlicePass123"}

	km := spnego.NewKerberosMechanism(context.Background(), withTicket, "HTTP/localhost", kerberos.ContextOptions{})
	i := &spnego.Initiator{Mechs: []spnego.Mechanism{km, spnego.NewNTLMMechanism(nt)}}
	out, done, err := i.Step(nil)
	if err != nil || done {
		t.Fatal(err)
	}
	init, err := spnego.ParseNegTokenInit(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(init.MechTypes) != 2 || !init.MechTypes[0].Equal(spnego.OIDKerberos) {
		t.Fatalf("mechs %v", init.MechTypes)
	}
	if _, err := kerberos.ParseInitialToken(init.MechToken); err != nil {
		t.Fatalf("optimistic token: %v", err)
	}
	if i.Mech() != spnego.Mechanism(km) || km.SecContext() == nil {
		t.Fatal("Kerberos not chosen")
	}
	if _, err := km.MIC([]byte("x")); !errors.Is(err, spnego.ErrMICUnavailable) {
		t.Errorf("MIC before the AP-REP: %v", err)
	}

	km2 := spnego.NewKerberosMechanism(context.Background(), noTicket, "HTTP/localhost", kerberos.ContextOptions{})
	i2 := &spnego.Initiator{Mechs: []spnego.Mechanism{km2, spnego.NewNTLMMechanism(nt)}}
	out, _, err = i2.Step(nil)
	if err != nil {
		t.Fatal(err)
	}
	init, err = spnego.ParseNegTokenInit(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(init.MechTypes) != 1 || !init.MechTypes[0].Equal(spnego.OIDNTLMSSP) {
		t.Fatalf("without a ticket: mechs %v", init.MechTypes)
	}
	km3 := spnego.NewKerberosMechanism(context.Background(), noTicket, "HTTP/localhost", kerberos.ContextOptions{})
	km3.Microsoft = true
	if !km3.OID().Equal(spnego.OIDMSKerberos) {
		t.Error("Microsoft OID")
	}
	if _, _, err := km3.Step(nil); !errors.Is(err, kerberos.ErrNoCredentials) {
		t.Errorf("no ticket: %v", err)
	}
}
