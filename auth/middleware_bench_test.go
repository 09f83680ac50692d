package auth_test

import (
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/ntlm"
)

// BenchmarkMiddlewareNTLMv2 is a whole NTLMv2 logon through the
// Middleware per op: NEGOTIATE answered with a CHALLENGE, AUTHENTICATE
// verified (NTProofStr, key exchange, MIC) and the handler called with
// the User. The client's work is done outside the timer, so ops/s is
// "NTLMv2 verifications per second" of one core with -cpu 1.
func BenchmarkMiddlewareNTLMv2(b *testing.B) {
	m := &auth.Middleware{NTLM: ntlmServer(b), Logger: discardLogger()}
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	c := &ntlm.Client{User: `CORP\alice`, NTHash: ntlm.NTHash(alicePass), Workstation: "WS"}
	neg, _ := c.Negotiate()
	leg1 := "NTLM " + base64.StdEncoding.EncodeToString(neg)
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	ctx := m.ConnContext(context.Background(), c1)
	req := func(authz string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
		r.Header.Set("Authorization", authz)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	b.ReportAllocs()
	for b.Loop() {
		w := req(leg1)
		b.StopTimer()
		chal, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(w.Header().Get("WWW-Authenticate"), "NTLM "))
		a, err := c.Authenticate(neg, chal)
		if err != nil {
			b.Fatal(err)
		}
		leg3 := "NTLM " + base64.StdEncoding.EncodeToString(a.Message)
		b.StartTimer()
		if w := req(leg3); w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}
