package kerberos

import (
	"context"
	"errors"
	"os"
	"testing"
)

func TestMatchUser(t *testing.T) {
	for _, tc := range []struct {
		user, principal string
		want            bool
	}{
		{"alice", "alice@CORP.TEST", true},
		{"ALICE", "alice@CORP.TEST", true},
		{"alice@CORP.TEST", "alice@CORP.TEST", true},
		{"alice@corp.test", "alice@CORP.TEST", true},
		{`CORP\alice`, "alice@CORP.TEST", true},
		{`corp\Alice`, "alice@CORP.TEST", true},
		{`CORP.TEST\alice`, "alice@CORP.TEST", true},
		{`CORP\alice`, "alice@CORP.EXAMPLE.COM", true},
		{`CORP\bob`, "alice@CORP.TEST", false},
		{"bob@CORP.TEST", "alice@CORP.TEST", false},
		{"alice@OTHER.TEST", "alice@CORP.TEST", false},
		{`OTHER\alice`, "alice@CORP.TEST", false},
		{`CO\alice`, "alice@CORP.TEST", false},
		{"alice@CORP", "alice@CORP.TEST", false}, // '@' names a realm, not a NetBIOS domain
		{"alice", "alice/admin@CORP.TEST", false},
		{"", "alice@CORP.TEST", false},
		{`CORP\`, "alice@CORP.TEST", false},
	} {
		if got := MatchUser(tc.user, tc.principal); got != tc.want {
			t.Errorf("MatchUser(%q, %q) = %v, want %v", tc.user, tc.principal, got, tc.want)
		}
	}
}

func TestUserPrincipal(t *testing.T) {
	cfg, err := ParseConfig([]byte("[libdefaults]\n default_realm = CORP.TEST\n[realms]\n CORP.TEST = {\n  kdc = 127.0.0.1:88\n }\n EMEA.EXAMPLE.COM = {\n  kdc = 127.0.0.1:89\n }\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user, want string
		configured bool
	}{
		{"bob", "bob@CORP.TEST", true},
		{`CORP\bob`, "bob@CORP.TEST", true},
		{`emea\bob`, "bob@EMEA.EXAMPLE.COM", true},
		{"bob@corp.test", "bob@CORP.TEST", true},
		{"bob@emea.example.com", "bob@EMEA.EXAMPLE.COM", true},
		{`OTHER\bob`, "bob@CORP.TEST", false},
		{"bob@other.test", "bob@OTHER.TEST", false},
	} {
		got, configured := UserPrincipal(tc.user, cfg)
		if got != tc.want || configured != tc.configured {
			t.Errorf("UserPrincipal(%q) = %q, %v; want %q, %v", tc.user, got, configured, tc.want, tc.configured)
		}
	}
}

// A Client pinned to a principal uses the cache only while it holds that
// principal: bob's cache serves bob, never alice, also when kinit puts
// bob's ticket where alice's was.
func TestNewFromCCacheAsPinsPrincipal(t *testing.T) {
	k, cfg := startKDC(t)
	cc := k.Kinit(t, "bob", "BobPass456")
	if p, err := CCachePrincipal(cc); err != nil || p != "bob@CORP.TEST" {
		t.Fatalf("CCachePrincipal = %q, %v", p, err)
	}
	alice, err := NewFromCCacheAs("FILE:"+cc, "alice@CORP.TEST", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p := alice.Principal(); p != "alice@CORP.TEST" {
		t.Errorf("Principal() = %q", p)
	}
	if _, err := alice.InitContext(context.Background(), "HTTP/localhost", ContextOptions{}); !errors.Is(err, ErrWrongPrincipal) || !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("alice's client with bob's cache: err %v, want ErrWrongPrincipal", err)
	}
	bob, err := NewFromCCacheAs("FILE:"+cc, "BOB@corp.test", cfg)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := bob.InitContext(context.Background(), "HTTP/localhost", ContextOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ap := acceptAPReq(t, k, sc.Token()); ap.Ticket.DecryptedEncPart.CName.PrincipalNameString() != "bob" {
		t.Errorf("ticket for %v", ap.Ticket.DecryptedEncPart.CName)
	}
	// alice's cache in place of bob's, as kinit alice would leave it: the
	// pinned bob client refuses it.
	if err := os.Rename(k.Kinit(t, "alice", alicePass), cc); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.InitContext(context.Background(), "HTTP/127.0.0.1", ContextOptions{}); !errors.Is(err, ErrWrongPrincipal) {
		t.Fatalf("bob's client after kinit alice: err %v, want ErrWrongPrincipal", err)
	}
}
