package auth_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/auth"
)

// clock is a settable time for verifiers.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// digestChallenge fetches a 401 on rc and returns its Digest challenge.
func digestChallenge(t *testing.T, rc *rawConn, path string) auth.Challenge {
	t.Helper()
	resp, _ := rc.do(t, path, "")
	chs, err := auth.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if err != nil || resp.StatusCode != 401 || len(chs) == 0 {
		t.Fatalf("challenge: %d %v %v", resp.StatusCode, chs, err)
	}
	return chs[0]
}

// Digest: a request replayed with the same nonce count is refused; the
// next count is accepted; a forged nonce is refused; a right answer over
// an expired nonce gets stale=true, and userhash hides the name.
func TestMiddlewareDigestReplayAndStale(t *testing.T) {
	store, err := auth.LoadHTDigest(htdigestFile(t))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	v := &auth.DigestVerifier{Store: store, Realm: digestRealm, Now: clk.now, UserHash: true}
	srv := startMiddleware(t, &auth.Middleware{Digest: v}, whoami)
	rc := dialRaw(t, srv.URL)
	ch := digestChallenge(t, rc, "/x")
	if ch.Param("userhash") != "true" || ch.Param("algorithm") != "MD5" {
		t.Fatalf("challenge %v", ch.Params)
	}
	dc := &auth.DigestClient{User: "alice", Password: alicePass}
	h1, err := dc.Authorize(ch, "GET", "/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h1, "alice") {
		t.Fatalf("userhash was not used: %s", h1)
	}
	if resp, body := rc.do(t, "/x", h1); resp.StatusCode != 200 || body != "user=alice scheme=Digest verified=htdigest" {
		t.Fatalf("first: %d %q", resp.StatusCode, body)
	}
	if resp, _ := rc.do(t, "/x", h1); resp.StatusCode != 401 {
		t.Fatalf("replay: %d", resp.StatusCode)
	}
	h2, _ := dc.Authorize(ch, "GET", "/x", nil)
	if resp, _ := rc.do(t, "/x", h2); resp.StatusCode != 200 {
		t.Fatalf("next count: %d", resp.StatusCode)
	}
	h3, _ := dc.Authorize(ch, "GET", "/x", nil)
	if resp, _ := rc.do(t, "/other", h3); resp.StatusCode != 401 {
		t.Fatalf("uri of another request: %d", resp.StatusCode)
	}
	forged := ch
	forged.Params = map[string]string{}
	for k, val := range ch.Params {
		forged.Params[k] = val
	}
	forged.Params["nonce"] = strings.Repeat("A", len(ch.Params["nonce"]))
	h4, _ := dc.Authorize(forged, "GET", "/x", nil)
	if resp, _ := rc.do(t, "/x", h4); resp.StatusCode != 401 {
		t.Fatalf("forged nonce: %d", resp.StatusCode)
	}

	clk.add(auth.DefaultNonceLifetime + time.Minute)
	h5, _ := dc.Authorize(ch, "GET", "/x", nil)
	resp, _ := rc.do(t, "/x", h5)
	chs, _ := auth.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if resp.StatusCode != 401 || len(chs) != 1 || !auth.DigestStale(chs[0]) {
		t.Fatalf("expired nonce: %d %v", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	bad := &auth.DigestClient{User: "alice", Password: "wrong"}
	h6, _ := bad.Authorize(ch, "GET", "/x", nil)
	resp, _ = rc.do(t, "/x", h6)
	chs, _ = auth.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if resp.StatusCode != 401 || len(chs) != 1 || auth.DigestStale(chs[0]) {
		t.Fatalf("expired nonce, wrong password: stale must not be set: %v", resp.Header.Values("WWW-Authenticate"))
	}
	h7, _ := dc.Authorize(chs[0], "GET", "/x", nil)
	if resp, _ := rc.do(t, "/x", h7); resp.StatusCode != 200 {
		t.Fatalf("fresh nonce: %d", resp.StatusCode)
	}
}
