package winbind

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sesame-auth/sesame/ntlm"
)

// Limits on an answer of ntlm_auth's ntlm-server-1 protocol: a real one is
// three short lines.
const (
	maxAnswerLine  = 4096
	maxAnswerLines = 16
)

// answer is ntlm_auth's reply to one ntlm-server-1 request.
type answer struct {
	authenticated bool
	// sessionKey is User-Session-Key; ntlm_auth leaves it out when it is
	// all zeros.
	sessionKey []byte
	// authError is Authentication-Error (why a logon was refused);
	// protoError is Error (the request was not understood).
	authError, protoError string
}

// encodeRequest writes an ntlm-server-1 request: "Key: value" lines ending
// with a "." line. Names go base64-encoded ("Key:: value") so that no
// character of theirs can end a line or start a new key.
func encodeRequest(r *ntlm.ResponseToVerify) []byte {
	var b bytes.Buffer
	b64 := func(k, v string) {
		fmt.Fprintf(&b, "%s:: %s\n", k, base64.StdEncoding.EncodeToString([]byte(v)))
	}
	b64("Username", r.User)
	if r.Domain != "" {
		b64("NT-Domain", r.Domain)
	}
	fmt.Fprintf(&b, "LANMAN-Challenge: %s\n", hex.EncodeToString(r.ServerChallenge[:]))
	if len(r.NTResponse) > 0 {
		fmt.Fprintf(&b, "NT-Response: %s\n", hex.EncodeToString(r.NTResponse))
	}
	if len(r.LMResponse) > 0 {
		fmt.Fprintf(&b, "LANMAN-Response: %s\n", hex.EncodeToString(r.LMResponse))
	}
	b.WriteString("Request-User-Session-Key: Yes\n.\n")
	return b.Bytes()
}

// readAnswer reads one answer, up to and including its "." line.
func readAnswer(r *bufio.Reader) (*answer, error) {
	a := &answer{}
	for n := 0; ; n++ {
		if n == maxAnswerLines {
			return nil, fmt.Errorf("%w: answer of more than %d lines", ErrProtocol, maxAnswerLines)
		}
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		if line == "." {
			return a, nil
		}
		key, val, err := splitLine(line)
		if err != nil {
			return nil, err
		}
		switch key {
		case "Authenticated":
			switch val {
			case "Yes":
				a.authenticated = true
			case "No":
			default:
				return nil, fmt.Errorf("%w: Authenticated: %q", ErrProtocol, val)
			}
		case "User-Session-Key":
			k, err := hex.DecodeString(strings.TrimSpace(string(val)))
			if err != nil || len(k) != 16 {
				return nil, fmt.Errorf("%w: User-Session-Key is not 16 bytes of hex", ErrProtocol)
			}
			a.sessionKey = k
		case "Authentication-Error":
			a.authError = printable(val)
		case "Error":
			a.protoError = printable(val)
		}
		// Other keys (LANMAN-Session-Key) are not asked for; ignore them.
	}
}

// readLine reads a line of at most maxAnswerLine bytes without its "\n".
func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		frag, err := r.ReadSlice('\n')
		b = append(b, frag...)
		if len(b) > maxAnswerLine+1 {
			return "", fmt.Errorf("%w: answer line longer than %d bytes", ErrProtocol, maxAnswerLine)
		}
		switch {
		case err == nil:
			return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return "", fmt.Errorf("%w: ntlm_auth closed its output", io.ErrUnexpectedEOF)
		default:
			return "", err
		}
	}
}

// splitLine splits "Key: value" or "Key:: base64".
func splitLine(line string) (key, val string, err error) {
	key, val, ok := strings.Cut(line, ": ")
	if !ok {
		return "", "", fmt.Errorf("%w: answer line without \": \"", ErrProtocol)
	}
	if k, isB64 := strings.CutSuffix(key, ":"); isB64 {
		d, err := base64.StdEncoding.DecodeString(val)
		if err != nil {
			return "", "", fmt.Errorf("%w: %s: bad base64", ErrProtocol, printable(k))
		}
		return k, string(d), nil
	}
	return key, val, nil
}

// printable bounds and cleans a message from ntlm_auth for an error.
func printable(s string) string {
	const max = 200
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
