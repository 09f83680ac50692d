package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of DigestVerifier.
const (
	DefaultNonceLifetime = 5 * time.Minute
	DefaultMaxNonces     = 100000
)

// nonce layout: issue time (8 bytes, Unix seconds), 12 random bytes, and
// the first 16 bytes of HMAC-SHA256(key, realm || time || random).
const (
	nonceRandBytes = 12
	nonceMACBytes  = 16
	nonceBytes     = 8 + nonceRandBytes + nonceMACBytes
)

// DigestVerifier checks Digest credentials (RFC 7616, qop=auth) against
// a DigestStore. Nonces are made by the server and signed (HMAC-SHA256)
// with an expiry, so a forged or expired one is refused without state;
// each nonce's counts are tracked so that a replayed request (same nonce
// and nc) is refused. A correct response over an expired nonce is
// answered with stale=true, so clients retry without asking the user.
// A success is answered with Authentication-Info (rspauth, qop, nc,
// cnonce; RFC 7616 section 3.5), by which the client can check that the
// server knows its HA1 too; no nextnonce. qop=auth-int is not offered.
// Configure it before first use.
type DigestVerifier struct {
	// Store holds the HA1s. Required.
	Store DigestStore
	// Realm is the realm offered and required. Required.
	Realm string
	// Algorithms offered, strongest first, each "MD5", "SHA-256" or
	// "SHA-512-256", optionally with "-sess". Default: those the Store
	// has (its Algorithms method), else MD5.
	Algorithms []string
	// UserHash offers userhash=true (the client may then hide the user
	// name); the Store must implement DigestUserHashStore.
	UserHash bool
	// NonceLifetime is how long a nonce may be used; default
	// DefaultNonceLifetime.
	NonceLifetime time.Duration
	// Key signs nonces; servers sharing clients behind a load balancer
	// share it. Nil means a random key per verifier.
	Key []byte
	// MaxNonces bounds the nonces whose counts are tracked; default
	// DefaultMaxNonces. Beyond it the oldest are forgotten, and
	// answered as stale (never accepted again).
	MaxNonces int
	// Now replaces time.Now, for tests.
	Now func() time.Time

	once  sync.Once
	key   []byte
	mu    sync.Mutex
	uses  map[string]*nonceUse
	floor int64 // nonces issued at or before this Unix time were forgotten
}

// nonceUse records which nonce counts of one nonce were seen: the
// highest, and a window of the 64 below it (clients may send requests
// in parallel, so counts can arrive out of order).
type nonceUse struct {
	issued int64
	max    uint32
	window uint64 // bit i: count max-i was seen
}

func (v *DigestVerifier) init() {
	v.once.Do(func() {
		v.key = v.Key
		if len(v.key) == 0 {
			v.key = make([]byte, 32)
			if _, err := rand.Read(v.key); err != nil {
				panic("auth: digest: crypto/rand: " + err.Error())
			}
		}
		v.uses = make(map[string]*nonceUse)
	})
}

func (v *DigestVerifier) algorithms() []string {
	if len(v.Algorithms) > 0 {
		return v.Algorithms
	}
	if s, ok := v.Store.(interface{ Algorithms() []string }); ok {
		if a := s.Algorithms(); len(a) > 0 {
			return a
		}
	}
	return []string{"MD5"}
}

func (v *DigestVerifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *DigestVerifier) lifetime() time.Duration {
	if v.NonceLifetime > 0 {
		return v.NonceLifetime
	}
	return DefaultNonceLifetime
}

// challenges returns the WWW-Authenticate values, one per algorithm,
// sharing a fresh nonce.
func (v *DigestVerifier) challenges(stale bool) []string {
	v.init()
	nonce := v.newNonce()
	var out []string
	for _, a := range v.algorithms() {
		c := "Digest realm=" + QuoteString(v.Realm) + `, qop="auth", algorithm=` + a + ", nonce=" + QuoteString(nonce) + `, charset=UTF-8`
		if v.UserHash {
			c += ", userhash=true"
		}
		if stale {
			c += ", stale=true"
		}
		out = append(out, c)
	}
	return out
}

