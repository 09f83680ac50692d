package auth

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// DigestStore gives the Digest verifier the HA1 of an account:
// H(user ":" realm ":" password) in lower-case hex, for the algorithm
// "MD5", "SHA-256" or "SHA-512-256" (never with "-sess").
type DigestStore interface {
	// DigestHA1 returns the HA1, or an error wrapping ErrNoSuchUser when
	// the store has none for that user, realm and algorithm.
	DigestHA1(ctx context.Context, user, realm, algorithm string) (string, error)
}

// DigestUserHashStore is a DigestStore that can also find a user by the
// userhash of RFC 7616 section 3.4.4, H(user ":" realm).
type DigestUserHashStore interface {
	DigestStore
	// DigestUserByHash returns the user whose userhash it is, or an error
	// wrapping ErrNoSuchUser.
	DigestUserByHash(ctx context.Context, userhash, realm, algorithm string) (string, error)
}

// HTDigestFile is a DigestStore read from an Apache htdigest file: lines
// "user:realm:HA1" as Apache's htdigest tool writes them (MD5, 32 hex
// digits). htdigest knows only MD5, so a line whose HA1 has 64 hex digits
// is taken as SHA-256 (see DigestHA1, or `printf '%s' user:realm:pw |
// sha256sum`); a user may have a line of each, and Algorithms then
// offers both.
type HTDigestFile struct {
	ha1    map[htdigestKey]string // user, realm, algorithm
	byHash map[htdigestKey]string // userhash, realm, algorithm -> user
	algs   map[string]bool
}

type htdigestKey struct{ user, realm, alg string }

// LoadHTDigest reads an htdigest file; see ParseHTDigest.
func LoadHTDigest(path string) (*HTDigestFile, error) {
	return loadPasswordFile(path, "htdigest", ParseHTDigest)
}

// ParseHTDigest reads lines "user:realm:HA1". Blank lines and lines
// starting with '#' are skipped. Errors name the line number, never the
// hash.
func ParseHTDigest(r io.Reader) (*HTDigestFile, error) {
	f := &HTDigestFile{ha1: make(map[htdigestKey]string), byHash: make(map[htdigestKey]string), algs: make(map[string]bool)}
	err := scanPasswordFile(r, "htdigest", func(n int, line string) error {
		// The realm may not contain ':' (htdigest refuses it), the user
		// neither; the HA1 is the last field.
		parts := strings.Split(line, ":")
		if len(parts) != 3 || parts[0] == "" {
			return fmt.Errorf("auth: htdigest: line %d: want user:realm:HA1", n)
		}
		user, realm, h := parts[0], parts[1], strings.ToLower(parts[2])
		if _, err := hex.DecodeString(h); err != nil {
			return fmt.Errorf("auth: htdigest: line %d: user %q: HA1 is not hex", n, user)
		}
		var alg digestAlgorithm
		switch len(h) {
		case 32:
			alg = digestAlgorithms[0]
		case 64:
			alg = digestAlgorithms[1]
		default:
			return fmt.Errorf("auth: htdigest: line %d: user %q: HA1 of %d hex digits (want 32 for MD5, 64 for SHA-256)", n, user, len(h))
		}
		k := htdigestKey{user, realm, alg.name}
		if _, dup := f.ha1[k]; dup {
			return fmt.Errorf("auth: htdigest: line %d: user %q in realm %q given twice for %s", n, user, realm, alg.name)
		}
		f.ha1[k] = h
		f.byHash[htdigestKey{hexHash(alg, user+":"+realm), realm, alg.name}] = user
		f.algs[alg.name] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Len returns the number of lines (user, realm and algorithm).
func (f *HTDigestFile) Len() int { return len(f.ha1) }

// Algorithms returns the algorithms the file has HA1s for, strongest
// first.
func (f *HTDigestFile) Algorithms() []string {
	var out []string
	for i := len(digestAlgorithms) - 1; i >= 0; i-- {
		if f.algs[digestAlgorithms[i].name] {
			out = append(out, digestAlgorithms[i].name)
		}
	}
	return out
}

// DigestHA1 implements DigestStore.
func (f *HTDigestFile) DigestHA1(_ context.Context, user, realm, algorithm string) (string, error) {
	h, ok := f.ha1[htdigestKey{user, realm, algorithm}]
	if !ok {
		return "", fmt.Errorf("auth: htdigest: %w: %q in realm %q for %s", ErrNoSuchUser, user, realm, algorithm)
	}
	return h, nil
}

// DigestUserByHash implements DigestUserHashStore.
func (f *HTDigestFile) DigestUserByHash(_ context.Context, userhash, realm, algorithm string) (string, error) {
	u, ok := f.byHash[htdigestKey{strings.ToLower(userhash), realm, algorithm}]
	if !ok {
		return "", fmt.Errorf("auth: htdigest: %w: no user with that userhash in realm %q", ErrNoSuchUser, realm)
	}
	return u, nil
}

// DigestHA1 computes the HA1 of an htdigest line for algorithm "MD5",
// "SHA-256" or "SHA-512-256", to write the SHA-256 lines Apache's htdigest
// cannot.
func DigestHA1(algorithm, user, realm, password string) (string, error) {
	alg, ok := lookupDigestAlgorithm(algorithm)
	if !ok {
		return "", fmt.Errorf("auth: digest algorithm %q: %w", algorithm, ErrUnsupported)
	}
	return hexHash(alg, user+":"+realm+":"+password), nil
}

func lookupDigestAlgorithm(name string) (digestAlgorithm, bool) {
	for _, a := range digestAlgorithms {
		if strings.EqualFold(a.name, name) {
			return a, true
		}
	}
	return digestAlgorithm{}, false
}
