package auth

import (
	"fmt"
	"strings"
)

// Limits on what ParseChallenges accepts. The values come from the server or
// from a proxy, which may be hostile or broken; real challenges are far
// smaller (a Negotiate token with a large Kerberos AP-REP is a few KiB, a
// Digest challenge a few hundred bytes), so anything beyond these is
// refused rather than parsed into memory.
const (
	// MaxChallengeHeaderBytes bounds the combined length of all header
	// values of one response, counted as if joined by ", ".
	MaxChallengeHeaderBytes = 16 << 10
	// MaxChallenges bounds the number of challenges in one response.
	MaxChallenges = 64
	// MaxChallengeParams bounds the number of auth-params of one challenge.
	MaxChallengeParams = 64
)

// Challenge is one auth-scheme with its token68 or auth-params, as sent in
// a WWW-Authenticate or Proxy-Authenticate header (RFC 7235 section 2.1).
type Challenge struct {
	// Scheme is the auth-scheme as received, e.g. "Digest" or "NTLM".
	// Schemes are case-insensitive: compare with strings.EqualFold.
	Scheme string
	// Token68 is the challenge's token68, e.g. the base64 of an NTLM
	// CHALLENGE message, as received (padding included); "" if none. A
	// challenge has a token68 or params, never both.
	Token68 string
	// Params holds the auth-params. Keys are lower-cased (parameter names
	// are case-insensitive); quoted-string values are unquoted and
	// unescaped. Nil if the challenge has none.
	Params map[string]string
}

// Param returns the value of the auth-param name (matched
// case-insensitively), or "" if the challenge does not have it.
func (c Challenge) Param(name string) string {
	return c.Params[strings.ToLower(name)]
}

// ParseChallenges parses all WWW-Authenticate (or all Proxy-Authenticate)
// header values of one response, in order, e.g. resp.Header.Values(
// "WWW-Authenticate"). One value may carry several challenges separated by
// commas, so the parser follows RFC 7235's grammar to tell a comma between
// challenges from one between parameters or inside a quoted string:
//
//	Basic realm="a, b", Digest realm="x", nonce="y", qop="auth,auth-int"
//
// yields two challenges. Challenges of every scheme are returned, known or
// not; the caller picks the ones it can answer.
//
// Deviations from the strict grammar, because real servers send them and
// refusing would only lose interoperability: empty list elements (", ,")
// are skipped; an unquoted parameter value may contain any visible
// character except ',' and '"' (e.g. realm=foo/bar, domain=http://x/); an
// unquoted value may be empty.
//
// Errors wrap ErrMalformedChallenge: bad syntax, a parameter given twice
// in one challenge (ambiguous: which one would a server have meant?), or
// input beyond MaxChallengeHeaderBytes, MaxChallenges or
// MaxChallengeParams. On error no challenge is returned, so that a caller
// never acts on half of a response it could not read.
func ParseChallenges(values []string) ([]Challenge, error) {
	total := 0
	for i, v := range values {
		if i > 0 {
			total += len(", ")
		}
		total += len(v)
		if total > MaxChallengeHeaderBytes {
			return nil, fmt.Errorf("auth: parse challenge: header values longer than %d bytes: %w", MaxChallengeHeaderBytes, ErrMalformedChallenge)
		}
	}
	var out []Challenge
	for i, v := range values {
		p := challengeParser{s: v, value: i}
		var err error
		if out, err = p.parse(out); err != nil {
			return nil, fmt.Errorf("auth: parse challenge: %w", err)
		}
	}
	return out, nil
}

// challengeParser parses one header value. A challenge never continues
// from one header value into the next, so each value starts afresh.
type challengeParser struct {
	s     string
	pos   int
	value int // index of the header value, for error messages
}

// errorf reports a syntax error at the current position. It quotes the
// offending byte, never the whole value: values can be 16 KiB long.
func (p *challengeParser) errorf(format string, args ...any) error {
	return fmt.Errorf("header value %d, byte %d: %s: %w", p.value+1, p.pos, fmt.Sprintf(format, args...), ErrMalformedChallenge)
}