func (v *DigestVerifier) newNonce() string {
	b := make([]byte, nonceBytes)
	binary.BigEndian.PutUint64(b, uint64(v.now().Unix()))
	if _, err := rand.Read(b[8 : 8+nonceRandBytes]); err != nil {
		panic("auth: digest: crypto/rand: " + err.Error())
	}
	copy(b[8+nonceRandBytes:], v.nonceMAC(b[:8+nonceRandBytes]))
	return base64.RawURLEncoding.EncodeToString(b)
}

func (v *DigestVerifier) nonceMAC(body []byte) []byte {
	h := hmac.New(sha256.New, v.key)
	h.Write([]byte(v.Realm))
	h.Write([]byte{0})
	h.Write(body)
	return h.Sum(nil)[:nonceMACBytes]
}

// checkNonce returns the nonce's issue time if this verifier made it.
func (v *DigestVerifier) checkNonce(nonce string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != nonceBytes {
		return 0, false
	}
	if subtle.ConstantTimeCompare(v.nonceMAC(b[:8+nonceRandBytes]), b[8+nonceRandBytes:]) != 1 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(b)), true
}

// DigestCredentials is a parsed Digest Authorization header.
type DigestCredentials struct {
	// User is the username (decoded from username* when sent that way;
	// the userhash when UserHash is set).
	User                                   string
	UserHash                               bool
	Realm, Nonce, URI, Response, Algorithm string
	QOP, NC, CNonce, Opaque                string
}

// ParseDigestCredentials parses the part of an Authorization header after
// "Digest " and checks that what RFC 7616 requires for qop=auth is there.
func ParseDigestCredentials(s string) (*DigestCredentials, error) {
	chs, err := ParseChallenges([]string{"Digest " + s})
	if err != nil || len(chs) != 1 || chs[0].Token68 != "" {
		return nil, fmt.Errorf("auth: digest: credentials do not parse: %w", ErrMalformedAuthorization)
	}
	p := chs[0].Params
	c := &DigestCredentials{
		Realm: p["realm"], Nonce: p["nonce"], URI: p["uri"], Response: strings.ToLower(p["response"]),
		Algorithm: p["algorithm"], QOP: p["qop"], NC: p["nc"], CNonce: p["cnonce"], Opaque: p["opaque"],
		UserHash: strings.EqualFold(p["userhash"], "true"),
	}
	if c.Algorithm == "" {
		c.Algorithm = "MD5"
	}
	u, plain := p["username"]
	ext, hasExt := p["username*"]
	switch {
	case plain && hasExt:
		return nil, fmt.Errorf("auth: digest: both username and username*: %w", ErrMalformedAuthorization)
	case hasExt && c.UserHash:
		return nil, fmt.Errorf("auth: digest: username* with userhash: %w", ErrMalformedAuthorization)
	case hasExt:
		if u, err = parseExtValue(ext); err != nil {
			return nil, err
		}
	case !plain:
		return nil, fmt.Errorf("auth: digest: no username: %w", ErrMalformedAuthorization)
	}
	c.User = u
	for name, val := range map[string]string{"realm": c.Realm, "nonce": c.Nonce, "uri": c.URI, "response": c.Response, "qop": c.QOP, "nc": c.NC, "cnonce": c.CNonce} {
		if val == "" {
			return nil, fmt.Errorf("auth: digest: no %s (qop=auth is required): %w", name, ErrMalformedAuthorization)
		}
	}
	if c.User == "" || hasCTL(c.User) {
		return nil, fmt.Errorf("auth: digest: empty or invalid username: %w", ErrMalformedAuthorization)
	}
	return c, nil
}

// parseExtValue decodes an RFC 8187 ext-value in UTF-8.
func parseExtValue(s string) (string, error) {
	charset, rest, ok := strings.Cut(s, "'")
	if !ok || !strings.EqualFold(charset, "UTF-8") {
		return "", fmt.Errorf("auth: digest: username* is not a UTF-8 ext-value: %w", ErrMalformedAuthorization)
	}
	_, value, ok := strings.Cut(rest, "'")
	if !ok {
		return "", fmt.Errorf("auth: digest: username* without language field: %w", ErrMalformedAuthorization)
	}
	out, err := url.PathUnescape(value)
	if err != nil || !isValidUTF8NoCTL(out) {
		return "", fmt.Errorf("auth: digest: username* does not decode: %w", ErrMalformedAuthorization)
	}
	return out, nil
}

