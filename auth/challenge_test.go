package auth

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// p builds a Params map from name, value pairs.
func p(kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// challengeCases are the parser's table; the fuzz test seeds from them too.
var challengeCases = []struct {
	name   string
	values []string
	want   []Challenge // nil with wantErr
	err    bool
}{
	{
		name:   "basic",
		values: []string{`Basic realm="WallyWorld"`},
		want:   []Challenge{{Scheme: "Basic", Params: p("realm", "WallyWorld")}},
	},
	{
		name:   "basic with charset",
		values: []string{`Basic realm="foo", charset="UTF-8"`},
		want:   []Challenge{{Scheme: "Basic", Params: p("realm", "foo", "charset", "UTF-8")}},
	},
	{
		// The hard case of RFC 7235: commas inside a quoted string, between
		// params and between challenges, all in one value.
		name:   "several challenges in one value",
		values: []string{`Basic realm="a, b", Digest realm="x", nonce="y", qop="auth,auth-int"`},
		want: []Challenge{
			{Scheme: "Basic", Params: p("realm", "a, b")},
			{Scheme: "Digest", Params: p("realm", "x", "nonce", "y", "qop", "auth,auth-int")},
		},
	},
	{
		name:   "RFC 7235 section 4.1 example",
		values: []string{`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`},
		want: []Challenge{
			{Scheme: "Newauth", Params: p("realm", "apps", "type", "1", "title", `Login to "apps"`)},
			{Scheme: "Basic", Params: p("realm", "simple")},
		},
	},
	{
		name:   "across header values",
		values: []string{"Negotiate", "NTLM", `Basic realm="CORP"`},
		want: []Challenge{
			{Scheme: "Negotiate"}, {Scheme: "NTLM"}, {Scheme: "Basic", Params: p("realm", "CORP")},
		},
	},
	{
		name:   "bare schemes in one value",
		values: []string{"Negotiate, NTLM"},
		want:   []Challenge{{Scheme: "Negotiate"}, {Scheme: "NTLM"}},
	},
	{
		name:   "token68 with padding",
		values: []string{"NTLM TlRMTVNTUAACAAAADAAMADgAAAA1gpri==", "Negotiate oYG2MIGzoAMKAQE="},
		want: []Challenge{
			{Scheme: "NTLM", Token68: "TlRMTVNTUAACAAAADAAMADgAAAA1gpri=="},
			{Scheme: "Negotiate", Token68: "oYG2MIGzoAMKAQE="},
		},
	},
	{
		// A proxy answering NTLM with a SPNEGO blob: still just token68
		// (base64 with '+' and '/'); the NTLM code finds out it is not NTLMSSP.
		name:   "token68 with plus and slash",
		values: []string{"NTLM oRswGaADCgEBoRIEEE5UTE1TU1AAAg+/AAAAAA=="},
		want:   []Challenge{{Scheme: "NTLM", Token68: "oRswGaADCgEBoRIEEE5UTE1TU1AAAg+/AAAAAA=="}},
	},
	{
		name:   "token68 then another challenge",
		values: []string{`Negotiate YII=, Basic realm="x"`},
		want: []Challenge{
			{Scheme: "Negotiate", Token68: "YII="},
			{Scheme: "Basic", Params: p("realm", "x")},
		},
	},
	{
		name:   "token68 base64url without padding",
		values: []string{"Bearer mF_9.B5f-4.1JqM~"},
		want:   []Challenge{{Scheme: "Bearer", Token68: "mF_9.B5f-4.1JqM~"}},
	},
	{
		name:   "empty list elements",
		values: []string{` , ,Basic realm="a" , , Digest realm="b", , nonce="n",, `, "", " , "},
		want: []Challenge{
			{Scheme: "Basic", Params: p("realm", "a")},
			{Scheme: "Digest", Params: p("realm", "b", "nonce", "n")},
		},
	},
	{
		name:   "no values",
		values: nil,
		want:   nil,
	},
	{
		name:   "quoted-pair escapes",
		values: []string{`Basic realm="a\"b\\c\d"`},
		want:   []Challenge{{Scheme: "Basic", Params: p("realm", `a"b\cd`)}},
	},
	{
		name:   "empty quoted string",
		values: []string{`Basic realm=""`},
		want:   []Challenge{{Scheme: "Basic", Params: p("realm", "")}},
	},
	{
		name:   "param names lower-cased, scheme kept",
		values: []string{`DIGEST Realm="R", NONCE="N", Algorithm=SHA-256`},
		want:   []Challenge{{Scheme: "DIGEST", Params: p("realm", "R", "nonce", "N", "algorithm", "SHA-256")}},
	},
	{
		name:   "whitespace around equals and tabs",
		values: []string{"Digest\trealm = \"r\" ,\tnonce\t=\tabc"},
		want:   []Challenge{{Scheme: "Digest", Params: p("realm", "r", "nonce", "abc")}},
	},
	{
		// Not RFC syntax, but sent by real servers: unquoted values with
		// characters a token may not hold.
		name:   "unquoted slash and colon",
		values: []string{`Basic realm=foo/bar`, `Digest realm=x, domain=http://host:8080/a, nonce=abc==, qop=auth`},
		want: []Challenge{
			{Scheme: "Basic", Params: p("realm", "foo/bar")},
			{Scheme: "Digest", Params: p("realm", "x", "domain", "http://host:8080/a", "nonce", "abc==", "qop", "auth")},
		},
	},
	{
		name:   "unquoted empty value",
		values: []string{`Digest realm="r", opaque=, nonce="n"`},
		want:   []Challenge{{Scheme: "Digest", Params: p("realm", "r", "opaque", "", "nonce", "n")}},
	},
	{
		name:   "unknown scheme returned",
		values: []string{`Mutual realm="x", sid=1`, "Hoba max-age=180, challenge=16-somechallenge"},
		want: []Challenge{
			{Scheme: "Mutual", Params: p("realm", "x", "sid", "1")},
			{Scheme: "Hoba", Params: p("max-age", "180", "challenge", "16-somechallenge")},
		},
	},
	{
		name:   "UTF-8 in quoted string",
		values: []string{`Basic realm="Zürich"`},
		want:   []Challenge{{Scheme: "Basic", Params: p("realm", "Zürich")}},
	},
	{
		name:   "RFC 7616 3.9.1 challenges",
		values: []string{rfcChallengeSHA256, rfcChallengeMD5},
		want: []Challenge{
			{Scheme: "Digest", Params: p("realm", "http-auth@example.org", "qop", "auth, auth-int", "algorithm", "SHA-256",
				"nonce", "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "opaque", "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")},
			{Scheme: "Digest", Params: p("realm", "http-auth@example.org", "qop", "auth, auth-int", "algorithm", "MD5",
				"nonce", "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "opaque", "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")},
		},
	},

	// Errors.
	{name: "unterminated quoted string", values: []string{`Basic realm="abc`}, err: true},
	{name: "backslash at end", values: []string{`Basic realm="abc\`}, err: true},
	{name: "CR LF in quoted string", values: []string{"Basic realm=\"a\r\nX-Injected: 1\""}, err: true},
	{name: "escaped LF", values: []string{"Basic realm=\"a\\\nb\""}, err: true},
	{name: "NUL in value", values: []string{"Basic realm=a\x00b"}, err: true},
	{name: "param before scheme", values: []string{`realm="x"`}, err: true},
	{name: "param after token68", values: []string{`NTLM abc==, realm="x"`}, err: true},
	{name: "duplicate param", values: []string{`Digest realm="a", nonce="n", REALM="b"`}, err: true},
	{name: "missing comma between params", values: []string{`Digest realm="a" nonce="n"`}, err: true},
	{name: "quote right after scheme", values: []string{`Basic"x"`}, err: true},
	{name: "separator as scheme", values: []string{`(Basic)`}, err: true},
	{name: "quote in unquoted value", values: []string{`Basic realm=a"b"`}, err: true},
	{name: "semicolon separated", values: []string{`Basic realm="a"; charset="UTF-8"`}, err: true},
	{name: "equals without name", values: []string{`Basic realm="a", ="b"`}, err: true},
	{name: "bad value after a good one", values: []string{`Basic realm="a"`, `Digest "x"`}, err: true},
}

// Published examples, also used by the Digest tests.
const (
	rfcChallengeSHA256 = `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, ` +
		`nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`
	rfcChallengeMD5 = `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, ` +
		`nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`
	rfcChallengeSHA512256 = `Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, ` +
		`nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", ` +
		`charset=UTF-8, userhash=true`
)

func TestParseChallenges(t *testing.T) {
	for _, tc := range challengeCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseChallenges(tc.values)
			if tc.err {
				if err == nil {
					t.Fatalf("ParseChallenges(%q) = %+v, want an error", tc.values, got)
				}
				if !errors.Is(err, ErrMalformedChallenge) {
					t.Fatalf("error %v does not wrap ErrMalformedChallenge", err)
				}
				if !strings.HasPrefix(err.Error(), "auth: parse challenge: ") {
					t.Errorf("error %q lacks the package prefix", err)
				}
				if got != nil {
					t.Errorf("challenges returned with the error: %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseChallenges(%q): %v", tc.values, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseChallenges(%q)\n got %#v\nwant %#v", tc.values, got, tc.want)
			}
		})
	}
}

func TestChallengeParam(t *testing.T) {
	chs, err := ParseChallenges([]string{`Digest Realm="R", stale=TRUE`})
	if err != nil {
		t.Fatal(err)
	}
	c := chs[0]
	for _, name := range []string{"realm", "Realm", "REALM"} {
		if v := c.Param(name); v != "R" {
			t.Errorf("Param(%q) = %q, want R", name, v)
		}
	}
	if v := c.Param("nonce"); v != "" {
		t.Errorf("Param(nonce) = %q, want empty", v)
	}
	if v := (Challenge{Scheme: "NTLM"}).Param("realm"); v != "" {
		t.Errorf("Param on a challenge without params = %q", v)
	}
}

func TestParseChallengesLimits(t *testing.T) {
	t.Run("header bytes", func(t *testing.T) {
		long := `Basic realm="` + strings.Repeat("a", MaxChallengeHeaderBytes) + `"`
		if _, err := ParseChallenges([]string{long}); !errors.Is(err, ErrMalformedChallenge) {
			t.Fatalf("one %d-byte value: err %v, want ErrMalformedChallenge", len(long), err)
		}
		// The limit is on the sum, not each value.
		half := "NTLM " + strings.Repeat("A", MaxChallengeHeaderBytes/2)
		if _, err := ParseChallenges([]string{half, half}); !errors.Is(err, ErrMalformedChallenge) {
			t.Fatalf("two values totalling over the limit: err %v, want ErrMalformedChallenge", err)
		}
		// Right at the limit is fine.
		exact := "NTLM " + strings.Repeat("A", MaxChallengeHeaderBytes-len("NTLM "))
		if chs, err := ParseChallenges([]string{exact}); err != nil || len(chs) != 1 {
			t.Fatalf("a value of exactly %d bytes: %v", len(exact), err)
		}
	})
	t.Run("challenges", func(t *testing.T) {
		ok := strings.Repeat("NTLM, ", MaxChallenges)
		if chs, err := ParseChallenges([]string{ok}); err != nil || len(chs) != MaxChallenges {
			t.Fatalf("%d challenges: %d, %v", MaxChallenges, len(chs), err)
		}
		if _, err := ParseChallenges([]string{ok, "Basic"}); !errors.Is(err, ErrMalformedChallenge) {
			t.Fatalf("%d challenges across values: err %v, want ErrMalformedChallenge", MaxChallenges+1, err)
		}
	})
	t.Run("params", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("X ")
		for i := range MaxChallengeParams {
			b.WriteString("p" + strings.Repeat("x", i) + "=1,")
		}
		if chs, err := ParseChallenges([]string{b.String()}); err != nil || len(chs[0].Params) != MaxChallengeParams {
			t.Fatalf("%d params: %v", MaxChallengeParams, err)
		}
		b.WriteString("one=more")
		if _, err := ParseChallenges([]string{b.String()}); !errors.Is(err, ErrMalformedChallenge) {
			t.Fatalf("%d params: err %v, want ErrMalformedChallenge", MaxChallengeParams+1, err)
		}
	})
}

func TestQuoteString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{`a"b`, `"a\"b"`},
		{`a\b`, `"a\\b"`},
		{`\"`, `"\\\""`},
		{"Zürich, CH", `"Zürich, CH"`},
	} {
		if got := QuoteString(tc.in); got != tc.want {
			t.Errorf("QuoteString(%q) = %s, want %s", tc.in, got, tc.want)
		}
		// And the parser reads it back.
		chs, err := ParseChallenges([]string{"X v=" + QuoteString(tc.in)})
		if err != nil || chs[0].Param("v") != tc.in {
			t.Errorf("round trip of %q: %+v, %v", tc.in, chs, err)
		}
	}
}
