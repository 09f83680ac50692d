package auth

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// parseOne parses a single challenge, failing the test otherwise.
func parseOne(t *testing.T, value string) Challenge {
	t.Helper()
	chs, err := ParseChallenges([]string{value})
	if err != nil || len(chs) != 1 {
		t.Fatalf("ParseChallenges(%q) = %+v, %v; want one challenge", value, chs, err)
	}
	return chs[0]
}

// fixedCnonce makes a client whose cnonce is always c, as in the RFC
// examples.
func fixedCnonce(user, password, c string) *DigestClient {
	return &DigestClient{User: user, Password: password, cnonce: func() (string, error) { return c, nil }}
}

// authParams parses an Authorization value back: credentials have the
// syntax of a challenge, so this also checks the quoting.
func authParams(t *testing.T, header string) map[string]string {
	t.Helper()
	c := parseOne(t, header)
	if c.Scheme != "Digest" {
		t.Fatalf("header %q: scheme %q", header, c.Scheme)
	}
	return c.Params
}

const (
	rfcCnonce       = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
	rfcSHA512Cnonce = "NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v"
)

// TestDigestRFC7616 checks the two examples of RFC 7616 section 3.9.1
// byte for byte: the whole header, in the RFC's parameter order.
func TestDigestRFC7616(t *testing.T) {
	for _, tc := range []struct {
		challenge, algorithm, response string
	}{
		{rfcChallengeMD5, "MD5", "8ca523f5e9506fed4657c9700eebdbec"},
		{rfcChallengeSHA256, "SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
	} {
		t.Run(tc.algorithm, func(t *testing.T) {
			// Erratum 4495: the password is "Circle of Life", lower-case "of".
			d := fixedCnonce("Mufasa", "Circle of Life", rfcCnonce)
			got, err := d.Authorize(parseOne(t, tc.challenge), "GET", "/dir/index.html", nil)
			if err != nil {
				t.Fatal(err)
			}
			want := `Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", ` +
				`algorithm=` + tc.algorithm + `, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, ` +
				`cnonce="` + rfcCnonce + `", qop=auth, response="` + tc.response + `", ` +
				`opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`
			if got != want {
				t.Fatalf("Authorize:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestDigestRFC7616SHA512256 checks section 3.9.2 (SHA-512-256, userhash,
// a non-ASCII user name). The username and response printed in the RFC
// are not derived from its own inputs (erratum 4897, reported); the values
// here are the erratum's, which Python's hashlib (OpenSSL) reproduces from
// the RFC's inputs: H("Jäsøn Doe:api@example.org") and the response over
// password "Secret, or not?".
func TestDigestRFC7616SHA512256(t *testing.T) {
	const (
		wantUserhash = "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b"
		wantResponse = "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5"
		tail         = `realm="api@example.org", uri="/doe.json", algorithm=SHA-512-256, ` +
			`nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", nc=00000001, cnonce="` + rfcSHA512Cnonce + `", ` +
			`qop=auth, response="` + wantResponse + `", opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS"`
	)
	t.Run("userhash", func(t *testing.T) {
		d := fixedCnonce("Jäsøn Doe", "Secret, or not?", rfcSHA512Cnonce)
		got, err := d.Authorize(parseOne(t, rfcChallengeSHA512256), "GET", "/doe.json", nil)
		if err != nil {
			t.Fatal(err)
		}
		want := `Digest username="` + wantUserhash + `", ` + tail + `, userhash=true`
		if got != want {
			t.Fatalf("Authorize:\n got %s\nwant %s", got, want)
		}
	})
	t.Run("username*", func(t *testing.T) {
		// The same challenge without userhash: the name travels as an RFC
		// 8187 ext-value, as in the RFC's second header. The response does
		// not depend on how the name is sent.
		ch := parseOne(t, strings.Replace(rfcChallengeSHA512256, ", userhash=true", "", 1))
		d := fixedCnonce("Jäsøn Doe", "Secret, or not?", rfcSHA512Cnonce)
		got, err := d.Authorize(ch, "GET", "/doe.json", nil)
		if err != nil {
			t.Fatal(err)
		}
		want := `Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, ` + tail
		if got != want {
			t.Fatalf("Authorize:\n got %s\nwant %s", got, want)
		}
	})
}

// TestDigestRFC2617 checks RFC 2617 section 3.5's example: no algorithm
// parameter in the challenge, so none in the answer (old servers choke on
// parameters they did not ask for), MD5 implied.
func TestDigestRFC2617(t *testing.T) {
	ch := parseOne(t, `Digest realm="testrealm@host.com", qop="auth,auth-int", `+
		`nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`)
	d := fixedCnonce("Mufasa", "Circle Of Life", "0a4f113b")
	got, err := d.Authorize(ch, "GET", "/dir/index.html", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `Digest username="Mufasa", realm="testrealm@host.com", uri="/dir/index.html", ` +
		`nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", nc=00000001, cnonce="0a4f113b", qop=auth, ` +
		`response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"`
	if got != want {
		t.Fatalf("Authorize:\n got %s\nwant %s", got, want)
	}
}

// TestDigestRFC2069 checks compatibility mode: a challenge without qop gets
// neither nc nor cnonce nor qop, and the response is H(HA1:nonce:HA2).
// The value is RFC 2069's example as corrected (the RFC printed a wrong
// one); Python's hashlib gives the same.
func TestDigestRFC2069(t *testing.T) {
	ch := parseOne(t, `Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`)
	d := fixedCnonce("Mufasa", "CircleOfLife", "unused")
	for range 2 { // no nonce count, so the same answer every time
		got, err := d.Authorize(ch, "GET", "/dir/index.html", nil)
		if err != nil {
			t.Fatal(err)
		}
		want := `Digest username="Mufasa", realm="testrealm@host.com", uri="/dir/index.html", ` +
			`nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", response="1949323746fe6a43ef61f9606e7febea", ` +
			`opaque="5ccc069c403ebaf9f0171e9517f40e41"`
		if got != want {
			t.Fatalf("Authorize:\n got %s\nwant %s", got, want)
		}
	}
}

// TestDigestAuthInt checks qop=auth-int (chosen only when auth is not
// offered): A2 includes H(body), nil means the empty body. Expected values
// from Python's hashlib.
func TestDigestAuthInt(t *testing.T) {
	ch := parseOne(t, `Digest realm="http-auth@example.org", qop="auth-int", algorithm=SHA-256, `+
		`nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"`)
	d := fixedCnonce("Mufasa", "Circle of Life", rfcCnonce)
	for _, tc := range []struct {
		body         []byte
		nc, response string
	}{
		{nil, "00000001", "322f218d701da7c7ef51e3ba6fa2551a2bf36425e1218fc1508c6bf65cbd4448"},
		{[]byte("hello"), "00000002", "bf2d074d6818157edc0e9ca4265d33620182c935aac6b5ba352247279e4b1eb5"},
	} {
		got, err := d.Authorize(ch, "POST", "/dir/index.html", tc.body)
		if err != nil {
			t.Fatal(err)
		}
		ps := authParams(t, got)
		if ps["qop"] != "auth-int" || ps["nc"] != tc.nc || ps["response"] != tc.response {
			t.Errorf("body %q: %s\nwant qop=auth-int nc=%s response=%s", tc.body, got, tc.nc, tc.response)
		}
	}
}

// TestDigestSess checks the -sess variant: HA1 = H(H(user:realm:pw):nonce:cnonce).
func TestDigestSess(t *testing.T) {
	ch := parseOne(t, strings.Replace(rfcChallengeMD5, "algorithm=MD5", "algorithm=md5-SESS", 1))
	d := fixedCnonce("Mufasa", "Circle of Life", rfcCnonce)
	got, err := d.Authorize(ch, "GET", "/dir/index.html", nil)
	if err != nil {
		t.Fatal(err)
	}
	ps := authParams(t, got)
	if ps["algorithm"] != "MD5-sess" || ps["response"] != "e783283f46242139c486a698fec7211d" {
		t.Fatalf("MD5-sess: %s", got)
	}
}

// TestDigestNonceCount checks that nc counts per (realm, nonce), in 8 hex
// digits, also under concurrent use, and that the table stays bounded.
func TestDigestNonceCount(t *testing.T) {
	d := &DigestClient{User: "u", Password: "p"}
	ch := func(realm, nonce string) Challenge {
		return Challenge{Scheme: "Digest", Params: map[string]string{"realm": realm, "nonce": nonce, "qop": "auth"}}
	}
	nc := func(c Challenge) string {
		t.Helper()
		h, err := d.Authorize(c, "GET", "/", nil)
		if err != nil {
			t.Fatal(err)
		}
		return authParams(t, h)["nc"]
	}
	for i := 1; i <= 17; i++ {
		if got, want := nc(ch("r", "n1")), fmt.Sprintf("%08x", i); got != want {
			t.Fatalf("request %d on one nonce: nc=%s, want %s", i, got, want)
		}
	}
	if got := nc(ch("r", "n2")); got != "00000001" {
		t.Errorf("new nonce: nc=%s, want 00000001", got)
	}
	if got := nc(ch("other", "n1")); got != "00000001" {
		t.Errorf("same nonce, other realm: nc=%s, want 00000001", got)
	}
	if got := nc(ch("r", "n1")); got != "00000012" {
		t.Errorf("back to the first nonce: nc=%s, want 00000012", got)
	}

	t.Run("concurrent", func(t *testing.T) {
		const n = 200
		var mu sync.Mutex
		seen := map[string]bool{}
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				h, err := d.Authorize(ch("r", "shared"), "GET", "/", nil)
				if err != nil {
					t.Error(err)
					return
				}
				c, _ := ParseChallenges([]string{h})
				mu.Lock()
				seen[c[0].Param("nc")] = true
				mu.Unlock()
			})
		}
		wg.Wait()
		for i := 1; i <= n; i++ {
			if !seen[fmt.Sprintf("%08x", i)] {
				t.Fatalf("nc %08x never used; counts were handed out twice", i)
			}
		}
	})

	t.Run("bounded", func(t *testing.T) {
		d := &DigestClient{User: "u", Password: "p"}
		first := ch("r", "first")
		if _, err := d.Authorize(first, "GET", "/", nil); err != nil {
			t.Fatal(err)
		}
		for i := range maxTrackedNonces {
			if _, err := d.Authorize(ch("r", fmt.Sprint("n", i)), "GET", "/", nil); err != nil {
				t.Fatal(err)
			}
		}
		if len(d.counts) > maxTrackedNonces || len(d.order) > maxTrackedNonces {
			t.Fatalf("tracking %d/%d nonces, limit %d", len(d.counts), len(d.order), maxTrackedNonces)
		}
		// The oldest was forgotten, so it starts again.
		h, _ := d.Authorize(first, "GET", "/", nil)
		if got := authParams(t, h)["nc"]; got != "00000001" {
			t.Fatalf("evicted nonce: nc=%s, want 00000001", got)
		}
	})
}

// TestDigestCnonce checks the default client nonce: 16 random bytes, hex.
func TestDigestCnonce(t *testing.T) {
	d := &DigestClient{User: "u", Password: "p"}
	ch := parseOne(t, rfcChallengeMD5)
	hexRE := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := map[string]bool{}
	for range 4 {
		h, err := d.Authorize(ch, "GET", "/", nil)
		if err != nil {
			t.Fatal(err)
		}
		c := authParams(t, h)["cnonce"]
		if !hexRE.MatchString(c) || seen[c] {
			t.Fatalf("cnonce %q: want 32 fresh hex digits", c)
		}
		seen[c] = true
	}
}

// TestDigestQuoting checks that values with quotes and backslashes are
// escaped in the header yet hashed as they are.
func TestDigestQuoting(t *testing.T) {
	ch := Challenge{Scheme: "digest", Params: map[string]string{
		"realm": `r"e\alm`, "nonce": `n"1`, "opaque": `o\`, "qop": "AUTH"}}
	d := fixedCnonce(`us"er\`, "pw", "c")
	h, err := d.Authorize(ch, "GET", `/a?b="c"`, nil)
	if err != nil {
		t.Fatal(err)
	}
	ps := authParams(t, h)
	want := map[string]string{"username": `us"er\`, "realm": `r"e\alm`, "nonce": `n"1`, "opaque": `o\`,
		"uri": `/a?b="c"`, "qop": "auth", "nc": "00000001", "cnonce": "c"}
	for k, v := range want {
		if ps[k] != v {
			t.Errorf("%s = %q, want %q (header %s)", k, ps[k], v, h)
		}
	}
	dc, _ := parseDigest(ch)
	if r := digestResponse(dc, `us"er\`, "pw", "GET", `/a?b="c"`, nil, "00000001", "c"); ps["response"] != r {
		t.Errorf("response %s, want %s", ps["response"], r)
	}
}

func TestDigestErrors(t *testing.T) {
	ok := `Digest realm="r", nonce="n", qop="auth"`
	for _, tc := range []struct {
		name, challenge, user, method, uri string
		want                               error
	}{
		{"other scheme", `Basic realm="r"`, "u", "GET", "/", ErrUnsupported},
		{"unknown algorithm", `Digest realm="r", nonce="n", qop="auth", algorithm=SHA-1`, "u", "GET", "/", ErrUnsupported},
		{"unknown -sess", `Digest realm="r", nonce="n", qop="auth", algorithm=SHA-1-sess`, "u", "GET", "/", ErrUnsupported},
		{"bare -sess", `Digest realm="r", nonce="n", qop="auth", algorithm=-sess`, "u", "GET", "/", ErrUnsupported},
		{"unknown qop", `Digest realm="r", nonce="n", qop="auth-conf"`, "u", "GET", "/", ErrUnsupported},
		{"-sess without qop", `Digest realm="r", nonce="n", algorithm=MD5-sess`, "u", "GET", "/", ErrUnsupported},
		{"no nonce", `Digest realm="r", qop="auth"`, "u", "GET", "/", ErrMalformedChallenge},
		{"empty nonce", `Digest realm="r", nonce="", qop="auth"`, "u", "GET", "/", ErrMalformedChallenge},
		{"no realm", `Digest nonce="n", qop="auth"`, "u", "GET", "/", ErrMalformedChallenge},
		{"control character in user", ok, "u\r\nX: y", "GET", "/", ErrInvalidCredentials},
		{"invalid UTF-8 user", ok, "u\xff", "GET", "/", ErrInvalidCredentials},
		{"uri with CRLF", ok, "u", "GET", "/\r\nX: y", nil},
		{"uri with space", ok, "u", "GET", "/a b", nil},
		{"empty uri", ok, "u", "GET", "", nil},
		{"bad method", ok, "u", "GE T", "/", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &DigestClient{User: tc.user, Password: "p"}
			h, err := d.Authorize(parseOne(t, tc.challenge), tc.method, tc.uri, nil)
			if err == nil {
				t.Fatalf("Authorize = %q, want an error", h)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestPreferDigest(t *testing.T) {
	chs, err := ParseChallenges([]string{
		`Basic realm="r"`,
		`Digest realm="r", nonce="sha1", qop="auth", algorithm=SHA-1`, // unsupported: skipped
		`Digest realm="r", nonce="md5", qop="auth"`,
		`Digest realm="r", nonce="sha256", qop="auth", algorithm=sha-256`,
		`Digest realm="r", nonce="sha512", qop="auth", algorithm=SHA-512-256-sess`,
		`Digest realm="r", qop="auth", algorithm=SHA-512-256`, // no nonce: skipped
		`Digest realm="r", nonce="sha512b", qop="auth", algorithm=SHA-512-256`,
		"NTLM",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		chs  []Challenge
		want string // nonce of the chosen one, "" for none
	}{
		{chs, "sha512"}, // strongest, first of the tie
		{chs[:4], "sha256"},
		{chs[:3], "md5"},
		{[]Challenge{chs[3], chs[2]}, "sha256"}, // strength, not order
		{chs[:2], ""},
		{[]Challenge{chs[5], chs[7]}, ""},
		{nil, ""},
	} {
		got, ok := PreferDigest(tc.chs)
		if ok != (tc.want != "") || got.Param("nonce") != tc.want {
			t.Errorf("PreferDigest(%d challenges) = %+v, %v; want nonce %q", len(tc.chs), got, ok, tc.want)
		}
	}
}

func TestDigestStale(t *testing.T) {
	for v, want := range map[string]bool{
		`Digest realm="r", nonce="n", stale=true`:   true,
		`Digest realm="r", nonce="n", stale="TRUE"`: true,
		`Digest realm="r", nonce="n", stale=false`:  false,
		`Digest realm="r", nonce="n"`:               false,
	} {
		if got := DigestStale(parseOne(t, v)); got != want {
			t.Errorf("DigestStale(%s) = %v, want %v", v, got, want)
		}
	}
}

// TestBasicCredentials lives here, next to the other password scheme.
func TestBasicCredentials(t *testing.T) {
	for _, tc := range []struct{ user, password, want string }{
		{"Aladdin", "open sesame", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="}, // RFC 7617 section 2
		{"test", "123\u00a3", "Basic dGVzdDoxMjPCow=="},                  // RFC 7617 section 2.1, UTF-8
		{"", "", "Basic Og=="},
		{"alice", "pa:ss:word", "Basic YWxpY2U6cGE6c3M6d29yZA=="}, // ':' in the password is fine
	} {
		got, err := BasicCredentials(tc.user, tc.password)
		if err != nil || got != tc.want {
			t.Errorf("BasicCredentials(%q, %q) = %q, %v; want %q", tc.user, tc.password, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ user, password string }{
		{"al:ice", "pw"},
		{"alice\n", "pw"},
		{"alice", "pw\r\n"},
		{"alice", "pw\x00"},
		{"alice", "pw\x7f"},
		{"alice", "pw\u0085"}, // C1 NEL
		{"alice\xff", "pw"},
		{"alice", "pw\xc3"},
	} {
		got, err := BasicCredentials(tc.user, tc.password)
		if !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("BasicCredentials(%q, %q) = %q, %v; want ErrInvalidCredentials", tc.user, tc.password, got, err)
			continue
		}
		if tc.password != "pw" && strings.Contains(err.Error(), tc.password) {
			t.Errorf("error %q quotes the password", err)
		}
	}
}
