package auth

import (
	"context"
	"fmt"
	"io"
	"strings"

	htpasswd "github.com/tg123/go-htpasswd"
)

// htpasswdParsers are the hash formats an htpasswd file may use, all
// checked by github.com/tg123/go-htpasswd: bcrypt ($2y$, htpasswd -B),
// {SHA} (htpasswd -s), MD5-crypt ($apr1$, htpasswd -m, Apache's
// default), salted {SSHA}, and SHA-crypt ($5$/$6$). Plain text and
// crypt(3) DES are refused: a line the parsers do not recognise is an
// error, not a plain-text password.
var htpasswdParsers = []htpasswd.PasswdParser{
	htpasswd.AcceptBcrypt, htpasswd.AcceptSha, htpasswd.AcceptMd5,
	htpasswd.AcceptSsha, htpasswd.AcceptCryptSha,
}

// dummyHash is compared against for a user the file does not have, so
// that the time an answer takes does not tell which users exist.
var dummyHash, _ = htpasswd.AcceptBcrypt("$2y$05$Q6mzWyce1PFW0Ti7V5P7Aer2ad6jtsON.bzsTMJKCwPysWuFoQ0b2")

// HtpasswdFile is a BasicVerifier reading an Apache htpasswd file, as
// written by Apache's htpasswd tool.
type HtpasswdFile struct {
	// Realm is User.Realm for users it verifies; may be empty.
	Realm string
	users map[string]htpasswd.EncodedPasswd
}

// LoadHtpasswd reads an htpasswd file; see ParseHtpasswd.
func LoadHtpasswd(path string) (*HtpasswdFile, error) {
	return loadPasswordFile(path, "htpasswd", ParseHtpasswd)
}

// ParseHtpasswd reads lines "user:hash" with hashes in the formats of
// htpasswdParsers. Blank lines and lines starting with '#' are skipped.
// Errors name the line number, never its content (it holds a hash).
func ParseHtpasswd(r io.Reader) (*HtpasswdFile, error) {
	h := &HtpasswdFile{users: make(map[string]htpasswd.EncodedPasswd)}
	err := scanPasswordFile(r, "htpasswd", func(n int, line string) error {
		user, enc, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return fmt.Errorf("auth: htpasswd: line %d: want user:hash", n)
		}
		if _, dup := h.users[user]; dup {
			return fmt.Errorf("auth: htpasswd: line %d: user %q given twice", n, user)
		}
		var matcher htpasswd.EncodedPasswd
		for _, p := range htpasswdParsers {
			m, err := p(enc)
			if err != nil {
				return fmt.Errorf("auth: htpasswd: line %d: malformed hash for user %q", n, user)
			}
			if m != nil {
				matcher = m
				break
			}
		}
		if matcher == nil {
			return fmt.Errorf("auth: htpasswd: line %d: user %q: hash format not supported (want bcrypt, {SHA}, $apr1$, {SSHA}, $5$ or $6$)", n, user)
		}
		h.users[user] = matcher
		return nil
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// Len returns the number of users.
func (h *HtpasswdFile) Len() int { return len(h.users) }

// VerifyBasic implements BasicVerifier. User names are case-sensitive,
// as Apache's are.
func (h *HtpasswdFile) VerifyBasic(_ context.Context, user, password string) (*User, error) {
	m, ok := h.users[user]
	if !ok {
		dummyHash.MatchesPassword(password)
		return nil, fmt.Errorf("auth: htpasswd: %w: %q", ErrNoSuchUser, user)
	}
	if !m.MatchesPassword(password) {
		return nil, fmt.Errorf("auth: htpasswd: %w: wrong password for %q", ErrUnauthenticated, user)
	}
	return &User{Name: user, Principal: user, Realm: h.Realm, Scheme: "Basic", Mechanism: "password", Verified: "htpasswd"}, nil
}
