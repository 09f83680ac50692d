package auth_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/internal/lab"
	"github.com/sesame-auth/sesame/ntlm"
)

// noProxy keeps the environment's proxy settings out of tests.
func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

func do(t *testing.T, tr http.RoundTripper, method, url string, body io.Reader) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

var apacheNTLMUsers = []lab.NTLMUser{{Domain: "CORP", User: "alice", Password: "AlicePass123"}}

// The Transport against Apache's NTLM (stock gss-ntlmssp), Basic and
// Digest: right credentials give 200 as the right user, wrong ones the
// 401, after exactly one attempt.
func TestTransportOriginApache(t *testing.T) {
	ap := lab.StartApache(t, lab.ApacheOptions{NTLMUsers: apacheNTLMUsers, BasicUsers: interopUsers})
	for _, tc := range []struct {
		name, path string
		cred       auth.Credential
		code       int
		user       string
	}{
		{"ntlm", "/ntlm/", &auth.NTLM{Client: ntlm.Client{User: `CORP\alice`, Password: "AlicePass123"}}, 200, `user=CORP\alice`},
		{"ntlm wrong password", "/ntlm/", &auth.NTLM{Client: ntlm.Client{User: `CORP\alice`, Password: "nope"}}, 401, ""},
		{"digest", "/digest/", &auth.Digest{User: "alice", Password: "AlicePass123"}, 200, "user=alice"},
		{"digest wrong password", "/digest/", &auth.Digest{User: "alice", Password: "nope"}, 401, ""},
		{"basic", "/basic/", &auth.Basic{User: "alice", Password: "AlicePass123"}, 200, "user=alice"},
		{"basic wrong password", "/basic/", &auth.Basic{User: "alice", Password: "nope"}, 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &auth.Transport{Proxy: noProxy, Credentials: []auth.Credential{tc.cred}, AllowBasicOverHTTP: true}
			defer tr.CloseIdleConnections()
			for i := 0; i < 3; i++ {
				resp, body := do(t, tr, "GET", ap.URL+tc.path, nil)
				if resp.StatusCode != tc.code || !strings.Contains(body, tc.user) {
					t.Fatalf("request %d: %s, body %q\n%s", i, resp.Status, body, ap.ErrorLog())
				}
			}
			s := tr.PoolStats()
			if tc.code == 200 && s.Dials != 1 {
				t.Errorf("3 requests took %d connections, want 1 (stats %+v)", s.Dials, s)
			}
		})
	}
}

// Basic is never sent to an origin over plain HTTP unless allowed.
func TestTransportNoBasicOverHTTP(t *testing.T) {
	ap := lab.StartApache(t, lab.ApacheOptions{BasicUsers: interopUsers})
	tr := &auth.Transport{Proxy: noProxy, Credentials: []auth.Credential{&auth.Basic{User: "alice", Password: "AlicePass123"}}}
	resp, _ := do(t, tr, "GET", ap.URL+"/basic/", nil)
	if resp.StatusCode != 401 {
		t.Fatalf("status %s, want 401 (Basic withheld over plain HTTP)", resp.Status)
	}
}

// A 10 MB upload through NTLM arrives intact, with a replayable body
// (bytes.Reader, GetBody set) and with a non-replayable one (a pipe): the
// handshake legs carry no body, so the body is sent once.
func TestTransportNTLMLargePOST(t *testing.T) {
	ap := lab.StartApache(t, lab.ApacheOptions{NTLMUsers: apacheNTLMUsers})
	payload, want := testPayload(10<<20, 7)
	for _, replayable := range []bool{true, false} {
		t.Run(fmt.Sprintf("replayable=%v", replayable), func(t *testing.T) {
			// A new Transport each time: it has not seen the server's
			// challenge yet, so the first request meets the 401 (and,
			// without GetBody, asks with Expect: 100-continue first).
			tr := &auth.Transport{Proxy: noProxy, Credentials: []auth.Credential{&auth.NTLM{Client: ntlm.Client{User: `CORP\alice`, Password: "AlicePass123"}}}}
			defer tr.CloseIdleConnections()
			if code, got := upload(t, tr, ap.URL+"/ntlm/sha256.cgi", payload, replayable); code != 200 || !strings.Contains(got, want) {
				t.Fatalf("%d: %q, want %s\n%s", code, got, want, ap.ErrorLog())
			}
		})
	}
}

// testPayload is n deterministic bytes and the "sha256=" line the upload
// CGIs and origins answer with.
func testPayload(n int, seed byte) ([]byte, string) {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i) * seed
	}
	return b, fmt.Sprintf("sha256=%x", sha256.Sum256(b))
}

// upload POSTs payload through tr, as a replayable body (bytes.Reader,
// which sets GetBody) or as one that can be read once (a pipe), and
// returns the response status and body.
func upload(t *testing.T, tr http.RoundTripper, url string, payload []byte, replayable bool) (int, string) {
	t.Helper()
	var body io.Reader = bytes.NewReader(payload)
	if !replayable {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(copyAll(pw, payload)) }()
		body = pr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", url, body)
	req.ContentLength = int64(len(payload))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(got)
}

func copyAll(w io.Writer, b []byte) error { _, err := w.Write(b); return err }

// 100 goroutines × 20 requests on one Transport against NTLM: every
// request succeeds, and no connection authenticates twice.
func TestTransportNTLMConcurrent(t *testing.T) {
	ap := lab.StartApache(t, lab.ApacheOptions{NTLMUsers: apacheNTLMUsers, MaxConnections: 192})
	tr := &auth.Transport{Proxy: noProxy, MaxIdleConnsPerHost: 100,
		Credentials: []auth.Credential{&auth.NTLM{Client: ntlm.Client{User: `CORP\alice`, Password: "AlicePass123"}}}}
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for g := 0; g < 100; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				req, _ := http.NewRequestWithContext(ctx, "GET", ap.URL+"/ntlm/", nil)
				resp, err := tr.RoundTrip(req)
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || !strings.Contains(string(b), `user=CORP\alice`) {
						err = errors.New(resp.Status)
					}
				}
				cancel()
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		access, _ := os.ReadFile(filepath.Join(ap.Dir, "logs", "access.log"))
		t.Logf("access log tail:\n%s", tail(string(access), 30))
		t.Fatalf("%d of 2000 requests failed, e.g. %v\n%s", len(failures), failures[0], ap.ErrorLog())
	}
	t.Logf("pool: %+v", tr.PoolStats())
}

// A large Digest upload to a server the Transport has not met: the body
// waits behind Expect: 100-continue, the 401's nonce is answered once
// (nc=00000001, which Apache checks), and the body arrives intact.
func TestTransportDigestLargeUpload(t *testing.T) {
	ap := lab.StartApache(t, lab.ApacheOptions{BasicUsers: interopUsers})
	payload, want := testPayload(2<<20, 3)
	for _, replayable := range []bool{true, false} {
		tr := &auth.Transport{Proxy: noProxy, Credentials: []auth.Credential{&auth.Digest{User: "alice", Password: "AlicePass123"}}}
		code, got := upload(t, tr, ap.URL+"/digest/sha256.cgi", payload, replayable)
		tr.CloseIdleConnections()
		if code != 200 || !strings.Contains(got, want) {
			t.Fatalf("replayable=%v: %d %q\n%s", replayable, code, got, ap.ErrorLog())
		}
	}
}

func tlsConfig(roots *x509.CertPool) *tls.Config { return &tls.Config{RootCAs: roots} }

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
