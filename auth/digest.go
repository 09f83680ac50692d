package auth

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"strings"
	"sync"
)

// maxTrackedNonces bounds the nonce counts a DigestClient remembers. A
// server normally has one live nonce per client (a proxy one per realm), so
// a few hundred is plenty; a server that hands out a fresh nonce on every
// response must not grow the map without bound. Forgetting a nonce only
// restarts its count at 1, which a server checking counts answers with a
// fresh challenge.
const maxTrackedNonces = 256

// digestAlgorithm is one of the hash algorithms of RFC 7616 section 6.1.
type digestAlgorithm struct {
	name string // canonical spelling, without "-sess"
	new  func() hash.Hash
	rank int // higher is stronger, for PreferDigest
}

// digestAlgorithms in the order PreferDigest ranks them. SHA-512-256 is
// SHA-512/256 (FIPS 180-4), not a truncated SHA-512.
var digestAlgorithms = []digestAlgorithm{
	{"MD5", md5.New, 1},
	{"SHA-256", sha256.New, 2},
	{"SHA-512-256", sha512.New512_256, 3},
}

// digestChallenge is a Digest challenge checked and decoded.
type digestChallenge struct {
	realm, nonce, opaque string
	hasOpaque            bool
	alg                  digestAlgorithm
	sess                 bool   // the "-sess" variant: A1 includes nonce and cnonce
	algName              string // as echoed: canonical name, "" if the challenge named none
	qop                  string // "auth", "auth-int", or "" for RFC 2069 mode
	userhash             bool
}

// parseDigest checks that ch is a Digest challenge this package can answer
// and decodes what the answer depends on.
func parseDigest(ch Challenge) (digestChallenge, error) {
	var dc digestChallenge
	if !strings.EqualFold(ch.Scheme, "Digest") {
		return dc, fmt.Errorf("auth: digest: %q challenge is not Digest: %w", ch.Scheme, ErrUnsupported)
	}
	var ok bool
	// realm and nonce are required (RFC 7616 section 3.3); an empty realm
	// is odd but unambiguous, an empty nonce defeats the scheme.
	if dc.realm, ok = ch.Params["realm"]; !ok {
		return dc, fmt.Errorf("auth: digest: challenge has no realm: %w", ErrMalformedChallenge)
	}
	if dc.nonce = ch.Params["nonce"]; dc.nonce == "" {
		return dc, fmt.Errorf("auth: digest: challenge has no nonce: %w", ErrMalformedChallenge)
	}
	dc.opaque, dc.hasOpaque = ch.Params["opaque"]

	dc.alg = digestAlgorithms[0] // MD5 when absent (RFC 7616 section 3.3)
	if name, ok := ch.Params["algorithm"]; ok {
		base := name
		if len(base) > len("-sess") && strings.EqualFold(base[len(base)-len("-sess"):], "-sess") {
			base = base[:len(base)-len("-sess")]
			dc.sess = true
		}
		found := false
		for _, a := range digestAlgorithms {
			if strings.EqualFold(base, a.name) {
				dc.alg, found = a, true
				break
			}
		}
		if !found {
			return dc, fmt.Errorf("auth: digest: algorithm %q: %w", name, ErrUnsupported)
		}
		dc.algName = dc.alg.name
		if dc.sess {
			dc.algName += "-sess"
		}
	}

	if q, ok := ch.Params["qop"]; ok {
		// Prefer "auth": "auth-int" needs the whole body in hand, and
		// protects only the body, not the headers, so it buys little.
		var auth, authInt bool
		for _, o := range strings.Split(q, ",") {
			o = strings.Trim(o, " \t")
			auth = auth || strings.EqualFold(o, "auth")
			authInt = authInt || strings.EqualFold(o, "auth-int")
		}
		switch {
		case auth:
			dc.qop = "auth"
		case authInt:
			dc.qop = "auth-int"
		default:
			return dc, fmt.Errorf("auth: digest: qop %q offers neither auth nor auth-int: %w", q, ErrUnsupported)
		}
	} else if dc.sess {
		// RFC 2069 mode has no cnonce, which the -sess A1 needs.
		return dc, fmt.Errorf("auth: digest: algorithm %s without qop: %w", dc.algName, ErrUnsupported)
	}
	dc.userhash = strings.EqualFold(ch.Params["userhash"], "true")
	return dc, nil
}

// DigestStale reports whether ch says the previous request's nonce was
// stale (stale=true, RFC 7616 section 3.3): the credentials were right and
// the caller should retry once with the new challenge without asking the
// user again. A second 401 without stale means the credentials are wrong.
func DigestStale(ch Challenge) bool {
	return strings.EqualFold(ch.Param("stale"), "true")
}

