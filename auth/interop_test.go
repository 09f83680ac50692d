package auth_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/internal/lab"
)

// These tests answer the challenges of a real Apache (mod_auth_basic,
// mod_auth_digest with nonce-count checking) with this package's header
// functions over a plain net/http client: the parts the Transport will
// build on, checked against a server nobody here wrote.

var interopUsers = []lab.BasicUser{{User: "alice", Password: "AlicePass123"}}

// interopClient never uses a proxy from the environment and never waits
// long.
var interopClient = &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 10 * time.Second}

// fetch does GET url with the Authorization value authz ("" for none) and
// returns the response with its body read.
func fetch(t *testing.T, url, authz string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := interopClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp, string(body)
}

func TestInteropApacheBasic(t *testing.T) {
	a := lab.StartApache(t, lab.ApacheOptions{BasicUsers: interopUsers})
	url := a.URL + "/basic/"

	resp, _ := fetch(t, url, "")
	chs, err := auth.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if resp.StatusCode != http.StatusUnauthorized || err != nil || len(chs) != 1 ||
		!strings.EqualFold(chs[0].Scheme, "Basic") || chs[0].Param("realm") != lab.DigestRealm {
		t.Fatalf("GET /basic/: %s, challenges %+v (%v); want 401 with one Basic challenge for %s",
			resp.Status, chs, err, lab.DigestRealm)
	}

	for _, tc := range []struct {
		name, password string
		status         int
	}{
		{"right password", "AlicePass123", http.StatusOK},
		{"wrong password", "AlicePass124", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := auth.BasicCredentials("alice", tc.password)
			if err != nil {
				t.Fatal(err)
			}
			resp, body := fetch(t, url, h)
			if resp.StatusCode != tc.status {
				t.Fatalf("GET /basic/ as alice: %s, want %d\n%s\n%s", resp.Status, tc.status, body, a.ErrorLog())
			}
			if tc.status == http.StatusOK && !strings.Contains(body, "user=alice\n") {
				t.Fatalf("body lacks user=alice:\n%s", body)
			}
		})
	}
}

func TestInteropApacheDigest(t *testing.T) {
	a := lab.StartApache(t, lab.ApacheOptions{BasicUsers: interopUsers})

	// challenge fetches path without credentials and returns the Digest
	// challenge PreferDigest picks.
	challenge := func(t *testing.T, path string) auth.Challenge {
		t.Helper()
		resp, _ := fetch(t, a.URL+path, "")
		chs, err := auth.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
		if resp.StatusCode != http.StatusUnauthorized || err != nil {
			t.Fatalf("GET %s: %s, challenges %q (%v); want 401", path, resp.Status, resp.Header.Values("WWW-Authenticate"), err)
		}
		ch, ok := auth.PreferDigest(chs)
		if !ok || ch.Param("realm") != lab.DigestRealm || ch.Param("nonce") == "" {
			t.Fatalf("GET %s: no usable Digest challenge for %s in %+v", path, lab.DigestRealm, chs)
		}
		return ch
	}
	// authorized requests path with credentials from d for ch and checks
	// the status and the nonce count sent.
	authorized := func(t *testing.T, d *auth.DigestClient, ch auth.Challenge, path string, wantNC string, wantStatus int) {
		t.Helper()
		h, err := d.Authorize(ch, "GET", path, nil)
		if err != nil {
			t.Fatal(err)
		}
		sent, err := auth.ParseChallenges([]string{h})
		if err != nil || sent[0].Param("nc") != wantNC || sent[0].Param("qop") != "auth" {
			t.Fatalf("Authorization %q (%v): want qop=auth nc=%s", h, err, wantNC)
		}
		resp, body := fetch(t, a.URL+path, h)
		if resp.StatusCode != wantStatus {
			t.Fatalf("GET %s with nc=%s: %s, want %d\nAuthorization: %s\n%s\n%s",
				path, wantNC, resp.Status, wantStatus, h, body, a.ErrorLog())
		}
		if wantStatus == http.StatusOK && (!strings.Contains(body, "user=alice\n") || !strings.Contains(body, "auth_type=Digest\n")) {
			t.Fatalf("GET %s: body lacks user=alice / auth_type=Digest:\n%s", path, body)
		}
	}

	t.Run("right password, two requests on one nonce", func(t *testing.T) {
		ch := challenge(t, "/digest/")
		d := &auth.DigestClient{User: "alice", Password: "AlicePass123"}
		authorized(t, d, ch, "/digest/", "00000001", http.StatusOK)
		authorized(t, d, ch, "/digest/", "00000002", http.StatusOK)
	})

	t.Run("query in the uri", func(t *testing.T) {
		ch := challenge(t, "/digest/?a=b&c=%20d")
		d := &auth.DigestClient{User: "alice", Password: "AlicePass123"}
		authorized(t, d, ch, "/digest/?a=b&c=%20d", "00000001", http.StatusOK)
	})

	t.Run("replayed nonce count refused", func(t *testing.T) {
		// Proves the server checks counts, so the 200s above say that
		// ours are right, not merely that they are ignored.
		ch := challenge(t, "/digest/")
		authorized(t, &auth.DigestClient{User: "alice", Password: "AlicePass123"}, ch, "/digest/", "00000001", http.StatusOK)
		authorized(t, &auth.DigestClient{User: "alice", Password: "AlicePass123"}, ch, "/digest/", "00000001", http.StatusUnauthorized)
	})

	t.Run("wrong password", func(t *testing.T) {
		ch := challenge(t, "/digest/")
		d := &auth.DigestClient{User: "alice", Password: "AlicePass124"}
		authorized(t, d, ch, "/digest/", "00000001", http.StatusUnauthorized)
	})

	t.Run("unknown user", func(t *testing.T) {
		ch := challenge(t, "/digest/")
		d := &auth.DigestClient{User: "mallory", Password: "AlicePass123"}
		authorized(t, d, ch, "/digest/", "00000001", http.StatusUnauthorized)
	})
}

