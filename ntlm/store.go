package ntlm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ErrUnknownUser is returned by a CredentialStore that has no such account.
// The Server reports it to its caller as ErrAuthFailed, so a client cannot
// tell unknown users from wrong passwords.
var ErrUnknownUser = errors.New("ntlm: unknown user")

// Credential is what a server needs to verify one account.
type Credential struct {
	// User and Domain are the account's canonical names, reported in the
	// Identity instead of the spelling the client chose.
	User, Domain string
	// NTHash is the 16-byte NT hash (MD4 of the UTF-16LE password).
	NTHash []byte
	// LMHash is the LM hash, or nil when unknown; only LM responses need it.
	LMHash []byte
}

// CredentialStore looks up accounts for the [Server]. Implementations may
// query a directory; they must honour ctx.
type CredentialStore interface {
	// LookupCredential returns the credential of user in domain, or an
	// error wrapping ErrUnknownUser. The domain may be empty when the
	// client sent none, and user may then be a UPN ("user@domain").
	LookupCredential(ctx context.Context, domain, user string) (*Credential, error)
}

// UserFile is a CredentialStore read from a text file, one account per
// line. Blank lines and lines starting with '#' are ignored. It matches
// user names and domains case-insensitively, as Windows does; an entry with
// an empty domain matches any domain, and a request without a domain
// matches any entry with that user name (the first one in the file).
type UserFile struct {
	entries []Credential
}

// maxUserFileLine bounds one line of a user file.
const maxUserFileLine = 4096

// LoadUserFile reads a file in the format of gss-ntlmssp's NTLM_USER_FILE:
// lines "DOMAIN:user:password", where the password is everything after the
// second colon.
func LoadUserFile(path string) (*UserFile, error) {
	return loadFile(path, false)
}

// LoadHashFile reads a file of lines "DOMAIN:user:NTHASH", the NT hash as
// 32 hex digits (as printed by `sesame hash`), so that no password needs to
// be stored.
func LoadHashFile(path string) (*UserFile, error) {
	return loadFile(path, true)
}

func loadFile(path string, hashes bool) (*UserFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ntlm: user file: %w", err)
	}
	defer f.Close()
	uf, err := ParseUserFile(f, hashes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return uf, nil
}

// ParseUserFile parses the user file format from r; with hashes set the
// third field is an NT hash in hex, otherwise a password. Errors name the
// line but never quote its secret.
func ParseUserFile(r io.Reader, hashes bool) (*UserFile, error) {
	uf := &UserFile{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxUserFileLine)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || parts[1] == "" {
			return nil, fmt.Errorf("ntlm: user file line %d: want DOMAIN:user:%s", n, map[bool]string{false: "password", true: "NTHASH"}[hashes])
		}
		c := Credential{Domain: parts[0], User: parts[1]}
		if hashes {
			h, err := ParseNTHash(parts[2])
			if err != nil {
				return nil, fmt.Errorf("ntlm: user file line %d: %w", n, err)
			}
			c.NTHash = h
		} else {
			c.NTHash, c.LMHash = NTHash(parts[2]), LMHash(parts[2])
		}
		uf.entries = append(uf.entries, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ntlm: user file: %w", err)
	}
	return uf, nil
}

// Len returns the number of accounts.
func (uf *UserFile) Len() int { return len(uf.entries) }

// LookupCredential implements CredentialStore.
func (uf *UserFile) LookupCredential(_ context.Context, domain, user string) (*Credential, error) {
	if domain == "" {
		user, domain = SplitUser(user)
	}
	for i := range uf.entries {
		e := &uf.entries[i]
		if !strings.EqualFold(e.User, user) {
			continue
		}
		if domain == "" || e.Domain == "" || strings.EqualFold(e.Domain, domain) {
			c := *e
			return &c, nil
		}
	}
	return nil, fmt.Errorf("%w: %q in domain %q", ErrUnknownUser, user, domain)
}
