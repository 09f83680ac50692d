package sspi

import (
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/kerberos"
)

func TestDescribeTokens(t *testing.T) {
	if got := describeAcceptorToken(nil); got != "no token from the server" {
		t.Errorf("no token: %q", got)
	}
	if got := describeAcceptorToken([]byte("garbage")); !strings.Contains(got, "no Kerberos answer") {
		t.Errorf("garbage: %q", got)
	}
	if got := describeAPReq(kerberos.WrapToken(kerberos.TokIDAPReq, []byte{0x30, 0x00})); !strings.Contains(got, "undecodable") {
		t.Errorf("empty AP-REQ: %q", got)
	}
}

// FuzzDescribeTokens: the failure message's decoders never panic.
func FuzzDescribeTokens(f *testing.F) {
	f.Add([]byte{})
	f.Add(kerberos.WrapToken(kerberos.TokIDAPRep, []byte{0x6f, 0x00}))
	f.Add(kerberos.WrapToken(kerberos.TokIDAPReq, []byte{0x6e, 0x03, 0x30, 0x01, 0x00}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = describeAPReq(b)
		_ = describeAcceptorToken(b)
	})
}
