package spnego

import (
	"context"
	"testing"

	"github.com/sesame-auth/sesame/internal/lab"
	"github.com/sesame-auth/sesame/kerberos"
)

// An acceptor that takes only NTLM (gss-ntlmssp behind MIT's SPNEGO, no
// Kerberos key: a server in a realm without trust, or mod_auth_gssapi with
// GssapiAllowedMech ntlmssp) gets a real Kerberos AP-REQ as the optimistic
// token. RFC 4178: it answers supportedMech NTLM (request-mic) without a
// token, the initiator starts NTLM inside SPNEGO (NEGOTIATE, then
// AUTHENTICATE with its mechListMIC over the MechTypeList as sent, Kerberos
// first), and the acceptor's own mechListMIC verifies.
func TestInteropKerberosOptimisticThenNTLM(t *testing.T) {
	requirePeers(t)
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: "AlicePass123"}}})
	cfg, err := kerberos.LoadConfig(k.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kerberos.NewFromCCache("FILE:"+k.Kinit(t, "alice", "AlicePass123"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, viaApache bool) {
		krb := NewKerberosMechanism(context.Background(), kc, "HTTP/127.0.0.1", kerberos.ContextOptions{Mutual: kerberos.MutualRequired})
		ini := &Initiator{Mechs: []Mechanism{krb, alice("AlicePass123")}}
		if viaApache {
			ap := lab.StartApache(t, lab.ApacheOptions{NTLMUsers: []lab.NTLMUser{{Domain: "CORP", User: "alice", Password: "AlicePass123"}}, Krb5Conf: k.Krb5Conf})
			code, body, err := negotiateGet(t, ap.URL+"/ntlm/", ini)
			if err != nil || code != 200 {
				t.Fatalf("status %d, err %v; body %q\nApache error log:\n%s", code, err, body, ap.ErrorLog())
			}
		} else {
			r, err := handshake(t, ini, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.verb != "COMPLETE" || r.name != `CORP\alice` {
				t.Fatalf("acceptor: %s %s", r.verb, r.rest)
			}
		}
		if krb.SecContext() == nil {
			t.Fatal("the Kerberos mechanism did not start: the test needs its optimistic token")
		}
		if !ini.Mech().OID().Equal(OIDNTLMSSP) || !ini.micRequired || !ini.micSent || !ini.micVerified {
			t.Errorf("mech %v, micRequired %v, micSent %v, micVerified %v", ini.Mech().OID(), ini.micRequired, ini.micSent, ini.micVerified)
		}
		if len(ini.offered) != 2 || !ini.offered[0].OID().Equal(OIDKerberos) {
			t.Errorf("offered %v, want Kerberos then NTLM", ini.offeredOIDs())
		}
	}
	t.Run("python acceptor", func(t *testing.T) { run(t, false) })
	t.Run("Apache ntlmssp", func(t *testing.T) { run(t, true) })
}