// Apache's mod_auth_digest answers a success with Authentication-Info
// (rspauth, qop, nc, cnonce): the raw DigestClient verifies it for alice
// and bob at once; the Transport gets 200s whose header it verified, and
// through a reverse proxy that alters one hex digit of rspauth it
// withholds the response with ErrDigestRspauth.
func TestInteropApacheDigestRspauth(t *testing.T) {
	users := []lab.BasicUser{{User: "alice", Password: "AlicePass123"}, {User: "bob", Password: "BobPass456"}}
	a := lab.StartApache(t, lab.ApacheOptions{BasicUsers: users})

	var wg sync.WaitGroup
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _, err := transportGet(&auth.Transport{Proxy: noProxy}, a.URL+"/digest/")
			if err != nil || resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s: challenge: %v %v", u.User, resp, err)
				return
			}
			chs, _ := auth.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
			ch, ok := auth.PreferDigest(chs)
			if !ok {
				t.Errorf("%s: no Digest challenge in %q", u.User, resp.Header.Values("WWW-Authenticate"))
				return
			}
			d := &auth.DigestClient{User: u.User, Password: u.Password}
			for i := range 3 {
				ans, err := d.Answer(ch, "GET", "/digest/", nil)
				if err != nil {
					t.Error(err)
					return
				}
				req, _ := http.NewRequest("GET", a.URL+"/digest/", nil)
				req.Header.Set("Authorization", ans.Value)
				resp, err := interopClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				info := resp.Header.Values("Authentication-Info")
				if resp.StatusCode != 200 || !strings.Contains(string(body), "user="+u.User+"\n") || len(info) == 0 || !strings.Contains(info[0], "rspauth=") {
					t.Errorf("%s request %d: %s, Authentication-Info %q\n%s", u.User, i, resp.Status, info, body)
					return
				}
				if err := ans.VerifyAuthenticationInfo(info); err != nil {
					t.Errorf("%s request %d: Authentication-Info %q: %v", u.User, i, info, err)
				}
				t.Logf("%s: Authentication-Info: %s", u.User, info[0])
			}
		}()
	}
	wg.Wait()

	for _, u := range users {
		tr := &auth.Transport{Proxy: noProxy, Credentials: []auth.Credential{&auth.Digest{User: u.User, Password: u.Password}}}
		for range 2 {
			resp, body, err := transportGet(tr, a.URL+"/digest/")
			if err != nil || resp.StatusCode != 200 || !strings.Contains(body, "user="+u.User+"\n") || !strings.Contains(resp.Header.Get("Authentication-Info"), "rspauth=") {
				t.Fatalf("Transport %s: %v %v %q", u.User, resp, err, body)
			}
		}
		tr.CloseIdleConnections()
	}

	var altered atomic.Int64
	bad := tamperingProxy(t, a.URL, &altered)
	tr := &auth.Transport{Proxy: noProxy, Credentials: []auth.Credential{&auth.Digest{User: "alice", Password: "AlicePass123"}}}
	defer tr.CloseIdleConnections()
	resp, body, err := transportGet(tr, bad+"/digest/")
	if !errors.Is(err, auth.ErrDigestRspauth) || resp != nil || altered.Load() != 1 {
		t.Fatalf("through the tampering proxy: %v, %v %q, %d altered; want ErrDigestRspauth and no response", err, resp, body, altered.Load())
	}
}
