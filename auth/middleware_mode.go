package auth

import (
	"fmt"
	"net/http"
	"strings"
)

// Mode is how the Middleware treats requests to a path.
type Mode int

const (
	// Required answers requests without valid credentials with 401 and
	// the challenges of every configured scheme.
	Required Mode = iota
	// Optional serves every visitor: anonymous ones get the page with
	// no challenge and no 401, and the handler finds no User. The
	// challenge is offered only on the LoginPath. An identity the
	// visitor already has (a session cookie, or a connection
	// authenticated by NTLM or Negotiate at the login path) is used.
	// Authorization headers sent unprompted outside the login path are
	// ignored: a browser never sends them there.
	Optional
	// Opportunistic is Optional that also accepts an Authorization
	// header a client sends without being asked (requests-kerberos with
	// opportunistic authentication, `curl -u user:pw --basic`), and
	// continues the multi-leg handshake the client started. Anonymous
	// requests still get the page with no challenge; credentials that
	// fail get 401, as the client asked to be judged.
	Opportunistic
	// Off passes requests through untouched: no User, no challenge.
	Off
)

// String names the mode as in configuration.
func (m Mode) String() string {
	switch m {
	case Required:
		return "required"
	case Optional:
		return "optional"
	case Opportunistic:
		return "opportunistic"
	case Off:
		return "off"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode parses "required", "optional", "opportunistic" or "off".
func ParseMode(s string) (Mode, error) {
	for _, m := range []Mode{Required, Optional, Opportunistic, Off} {
		if strings.EqualFold(s, m.String()) {
			return m, nil
		}
	}
	return 0, fmt.Errorf("auth: mode %q: want required, optional, opportunistic or off", s)
}

// PathMode sets the Mode of the paths under Prefix.
type PathMode struct {
	// Prefix is a URL path prefix: "/api/" matches "/api/x"; "/api"
	// matches "/api" and "/api/x" but not "/apix". The longest matching
	// prefix wins.
	Prefix string
	Mode   Mode
}

func (p PathMode) matches(path string) bool {
	if !strings.HasPrefix(path, p.Prefix) {
		return false
	}
	return len(path) == len(p.Prefix) || strings.HasSuffix(p.Prefix, "/") || path[len(p.Prefix)] == '/'
}

// modeFor picks the request's mode: the Mode func, else the longest
// matching PathMode, else DefaultMode.
func (m *Middleware) modeFor(r *http.Request) Mode {
	if m.Mode != nil {
		return m.Mode(r)
	}
	best, mode := -1, m.DefaultMode
	for _, p := range m.Paths {
		if len(p.Prefix) > best && p.matches(r.URL.Path) {
			best, mode = len(p.Prefix), p.Mode
		}
	}
	return mode
}

func (m *Middleware) isLogin(r *http.Request) bool {
	return m.LoginPath != "" && r.URL.Path == m.LoginPath
}

// loginReturn returns the local path the login page should send the
// visitor back to, "" when the request names none or names one that is
// not a path on this server (an open redirect otherwise).
func (m *Middleware) loginReturn(r *http.Request) string {
	param := m.LoginReturnParam
	if param == "" {
		param = "return"
	}
	v := r.URL.Query().Get(param)
	if !strings.HasPrefix(v, "/") || strings.HasPrefix(v, "//") || strings.HasPrefix(v, `/\`) ||
		strings.ContainsAny(v, "\r\n\\") || len(v) > 2048 {
		return ""
	}
	return v
}