// unexpected reports the byte at the current position (or the end).
func (p *challengeParser) unexpected(what string) error {
	if p.eof() {
		return p.errorf("unexpected end, want %s", what)
	}
	return p.errorf("unexpected %q, want %s", p.s[p.pos], what)
}

func (p *challengeParser) eof() bool { return p.pos >= len(p.s) }

// peek returns the current byte, or 0 at the end (0 is not valid anywhere
// in a header value, so it never matches what callers look for).
func (p *challengeParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.pos]
}

// skipOWS skips optional whitespace (SP / HTAB).
func (p *challengeParser) skipOWS() {
	for !p.eof() && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

// skipSeparators skips whitespace and commas: RFC 7230's list rule lets a
// recipient ignore empty list elements.
func (p *challengeParser) skipSeparators() {
	for !p.eof() && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == ',') {
		p.pos++
	}
}

// token reads a token (RFC 9110 section 5.6.2), "" if none is here.
func (p *challengeParser) token() string {
	start := p.pos
	for !p.eof() && isTchar(p.s[p.pos]) {
		p.pos++
	}
	return p.s[start:p.pos]
}

// parse appends the challenges of p.s to out.
func (p *challengeParser) parse(out []Challenge) ([]Challenge, error) {
	cur := -1 // index in out of the challenge whose params we are reading
	for {
		p.skipSeparators()
		if p.eof() {
			return out, nil
		}
		start := p.pos
		name := p.token()
		if name == "" {
			return nil, p.unexpected("an auth-scheme or auth-param")
		}
		afterName := p.pos
		p.skipOWS()
		if p.peek() == '=' {
			// "name=" after a comma: another parameter of the current
			// challenge (a new challenge's scheme is followed by a space,
			// a comma or the end, never by '=').
			if cur < 0 {
				p.pos = start
				return nil, p.errorf("auth-param %q before any auth-scheme", name)
			}
			if out[cur].Token68 != "" {
				p.pos = start
				return nil, p.errorf("auth-param %q after a token68", name)
			}
			p.pos = start
			if err := p.param(&out[cur]); err != nil {
				return nil, err
			}
			if err := p.endOfElement(); err != nil {
				return nil, err
			}
			continue
		}

		// A new challenge: auth-scheme [ 1*SP ( token68 / #auth-param ) ].
		p.pos = afterName
		if len(out) >= MaxChallenges {
			return nil, p.errorf("more than %d challenges", MaxChallenges)
		}
		out = append(out, Challenge{Scheme: name})
		cur = len(out) - 1
		if p.eof() || p.peek() == ',' {
			continue
		}
		if c := p.peek(); c != ' ' && c != '\t' {
			return nil, p.unexpected("a space after the auth-scheme")
		}
		p.skipOWS()
		if p.eof() || p.peek() == ',' {
			continue
		}
		if t, ok := p.token68(); ok {
			out[cur].Token68 = t
			continue // token68 already checked what follows it
		}
		if err := p.param(&out[cur]); err != nil {
			return nil, err
		}
		if err := p.endOfElement(); err != nil {
			return nil, err
		}
	}
}

// token68 reads a token68 if one is here, i.e. a run of token68 characters
// and '=' padding followed by the end of the list element. Otherwise it
// leaves the position alone and returns false: "realm=x" starts with what
// looks like a token68 ("realm=") but continues, so it is an auth-param.
func (p *challengeParser) token68() (string, bool) {
	start := p.pos
	i := p.pos
	for i < len(p.s) && isToken68Char(p.s[i]) {
		i++
	}
	if i == start {
		return "", false
	}
	for i < len(p.s) && p.s[i] == '=' {
		i++
	}
	end := i
	for i < len(p.s) && (p.s[i] == ' ' || p.s[i] == '\t') {
		i++
	}
	if i < len(p.s) && p.s[i] != ',' {
		return "", false
	}
	p.pos = i
	return p.s[start:end], true
}

