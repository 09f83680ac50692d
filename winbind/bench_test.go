//go:build linux

package winbind

import (
	"context"
	"testing"

	"github.com/sesame-auth/sesame/internal/lab"
	"github.com/sesame-auth/sesame/ntlm"
)

// BenchmarkPassThroughAD measures NTLMv2 logons verified by the Samba AD
// DC through winbind (ntlm_auth pool of 4, account lookups cached), the
// client's work included. ntlm_auth runs through the lab's namespace
// wrapper, which costs only when a helper starts.
func BenchmarkPassThroughAD(b *testing.B) {
	dc := lab.StartADDC(b)
	v := &Verifier{NTLMAuth: "/usr/bin/ntlm_auth", Wbinfo: "/usr/bin/wbinfo", Command: dc.Command}
	defer v.Close()
	s := &ntlm.Server{Store: v, NetBIOSDomain: lab.ADDCDomain}
	c := &ntlm.Client{User: `CORP\alice`, Password: lab.ADDCAlice.Password}
	neg, _ := c.Negotiate()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h, chal, err := s.Challenge(neg)
			if err != nil {
				b.Fatal(err)
			}
			a, err := c.Authenticate(neg, chal)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := h.Authenticate(context.Background(), a.Message, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
