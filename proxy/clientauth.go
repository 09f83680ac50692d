package proxy

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/sesame-auth/sesame/auth"
)

// maxClientTransports bounds the per-user transports of NTLM-to-Basic mode.
const maxClientTransports = 256

// ClientCredentials turns the account a client names in Basic
// Proxy-Authorization (cntlm's NTLMToBasic: "DOMAIN\user:password") into
// the credentials sesame answers the upstream with.
type ClientCredentials func(user, password string) []auth.Credential

// clientTransports keeps one Transport per client account, so that each
// user's authenticated upstream connections stay theirs.
type clientTransports struct {
	mu    sync.Mutex
	byKey map[string]*auth.Transport
	order []string
}

// transportFor chooses the Transport for a request on route: the client's
// own (NTLM-to-Basic), one without credentials for an upstream that is not
// on the credential allow-list, or the Server's. ok is false when the
// client must authenticate first; the 407 has been written then.
func (s *Server) transportFor(w http.ResponseWriter, r *http.Request, route *url.URL) (tr *auth.Transport, ok bool) {
	if s.FromClient != nil {
		user, password, has := r.BasicAuth()
		if !has {
			if u, p, found := proxyBasicAuth(r); found {
				user, password, has = u, p, true
			}
		}
		if !has || user == "" {
			askClientForBasic(w)
			return nil, false
		}
		return s.clientTransport(user, password), true
	}
	if route != nil && len(s.CredentialUpstreams) > 0 && !slices.Contains(s.CredentialUpstreams, route.Host) {
		return s.plain, true
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
	w.Header().Set("Proxy-Authenticate", `Basic realm="sesame (DOMAIN\user and password for the upstream proxy)", charset="UTF-8"`)
	http.Error(w, "sesame: give your DOMAIN\\user and password (they are used for the upstream proxy)", http.StatusProxyAuthRequired)
}

func (s *Server) clientTransport(user, password string) *auth.Transport {
	sum := sha256.Sum256([]byte(password))
	key := user + "\x00" + string(sum[:])
	c := &s.clients
	c.mu.Lock()
	defer c.mu.Unlock()
	if tr, ok := c.byKey[key]; ok {
		return tr
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
	tr := &auth.Transport{ProxyCredentials: s.FromClient(user, password), Logger: s.logger()}
	s.route(tr)
	c.byKey[key] = tr
	c.order = append(c.order, key)
	return tr
}
