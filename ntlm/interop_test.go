package ntlm_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
	"github.com/sesame-auth/sesame/ntlm"
)

// These tests run sesame's NTLM code against implementations nobody here
// wrote: Apache + mod_auth_gssapi + gss-ntlmssp as the verifier of our
// client, and curl and python3-requests-ntlm as clients of our acceptor.

func TestInteropClientToApacheGSSNTLMSSP(t *testing.T) {
	ap := lab.StartApache(t, lab.ApacheOptions{NTLMUsers: []lab.NTLMUser{
		{Domain: "CORP", User: "alice", Password: "AlicePass123"},
		{Domain: "CORP", User: "bob", Password: "BobPass456"},
	}})
	for _, tc := range []struct {
		name     string
		client   ntlm.Client
		wantCode int
		wantUser string
	}{
		{"password", ntlm.Client{User: `CORP\alice`, Password: "AlicePass123", Workstation: "SESAMETEST"}, 200, `CORP\alice`},
		{"UPN form", ntlm.Client{User: `bob@CORP`, Password: "BobPass456"}, 200, `CORP\bob`},
		{"separate domain", ntlm.Client{User: "alice", Domain: "CORP", Password: "AlicePass123"}, 200, `CORP\alice`},
		{"NT hash", ntlm.Client{User: `CORP\alice`, NTHash: ntlm.NTHash("AlicePass123")}, 200, `CORP\alice`},
		{"NTLMv2 hash", ntlm.Client{User: `CORP\alice`, NTLMv2Hash: ntlm.NTLMv2Hash(ntlm.NTHash("AlicePass123"), "alice", "CORP")}, 200, `CORP\alice`},
		{"NTLMv2 hash for another domain", ntlm.Client{User: `OTHER\alice`, NTLMv2Hash: ntlm.NTLMv2Hash(ntlm.NTHash("AlicePass123"), "alice", "CORP")}, 401, ""},
		{"wrong password", ntlm.Client{User: `CORP\alice`, Password: "wrong"}, 401, ""},
		{"wrong NT hash", ntlm.Client{User: `CORP\alice`, NTHash: ntlm.NTHash("wrong")}, 401, ""},
		{"unknown user", ntlm.Client{User: `CORP\mallory`, Password: "AlicePass123"}, 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := ntlmGet(t, ap.URL+"/ntlm/", &tc.client)
			if code != tc.wantCode {
				t.Fatalf("status %d, want %d; body %q\nApache error log:\n%s", code, tc.wantCode, body, ap.ErrorLog())
			}
			if tc.wantUser != "" && !strings.Contains(body, "user="+tc.wantUser+"\n") {
				t.Fatalf("body %q does not name %s", body, tc.wantUser)
			}
		})
	}
}

// ntlmGet does the three-leg NTLM exchange on one keep-alive connection,
// as the HTTP transport will, and returns the final status and body.
func ntlmGet(t *testing.T, url string, c *ntlm.Client) (int, string) {
	t.Helper()
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tr := &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) { return conn, nil }, MaxConnsPerHost: 1}
	hc := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	do := func(token []byte) *http.Response {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "NTLM "+base64.StdEncoding.EncodeToString(token))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	neg, err := c.Negotiate()
	if err != nil {
		t.Fatal(err)
	}
	resp := do(neg)
	drain(resp)
	chal := challengeFrom(t, resp, "WWW-Authenticate")
	a, err := c.Authenticate(neg, chal)
	if err != nil {
		t.Fatal(err)
	}
	resp = do(a.Message)
	return resp.StatusCode, drain(resp)
}

func drain(resp *http.Response) string {
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			return sb.String()
		}
	}
}

