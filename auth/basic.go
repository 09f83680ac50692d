package auth

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// BasicCredentials returns the Authorization (or Proxy-Authorization)
// header value for the Basic scheme (RFC 7617): "Basic " followed by the
// base64 of user ":" password, both encoded as UTF-8 (the charset RFC 7617
// section 2.1 defines; Go strings are UTF-8 already).
//
// It refuses, with an error wrapping ErrInvalidCredentials, a user name
// containing ':' (the server would split at that colon and see another
// user), invalid UTF-8, and control characters in either part (RFC 7617
// forbids them; a server would reject or mangle them). Error messages may
// quote the user name, never the password.
//
// Basic sends the password itself, readable by anyone who sees the
// request: send it only over TLS or to a proxy the user chose, and never
// in answer to a challenge the caller did not expect.
func BasicCredentials(user, password string) (string, error) {
	if strings.Contains(user, ":") {
		return "", fmt.Errorf("auth: basic: user name %q contains ':': %w", user, ErrInvalidCredentials)
	}
	if err := checkCredentialText("user name", user); err != nil {
		return "", fmt.Errorf("auth: basic: %w", err)
	}
	if err := checkCredentialText("password", password); err != nil {
		return "", fmt.Errorf("auth: basic: %w", err)
	}
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password)), nil
}

// checkCredentialText rejects invalid UTF-8 and control characters (C0,
// DEL and C1) in a user name or password. what names the field; the value
// itself is never put in the error, as it may be a secret.
func checkCredentialText(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8: %w", what, ErrInvalidCredentials)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s contains a control character: %w", what, ErrInvalidCredentials)
		}
	}
	return nil
}
