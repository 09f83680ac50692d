package proxy

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sesame-auth/sesame/auth"
)

// Limits of NTLM-to-Basic mode.
const (
	// maxClientTransports bounds the per-user transports.
	maxClientTransports = 256
	// A (user, password) pair the upstream refused is not tried upstream
	// again for refusedWindow, and a user with maxRefusedPerUser refused
	// passwords in that window gets no upstream attempt for a new one
	// either: the upstream's account lockout (AD: a handful of failures)
	// must not be reachable by a client guessing at sesame's speed.
	refusedWindow     = 15 * time.Minute
	maxRefusedPerUser = 3
	// maxRefusedUsers bounds the users whose refusals are remembered.
	maxRefusedUsers = 4096
)

// ClientCredentials turns the account a client names in Basic
// Proxy-Authorization (cntlm's NTLMToBasic: "DOMAIN\user:password") into
// the credentials sesame answers the upstream with.
type ClientCredentials func(user, password string) []auth.Credential

// clientTransports keeps one Transport per client account, so that each
// user's authenticated upstream connections stay theirs, and remembers
// the passwords the upstream refused.
type clientTransports struct {
	mu      sync.Mutex
	mac     []byte // random key for password fingerprints
	byKey   map[string]*auth.Transport
	order   []string
	refused map[string]map[string]time.Time // user -> password fingerprint -> when refused
}

// transportFor chooses the Transport for a request on route: one
// without credentials for DIRECT in NTLM-to-Basic mode and for an
// upstream that is not on the credential allow-list, the client's own
// (NTLM-to-Basic), or the Server's. ok is false when the client must
// authenticate first; the 407 has been written then.
//
// Only Proxy-Authorization is the client's account for sesame:
// Authorization belongs to the origin and passes to it untouched (a web
// page can set it, and a user's intranet password must not go to the
// proxy).
func (s *Server) transportFor(w http.ResponseWriter, r *http.Request, route *url.URL) (tr *auth.Transport, ok bool) {
	if route != nil && len(s.CredentialUpstreams) > 0 && !slices.Contains(s.CredentialUpstreams, route.Host) {
		return s.plain, true
	}
	if s.FromClient != nil {
		if route == nil {
			return s.plain, true
		}
		user, password, has := proxyBasicAuth(r)
		if !has || user == "" {
			askClientForBasic(w)
			return nil, false
		}
		tr, ok := s.clientTransport(user, password)
		if !ok {
			askClientForBasicWhy(w, "the upstream proxy refused this user and password (or too many of this user's passwords lately); sesame does not try it again for a while, so that the account does not lock")
			return nil, false
		}
		return tr, true
	}
	return s.Transport, true
}

// proxyBasicAuth reads Basic credentials from Proxy-Authorization.
func proxyBasicAuth(r *http.Request) (user, password string, ok bool) {
	scheme, token, found := strings.Cut(r.Header.Get("Proxy-Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil {
		return "", "", false
	}
	user, password, ok = strings.Cut(string(b), ":")
	return user, password, ok
}

func askClientForBasic(w http.ResponseWriter) {
	askClientForBasicWhy(w, "give your DOMAIN\\user and password (they are used for the upstream proxy)")
}

func askClientForBasicWhy(w http.ResponseWriter, why string) {
	w.Header().Set("Proxy-Authenticate", `Basic realm="sesame (DOMAIN\user and password for the upstream proxy)", charset="UTF-8"`)
	http.Error(w, "sesame: "+why, http.StatusProxyAuthRequired)
}

// fingerprint identifies a password in memory without keeping a plain
// hash of it: an HMAC under a key of this process.
func (c *clientTransports) fingerprint(user, password string) string {
	if c.mac == nil {
		c.mac = make([]byte, 32)
		rand.Read(c.mac)
	}
	m := hmac.New(sha256.New, c.mac)
	m.Write([]byte(user))
	m.Write([]byte{0})
	m.Write([]byte(password))
	return string(m.Sum(nil))
}

// clientTransport returns the Transport for a client's account; ok is
// false when the upstream refused that password lately, or refused too
// many of the user's passwords: the client is then answered without
// asking the upstream.
func (s *Server) clientTransport(user, password string) (*auth.Transport, bool) {
	c := &s.clients
	c.mu.Lock()
	defer c.mu.Unlock()
	fp := c.fingerprint(user, password)
	key := user + "\x00" + fp
	now := time.Now()
	refused := c.refusedLocked(user, now)
	if _, ok := refused[fp]; ok {
		return nil, false
	}
	if tr, ok := c.byKey[key]; ok {
		return tr, true
	}
	if len(refused) >= maxRefusedPerUser {
		return nil, false
	}
	if c.byKey == nil {
		c.byKey = make(map[string]*auth.Transport)
	}
	if len(c.order) >= maxClientTransports {
		old := c.order[0]
		c.order = c.order[1:]
		if tr := c.byKey[old]; tr != nil {
			tr.CloseIdleConnections()
		}
		delete(c.byKey, old)
	}
	tr := &auth.Transport{ProxyCredentials: s.FromClient(user, password), Logger: s.logger(), Proxy: ContextRoute}
	tr.OnReject = func(r auth.Rejection) {
		if r.Proxy {
			s.clientRefused(user, fp, key, tr, r)
		}
	}
	c.byKey[key] = tr
	c.order = append(c.order, key)
	return tr, true
}

// refusedLocked returns the user's password fingerprints refused within
// refusedWindow, forgetting older ones.
func (c *clientTransports) refusedLocked(user string, now time.Time) map[string]time.Time {
	m := c.refused[user]
	for fp, t := range m {
		if now.Sub(t) > refusedWindow {
			delete(m, fp)
		}
	}
	if len(m) == 0 {
		delete(c.refused, user)
		return nil
	}
	return m
}

// clientRefused records that the upstream refused a client's account:
// its Transport is dropped, and the pair is not tried again for a while.
func (s *Server) clientRefused(user, fp, key string, tr *auth.Transport, r auth.Rejection) {
	c := &s.clients
	c.mu.Lock()
	now := time.Now()
	if c.refused == nil {
		c.refused = make(map[string]map[string]time.Time)
	}
	if len(c.refused) >= maxRefusedUsers {
		for u := range c.refused {
			c.refusedLocked(u, now)
		}
		for u := range c.refused {
			if len(c.refused) < maxRefusedUsers {
				break
			}
			delete(c.refused, u)
		}
	}
	if c.refused[user] == nil {
		c.refused[user] = make(map[string]time.Time)
	}
	c.refused[user][fp] = now
	if c.byKey[key] == tr {
		delete(c.byKey, key)
		c.order = slices.DeleteFunc(c.order, func(k string) bool { return k == key })
	}
	c.mu.Unlock()
	tr.CloseIdleConnections()
	s.logRefusedClient(r, user)
}
