//go:build linux

package kerberos

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// TestAcceptADDCPAC verifies tickets of a real Active Directory (Samba AD
// DC): alice's PAC lists the group webusers, bob's does not, and a PAC
// whose server signature was altered is refused.
func TestAcceptADDCPAC(t *testing.T) {
	dc := lab.StartADDC(t)
	cfg, err := LoadConfig(dc.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	kt, err := LoadKeytab(dc.HTTPKeytab)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := dc.Command(ctx, "wbinfo", "--name-to-sid", dc.Domain+`\`+lab.ADDCGroup).CombinedOutput()
	if err != nil {
		t.Fatalf("wbinfo --name-to-sid: %v\n%s", err, out)
	}
	groupSID := strings.Fields(string(out))[0]

	spn := "HTTP/" + dc.FQDN + "@" + dc.Realm
	a := &Acceptor{Keytab: kt, Principal: spn}
	token := func(u lab.ADUser) []byte {
		c, err := NewWithPassword(u.Name, u.Password, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		x, err := c.InitContext(ctx, spn, ContextOptions{})
		if err != nil {
			t.Fatalf("%s: %v\n%s", u.Name, err, dc.Logs())
		}
		return x.Token()
	}
	for _, u := range []lab.ADUser{lab.ADDCAlice, lab.ADDCBob} {
		r, err := a.Accept(ctx, token(u), nil)
		if err != nil {
			t.Fatalf("%s: %v", u.Name, err)
		}
		if !r.PAC || !strings.HasPrefix(r.UserSID, "S-1-5-21-") || !strings.EqualFold(r.LogonDomain, dc.Domain) {
			t.Errorf("%s: PAC %v user SID %q logon domain %q", u.Name, r.PAC, r.UserSID, r.LogonDomain)
		}
		if got := contains(r.GroupSIDs, groupSID); got != u.InGroup {
			t.Errorf("%s: webusers (%s) in groups %v: %v, want %v", u.Name, groupSID, r.GroupSIDs, got, u.InGroup)
		}
		if !contains(r.GroupSIDs, strings.TrimSuffix(r.UserSID, r.UserSID[strings.LastIndex(r.UserSID, "-"):])+"-513") {
			t.Errorf("%s: no Domain Users (513) in %v", u.Name, r.GroupSIDs)
		}
		t.Logf("%s: user %s groups %v", r.Principal, r.UserSID, r.GroupSIDs)
	}

	tampered := tamperPAC(t, a, token(lab.ADDCAlice), func(p *pacData) {
		_, sig, off, err := p.signature(pacServerChecksum)
		if err != nil {
			t.Fatal(err)
		}
		p.raw[off+len(sig)/2] ^= 0x80
	})
	if _, err := a.Accept(ctx, tampered, nil); !errors.Is(err, ErrBadPAC) {
		t.Fatalf("tampered AD PAC: %v, want ErrBadPAC", err)
	}
	// Adding a group to the logon info without re-signing fails too.
	grown := tamperPAC(t, a, token(lab.ADDCBob), func(p *pacData) {
		b, ok := p.buf(pacLogonInfo)
		if !ok {
			t.Fatal("no logon info")
		}
		b[len(b)-1] ^= 0x01
	})
	if _, err := a.Accept(ctx, grown, nil); !errors.Is(err, ErrBadPAC) {
		t.Fatalf("altered logon info: %v, want ErrBadPAC", err)
	}
}