// PreferDigest returns the Digest challenge with the strongest algorithm
// among chs (SHA-512-256 over SHA-256 over MD5; the first one offered on a
// tie), skipping other schemes and Digest challenges that DigestClient
// cannot answer. RFC 7616 section 3.7 has a server list one challenge per
// algorithm in its order of preference, and lets local policy override
// that order; this policy is strength, so that the order (which an
// intermediary may have rewritten) cannot talk the client down to MD5. The
// bool is false if there is no usable Digest challenge.
func PreferDigest(chs []Challenge) (Challenge, bool) {
	best, bestRank := -1, 0
	for i, ch := range chs {
		dc, err := parseDigest(ch)
		if err != nil {
			continue
		}
		if dc.alg.rank > bestRank {
			best, bestRank = i, dc.alg.rank
		}
	}
	if best < 0 {
		return Challenge{}, false
	}
	return chs[best], true
}

// DigestClient answers Digest challenges (RFC 7616, and RFC 2069 for
// servers that send no qop) for one user. It keeps the nonce count of each
// (realm, nonce), so one DigestClient should serve all requests of that
// user to a server or proxy. It is safe for concurrent use and must not be
// copied after first use.
type DigestClient struct {
	// User is the user name, UTF-8. A name that is not ASCII is sent as
	// username* (RFC 8187) unless the server asked for userhash.
	User string
	// Password is the password, hashed as its UTF-8 bytes.
	Password string

	mu     sync.Mutex
	counts map[[sha256.Size]byte]uint32 // nonce count by hash of (realm, nonce)
	order  [][sha256.Size]byte          // keys of counts, oldest first

	// cnonce makes a client nonce; nil means 16 random bytes from
	// crypto/rand, hex-encoded. Tests set it to reproduce published
	// examples.
	cnonce func() (string, error)
}

// Authorize returns the Authorization (or Proxy-Authorization) header value
// answering the Digest challenge ch for one request.
//
// method and uri are the request's: uri is the request-target exactly as
// sent on the request line (path?query for an origin server, the
// absolute-form URL when sending to a proxy, the authority host:port for
// CONNECT), because the server compares it with its own request line.
// body is the request body, needed only when the challenge allows nothing
// but qop=auth-int; nil means an empty body.
//
// Every call uses the next nonce count for ch's nonce (00000001 first), so
// call it once per request actually sent. Errors wrap ErrMalformedChallenge
// (no nonce or realm), ErrUnsupported (another scheme, an unknown
// algorithm, no usable qop) or ErrInvalidCredentials (a user name with
// control characters); a method that is not a token or a uri with
// whitespace or control characters is refused too, as a caller bug that
// must not end up in a header.
func (d *DigestClient) Authorize(ch Challenge, method, uri string, body []byte) (string, error) {
	a, err := d.Answer(ch, method, uri, body)
	if err != nil {
		return "", err
	}
	return a.Value, nil
}

// DigestAnswer is one Authorization value made by [DigestClient.Answer],
// with what the server's Authentication-Info must match.
type DigestAnswer struct {
	// Value is the Authorization (or Proxy-Authorization) header value.
	Value string

	c               *DigestClient
	dc              digestChallenge
	uri, nc, cnonce string
}

// Answer is [DigestClient.Authorize] keeping what the request sent, so
// that the response's Authentication-Info can be checked with
// [DigestAnswer.VerifyAuthenticationInfo].
func (d *DigestClient) Answer(ch Challenge, method, uri string, body []byte) (*DigestAnswer, error) {
	dc, err := parseDigest(ch)
	if err != nil {
		return nil, err
	}
	if err := checkCredentialText("user name", d.User); err != nil {
		return nil, fmt.Errorf("auth: digest: %w", err)
	}
	if method == "" || strings.IndexFunc(method, func(r rune) bool { return r >= 0x80 || !isTchar(byte(r)) }) >= 0 {
		return nil, fmt.Errorf("auth: digest: method %q is not a token", method)
	}
	// The uri is echoed in a quoted string; a request-target never holds
	// whitespace or control characters, so one that does is a caller bug
	// that must not turn into a header injection.
	if uri == "" || strings.IndexFunc(uri, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return nil, fmt.Errorf("auth: digest: uri %q is not a request-target", uri)
	}

	var nc, cnonce string
	if dc.qop != "" {
		n, err := d.nextCount(dc.realm, dc.nonce)
		if err != nil {
			return nil, err
		}
		nc = fmt.Sprintf("%08x", n)
		if cnonce, err = d.newCnonce(); err != nil {
			return nil, err
		}
	}
	response := digestResponse(dc, d.User, d.Password, method, uri, body, nc, cnonce)

	// Parameter order follows the examples of RFC 7616 section 3.9, so
	// that a header can be compared with them whole.
	var b strings.Builder
	b.WriteString("Digest ")
	switch {
	case dc.userhash:
		b.WriteString("username=" + QuoteString(hexHash(dc.alg, d.User+":"+dc.realm)))
	case !isASCII(d.User):
		// A quoted-string carries bytes, not characters: RFC 7616 section
		// 3.4.4 has non-ASCII names travel as RFC 8187 ext-values instead.
		b.WriteString("username*=" + extValue(d.User))
	default:
		b.WriteString("username=" + QuoteString(d.User))
	}
	b.WriteString(", realm=" + QuoteString(dc.realm))
	b.WriteString(", uri=" + QuoteString(uri))
	if dc.algName != "" {
		b.WriteString(", algorithm=" + dc.algName)
	}
	b.WriteString(", nonce=" + QuoteString(dc.nonce))
	if dc.qop != "" {
		b.WriteString(", nc=" + nc)
		b.WriteString(", cnonce=" + QuoteString(cnonce))
		b.WriteString(", qop=" + dc.qop)
	}
	b.WriteString(", response=" + QuoteString(response))
	if dc.hasOpaque {
		b.WriteString(", opaque=" + QuoteString(dc.opaque))
	}
	if dc.userhash {
		b.WriteString(", userhash=true")
	}
	return &DigestAnswer{Value: b.String(), c: d, dc: dc, uri: uri, nc: nc, cnonce: cnonce}, nil
}

