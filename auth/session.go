package auth

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// Defaults of SessionCookies.
const (
	DefaultSessionCookie = "sesame_session"
	DefaultSessionMaxAge = 8 * time.Hour
	// maxSessionCookieBytes bounds a cookie value the server opens.
	maxSessionCookieBytes = 4096
	sessionKeyIDBytes     = 4
)

// SessionBinding ties a session cookie to something of the client's
// besides the cookie itself, so that a stolen cookie is not enough.
type SessionBinding int

const (
	// BindNone: the cookie alone is the session.
	BindNone SessionBinding = iota
	// BindClientIP: the cookie is honoured only from the client address
	// it was issued to (useless behind NAT pools or proxies that change
	// address per connection).
	BindClientIP
	// BindTLSClientCertificate: the cookie is honoured only over TLS
	// with the client certificate it was issued with (mutual TLS).
	//
	// TLS has no session identity that survives a new connection in
	// TLS 1.3: ConnectionState.TLSUnique is nil there, and keying
	// material exported with ExportKeyingMaterial (RFC 9266
	// tls-exporter) differs for every connection, even a resumed one.
	// Binding to either would make the cookie as short-lived as the
	// connection, which already carries its NTLM/Negotiate identity.
	// The client certificate is what a later connection can prove again.
	BindTLSClientCertificate
)

// SessionCookies issues and opens session cookies: the User of a
// successful handshake, sealed with AES-256-GCM, so that later requests
// and connections skip the handshake (User.Verified then says "session
// cookie"), as mod_auth_gssapi's GssapiUseSessions does. The cookie is
// HttpOnly, SameSite=Lax, and Secure over TLS. Delegated credentials are
// not put in it (a ticket cache does not fit a cookie); a request that
// needs them must authenticate again.
type SessionCookies struct {
	// Keys are 32-byte AES-256 keys, the newest first: it seals new
	// cookies, every key opens them. To rotate, put a new key first and
	// drop the last once MaxAge has passed.
	Keys [][]byte
	// Name is the cookie name; default DefaultSessionCookie.
	Name string
	// Path is the cookie path; default "/".
	Path string
	// MaxAge bounds a session's lifetime; default DefaultSessionMaxAge.
	// A session never outlives the credential it came from
	// (User.Expires, the Kerberos ticket's end time).
	MaxAge time.Duration
	// Bind ties cookies to the client; see SessionBinding.
	Bind SessionBinding
	// Now replaces time.Now, for tests.
	Now func() time.Time
}

// sessionPayload is what a cookie carries, inside the encryption.
type sessionPayload struct {
	User     *User     `json:"u"`
	Issued   time.Time `json:"i"`
	Expires  time.Time `json:"e"`
	BindHash []byte    `json:"b,omitempty"`
}

// NewSessionKey returns a random 32-byte key.
func NewSessionKey() ([]byte, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("auth: session key: %w", err)
	}
	return k, nil
}

// LoadSessionKeys reads a key file: one key per line, 64 hex digits, the
// newest first; blank lines and '#' comments are skipped.
func LoadSessionKeys(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: session keys: %w", err)
	}
	defer f.Close()
	keys, err := ParseSessionKeys(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys, nil
}

// ParseSessionKeys parses the key file format of LoadSessionKeys.
func ParseSessionKeys(r io.Reader) ([][]byte, error) {
	var keys [][]byte
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := hex.DecodeString(line)
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("auth: session keys: line %d: want 64 hex digits", n)
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("auth: session keys: %w", err)
	}
	if len(keys) == 0 {
		return nil, errors.New("auth: session keys: no key")
	}
	return keys, nil
}

func (s *SessionCookies) name() string {
	if s.Name != "" {
		return s.Name
	}
	return DefaultSessionCookie
}

func (s *SessionCookies) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func keyID(k []byte) []byte {
	h := sha256.Sum256(append([]byte("sesame session key id\x00"), k...))
	return h[:sessionKeyIDBytes]
}

// bindValue is what the cookie is bound to for r: "" when it cannot be
// bound (no client certificate).
func (s *SessionCookies) bindValue(r *http.Request) (string, error) {
	switch s.Bind {
	case BindClientIP:
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return "", fmt.Errorf("auth: session: client address %q: %w", r.RemoteAddr, err)
		}
		return "ip:" + host, nil
	case BindTLSClientCertificate:
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			return "", fmt.Errorf("auth: session: bound to a TLS client certificate, the client has none: %w", ErrSession)
		}
		h := sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
		return "cert:" + string(h[:]), nil
	}
	return "", nil
}

