package spnego_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/sesame-auth/sesame/internal/lab"
	"github.com/sesame-auth/sesame/kerberos"
	"github.com/sesame-auth/sesame/spnego"
)

// rc4Ticket matches the KDC's log line of a service ticket for
// HTTP/localhost with an RC4-HMAC session key.
var rc4Ticket = regexp.MustCompile(`ses=(DEPRECATED:)?arcfour-hmac\(23\)\}, alice@CORP\.TEST for HTTP/localhost@`)

// TestAcceptSPNEGORC4MIT: in a realm of RC4-HMAC keys only, MIT's SPNEGO
// initiator (python3-gssapi) against our Acceptor. The initiator offers
// NTLMSSP (gss-ntlmssp) first and Kerberos second (gss_set_neg_mechs);
// the Acceptor has Kerberos only and passes over NTLMSSP's optimistic
// token, so the mechListMIC exchange is mandatory: we verify MIT's RFC 4757 MIC token and MIT verifies ours; a
// flipped bit in either fails.
func TestAcceptSPNEGORC4MIT(t *testing.T) {
	testAcceptSPNEGOMICsMIT(t, true)
}

// TestAcceptSPNEGOAESMITSkipsFirstChoice is the same with the lab's AES
// realm and RFC 4121 MIC tokens: MIT's initiator follows the Acceptor's
// choice of its second mechanism only under request-mic.
func TestAcceptSPNEGOAESMITSkipsFirstChoice(t *testing.T) {
	testAcceptSPNEGOMICsMIT(t, false)
}

func testAcceptSPNEGOMICsMIT(t *testing.T, rc4 bool) {
	opts := lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: alicePass}}}
	if rc4 {
		opts.Enctypes = []string{"rc4-hmac"}
	}
	k := lab.StartKDC(t, opts)
	kt, err := kerberos.LoadKeytab(k.ServiceKeytab)
	if err != nil {
		t.Fatal(err)
	}
	acc := &spnego.Acceptor{Kerberos: &kerberos.Acceptor{Keytab: kt}}
	// gss-ntlmssp makes the optimistic NTLM token from NTLM_USER_FILE.
	lab.Require(t, "/etc/gss/mech.d/mech.ntlmssp.conf")
	users := filepath.Join(t.TempDir(), "ntlm-users")
	if err := os.WriteFile(users, []byte("CORP:alice:"+alicePass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(k.Env(), "KRB5CCNAME=FILE:"+k.Kinit(t, "alice", alicePass), "NTLM_USER_FILE="+users, "GSS_USE_PROXY=no")
	args := []string{"HTTP@localhost", "spnego", "--mutual", "--neg-mechs", spnego.OIDNTLMSSP.String() + "," + spnego.OIDKerberos.String()}

	// run drives one negotiation; tamperOurs and tamperMIT may change the
	// tokens on the way. It returns the Acceptor's error, or MIT's
	// ERROR line, and the mechListMICs seen each way.
	run := func(t *testing.T, tamperOurs, tamperMIT func([]byte) []byte) (accErr error, mitErr string, ours, mits []byte) {
		p, tok := startMIT(t, env, args...)
		init, err := spnego.ParseNegTokenInit(tok)
		if err != nil {
			t.Fatal(err)
		}
		if len(init.MechTypes) < 2 || !init.MechTypes[0].Equal(spnego.OIDNTLMSSP) {
			t.Fatalf("MIT offers %v", init.MechTypes)
		}
		ac := acc.NewContext(nil)
		mitComplete := false
		for leg := 0; leg < 6; leg++ {
			if r, err := spnego.ParseNegTokenResp(tok); err == nil && len(r.MechListMIC) > 0 {
				mits = r.MechListMIC
			}
			if tamperMIT != nil {
				tok = tamperMIT(tok)
			}
			out, done, err := ac.Step(context.Background(), tok)
			if err != nil {
				return err, "", ours, mits
			}
			if r, err := spnego.ParseNegTokenResp(out); err == nil && len(r.MechListMIC) > 0 {
				ours = r.MechListMIC
			}
			if tamperOurs != nil {
				out = tamperOurs(out)
			}
			if mitComplete || (done && len(out) == 0) {
				if !done {
					t.Fatal("MIT initiator complete, the Acceptor not")
				}
				if ac.Kerberos() == nil || ac.Kerberos().Principal != "alice@CORP.TEST" {
					t.Fatalf("identity %+v", ac.Kerberos())
				}
				return nil, "", ours, mits
			}
			kind, next := p.step(out)
			switch kind {
			case "COMPLETE":
				// MIT's last token (its mechListMIC) goes to the
				// Acceptor, whose answer MIT no longer reads.
				mitComplete, tok = true, next
			case "TOKEN":
				tok = next
			default:
				return nil, string(next), ours, mits
			}
		}
		t.Fatal("too many legs")
		return
	}
	flip := func(tok []byte) []byte {
		r, err := spnego.ParseNegTokenResp(tok)
		if err != nil || len(r.MechListMIC) == 0 {
			return tok
		}
		r.MechListMIC[len(r.MechListMIC)-1] ^= 1
		b, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	t.Run("both MICs", func(t *testing.T) {
		accErr, mitErr, ours, mits := run(t, nil, nil)
		if accErr != nil || mitErr != "" {
			t.Fatalf("acceptor %v, MIT %s", accErr, mitErr)
		}
		for who, m := range map[string][]byte{"ours": ours, "MIT's": mits} {
			switch {
			case rc4 && (len(m) != 37 || m[13] != 1 || m[14] != 1 || m[15] != 0x11 || m[16] != 0):
				t.Errorf("%s mechListMIC %x is no RC4-HMAC MIC token", who, m)
			case !rc4 && (len(m) < 16 || m[0] != 4 || m[1] != 4):
				t.Errorf("%s mechListMIC %x is no RFC 4121 MIC token", who, m)
			}
		}
	})
	t.Run("our MIC tampered", func(t *testing.T) {
		accErr, mitErr, _, _ := run(t, flip, nil)
		if accErr != nil || mitErr == "" {
			t.Fatalf("acceptor %v, MIT %q; want MIT to fail", accErr, mitErr)
		}
		t.Logf("MIT initiator: %s", mitErr)
	})
	t.Run("MIT's MIC tampered", func(t *testing.T) {
		accErr, _, _, _ := run(t, nil, flip)
		if !errors.Is(accErr, spnego.ErrMechListMIC) || !errors.Is(accErr, kerberos.ErrBadMIC) {
			t.Fatalf("acceptor: %v, want ErrMechListMIC and kerberos.ErrBadMIC", accErr)
		}
	})
	if rc4 != rc4Ticket.MatchString(k.Log()) {
		t.Errorf("RC4 realm %v, but RC4 session key in the KDC's log %v:\n%s", rc4, !rc4, k.Log())
	}
}
