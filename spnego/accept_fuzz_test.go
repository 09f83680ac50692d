package spnego

import (
	"bytes"
	"context"
	"encoding/asn1"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/sesame-auth/sesame/kerberos"
	"github.com/sesame-auth/sesame/ntlm"
)

// FuzzAcceptContext feeds arbitrary tokens, split on a separator into up
// to three legs, to an AcceptContext with both mechanisms: none may panic
// or authenticate anyone.
// go test ./spnego -run '^$' -fuzz FuzzAcceptContext -fuzztime 30s
func FuzzAcceptContext(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	neg, _ := (&ntlm.Client{User: "alice", Domain: "CORP", Password: "x"}).Negotiate()
	init, _ := (&NegTokenInit{MechTypes: []asn1.ObjectIdentifier{OIDNTLMSSP}, MechToken: neg}).Marshal()
	f.Add(init)
	f.Add(append(append(init, "|SEP|"...), 0xa1, 0x03, 0x30, 0x01, 0x00))
	kt := keytab.New()
	if err := kt.AddEntry("HTTP/localhost", "CORP.TEST", "pw", time.Now(), 1, 18); err != nil {
		f.Fatal(err)
	}
	uf, err := ntlm.ParseUserFile(strings.NewReader("CORP:alice:AlicePass123\n"), false)
	if err != nil {
		f.Fatal(err)
	}
	acc := &Acceptor{Kerberos: &kerberos.Acceptor{Keytab: kt}, NTLM: &ntlm.Server{Store: uf}}
	f.Fuzz(func(t *testing.T, b []byte) {
		ac := acc.NewContext([]byte("tls-server-end-point:x"))
		for i, leg := range bytes.SplitN(b, []byte("|SEP|"), 3) {
			_, done, err := ac.Step(context.Background(), leg)
			if done {
				t.Fatalf("leg %d authenticated someone", i)
			}
			if err != nil {
				return
			}
		}
	})
}