func bindHash(v string) []byte {
	if v == "" {
		return nil
	}
	h := sha256.Sum256([]byte(v))
	return h[:]
}

// Issue returns the cookie holding u for r's client.
func (s *SessionCookies) Issue(r *http.Request, u *User) (*http.Cookie, error) {
	if len(s.Keys) == 0 || len(s.Keys[0]) != 32 {
		return nil, errors.New("auth: session: the newest key must be 32 bytes")
	}
	bind, err := s.bindValue(r)
	if err != nil {
		return nil, err
	}
	now := s.now()
	maxAge := s.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultSessionMaxAge
	}
	exp := now.Add(maxAge)
	if !u.Expires.IsZero() && u.Expires.Before(exp) {
		exp = u.Expires
	}
	if !exp.After(now) {
		return nil, fmt.Errorf("auth: session: the credential of %q has expired", u.Principal)
	}
	keep := *u
	keep.Delegated = nil
	plain, err := json.Marshal(sessionPayload{User: &keep, Issued: now, Expires: exp, BindHash: bindHash(bind)})
	if err != nil {
		return nil, fmt.Errorf("auth: session: %w", err)
	}
	aead, err := newGCM(s.Keys[0])
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), keyID(s.Keys[0])...)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("auth: session: %w", err)
	}
	out = append(out, nonce...)
	out = aead.Seal(out, nonce, plain, []byte(s.name()))
	return &http.Cookie{
		Name: s.name(), Value: base64.RawURLEncoding.EncodeToString(out), Path: s.path(),
		Expires: exp, MaxAge: int(exp.Sub(now) / time.Second), HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	}, nil
}

// Open returns the user of r's session cookie: nil, nil when r has
// none, an error wrapping ErrSession when it has one that does not open,
// has expired or is bound to another client.
func (s *SessionCookies) Open(r *http.Request) (*User, error) {
	c, err := r.Cookie(s.name())
	if err != nil {
		return nil, nil
	}
	p, err := s.open(c.Value)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !now.Before(p.Expires) {
		return nil, fmt.Errorf("auth: session of %q expired %v ago: %w", p.User.Principal, now.Sub(p.Expires).Round(time.Second), ErrSession)
	}
	bind, err := s.bindValue(r)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(bindHash(bind), p.BindHash) != 1 {
		return nil, fmt.Errorf("auth: session of %q is bound to another client: %w", p.User.Principal, ErrSession)
	}
	u := p.User
	u.Verified = "session cookie"
	return u, nil
}

// open decrypts a cookie value.
func (s *SessionCookies) open(v string) (*sessionPayload, error) {
	if len(v) > maxSessionCookieBytes {
		return nil, fmt.Errorf("auth: session cookie of %d bytes: %w", len(v), ErrSession)
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) < sessionKeyIDBytes+12+16 {
		return nil, fmt.Errorf("auth: session cookie does not decode: %w", ErrSession)
	}
	for _, k := range s.Keys {
		if subtle.ConstantTimeCompare(keyID(k), b[:sessionKeyIDBytes]) != 1 {
			continue
		}
		aead, err := newGCM(k)
		if err != nil {
			return nil, err
		}
		rest := b[sessionKeyIDBytes:]
		plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], []byte(s.name()))
		if err != nil {
			return nil, fmt.Errorf("auth: session cookie does not verify (tampered?): %w", ErrSession)
		}
		var p sessionPayload
		if err := json.Unmarshal(plain, &p); err != nil || p.User == nil {
			return nil, fmt.Errorf("auth: session cookie holds no user: %w", ErrSession)
		}
		return &p, nil
	}
	return nil, fmt.Errorf("auth: session cookie sealed with a key no longer held: %w", ErrSession)
}

// Clear returns a cookie that deletes the session cookie.
func (s *SessionCookies) Clear(r *http.Request) *http.Cookie {
	return &http.Cookie{Name: s.name(), Value: "", Path: s.path(), MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode}
}

func (s *SessionCookies) path() string {
	if s.Path != "" {
		return s.Path
	}
	return "/"
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("auth: session key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("auth: session key: %w", err)
	}
	return aead, nil
}