func challengeFrom(t *testing.T, resp *http.Response, header string) []byte {
	t.Helper()
	if resp.StatusCode != 401 {
		t.Fatalf("NEGOTIATE got status %d, want 401 with a challenge", resp.StatusCode)
	}
	for _, v := range resp.Header.Values(header) {
		if tok, ok := strings.CutPrefix(v, "NTLM "); ok {
			b, err := base64.StdEncoding.DecodeString(tok)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("no NTLM challenge in %v", resp.Header.Values(header))
	return nil
}

// acceptor is a minimal HTTP front for ntlm.Server, enough to test the
// acceptor with real clients: NTLM state lives with the TCP connection.
type acceptor struct {
	srv *ntlm.Server
	// mutate, if set, changes every AUTHENTICATE before verification, to
	// play a man in the middle.
	mutate func(t *testing.T, msg []byte) []byte
	t      *testing.T

	mu     sync.Mutex
	errors []error
}

type connState struct {
	h  *ntlm.ServerHandshake
	id *ntlm.Identity
}

type connKey struct{}

func (a *acceptor) start(t *testing.T) string {
	ts := httptest.NewUnstartedServer(a)
	ts.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, &connState{})
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return ts.URL
}

func (a *acceptor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := r.Context().Value(connKey{}).(*connState)
	if st.id != nil {
		w.Write([]byte("user=" + st.id.Domain + `\` + st.id.User + "\n"))
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "NTLM ")
	msg, err := base64.StdEncoding.DecodeString(tok)
	if !ok || err != nil {
		w.Header().Set("WWW-Authenticate", "NTLM")
		w.WriteHeader(401)
		return
	}
	typ, err := ntlm.PeekType(msg)
	switch {
	case err == nil && typ == ntlm.TypeNegotiate:
		h, chal, err := a.srv.Challenge(msg)
		if err != nil {
			a.fail(err)
			w.WriteHeader(400)
			return
		}
		st.h = h
		w.Header().Set("WWW-Authenticate", "NTLM "+base64.StdEncoding.EncodeToString(chal))
		w.WriteHeader(401)
	case err == nil && typ == ntlm.TypeAuthenticate && st.h != nil:
		if a.mutate != nil {
			msg = a.mutate(a.t, msg)
		}
		id, err := st.h.Authenticate(r.Context(), msg, nil)
		st.h = nil
		if err != nil {
			a.fail(err)
			w.Header().Set("WWW-Authenticate", "NTLM")
			w.WriteHeader(401)
			return
		}
		st.id = id
		w.Write([]byte("user=" + id.Domain + `\` + id.User + "\n"))
	default:
		w.WriteHeader(400)
	}
}

func (a *acceptor) fail(err error) {
	a.mu.Lock()
	a.errors = append(a.errors, err)
	a.mu.Unlock()
}

func (a *acceptor) lastError() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.errors) == 0 {
		return nil
	}
	return a.errors[len(a.errors)-1]
}

func newAcceptor(t *testing.T) *acceptor {
	uf, err := ntlm.ParseUserFile(strings.NewReader("CORP:alice:AlicePass123\nCORP:bob:BobPass456\n"), false)
	if err != nil {
		t.Fatal(err)
	}
	return &acceptor{srv: &ntlm.Server{Store: uf, NetBIOSDomain: "CORP", NetBIOSComputer: "SESAME"}, t: t}
}

// stripMIC removes the MIC field and the Version, shifting the payload, as
// the "drop the MIC" attack (CVE-2019-1040) does. MsvAvFlags still
// announces the MIC: it is inside the NTLMv2 response, which the attacker
// cannot change.
func stripMIC(t *testing.T, msg []byte) []byte {
	m, err := ntlm.ParseAuthenticate(msg)
	if err != nil {
		t.Errorf("strip MIC: %v", err)
		return msg
	}
	if !m.HasMIC {
		t.Errorf("client sent no MIC field; nothing to strip")
	}
	m.HasMIC = false
	m.Flags &^= ntlm.FlagVersion | ntlm.FlagSign | ntlm.FlagSeal | ntlm.FlagKeyExchange
	m.EncryptedRandomSessionKey = nil
	out, err := m.Marshal()
	if err != nil {
		t.Errorf("strip MIC: %v", err)
		return msg
	}
	return out
}

func TestInteropCurlToAcceptor(t *testing.T) {
	lab.Require(t, "curl")
	for _, tc := range []struct {
		name, user string
		wantCode   string
	}{
		{"right password", `CORP\alice:AlicePass123`, "200"},
		{"bob", `CORP\bob:BobPass456`, "200"},
		{"wrong password", `CORP\alice:wrong`, "401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAcceptor(t)
			url := a.start(t)
			out, err := exec.Command("curl", "-sS", "--max-time", "15", "--ntlm", "-u", tc.user,
				"-o", "-", "-w", "\ncode=%{http_code}", url+"/").CombinedOutput()
			if err != nil {
				t.Fatalf("curl: %v\n%s", err, out)
			}
			s := string(out)
			if !strings.HasSuffix(s, "code="+tc.wantCode) {
				t.Fatalf("curl got %q, want code %s; acceptor error: %v", s, tc.wantCode, a.lastError())
			}
			if name, _, _ := strings.Cut(tc.user, ":"); tc.wantCode == "200" && !strings.Contains(s, "user="+name+"\n") {
				t.Fatalf("body %q does not name %s", s, name)
			}
		})
	}
}

func TestInteropRequestsNTLMToAcceptor(t *testing.T) {
	lab.Require(t, "/usr/bin/python3")
	if out, err := exec.Command("/usr/bin/python3", "-c", "import requests_ntlm").CombinedOutput(); err != nil {
		t.Fatalf("python3-requests-ntlm is missing (run scripts/install-test-deps.sh): %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name, user, password string
		stripMIC             bool
		wantStatus           string
		wantErr              error
	}{
		{"right password", `CORP\alice`, "AlicePass123", false, "status=200", nil},
		{"wrong password", `CORP\alice`, "wrong", false, "status=401", ntlm.ErrAuthFailed},
		{"MIC stripped", `CORP\alice`, "AlicePass123", true, "status=401", ntlm.ErrMIC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAcceptor(t)
			if tc.stripMIC {
				a.mutate = stripMIC
			}
			url := a.start(t)
			cmd := exec.Command("/usr/bin/python3", "testdata/requests_ntlm_get.py", url+"/", tc.user)
			cnf, err := filepath.Abs("testdata/openssl-legacy.cnf")
			if err != nil {
				t.Fatal(err)
			}
			cmd.Env = append(os.Environ(), "NTLM_PASSWORD="+tc.password, "OPENSSL_CONF="+cnf)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("requests-ntlm: %v\n%s", err, out)
			}
			s := string(out)
			if !strings.HasPrefix(s, tc.wantStatus) {
				t.Fatalf("got %q, want %s; acceptor error: %v", s, tc.wantStatus, a.lastError())
			}
			if tc.wantErr == nil && !strings.Contains(s, `user=CORP\alice`) {
				t.Fatalf("body %q does not name CORP\\alice", s)
			}
			if tc.wantErr != nil && !errors.Is(a.lastError(), tc.wantErr) {
				t.Fatalf("acceptor error %v, want %v", a.lastError(), tc.wantErr)
			}
		})
	}
}
