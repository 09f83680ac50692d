package spnego

import (
	"context"
	"encoding/asn1"
	"errors"
	"regexp"
	"testing"

	"github.com/sesame-auth/sesame/internal/lab"
	"github.com/sesame-auth/sesame/kerberos"
)

// rc4SessionKey matches the KDC's log line of a service ticket for
// HTTP/localhost with an RC4-HMAC session key.
var rc4SessionKey = regexp.MustCompile(`ses=(DEPRECATED:)?arcfour-hmac\(23\)\}, alice@CORP\.TEST for HTTP/localhost@`)

// flipLastMIC changes the last bit of a NegTokenResp's mechListMIC (in a
// Kerberos MIC token, its checksum), if it has one.
func flipLastMIC(t *testing.T, tok []byte) []byte {
	r, err := ParseNegTokenResp(tok)
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

// TestInteropRC4InitiatorToMITAcceptor: in a realm of RC4-HMAC keys only,
// our Initiator against MIT's SPNEGO acceptor (libgssapi_krb5 through
// python3-gssapi, with the service keytab). The initiator lists an
// unknown mechanism first, so the acceptor picks Kerberos second and the
// mechListMIC exchange is mandatory: MIT verifies our RFC 4757 MIC token
// and we verify MIT's; a flipped bit in either fails the negotiation.
func TestInteropRC4InitiatorToMITAcceptor(t *testing.T) {
	lab.RequirePython(t, "gssapi")
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: "AlicePass123"}}, Enctypes: []string{"rc4-hmac"}})
	cfg, err := kerberos.LoadConfig(k.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	cc := k.Kinit(t, "alice", "AlicePass123")
	env := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5_KTNAME=FILE:" + k.ServiceKeytab, "KRB5CCNAME=FILE:" + cc}
	newInitiator := func(t *testing.T) *Initiator {
		c, err := kerberos.NewFromCCache(cc, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		unknown := &fakeMech{oid: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 12}, legs: 1, noMIC: true}
		km := NewKerberosMechanism(context.Background(), c, "HTTP/localhost", kerberos.ContextOptions{})
		return &Initiator{Mechs: []Mechanism{unknown, km}}
	}

	t.Run("both MICs", func(t *testing.T) {
		ini := newInitiator(t)
		var acceptorMIC, ourMIC []byte
		r, err := handshakeWith(t, startAcceptor(t, env...), ini, func(leg int, tok []byte) []byte {
			if resp, err := ParseNegTokenResp(tok); err == nil && len(resp.MechListMIC) > 0 {
				ourMIC = resp.MechListMIC
			}
			return tok
		}, func(leg int, tok []byte) []byte {
			if resp, err := ParseNegTokenResp(tok); err == nil && len(resp.MechListMIC) > 0 {
				acceptorMIC = resp.MechListMIC
			}
			return tok
		})
		if err != nil {
			t.Fatal(err)
		}
		if r.verb != "COMPLETE" || r.name != "alice@CORP.TEST" {
			t.Fatalf("MIT acceptor: %s %s", r.verb, r.rest)
		}
		if !ini.Mech().OID().Equal(OIDKerberos) || !ini.micRequired || !ini.micSent || !ini.micVerified {
			t.Fatalf("mech %v, micRequired %v, micSent %v, micVerified %v", ini.Mech().OID(), ini.micRequired, ini.micSent, ini.micVerified)
		}
		// RFC 4757 GetMIC tokens: framing, TOK_ID 01 01, SGN_ALG 11 00.
		for who, m := range map[string][]byte{"ours": ourMIC, "MIT's": acceptorMIC} {
			if len(m) != 37 || m[13] != 1 || m[14] != 1 || m[15] != 0x11 || m[16] != 0 {
				t.Errorf("%s mechListMIC %x is no RC4-HMAC MIC token", who, m)
			}
		}
		if !rc4SessionKey.MatchString(k.Log()) {
			t.Errorf("no RC4 session key in the KDC's log:\n%s", k.Log())
		}
	})

	t.Run("our MIC tampered", func(t *testing.T) {
		r, err := handshakeWith(t, startAcceptor(t, env...), newInitiator(t), func(leg int, tok []byte) []byte {
			return flipLastMIC(t, tok)
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.verb != "ERROR" {
			t.Fatalf("MIT acceptor: %s %s, want ERROR", r.verb, r.rest)
		}
		t.Logf("MIT acceptor: %s", r.rest)
	})

	t.Run("MIT's MIC tampered", func(t *testing.T) {
		_, err := handshakeWith(t, startAcceptor(t, env...), newInitiator(t), nil, func(leg int, tok []byte) []byte {
			return flipLastMIC(t, tok)
		})
		if !errors.Is(err, ErrMechListMIC) || !errors.Is(err, kerberos.ErrBadMIC) {
			t.Fatalf("err %v, want ErrMechListMIC and kerberos.ErrBadMIC", err)
		}
	})
}