func isValidUTF8NoCTL(s string) bool {
	return strings.ToValidUTF8(s, "\uFFFD") == s && !hasCTL(s)
}

func (v *DigestVerifier) serve(r *http.Request, s string) outcome {
	v.init()
	c, err := ParseDigestCredentials(s)
	if err != nil {
		return outcome{err: err}
	}
	u, rspauth, stale, err := v.verify(r.Context(), r.Method, r.RequestURI, c)
	if err != nil {
		return outcome{err: fmt.Errorf("auth: digest: %w", err), stale: stale}
	}
	return outcome{user: u, info: authenticationInfo(rspauth, c)}
}

// authenticationInfo is the Authentication-Info value of a successful
// response (RFC 7616 section 3.5, RFC 2617 section 3.2.3): rspauth proves
// to the client that the server knows its HA1 too, and qop, nc and cnonce
// name the request it answers. The cnonce is quoted as the client sent
// it (ParseDigestCredentials took it from a quoted or token value that
// holds no control characters, and QuoteString escapes the rest). No
// nextnonce: the client keeps its nonce until it is stale.
func authenticationInfo(rspauth string, c *DigestCredentials) string {
	return "rspauth=" + QuoteString(rspauth) + ", qop=" + c.QOP + ", nc=" + c.NC + ", cnonce=" + QuoteString(c.CNonce)
}

// verify checks c for a request with method and request-target uri. On
// success it also returns the rspauth of the Authentication-Info header.
func (v *DigestVerifier) verify(ctx context.Context, method, uri string, c *DigestCredentials) (*User, string, bool, error) {
	if c.Realm != v.Realm {
		return nil, "", false, fmt.Errorf("%w: realm %q is not %q", ErrUnauthenticated, c.Realm, v.Realm)
	}
	if c.QOP != "auth" {
		return nil, "", false, fmt.Errorf("%w: qop %q not offered", ErrUnauthenticated, c.QOP)
	}
	algName, sess := strings.CutSuffix(c.Algorithm, "-sess")
	if !sess {
		algName, sess = strings.CutSuffix(c.Algorithm, "-SESS")
	}
	alg, ok := lookupDigestAlgorithm(algName)
	if !ok || !v.offers(c.Algorithm) {
		return nil, "", false, fmt.Errorf("%w: algorithm %q not offered", ErrUnauthenticated, c.Algorithm)
	}
	if c.URI != uri {
		return nil, "", false, fmt.Errorf("%w: uri %q does not match the request's %q", ErrUnauthenticated, c.URI, uri)
	}
	nc, err := strconv.ParseUint(c.NC, 16, 32)
	if err != nil || len(c.NC) != 8 || nc == 0 {
		return nil, "", false, fmt.Errorf("%w: nc %q is not 8 hex digits above 0", ErrMalformedAuthorization, c.NC)
	}
	issued, ok := v.checkNonce(c.Nonce)
	if !ok {
		return nil, "", false, fmt.Errorf("%w: nonce not issued by this server", ErrUnauthenticated)
	}
	user := c.User
	if c.UserHash {
		hs, ok := v.Store.(DigestUserHashStore)
		if !v.UserHash || !ok {
			return nil, "", false, fmt.Errorf("%w: userhash not offered", ErrUnauthenticated)
		}
		if user, err = hs.DigestUserByHash(ctx, c.User, c.Realm, alg.name); err != nil {
			return nil, "", false, err
		}
	}
	ha1, err := v.Store.DigestHA1(ctx, user, c.Realm, alg.name)
	if err != nil {
		return nil, "", false, err
	}
	if sess {
		ha1 = hexHash(alg, ha1+":"+c.Nonce+":"+c.CNonce)
	}
	want := hexHash(alg, ha1+":"+c.Nonce+":"+c.NC+":"+c.CNonce+":"+c.QOP+":"+hexHash(alg, method+":"+c.URI))
	if subtle.ConstantTimeCompare([]byte(want), []byte(c.Response)) != 1 {
		return nil, "", false, fmt.Errorf("%w: wrong response for %q (wrong password?)", ErrUnauthenticated, user)
	}
	now := v.now()
	if age := now.Sub(time.Unix(issued, 0)); age > v.lifetime() {
		return nil, "", true, fmt.Errorf("%w: nonce issued %v ago", ErrStaleNonce, age.Round(time.Second))
	}
	switch err := v.use(c.Nonce, issued, uint32(nc), now); {
	case errors.Is(err, ErrStaleNonce):
		return nil, "", true, err
	case err != nil:
		return nil, "", false, fmt.Errorf("%w for %q", err, user)
	}
	// rspauth is the response with an A2 of ":" uri, no method (RFC 7616
	// section 3.5), over the same (-sess) HA1.
	rspauth := hexHash(alg, ha1+":"+c.Nonce+":"+c.NC+":"+c.CNonce+":"+c.QOP+":"+hexHash(alg, ":"+c.URI))
	return &User{Name: user, Principal: user, Realm: c.Realm, Scheme: "Digest", Mechanism: "digest", Verified: "htdigest"}, rspauth, false, nil
}