// param reads one auth-param (token BWS "=" BWS ( token / quoted-string ))
// into c.Params.
func (p *challengeParser) param(c *Challenge) error {
	start := p.pos
	name := p.token()
	if name == "" {
		return p.unexpected("an auth-param name")
	}
	p.skipOWS()
	if p.peek() != '=' {
		return p.unexpected(fmt.Sprintf("'=' after auth-param %q", name))
	}
	p.pos++
	p.skipOWS()
	var value string
	if p.peek() == '"' {
		v, err := p.quotedString()
		if err != nil {
			return err
		}
		value = v
	} else {
		v, err := p.looseValue()
		if err != nil {
			return err
		}
		value = v
	}
	key := strings.ToLower(name)
	if _, dup := c.Params[key]; dup {
		p.pos = start
		return p.errorf("auth-param %q given twice in one %s challenge", key, c.Scheme)
	}
	if len(c.Params) >= MaxChallengeParams {
		p.pos = start
		return p.errorf("more than %d auth-params in one %s challenge", MaxChallengeParams, c.Scheme)
	}
	if c.Params == nil {
		c.Params = make(map[string]string)
	}
	c.Params[key] = value
	return nil
}

// quotedString reads a quoted-string at the current position and returns
// its unescaped content. quoted-pair ("\" followed by any visible
// character, space or tab) stands for the character; a bare control
// character other than HTAB is an error, so a CR or LF can never come out
// of the parser and be echoed into a request header.
func (p *challengeParser) quotedString() (string, error) {
	p.pos++ // opening quote
	var b strings.Builder
	for {
		if p.eof() {
			return "", p.errorf("unterminated quoted string")
		}
		c := p.s[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), nil
		case c == '\\':
			p.pos++
			if p.eof() {
				return "", p.errorf("unterminated quoted string")
			}
			c = p.s[p.pos]
			if isCTL(c) && c != '\t' {
				return "", p.errorf("control character %q in quoted string", c)
			}
		case isCTL(c) && c != '\t':
			return "", p.errorf("control character %q in quoted string", c)
		}
		b.WriteByte(c)
		p.pos++
	}
}

// looseValue reads an unquoted parameter value. The grammar says token,
// but servers send values such as realm=foo/bar or domain=http://host/
// unquoted, and nothing is ambiguous about them: the value simply runs to
// the next whitespace or comma.
func (p *challengeParser) looseValue() (string, error) {
	start := p.pos
	for !p.eof() {
		c := p.s[p.pos]
		if c == ' ' || c == '\t' || c == ',' {
			break
		}
		if c == '"' || isCTL(c) {
			return "", p.unexpected("an auth-param value")
		}
		p.pos++
	}
	return p.s[start:p.pos], nil
}

// endOfElement checks that the list element just read is followed by
// optional whitespace and then a comma or the end of the value.
func (p *challengeParser) endOfElement() error {
	p.skipOWS()
	if p.eof() || p.peek() == ',' {
		return nil
	}
	return p.unexpected("',' or the end of the header value")
}

// isTchar reports whether c may appear in a token (RFC 9110 section 5.6.2).
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isToken68Char reports whether c may appear in a token68 before its '='
// padding (RFC 7235 section 2.1): base64 and base64url alphabets.
func isToken68Char(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~+/", c) >= 0
}

// isCTL reports whether c is an ASCII control character (RFC 5234 CTL).
func isCTL(c byte) bool { return c < 0x20 || c == 0x7f }

// QuoteString returns s as an RFC 9110 quoted-string: in double quotes,
// with '"' and '\' escaped by a backslash. It is how auth-param values such
// as a Digest username, realm or nonce are echoed back to the server.
//
// Control characters cannot be represented in a quoted-string at all (a
// quoted-pair may not escape CR or LF); QuoteString copies them as they
// are, so callers must reject such input first. Values that came out of
// ParseChallenges never contain them.
func QuoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}
