package auth

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// BasicVerifier checks a user name and password sent with Basic.
// HtpasswdFile is one; a Kerberos one checks the password with the KDC.
type BasicVerifier interface {
	// VerifyBasic returns the user the password proves, or an error
	// wrapping ErrUnauthenticated or ErrNoSuchUser when it proves
	// nothing (other errors: the verifier could not judge). Errors must
	// not contain the password.
	VerifyBasic(ctx context.Context, user, password string) (*User, error)
}

// BasicVerifierFunc adapts a function to BasicVerifier.
type BasicVerifierFunc func(ctx context.Context, user, password string) (*User, error)

// VerifyBasic calls f.
func (f BasicVerifierFunc) VerifyBasic(ctx context.Context, user, password string) (*User, error) {
	return f(ctx, user, password)
}

func (m *Middleware) serveBasic(r *http.Request, token string) outcome {
	user, password, err := ParseBasicCredentials(token)
	if err != nil {
		return outcome{err: err}
	}
	u, err := m.Basic.VerifyBasic(r.Context(), user, password)
	if err != nil {
		return outcome{err: fmt.Errorf("auth: basic: %w", err)}
	}
	if u.Scheme == "" {
		u.Scheme = "Basic"
	}
	return outcome{user: u}
}

// ParseBasicCredentials decodes the token68 of a Basic Authorization
// header into user and password (RFC 7617). Both must be UTF-8 without
// control characters; the user name must not be empty.
func ParseBasicCredentials(token string) (user, password string, err error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil {
		return "", "", fmt.Errorf("auth: basic: credentials are not base64: %w", ErrMalformedAuthorization)
	}
	user, password, ok := strings.Cut(string(b), ":")
	switch {
	case !ok:
		return "", "", fmt.Errorf("auth: basic: credentials without ':': %w", ErrMalformedAuthorization)
	case user == "":
		return "", "", fmt.Errorf("auth: basic: empty user name: %w", ErrMalformedAuthorization)
	case !utf8.ValidString(user) || !utf8.ValidString(password) || hasCTL(user) || hasCTL(password):
		return "", "", fmt.Errorf("auth: basic: credentials with control characters or invalid UTF-8: %w", ErrMalformedAuthorization)
	}
	return user, password, nil
}

func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if isCTL(s[i]) {
			return true
		}
	}
	return false
}