// VerifyAuthenticationInfo checks the Authentication-Info (or
// Proxy-Authentication-Info) header values of the response to the request
// that carried a.Value: the server's rspauth (RFC 7616 section 3.5, RFC
// 2617 section 3.2.3) must be the one only a holder of the user's HA1
// can compute for this request (its nonce, cnonce, nc, qop and uri), and
// the qop, nc and cnonce it names, where it names them, must be those
// sent. No header, or one without rspauth (only a nextnonce), is
// accepted: most servers send none. Under qop=auth-int rspauth covers the
// response body, which is not at hand here, so it is not checked.
//
// Errors wrap ErrDigestRspauth: a header that does not parse (also
// ErrMalformedChallenge), a parameter that does not match, or a wrong
// rspauth, compared in constant time. They never hold the HA1 or the
// password.
func (a *DigestAnswer) VerifyAuthenticationInfo(values []string) error {
	if len(values) == 0 {
		return nil
	}
	info, err := ParseAuthenticationInfo(values)
	if err != nil {
		return fmt.Errorf("auth: digest: Authentication-Info: %w (%w)", err, ErrDigestRspauth)
	}
	got, ok := info["rspauth"]
	if !ok {
		return nil
	}
	dc := a.dc
	if q, ok := info["qop"]; ok && !strings.EqualFold(q, dc.qop) {
		return fmt.Errorf("auth: digest: Authentication-Info names qop %.20q, the request sent %q: %w", q, dc.qop, ErrDigestRspauth)
	}
	if dc.qop == "auth-int" {
		return nil
	}
	if nc, ok := info["nc"]; ok && !strings.EqualFold(nc, a.nc) {
		return fmt.Errorf("auth: digest: Authentication-Info names nc %.20q, the request sent %q: %w", nc, a.nc, ErrDigestRspauth)
	}
	if cn, ok := info["cnonce"]; ok && cn != a.cnonce {
		return fmt.Errorf("auth: digest: Authentication-Info names another cnonce than the request's: %w", ErrDigestRspauth)
	}
	want := a.rspauth()
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(got))) != 1 {
		return fmt.Errorf("auth: digest: the server's rspauth does not match the request (%s, user %q), so it did not prove that it knows the password: %w", a.dc.realmLabel(), a.c.User, ErrDigestRspauth)
	}
	return nil
}

// rspauth is the response-auth the server should send for a's request:
// the request-digest with an A2 of ":" uri, without the method.
func (a *DigestAnswer) rspauth() string {
	dc := a.dc
	ha1 := hexHash(dc.alg, a.c.User+":"+dc.realm+":"+a.c.Password)
	if dc.sess {
		ha1 = hexHash(dc.alg, ha1+":"+dc.nonce+":"+a.cnonce)
	}
	ha2 := hexHash(dc.alg, ":"+a.uri)
	if dc.qop == "" {
		return hexHash(dc.alg, ha1+":"+dc.nonce+":"+ha2)
	}
	return hexHash(dc.alg, ha1+":"+dc.nonce+":"+a.nc+":"+a.cnonce+":"+dc.qop+":"+ha2)
}

// realmLabel names the realm in an error, bounded in length.
func (dc digestChallenge) realmLabel() string {
	return fmt.Sprintf("realm %.64q", dc.realm)
}

