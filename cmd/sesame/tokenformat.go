package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sesame-auth/sesame/ntlm"
)

// tokenFormat is how tokens are written on the command line and printed:
// base64 (as in HTTP headers, the default), hex, or raw bytes.
type tokenFormat struct{ hex, raw bool }

func (f *tokenFormat) register(fs interface {
	BoolVar(*bool, string, bool, string)
}) {
	fs.BoolVar(&f.hex, "hex", false, "tokens in and out are hex instead of base64")
	fs.BoolVar(&f.raw, "raw", false, "tokens are raw bytes: arguments name files ('-' is stdin), output is binary")
}

func (f *tokenFormat) check() error {
	if f.hex && f.raw {
		return usagef("--hex and --raw exclude each other")
	}
	return nil
}

// decode reads one token argument. Base64 input may be a whole header
// ("WWW-Authenticate: NTLM TlRM...") or value ("NTLM TlRM..."), so people
// can paste what curl -v or a browser's devtools show.
func (f *tokenFormat) decode(e *env, arg string) ([]byte, error) {
	if f.raw {
		var r io.Reader
		if arg == "-" {
			r = e.stdin
		} else {
			file, err := os.Open(arg)
			if err != nil {
				return nil, err
			}
			defer file.Close()
			r = file
		}
		b, err := io.ReadAll(io.LimitReader(r, ntlm.MaxMessageSize+1))
		if err != nil {
			return nil, fmt.Errorf("read token: %w", err)
		}
		return b, nil
	}
	s := strings.TrimSpace(arg)
	if i := strings.Index(s, ": "); i > 0 && !strings.ContainsAny(s[:i], " \t") {
		s = strings.TrimSpace(s[i+2:]) // a header name
	}
	if scheme, rest, ok := strings.Cut(s, " "); ok && (strings.EqualFold(scheme, "NTLM") || strings.EqualFold(scheme, "Negotiate")) {
		s = strings.TrimSpace(rest)
	}
	s = strings.Join(strings.Fields(s), "")
	if f.hex {
		b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
		if err != nil {
			return nil, fmt.Errorf("token is not hex: %w", err)
		}
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("token is not base64 (use --hex or --raw for other encodings)")
}

// encode writes a token followed by a newline (none for raw output).
func (f *tokenFormat) encode(w io.Writer, b []byte) error {
	var err error
	switch {
	case f.raw:
		_, err = w.Write(b)
	case f.hex:
		_, err = fmt.Fprintln(w, hex.EncodeToString(b))
	default:
		_, err = fmt.Fprintln(w, base64.StdEncoding.EncodeToString(b))
	}
	return err
}

// ntlmSignature starts every NTLM message.
var ntlmSignature = []byte("NTLMSSP\x00")

// unwrapNTLM returns the NTLM message in b. A Negotiate header often
// carries NTLM inside SPNEGO; the message then starts at its signature
// and its security buffers are relative to that point, so bytes after it
// (a mechListMIC) do no harm.
func unwrapNTLM(b []byte) (msg []byte, offset int) {
	if bytes.HasPrefix(b, ntlmSignature) {
		return b, 0
	}
	if i := bytes.Index(b, ntlmSignature); i > 0 {
		return b[i:], i
	}
	return b, 0
}
