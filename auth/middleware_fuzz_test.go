package auth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/ntlm"
	"github.com/sesame-auth/sesame/spnego"
)

func FuzzParseHtpasswd(f *testing.F) {
	f.Add("alice:$2y$05$Q6mzWyce1PFW0Ti7V5P7Aer2ad6jtsON.bzsTMJKCwPysWuFoQ0b2\nbob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
	f.Add("carol:$apr1$abc$defghijklmnopqrstuvwx.\n# comment\n\n")
	f.Add("x:{SHA}!!!\n")
	f.Add("dave:$6$rounds=5000$salt$hash\n:nouser\n")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := auth.ParseHtpasswd(strings.NewReader(s))
		if err != nil {
			for _, line := range strings.Split(s, "\n") {
				user, hash, _ := strings.Cut(strings.TrimSpace(line), ":")
				msg, _, _ := strings.Cut(err.Error(), " (want")
				if len(hash) >= 8 && !strings.Contains(user, hash) && strings.Contains(msg, hash) {
					t.Fatalf("error quotes a hash: %v", err)
				}
			}
			return
		}
		_, _ = h.VerifyBasic(context.Background(), "alice", "pw")
	})
}

func FuzzParseHTDigest(f *testing.F) {
	f.Add("alice:realm:c8466401ec593a7952a86b0a170e368b\n")
	f.Add("bob:r:" + strings.Repeat("ab", 32) + "\nbob:r:" + strings.Repeat("cd", 16) + "\n")
	f.Add("a:b:c:d\n#x\n")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := auth.ParseHTDigest(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, alg := range h.Algorithms() {
			_, _ = h.DigestHA1(context.Background(), "alice", "realm", alg)
			_, _ = h.DigestUserByHash(context.Background(), "00", "realm", alg)
		}
	})
}

func FuzzParseDigestCredentials(f *testing.F) {
	f.Add(`username="alice", realm="r", nonce="n", uri="/", response="0123", qop=auth, nc=00000001, cnonce="c", algorithm=SHA-256`)
	f.Add(`username*=UTF-8''J%C3%A4s, realm="r", nonce="n", uri="/", response="x", qop=auth, nc=1, cnonce="c"`)
	f.Add(`username="a", username="b"`)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := auth.ParseDigestCredentials(s)
		if err == nil && c.User == "" {
			t.Fatal("accepted without a user")
		}
	})
}

func FuzzParseBasicCredentials(f *testing.F) {
	f.Add("YWxpY2U6cHc=")
	f.Add("Og==")
	f.Add("!!")
	f.Fuzz(func(t *testing.T, s string) {
		u, _, err := auth.ParseBasicCredentials(s)
		if err == nil && u == "" {
			t.Fatal("accepted an empty user")
		}
	})
}

// FuzzMiddlewareAuthorization sends arbitrary Authorization headers, in
// two legs on one connection, through a Middleware with every scheme.
func FuzzMiddlewareAuthorization(f *testing.F) {
	hf, err := auth.ParseHtpasswd(strings.NewReader("alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"))
	if err != nil {
		f.Fatal(err)
	}
	hd, err := auth.ParseHTDigest(strings.NewReader("alice:r:c8466401ec593a7952a86b0a170e368b\n"))
	if err != nil {
		f.Fatal(err)
	}
	uf, _ := ntlm.ParseUserFile(strings.NewReader("CORP:alice:pw\n"), false)
	m := &auth.Middleware{NTLM: &ntlm.Server{Store: uf}, Negotiate: &spnego.Acceptor{NTLM: &ntlm.Server{Store: uf}}, Basic: hf, Digest: &auth.DigestVerifier{Store: hd, Realm: "r"},
		Logger: discardLogger()}
	h := m.Wrap(whoami)
	f.Add("NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==", "NTLM TlRMTVNTUAADAAAA")
	f.Add("Basic YWxpY2U6cHc=", "Digest username=alice")
	f.Add("Digest username=\"alice\", realm=\"r\", nonce=\"AAAA\", uri=\"/\", response=\"00\", qop=auth, nc=00000001, cnonce=x", "Negotiate YIIB")
	f.Fuzz(func(t *testing.T, leg1, leg2 string) {
		c1, c2 := net.Pipe()
		defer c1.Close()
		defer c2.Close()
		ctx := m.ConnContext(context.Background(), c1)
		for _, v := range []string{leg1, leg2} {
			r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
			r.Header.Set("Authorization", v)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 && w.Code != 401 {
				t.Fatalf("status %d", w.Code)
			}
		}
		m.ConnState(c1, http.StateClosed)
	})
}

// FuzzSessionOpen opens arbitrary cookie values, and valid ones with a
// byte flipped: none may open but an untouched one.
func FuzzSessionOpen(f *testing.F) {
	key := make([]byte, 32)
	s := &auth.SessionCookies{Keys: [][]byte{key}}
	r := httptest.NewRequest("GET", "/", nil)
	c, err := s.Issue(r, &auth.User{Name: "alice", Principal: "alice"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(c.Value, -1)
	f.Add(c.Value, 10)
	f.Add("", 0)
	f.Add("AAAA", 1)
	open := func(v string) bool {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: auth.DefaultSessionCookie, Value: v})
		u, err := s.Open(r)
		return err == nil && u != nil
	}
	f.Fuzz(func(t *testing.T, v string, flip int) {
		if !open(v) || flip < 0 || flip >= len(v) {
			return
		}
		b := []byte(v)
		b[flip] ^= 0x01
		d1, err1 := base64.RawURLEncoding.DecodeString(v)
		d2, err2 := base64.RawURLEncoding.DecodeString(string(b))
		if err1 == nil && err2 == nil && bytes.Equal(d1, d2) {
			return // base64's unused trailing bits: the same bytes
		}
		if open(string(b)) {
			t.Fatalf("opened a modified cookie %q", b)
		}
	})
}

func FuzzParseSessionKeys(f *testing.F) {
	f.Add(strings.Repeat("ab", 32) + "\n# old\n" + strings.Repeat("cd", 32) + "\n")
	f.Add("xyz\n")
	f.Fuzz(func(t *testing.T, s string) {
		keys, err := auth.ParseSessionKeys(strings.NewReader(s))
		for _, k := range keys {
			if err == nil && len(k) != 32 {
				t.Fatalf("key of %d bytes", len(k))
			}
		}
	})
}