// ParseAuthenticationInfo parses the Authentication-Info (or
// Proxy-Authentication-Info) header values of one response (RFC 7615: a
// list of auth-params, e.g. rspauth="...", qop=auth, nc=00000001,
// cnonce="...") into a map with lower-cased names and unquoted values.
// The limits of ParseChallenges apply (MaxChallengeHeaderBytes,
// MaxChallengeParams), a parameter given twice is refused, and errors
// wrap ErrMalformedChallenge and return no map.
func ParseAuthenticationInfo(values []string) (map[string]string, error) {
	var parts []string
	for _, v := range values {
		if v = strings.Trim(v, " \t"); v != "" {
			parts = append(parts, v)
		}
	}
	if len(parts) == 0 {
		return map[string]string{}, nil
	}
	// The list is one challenge's auth-params without the scheme: parsed
	// behind a scheme of our own, it must come out as that one challenge
	// (a token followed by a space would start a second one).
	joined := strings.Join(parts, ", ")
	if len(joined) > MaxChallengeHeaderBytes {
		return nil, fmt.Errorf("auth: parse Authentication-Info: longer than %d bytes: %w", MaxChallengeHeaderBytes, ErrMalformedChallenge)
	}
	chs, err := ParseChallenges([]string{"Info " + joined})
	if err != nil {
		return nil, fmt.Errorf("auth: parse Authentication-Info: %w", err)
	}
	if len(chs) != 1 || chs[0].Token68 != "" {
		return nil, fmt.Errorf("auth: parse Authentication-Info: not a list of auth-params: %w", ErrMalformedChallenge)
	}
	if chs[0].Params == nil {
		return map[string]string{}, nil
	}
	return chs[0].Params, nil
}

// digestResponse computes the request-digest of RFC 7616 section 3.4.1 (or
// RFC 2069's when qop is empty).
func digestResponse(dc digestChallenge, user, password, method, uri string, body []byte, nc, cnonce string) string {
	// A1 always uses the real user name, also with userhash: the hash only
	// replaces what is sent (RFC 7616 section 3.4.4).
	ha1 := hexHash(dc.alg, user+":"+dc.realm+":"+password)
	if dc.sess {
		ha1 = hexHash(dc.alg, ha1+":"+dc.nonce+":"+cnonce)
	}
	a2 := method + ":" + uri
	if dc.qop == "auth-int" {
		h := dc.alg.new()
		h.Write(body)
		a2 += ":" + hex.EncodeToString(h.Sum(nil))
	}
	ha2 := hexHash(dc.alg, a2)
	if dc.qop == "" {
		return hexHash(dc.alg, ha1+":"+dc.nonce+":"+ha2)
	}
	return hexHash(dc.alg, ha1+":"+dc.nonce+":"+nc+":"+cnonce+":"+dc.qop+":"+ha2)
}

// hexHash is H(s) of RFC 7616: the lower-case hex digest.
func hexHash(alg digestAlgorithm, s string) string {
	h := alg.new()
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

// nextCount returns the next nonce count for (realm, nonce), starting at
// 1. The key is a hash so that the map's memory does not depend on how
// long a server makes its nonces.
func (d *DigestClient) nextCount(realm, nonce string) (uint32, error) {
	key := sha256.Sum256([]byte(realm + "\x00" + nonce))
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.counts == nil {
		d.counts = make(map[[sha256.Size]byte]uint32)
	}
	n, ok := d.counts[key]
	if !ok {
		if len(d.order) >= maxTrackedNonces {
			delete(d.counts, d.order[0])
			d.order = d.order[1:]
		}
		d.order = append(d.order, key)
	}
	if n == math.MaxUint32 {
		// nc is 8 hex digits; a server would take a wrapped count for a
		// replay. Never seen in practice: servers expire nonces long before.
		return 0, fmt.Errorf("auth: digest: nonce count exhausted for realm %q", realm)
	}
	n++
	d.counts[key] = n
	return n, nil
}

// newCnonce returns a fresh client nonce: 16 random bytes, hex-encoded so
// that it needs no escaping. It makes the response unpredictable to the
// server, which is what defeats chosen-plaintext precomputation.
func (d *DigestClient) newCnonce() (string, error) {
	if d.cnonce != nil {
		return d.cnonce()
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("auth: digest: cnonce: %v", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// isASCII reports whether s has no byte beyond ASCII, i.e. can be sent in
// a quoted-string as it is (control characters are refused earlier).
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// extValue encodes s as an RFC 8187 ext-value in UTF-8: "UTF-8”" and s
// with every byte outside attr-char percent-encoded (upper-case hex, as in
// RFC 7616's example).
func extValue(s string) string {
	const upperhex = "0123456789ABCDEF"
	var b strings.Builder
	b.WriteString("UTF-8''")
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAttrChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperhex[c>>4])
		b.WriteByte(upperhex[c&0x0f])
	}
	return b.String()
}

// isAttrChar reports whether c may appear unencoded in an RFC 8187
// value-chars: ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." /
// "^" / "_" / "`" / "|" / "~".
func isAttrChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
