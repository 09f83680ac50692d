package auth

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseChallenges feeds arbitrary header values (one per line of the
// input) to ParseChallenges and checks what the rest of sesame relies on:
// no panic, errors wrap ErrMalformedChallenge and return nothing, the
// limits hold, nothing that could break a header (CR, LF, NUL) comes out,
// and what comes out means the same when written back and parsed again.
// Every Digest challenge it yields is also answered, which must not panic
// and must give a header-safe value.
func FuzzParseChallenges(f *testing.F) {
	for _, tc := range challengeCases {
		f.Add(strings.Join(tc.values, "\n"))
	}
	f.Add(rfcChallengeSHA512256)
	f.Add(`Digest realm="r", nonce="n", algorithm=MD5-sess, qop="auth-int", userhash=true, opaque="o"`)
	f.Add("Digest realm=\"J\xc3\xa4s\", nonce=\"\t\"")

	f.Fuzz(func(t *testing.T, in string) {
		values := strings.Split(in, "\n")
		chs, err := ParseChallenges(values)
		if err != nil {
			if !errors.Is(err, ErrMalformedChallenge) {
				t.Fatalf("error %v does not wrap ErrMalformedChallenge", err)
			}
			if chs != nil {
				t.Fatalf("challenges returned with an error: %+v", chs)
			}
			return
		}
		if n := len(strings.Join(values, ", ")); n > MaxChallengeHeaderBytes {
			t.Fatalf("accepted %d bytes, limit %d", n, MaxChallengeHeaderBytes)
		}
		if len(chs) > MaxChallenges {
			t.Fatalf("%d challenges, limit %d", len(chs), MaxChallenges)
		}
		for _, c := range chs {
			if c.Scheme == "" || strings.IndexFunc(c.Scheme, func(r rune) bool { return r >= 0x80 || !isTchar(byte(r)) }) >= 0 {
				t.Fatalf("scheme %q is not a token", c.Scheme)
			}
			if len(c.Params) > MaxChallengeParams {
				t.Fatalf("%d params, limit %d", len(c.Params), MaxChallengeParams)
			}
			if c.Token68 != "" && c.Params != nil {
				t.Fatalf("challenge with both token68 and params: %+v", c)
			}
			for k, v := range c.Params {
				if k == "" || k != strings.ToLower(k) {
					t.Fatalf("param name %q is empty or not lower-case", k)
				}
				if hasUnsafeCTL(v) {
					t.Fatalf("param %s value %q holds a control character", k, v)
				}
			}
		}

		// Written back (token68 as is, every value quoted) the challenges
		// must parse to the same thing.
		var back []string
		for _, c := range chs {
			s := c.Scheme
			if c.Token68 != "" {
				s += " " + c.Token68
			}
			sep := " "
			for k, v := range c.Params {
				s += sep + k + "=" + QuoteString(v)
				sep = ", "
			}
			back = append(back, s)
		}
		if len(strings.Join(back, ", ")) <= MaxChallengeHeaderBytes {
			again, err := ParseChallenges(back)
			if err != nil || !reflect.DeepEqual(again, chs) {
				t.Fatalf("round trip of %q:\n got %#v, %v\nwant %#v", back, again, err, chs)
			}
		}

		PreferDigest(chs)
		d := &DigestClient{User: "Jäsøn \"Doe\"", Password: "pw"}
		for _, c := range chs {
			DigestStale(c)
			h, err := d.Authorize(c, "GET", "/x?y", []byte("body"))
			if err != nil {
				continue
			}
			if hasUnsafeCTL(h) {
				t.Fatalf("Authorize gave a header value with a control character: %q", h)
			}
			if _, err := ParseChallenges([]string{h}); err != nil && len(h) <= MaxChallengeHeaderBytes {
				t.Fatalf("Authorize gave a value that does not parse back: %q: %v", h, err)
			}
		}
	})
}

// hasUnsafeCTL reports a control character other than HTAB, which a header
// field value may not carry.
func hasUnsafeCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if isCTL(s[i]) && s[i] != '\t' {
			return true
		}
	}
	return false
}

// FuzzParseAuthenticationInfo feeds arbitrary Authentication-Info header
// values (one per line) to ParseAuthenticationInfo and to the check of a
// Digest answer: no panic, errors wrap ErrMalformedChallenge (parsing) or
// ErrDigestRspauth (verifying), the limits hold, no control character
// comes out, and only the right rspauth for the request verifies.
func FuzzParseAuthenticationInfo(f *testing.F) {
	f.Add(`rspauth="9b712497bc9f91499fbcca1dfc5f09a5", qop=auth, nc=00000001, cnonce="` + rfcCnonce + `"`)
	f.Add(`rspauth="9B712497BC9F91499FBCCA1DFC5F09A5"` + "\n" + `qop=auth, nc=00000001`)
	f.Add(`nextnonce="abc", rspauth=9b712497bc9f91499fbcca1dfc5f09a5`)
	f.Add(`rspauth="9b712497bc9f91499fbcca1dfc5f09a5", rspauth="x"`)
	f.Add(`rspauth="\"`)
	f.Add("Digest rspauth=x")
	f.Add(",,, ,")
	f.Add("")

	f.Fuzz(func(t *testing.T, in string) {
		values := strings.Split(in, "\n")
		info, err := ParseAuthenticationInfo(values)
		if err != nil {
			if !errors.Is(err, ErrMalformedChallenge) || info != nil {
				t.Fatalf("error %v (info %v) does not wrap ErrMalformedChallenge or returns a map", err, info)
			}
		} else {
			if len(info) > MaxChallengeParams {
				t.Fatalf("%d params, limit %d", len(info), MaxChallengeParams)
			}
			for k, v := range info {
				if k == "" || k != strings.ToLower(k) || hasUnsafeCTL(v) {
					t.Fatalf("param %q=%q", k, v)
				}
			}
		}

		d := fixedCnonce("Mufasa", "Circle of Life", rfcCnonce)
		ch, _ := ParseChallenges([]string{rfcChallengeMD5})
		a, err := d.Answer(ch[0], "GET", "/dir/index.html", nil)
		if err != nil {
			t.Fatal(err)
		}
		verr := a.VerifyAuthenticationInfo(values)
		if verr != nil && !errors.Is(verr, ErrDigestRspauth) {
			t.Fatalf("verify: %v does not wrap ErrDigestRspauth", verr)
		}
		if verr != nil && strings.Contains(verr.Error(), "Circle of Life") {
			t.Fatalf("verify error shows the password: %v", verr)
		}
		if verr == nil && err == nil && info["rspauth"] != "" && !strings.EqualFold(info["rspauth"], "9b712497bc9f91499fbcca1dfc5f09a5") {
			t.Fatalf("rspauth %q verified", info["rspauth"])
		}
	})
}
