package auth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/kerberos"
	"github.com/sesame-auth/sesame/ntlm"
)

// driveNegotiate runs one Negotiate handshake against url on one
// keep-alive connection, as the Transport would, and returns the final
// status and the handshake's error, if any.
func driveNegotiate(t *testing.T, url string, hs auth.Handshake) (int, error) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	do := func(value string) *http.Response {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if value != "" {
			req.Header.Set("Authorization", value)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	challenge := func(resp *http.Response) *auth.Challenge {
		chs, err := auth.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range chs {
			if strings.EqualFold(chs[i].Scheme, "Negotiate") {
				return &chs[i]
			}
		}
		return nil
	}
	resp := do("")
	for leg := 0; leg < 6; leg++ {
		ch := challenge(resp)
		if resp.StatusCode != http.StatusUnauthorized {
			return resp.StatusCode, hs.Finish(ch)
		}
		if ch == nil {
			t.Fatalf("401 without a Negotiate challenge: %v", resp.Header)
		}
		v, _, err := hs.Next(context.Background(), ch)
		if err != nil {
			return resp.StatusCode, err
		}
		resp = do(v)
	}
	t.Fatal("no result after 6 legs")
	return 0, nil
}

// mechanism returns the handshake's HandshakeInfo answers.
func mechanism(t *testing.T, hs auth.Handshake) (string, string) {
	t.Helper()
	hi, ok := hs.(auth.HandshakeInfo)
	if !ok {
		t.Fatalf("%T does not implement auth.HandshakeInfo", hs)
	}
	return hi.Mechanism(), hi.Principal()
}

// Which failures of Negotiate judged a password (ErrRejected alone) and
// which did not (ErrMechanismUnavailable, so the Transport may go on to
// the next scheme), against Apache's /ntlm/ (Negotiate takes NTLM only)
// and /negotiate/ (Kerberos only), and a real KDC.
func TestNegotiateFailureKinds(t *testing.T) {
	l := startKrbLab(t)
	ctx := context.Background()
	aliceNTLM := func(pw string) *ntlm.Client { return &ntlm.Client{User: "alice", Domain: "CORP", Password: pw} }

	t.Run("ticket the server cannot use", func(t *testing.T) {
		hs, _ := (&auth.Negotiate{Kerberos: l.ccacheClient(t)}).Start(&auth.Target{Host: "127.0.0.1"})
		code, err := driveNegotiate(t, l.apache.URL+"/ntlm/", hs)
		if code != 401 || !errors.Is(err, auth.ErrMechanismUnavailable) {
			t.Fatalf("status %d, err %v; want 401 and ErrMechanismUnavailable", code, err)
		}
		if m, p := mechanism(t, hs); m != "kerberos" || p != "alice@CORP.TEST" {
			t.Errorf("mechanism %q, principal %q", m, p)
		}
	})

	t.Run("NTLM inside SPNEGO after Kerberos", func(t *testing.T) {
		hs, _ := (&auth.Negotiate{Kerberos: l.ccacheClient(t), NTLM: aliceNTLM(alicePass)}).Start(&auth.Target{Host: "127.0.0.1"})
		code, err := driveNegotiate(t, l.apache.URL+"/ntlm/", hs)
		if code != 200 || err != nil {
			t.Fatalf("status %d, err %v\n%s", code, err, l.apache.ErrorLog())
		}
		if m, p := mechanism(t, hs); m != "ntlm" || p != `CORP\alice` {
			t.Errorf("mechanism %q, principal %q", m, p)
		}
	})

	t.Run("wrong NTLM password inside SPNEGO", func(t *testing.T) {
		hs, _ := (&auth.Negotiate{Kerberos: l.ccacheClient(t), NTLM: aliceNTLM("WrongPass")}).Start(&auth.Target{Host: "127.0.0.1"})
		code, err := driveNegotiate(t, l.apache.URL+"/ntlm/", hs)
		if code != 401 || !errors.Is(err, auth.ErrRejected) || errors.Is(err, auth.ErrMechanismUnavailable) {
			t.Fatalf("status %d, err %v; want 401 and ErrRejected only", code, err)
		}
		if m, _ := mechanism(t, hs); m != "ntlm" {
			t.Errorf("mechanism %q", m)
		}
	})

	t.Run("cache of another principal", func(t *testing.T) {
		bob, err := kerberos.NewFromCCacheAs(l.kdc.Kinit(t, "alice", alicePass), "bob@CORP.TEST", l.cfg)
		if err != nil {
			t.Fatal(err)
		}
		hs, _ := (&auth.Negotiate{Kerberos: bob}).Start(&auth.Target{Host: "127.0.0.1"})
		_, _, err = hs.Next(ctx, &auth.Challenge{Scheme: "Negotiate"})
		if !errors.Is(err, auth.ErrMechanismUnavailable) || !errors.Is(err, kerberos.ErrWrongPrincipal) {
			t.Fatalf("err %v; want ErrMechanismUnavailable and ErrWrongPrincipal", err)
		}
	})

	t.Run("service principal the KDC does not know", func(t *testing.T) {
		hs, _ := (&auth.Negotiate{Kerberos: l.ccacheClient(t), SPN: "HTTP/nosuch.corp.test"}).Start(&auth.Target{Host: "127.0.0.1"})
		_, _, err := hs.Next(ctx, &auth.Challenge{Scheme: "Negotiate"})
		if !errors.Is(err, auth.ErrMechanismUnavailable) || !errors.Is(err, kerberos.ErrKDC) {
			t.Fatalf("err %v; want ErrMechanismUnavailable and ErrKDC", err)
		}
	})

	// The KDC refused the password: NTLM inside SPNEGO does not try it
	// on the server too (Active Directory counts both).
	t.Run("password the KDC refused", func(t *testing.T) {
		kc, err := kerberos.NewWithPassword("alice", "WrongPass", l.cfg)
		if err != nil {
			t.Fatal(err)
		}
		hs, _ := (&auth.Negotiate{Kerberos: kc, NTLM: aliceNTLM("WrongPass")}).Start(&auth.Target{Host: "127.0.0.1"})
		_, _, err = hs.Next(ctx, &auth.Challenge{Scheme: "Negotiate"})
		if !errors.Is(err, auth.ErrRejected) || errors.Is(err, auth.ErrMechanismUnavailable) || !errors.Is(err, kerberos.ErrLoginRefused) {
			t.Fatalf("err %v; want ErrRejected (ErrLoginRefused) only", err)
		}
	})
}
