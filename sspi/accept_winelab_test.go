//go:build windows && winelab

package sspi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/ntlm"
)

// The acceptor tests run under Wine through cmd/sesame's
// TestSSPIAcceptUnderWine: SESAME_LAB_ACCEPT is "shim" when Samba's
// ntlm_auth on PATH checks NTLM responses against a known password (the
// lab's stand-in for winbindd and a domain controller, which Wine's NTLM
// acceptor needs), "plain" with the real ntlm_auth and no winbindd.

func labAccount(t *testing.T) (user, pw, mode string) {
	user, pw, mode = os.Getenv("SESAME_LAB_NTLM_USER"), os.Getenv("SESAME_LAB_NTLM_PASSWORD"), os.Getenv("SESAME_LAB_ACCEPT")
	if user == "" || mode == "" {
		t.Fatal("SESAME_LAB_NTLM_USER/SESAME_LAB_ACCEPT not set: run through cmd/sesame's TestSSPIAcceptUnderWine")
	}
	return user, pw, mode
}

// TestLabAcceptNTLM: a whole logon inside one process, an SSPI client
// against Acceptor, both through Wine's secur32.
func TestLabAcceptNTLM(t *testing.T) {
	user, pw, mode := labAccount(t)
	res, err := acceptOnce(t, NTLM, user, pw)
	switch mode {
	case "shim":
		if err != nil || res == nil || !strings.EqualFold(res.User, user) || res.Mechanism != mechNTLM {
			t.Fatalf("NTLM logon: %+v, %v; want %s over ntlm", res, err, user)
		}
		if _, err := acceptOnce(t, NTLM, user, pw+"-wrong"); !errors.Is(err, ErrLogonDenied) {
			t.Fatalf("NTLM logon with a wrong password: %v, want ErrLogonDenied", err)
		}
	case "plain":
		// Wine's NTLM acceptor runs ntlm_auth --helper-protocol=squid-2.5-ntlmssp,
		// which makes the CHALLENGE itself but asks winbindd to check the
		// response: without winbindd the logon is denied.
		if !errors.Is(err, ErrLogonDenied) {
			t.Fatalf("NTLM logon without winbindd: %+v, %v; want SEC_E_LOGON_DENIED at the second leg", res, err)
		}
	}
}

// TestLabAcceptNegotiate: Wine's Negotiate acceptor wraps the NTLM
// CHALLENGE in SPNEGO but fails the AUTHENTICATE leg
// (SEC_E_INTERNAL_ERROR under Wine 8); this records what it does and
// checks the failure is an error, with the context freed, not a crash.
func TestLabAcceptNegotiate(t *testing.T) {
	user, pw, _ := labAccount(t)
	res, err := acceptOnce(t, Negotiate, user, pw)
	var se *statusError
	switch {
	case err == nil:
		t.Logf("Negotiate accepted: %+v", res)
	case errors.As(err, &se):
		t.Logf("Negotiate refused by Wine: %v", err)
	default:
		t.Fatalf("Negotiate: %v", err)
	}
}

func acceptOnce(t *testing.T, pkg, user, pw string) (*AcceptResult, error) {
	cl, err := NewClientContext(ClientOptions{Package: pkg, User: user, Password: pw, SPN: "HTTP/localhost"})
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	acc := &Acceptor{Package: pkg}
	defer acc.Close()
	ac := acc.NewContext(nil)
	defer ac.Close()
	var in []byte
	for leg := 1; leg <= 3; leg++ {
		out, cdone, err := cl.Step(in)
		t.Logf("%s leg %d: client %d bytes, done=%v, err=%v", pkg, leg, len(out), cdone, err)
		if err != nil {
			return nil, err
		}
		back, done, err := ac.Step(context.Background(), out)
		t.Logf("%s leg %d: acceptor %d bytes, done=%v, err=%v", pkg, leg, len(back), done, err)
		if err != nil {
			return nil, err
		}
		if done {
			return ac.Result(), nil
		}
		in = back
	}
	return nil, errors.New("no result after 3 legs")
}

// TestLabAcceptBuffers: what the acceptor does with tokens no client
// should send, each through Wine's AcceptSecurityContext where it gets
// that far: errors, never a crash, and no context left behind.
func TestLabAcceptBuffers(t *testing.T) {
	ctx := context.Background()
	for _, pkg := range []string{NTLM, Negotiate} {
		acc := &Acceptor{Package: pkg}
		for name, tok := range map[string][]byte{
			"empty":            nil,
			"oversize":         bytes.Repeat([]byte{'A'}, maxToken+1),
			"garbage":          []byte("not a token at all"),
			"ntlm-truncated":   []byte("NTLMSSP\x00\x01\x00"),
			"authenticate-1st": append([]byte("NTLMSSP\x00\x03\x00\x00\x00"), make([]byte, 80)...),
			"spnego-garbage":   {0x60, 0x82, 0xff, 0xff, 0x06, 0x06},
		} {
			c := acc.NewContext(nil)
			out, done, err := c.Step(ctx, tok)
			t.Logf("%s %s: %d bytes, done=%v, err=%v", pkg, name, len(out), done, err)
			if err == nil || done {
				t.Errorf("%s: token %q accepted (done=%v, %d bytes out)", pkg, name, done, len(out))
			}
			if c.ctx.live {
				t.Errorf("%s: context left open after a refused %q", pkg, name)
			}
			c.Close()
			c.Close() // twice is fine
		}
		acc.Close()
	}
}

// TestLabAcceptMiddleware: auth.Middleware with Platform set to an NTLM
// Acceptor, in an HTTP server in this (Windows) process, and sesame's own
// NTLM client (auth.Transport) in front of it: 200 as the user, and a
// wrong password 401. Only with the shim (see above).
func TestLabAcceptMiddleware(t *testing.T) {
	user, pw, mode := labAccount(t)
	if mode != "shim" {
		t.Fatal("TestLabAcceptMiddleware needs SESAME_LAB_ACCEPT=shim")
	}
	m := &auth.Middleware{Platform: &Acceptor{Package: NTLM}}
	srv := httptest.NewUnstartedServer(m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := auth.UserFrom(r.Context())
		fmt.Fprintf(w, "user=%s scheme=%s mech=%s verified=%s\n", u.Principal, u.Scheme, u.Mechanism, u.Verified)
	})))
	m.Install(srv.Config)
	srv.Start()
	defer srv.Close()
	get := func(password string) (int, string) {
		tr := &auth.Transport{Proxy: func(*http.Request) (*url.URL, error) { return nil, nil },
			Credentials: []auth.Credential{&auth.NTLM{Client: ntlm.Client{User: user, Password: password}}}}
		resp, err := (&http.Client{Transport: tr}).Get(srv.URL + "/")
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(pw); code != 200 || !strings.Contains(body, `user=`+user+" scheme=NTLM mech=ntlm verified=windows") {
		t.Fatalf("sesame's NTLM client to Middleware{Platform: SSPI NTLM}: %d %q", code, body)
	}
	if code, body := get(pw + "-wrong"); code != 401 {
		t.Fatalf("wrong password: %d %q, want 401", code, body)
	}
}
