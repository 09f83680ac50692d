package auth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/auth"
)

// digestUsers are the htdigest file's accounts.
var digestUsers = map[string]string{"alice": alicePass, "bob": mwBobPass}

// The Middleware answers a Digest success with Authentication-Info:
// rspauth, qop, nc and cnonce of the request, which the raw DigestClient
// verifies; alice and bob at once, each on a connection of its own,
// several requests on one nonce each, for MD5 and MD5-sess. A 401 carries
// no Authentication-Info.
func TestMiddlewareDigestAuthenticationInfo(t *testing.T) {
	store, err := auth.LoadHTDigest(htdigestFile(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{"MD5", "MD5-sess"} {
		t.Run(alg, func(t *testing.T) {
			v := &auth.DigestVerifier{Store: store, Realm: digestRealm, Algorithms: []string{alg}}
			srv := startMiddleware(t, &auth.Middleware{Digest: v}, whoami)
			var wg sync.WaitGroup
			for user, pass := range digestUsers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rc := dialRaw(t, srv.URL)
					resp, _ := rc.do(t, "/p", "")
					chs, err := auth.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
					if err != nil || resp.StatusCode != 401 || len(chs) != 1 || resp.Header.Get("Authentication-Info") != "" {
						t.Errorf("%s: challenge: %d %v %v %q", user, resp.StatusCode, chs, err, resp.Header.Get("Authentication-Info"))
						return
					}
					d := &auth.DigestClient{User: user, Password: pass}
					for i := range 5 {
						path := fmt.Sprintf("/p/%s/%d?q=%d", user, i, i)
						a, err := d.Answer(chs[0], "GET", path, nil)
						if err != nil {
							t.Error(err)
							return
						}
						resp, body := rc.do(t, path, a.Value)
						info := resp.Header.Values("Authentication-Info")
						if resp.StatusCode != 200 || body != "user="+user+" scheme=Digest verified=htdigest" || len(info) != 1 {
							t.Errorf("%s request %d: %d %q, Authentication-Info %q", user, i, resp.StatusCode, body, info)
							return
						}
						if !regexp.MustCompile(`^rspauth="[0-9a-f]{32}", qop=auth, nc=0000000` + fmt.Sprint(i+1) + `, cnonce="[0-9a-f]{32}"$`).MatchString(info[0]) {
							t.Errorf("%s: Authentication-Info %q", user, info[0])
						}
						if err := a.VerifyAuthenticationInfo(info); err != nil {
							t.Errorf("%s request %d: %v", user, i, err)
						}
						// The other user's answer to the same request
						// does not take this rspauth.
						other := &auth.DigestClient{User: user, Password: pass + "x"}
						if oa, err := other.Answer(chs[0], "GET", path, nil); err != nil || !errors.Is(oa.VerifyAuthenticationInfo(info), auth.ErrDigestRspauth) {
							t.Errorf("%s: another password's answer took the rspauth", user)
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

// tamperingProxy is a reverse proxy to target that alters one hex digit
// of the rspauth in every Authentication-Info it passes on, and counts
// the headers it altered.
func tamperingProxy(t *testing.T, target string, altered *atomic.Int64) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{Proxy: nil}
	rspauth := regexp.MustCompile(`rspauth="?([0-9a-fA-F])`)
	rp.ModifyResponse = func(resp *http.Response) error {
		if v := resp.Header.Get("Authentication-Info"); v != "" {
			m := rspauth.FindStringSubmatchIndex(v)
			if m == nil {
				t.Errorf("Authentication-Info without rspauth: %q", v)
				return nil
			}
			flip := "1"
			if v[m[2]] == '1' {
				flip = "2"
			}
			resp.Header.Set("Authentication-Info", v[:m[2]]+flip+v[m[3]:])
			altered.Add(1)
		}
		return nil
	}
	return startPlain(t, rp)
}

// startPlain serves h on 127.0.0.1 and returns its URL.
func startPlain(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// transportGet does GET url through tr and returns the response, its body
// read, or the error.
func transportGet(tr *auth.Transport, url string) (*http.Response, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// sesame's Transport against the Middleware: alice and bob at once, each
// response carrying an Authentication-Info that the Transport verified
// (it fails the request otherwise, as the tampering proxy shows: one
// altered hex digit and the response is withheld, the error wraps
// ErrDigestRspauth and the credential is not offered to that peer again).
func TestMiddlewareDigestTransportRspauth(t *testing.T) {
	store, err := auth.LoadHTDigest(htdigestFile(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := startMiddleware(t, &auth.Middleware{Digest: &auth.DigestVerifier{Store: store, Realm: digestRealm}}, whoami)
	var wg sync.WaitGroup
	for user, pass := range digestUsers {
		tr := &auth.Transport{Credentials: []auth.Credential{&auth.Digest{User: user, Password: pass}}, Proxy: noProxy}
		defer tr.CloseIdleConnections()
		for g := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 10 {
					resp, body, err := transportGet(tr, fmt.Sprintf("%s/%s/%d/%d", srv.URL, user, g, i))
					if err != nil {
						t.Errorf("%s: %v", user, err)
						return
					}
					if resp.StatusCode != 200 || body != "user="+user+" scheme=Digest verified=htdigest" ||
						!strings.HasPrefix(resp.Header.Get("Authentication-Info"), "rspauth=") {
						t.Errorf("%s: %d %q, Authentication-Info %q", user, resp.StatusCode, body, resp.Header.Get("Authentication-Info"))
					}
				}
			}()
		}
	}
	wg.Wait()

	var altered atomic.Int64
	bad := tamperingProxy(t, srv.URL, &altered)
	var rejected []auth.Rejection
	var mu sync.Mutex
	tr := &auth.Transport{Credentials: []auth.Credential{&auth.Digest{User: "alice", Password: alicePass}}, Proxy: noProxy,
		OnReject: func(r auth.Rejection) { mu.Lock(); rejected = append(rejected, r); mu.Unlock() }}
	defer tr.CloseIdleConnections()
	resp, body, err := transportGet(tr, bad+"/secret")
	if !errors.Is(err, auth.ErrDigestRspauth) || resp != nil {
		t.Fatalf("through the tampering proxy: %v, %v %q; want ErrDigestRspauth and no response", err, resp, body)
	}
	if strings.Contains(err.Error(), alicePass) {
		t.Fatalf("error shows the password: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if altered.Load() != 1 || len(rejected) != 1 || !rejected[0].MutualFailed || rejected[0].Password {
		t.Fatalf("altered %d, rejections %+v", altered.Load(), rejected)
	}
}

// curl --digest and python3-requests' HTTPDigestAuth against the
// Middleware, which now sends Authentication-Info: both still log in, and
// the header curl receives verifies for the request curl sent (read back
// from curl's trace).
func TestMiddlewareDigestInfoCurlPython(t *testing.T) {
	store, err := auth.LoadHTDigest(htdigestFile(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := startMiddleware(t, &auth.Middleware{Digest: &auth.DigestVerifier{Store: store, Realm: digestRealm}}, whoami)

	var wg sync.WaitGroup
	for user, pass := range digestUsers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hdr := filepath.Join(t.TempDir(), "headers")
			out, err := mwRun(t, "curl", "-s", "--max-time", "20", "--digest", "-u", user+":"+pass, "-D", hdr, srv.URL+"/c/"+user)
			if err != nil || out != "user="+user+" scheme=Digest verified=htdigest" {
				t.Errorf("curl %s: %q %v", user, out, err)
				return
			}
			h, _ := os.ReadFile(hdr)
			if !regexp.MustCompile(`(?m)^Authentication-Info: rspauth="[0-9a-f]{32}", qop=auth, nc=00000001, cnonce="[^"]+"\r$`).Match(h) {
				t.Errorf("curl %s: no Authentication-Info in\n%s", user, h)
			}
		}()
	}
	wg.Wait()

	script := `import sys, requests
from requests.auth import HTTPDigestAuth
s = requests.Session()
for i in range(3):
    r = s.get(sys.argv[1] + "/py/%d" % i, auth=HTTPDigestAuth(sys.argv[2], sys.argv[3]), timeout=20)
    print(r.status_code, r.text, "info" if r.headers.get("Authentication-Info", "").startswith("rspauth=") else "noinfo")
`
	for user, pass := range digestUsers {
		out, err := mwRun(t, "/usr/bin/python3", "-c", script, srv.URL, user, pass)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Repeat("200 user="+user+" scheme=Digest verified=htdigest info\n", 3)
		if out != want {
			t.Fatalf("requests %s:\n%s\nwant\n%s", user, out, want)
		}
	}
}