func (v *DigestVerifier) offers(alg string) bool {
	for _, a := range v.algorithms() {
		if strings.EqualFold(a, alg) {
			return true
		}
	}
	return false
}

// use records nonce count nc of a nonce, refusing a count seen before
// or too far below the highest (outside the window it can no longer be
// told from a replay).
func (v *DigestVerifier) use(nonce string, issued int64, nc uint32, now time.Time) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	u := v.uses[nonce]
	if u == nil {
		if issued <= v.floor {
			return fmt.Errorf("%w: nonce forgotten to bound memory", ErrStaleNonce)
		}
		v.makeRoom(now)
		u = &nonceUse{issued: issued}
		v.uses[nonce] = u
	}
	switch {
	case nc > u.max:
		shift := uint64(nc - u.max)
		if shift >= 64 {
			u.window = 0
		} else {
			u.window <<= shift
		}
		u.window |= 1
		u.max = nc
	case u.max-nc >= 64:
		return fmt.Errorf("%w: nonce count %d is too far below %d", ErrReplay, nc, u.max)
	case u.window&(1<<(u.max-nc)) != 0:
		return fmt.Errorf("%w: nonce count %d seen before", ErrReplay, nc)
	default:
		u.window |= 1 << (u.max - nc)
	}
	return nil
}

// makeRoom drops expired nonces, and when the table is still full the
// older half, raising the floor so that those are stale from now on.
func (v *DigestVerifier) makeRoom(now time.Time) {
	limit := v.MaxNonces
	if limit <= 0 {
		limit = DefaultMaxNonces
	}
	if len(v.uses) < limit {
		return
	}
	oldest := now.Add(-v.lifetime()).Unix()
	for k, u := range v.uses {
		if u.issued < oldest {
			delete(v.uses, k)
		}
	}
	if len(v.uses) < limit {
		v.floor = max(v.floor, oldest-1)
		return
	}
	// Still full of live nonces: forget those issued before the median.
	times := make([]int64, 0, len(v.uses))
	for _, u := range v.uses {
		times = append(times, u.issued)
	}
	median := quickSelect(times, len(times)/2)
	for k, u := range v.uses {
		if u.issued <= median {
			delete(v.uses, k)
		}
	}
	v.floor = max(v.floor, median)
}

// quickSelect returns the k-th smallest of xs (reordering xs).
func quickSelect(xs []int64, k int) int64 {
	lo, hi := 0, len(xs)-1
	for lo < hi {
		p := xs[(lo+hi)/2]
		i, j := lo, hi
		for i <= j {
			for xs[i] < p {
				i++
			}
			for xs[j] > p {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return xs[k]
		}
	}
	return xs[k]
}
