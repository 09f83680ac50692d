package kerberos

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"

	"github.com/sesame-auth/sesame/internal/lab"
)

// rc4ServiceTicket matches the KDC's log line of a service ticket for
// HTTP/localhost with an RC4 session key ("DEPRECATED:" since MIT 1.19).
var rc4ServiceTicket = regexp.MustCompile(`ses=(DEPRECATED:)?arcfour-hmac\(23\)\}, alice@CORP\.TEST for HTTP/localhost@`)

// startRC4KDC starts an MIT KDC whose principals have rc4-hmac keys only,
// so that tickets and session keys are RC4-HMAC (encryption type 23).
func startRC4KDC(t *testing.T) (*lab.KDC, *Config) {
	t.Helper()
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: alicePass}}, Enctypes: []string{"rc4-hmac"}})
	cfg, err := LoadConfig(k.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	return k, cfg
}

// TestRC4ContextMIC: with a realm of RC4-HMAC keys only, sesame's
// initiator and acceptor establish a context with an RC4 session key and
// each verifies the other's RFC 4757 MIC token; a changed byte, data or
// a reflected token fails with ErrBadMIC.
func TestRC4ContextMIC(t *testing.T) {
	k, cfg := startRC4KDC(t)
	c, err := NewFromCCache(k.Kinit(t, "alice", alicePass), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	kt, err := LoadKeytab(k.ServiceKeytab)
	if err != nil {
		t.Fatal(err)
	}
	x, err := c.InitContext(context.Background(), "HTTP/localhost", ContextOptions{Mutual: MutualRequired})
	if err != nil {
		t.Fatal(err)
	}
	if x.sessionKey.KeyType != etypeID.RC4_HMAC {
		t.Fatalf("session key etype %d, want RC4-HMAC (23); KDC log:\n%s", x.sessionKey.KeyType, k.Log())
	}
	r, err := (&Acceptor{Keytab: kt}).Accept(context.Background(), x.Token(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.key.KeyType != etypeID.RC4_HMAC || !r.MICAvailable() {
		t.Fatalf("acceptor's context key etype %d, MICAvailable %v", r.key.KeyType, r.MICAvailable())
	}
	if err := x.Step(r.MutualToken); err != nil {
		t.Fatal(err)
	}
	data := []byte("mech list")
	for i := 0; i < 2; i++ { // two tokens each way: the sequence numbers advance
		mic, err := x.MIC(data)
		if err != nil {
			t.Fatal(err)
		}
		if len(mic) != 37 || mic[13] != 0x01 || mic[14] != 0x01 || mic[15] != 0x11 || mic[16] != 0x00 {
			t.Fatalf("initiator's MIC %x: want 37 bytes, TOK_ID 0101, SGN_ALG 1100", mic)
		}
		if err := r.VerifyMIC(data, mic); err != nil {
			t.Fatalf("acceptor verifying the initiator's MIC %d: %v", i, err)
		}
		back, err := r.MIC(data)
		if err != nil {
			t.Fatal(err)
		}
		if err := x.VerifyMIC(data, back); err != nil {
			t.Fatalf("initiator verifying the acceptor's MIC %d: %v", i, err)
		}
		// A token sent back to its maker (reflection) fails on the
		// direction bytes.
		if err := x.VerifyMIC(data, mic); !errors.Is(err, ErrBadMIC) || !strings.Contains(err.Error(), "direction") {
			t.Errorf("reflected initiator MIC: %v", err)
		}
		if err := r.VerifyMIC(data, back); !errors.Is(err, ErrBadMIC) {
			t.Errorf("reflected acceptor MIC: %v", err)
		}
		if err := r.VerifyMIC([]byte("mech lisT"), mic); !errors.Is(err, ErrBadMIC) {
			t.Errorf("other data: %v", err)
		}
		bad := append([]byte(nil), mic...)
		bad[len(bad)-1] ^= 1
		if err := r.VerifyMIC(data, bad); !errors.Is(err, ErrBadMIC) {
			t.Errorf("flipped checksum bit: %v", err)
		}
	}
	if !rc4ServiceTicket.MatchString(k.Log()) {
		t.Errorf("KDC log shows no RC4 session key:\n%s", k.Log())
	}
}

// line reads one line of the peer's output, without decoding it.
func (p *gssPeer) line() string {
	p.t.Helper()
	l, err := p.out.ReadString('\n')
	if err != nil {
		p.t.Fatalf("initiator: %v", err)
	}
	return strings.TrimSpace(l)
}

// TestRC4MICWithMITInitiator: MIT's krb5 initiator (libgssapi through
// python3-gssapi) establishes an RC4-HMAC context with sesame's Acceptor;
// sesame verifies MIT's GSS_GetMIC token and MIT's GSS_VerifyMIC accepts
// sesame's, and refuses it with one bit changed.
func TestRC4MICWithMITInitiator(t *testing.T) {
	k, _ := startRC4KDC(t)
	cc := k.Kinit(t, "alice", alicePass)
	kt, err := LoadKeytab(k.ServiceKeytab)
	if err != nil {
		t.Fatal(err)
	}
	acc := &Acceptor{Keytab: kt}
	data := []byte("sesame RC4-HMAC MIC test")
	for _, tamper := range []bool{false, true} {
		p := startGSSPeer(t, k, cc, "HTTP@localhost", "krb5", nil, "--mutual", "--show-key", "--mic", hex.EncodeToString(data))
		r, err := acc.Accept(context.Background(), p.Token, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.key.KeyType != etypeID.RC4_HMAC {
			t.Fatalf("context key etype %d, want 23", r.key.KeyType)
		}
		if kind, msg := p.Step(r.MutualToken); kind != "COMPLETE" {
			t.Fatalf("MIT initiator on our AP-REP: %s %s", kind, msg)
		}
		keyLine := p.line()
		f := strings.Fields(keyLine)
		if len(f) != 3 || f[0] != "KEY" || f[2] != hex.EncodeToString(r.SessionKey) {
			t.Fatalf("MIT's context key %q, ours %x", keyLine, r.SessionKey)
		}
		kind, mic := p.read()
		if kind != "MIC" {
			t.Fatalf("MIT initiator: %s %s", kind, mic)
		}
		t.Logf("MIT's RC4-HMAC MIC token under key %s: %x", f[2], mic)
		if err := r.VerifyMIC(data, mic); err != nil {
			t.Fatalf("MIT's MIC: %v", err)
		}
		ours, err := r.MIC(data)
		if err != nil {
			t.Fatal(err)
		}
		if tamper {
			ours[len(ours)-3] ^= 0x10
		}
		if _, err := io.WriteString(p.in, base64.StdEncoding.EncodeToString(ours)+"\n"); err != nil {
			t.Fatal(err)
		}
		res := p.line()
		switch {
		case !tamper && res != "VERIFIED":
			t.Fatalf("MIT's GSS_VerifyMIC on our token %x: %s", ours, res)
		case tamper && !strings.HasPrefix(res, "ERROR"):
			t.Fatalf("MIT accepted a MIC with a flipped bit: %s", res)
		case tamper:
			t.Logf("MIT on the flipped bit: %s", res)
		}
	}
}
