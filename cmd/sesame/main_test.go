package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/ntlm"
)

// hermeticKerberos keeps the machine's Kerberos setup out of tests that do
// not bring their own: a stock /etc/krb5.conf names a KDC on the internet,
// and a ticket cache left in /tmp by someone's kinit must not be used.
var hermeticKerberos = map[string]string{"KRB5_CONFIG": "/dev/null", "KRB5CCNAME": "FILE:/nonexistent/sesame-test-ccache"}

// hermeticKerberosEnv is hermeticKerberos for a child's environment.
var hermeticKerberosEnv = []string{"KRB5_CONFIG=/dev/null", "KRB5CCNAME=FILE:/nonexistent/sesame-test-ccache"}

// sesame runs one command line in-process and returns its exit status and
// output.
func sesame(t *testing.T, stdin string, environ map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) string {
		if v, ok := environ[k]; ok {
			return v
		}
		return hermeticKerberos[k]
	}
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut, getenv: getenv}
	code = run(e, args)
	return code, out.String(), errOut.String()
}

func TestHashOutput(t *testing.T) {
	// The output format is cntlm -H's. The NT hash was checked with
	//   printf AlicePass123 | iconv -t utf-16le | openssl dgst -md4 -provider legacy
	// (cntlm 0.92.3's own -H prints a different value for this password,
	// and FFFF... for an empty one: it is not a usable reference).
	code, out, _ := sesame(t, "AlicePass123\n", nil, "hash", "--user", `CORP\alice`, "--lm")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	want := "PassLM          55073579195AD9132B1B5C237AA155A3\n" +
		"PassNT          874649A24F9823FA52D36ADFABF89D8E\n" +
		"PassNTLMv2      431D0A1CE0217BB22111069BF6954BDD    # Only for user 'alice', domain 'CORP'\n"
	if out != want {
		t.Errorf("output\n%s\nwant\n%s", out, want)
	}
	// The printed hashes are the package's values.
	if !strings.Contains(out, strings.ToUpper(hex.EncodeToString(ntlm.NTHash("AlicePass123")))) {
		t.Errorf("NT hash differs from ntlm.NTHash")
	}
}

// The full exchange through the CLI, verified by sesame's own acceptor,
// then explained by `token decode` with the password.
func TestTokenExchangeWithAcceptor(t *testing.T) {
	store, err := ntlm.ParseUserFile(strings.NewReader("CORP:alice:AlicePass123\n"), false)
	if err != nil {
		t.Fatal(err)
	}
	srv := &ntlm.Server{Store: store, NetBIOSDomain: "CORP"}

	code, neg, errOut := sesame(t, "", nil, "token", "negotiate")
	if code != 0 {
		t.Fatalf("negotiate: exit %d: %s", code, errOut)
	}
	neg = strings.TrimSpace(neg)
	negBytes, _ := base64.StdEncoding.DecodeString(neg)
	hs, chalBytes, err := srv.Challenge(negBytes)
	if err != nil {
		t.Fatal(err)
	}
	chal := base64.StdEncoding.EncodeToString(chalBytes)

	for _, tc := range []struct {
		name   string
		stdin  string
		env    map[string]string
		secret []string
	}{
		{"password on stdin", "AlicePass123\n", nil, []string{"--password-stdin"}},
		{"password in env", "", map[string]string{"PW": "AlicePass123"}, []string{"--password-env", "PW"}},
		{"NT hash", "", nil, []string{"--nt-hash", "874649a24f9823fa52d36adfabf89d8e"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs, chalBytes, err := srv.Challenge(negBytes)
			if err != nil {
				t.Fatal(err)
			}
			chal := "WWW-Authenticate: NTLM " + base64.StdEncoding.EncodeToString(chalBytes)
			args := append([]string{"token", "authenticate", "--user", `CORP\alice`, "--challenge", chal, "--negotiate", neg}, tc.secret...)
			code, auth, errOut := sesame(t, tc.stdin, tc.env, args...)
			if code != 0 {
				t.Fatalf("authenticate: exit %d: %s", code, errOut)
			}
			authBytes, err := base64.StdEncoding.DecodeString(strings.TrimSpace(auth))
			if err != nil {
				t.Fatal(err)
			}
			id, err := hs.Authenticate(context.Background(), authBytes, nil)
			if err != nil {
				t.Fatalf("acceptor refused the CLI's AUTHENTICATE: %v", err)
			}
			if id.User != "alice" || id.Domain != "CORP" {
				t.Errorf("identity %+v", id)
			}
		})
	}

	// Wrong password: the acceptor refuses, and decode says INVALID with
	// exit status 1.
	code, auth, _ := sesame(t, "wrong\n", nil, "token", "authenticate", "--user", `CORP\alice`, "--password-stdin", "--challenge", chal, "--negotiate", neg)
	if code != 0 {
		t.Fatalf("authenticate: exit %d", code)
	}
	authBytes, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(auth))
	if _, err := hs.Authenticate(context.Background(), authBytes, nil); err == nil {
		t.Fatal("acceptor took a wrong password")
	}
	code, out, errOut := sesame(t, "AlicePass123\n", nil, "token", "decode", "--password-stdin", neg, chal, strings.TrimSpace(auth))
	if code != 1 || !strings.Contains(out, "INVALID") || !strings.Contains(errOut, "does not match") {
		t.Errorf("decode of a wrong-password exchange: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, "AlicePass123") || strings.Contains(out+errOut, "wrong\n") {
		t.Errorf("a password was printed:\n%s\n%s", out, errOut)
	}
}

func TestTokenDecodeJSONWithPassword(t *testing.T) {
	c := &ntlm.Client{User: `CORP\alice`, Password: "AlicePass123"}
	store, _ := ntlm.ParseUserFile(strings.NewReader("CORP:alice:AlicePass123\n"), false)
	srv := &ntlm.Server{Store: store}
	neg, _ := c.Negotiate()
	_, chal, _ := srv.Challenge(neg)
	a, _ := c.Authenticate(neg, chal)
	b64 := base64.StdEncoding.EncodeToString
	code, out, errOut := sesame(t, "", map[string]string{"PW": "AlicePass123"}, "token", "decode", "--json", "--password-env", "PW", b64(neg), b64(chal), b64(a.Message))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got decodeOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if len(got.Messages) != 3 || got.Check == nil || !got.Check.ProofValid || got.Check.MIC != "valid" || got.Check.ExportedSessionKey != hex.EncodeToString(a.SessionKey) {
		t.Errorf("decoded %s", out)
	}
}

func TestTokenFormats(t *testing.T) {
	code, hexOut, _ := sesame(t, "", nil, "token", "negotiate", "--hex")
	if code != 0 || !strings.HasPrefix(hexOut, "4e544c4d53535000") {
		t.Fatalf("hex negotiate: %d %q", code, hexOut)
	}
	code, out, _ := sesame(t, "", nil, "token", "decode", "--hex", strings.TrimSpace(hexOut))
	if code != 0 || !strings.Contains(out, "NEGOTIATE message, 40 bytes") {
		t.Errorf("decode --hex: %d %q", code, out)
	}
	code, raw, _ := sesame(t, "", nil, "token", "negotiate", "--raw", "--domain", "CORP", "--workstation", "WS")
	if code != 0 || !strings.HasPrefix(raw, "NTLMSSP\x00") {
		t.Fatalf("raw negotiate: %d %q", code, raw)
	}
	code, out, _ = sesame(t, raw, nil, "token", "decode", "--raw", "-")
	if code != 0 || !strings.Contains(out, "Domain:") || !strings.Contains(out, "CORP") || !strings.Contains(out, "WS") {
		t.Errorf("decode --raw -: %d %q", code, out)
	}
	// NTLM inside a SPNEGO NegTokenInit (as a Negotiate header carries it):
	// the message is found and described.
	spnegoWrapped := append([]byte{0x60, 0x48, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02, 0xa0, 0x3e}, []byte(raw)...)
	code, out, _ = sesame(t, "", nil, "token", "decode", "Negotiate "+base64.StdEncoding.EncodeToString(spnegoWrapped))
	if code != 0 || !strings.Contains(out, "inside SPNEGO") || !strings.Contains(out, "NEGOTIATE message") {
		t.Errorf("decode of SPNEGO-wrapped token: %d %q", code, out)
	}
}

func TestBadInputGivesClearErrors(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		contains string
	}{
		{nil, 2, "usage"},
		{[]string{"nosuch"}, 2, "unknown command"},
		{[]string{"token"}, 2, "missing subcommand"},
		{[]string{"token", "decode"}, 2, "no token"},
		{[]string{"token", "decode", "!!!"}, 1, "not base64"},
		{[]string{"token", "decode", "aGVsbG8gd29ybGQgaGVsbG8="}, 1, "malformed"},
		{[]string{"token", "decode", "--hex", "4e544c4d53535000"}, 1, "malformed"},
		{[]string{"token", "decode", "--hex", "--raw", "x"}, 2, "exclude"},
		{[]string{"token", "authenticate", "--user", "a"}, 2, "--challenge is required"},
		{[]string{"token", "authenticate", "--challenge", "x"}, 2, "--user is required"},
		{[]string{"token", "authenticate", "--user", "a", "--challenge", "TlRMTVNTUAACAAAA"}, 2, "need one of"},
		{[]string{"token", "authenticate", "--user", "a", "--challenge", "TlRMTVNTUAACAAAA", "--nt-hash", "xyz"}, 1, "32 hex digits"},
		{[]string{"token", "authenticate", "--user", "a", "--challenge", "TlRMTVNTUAACAAAA", "--password-env", "NOPE"}, 1, "NOPE is empty"},
		{[]string{"token", "authenticate", "--user", "a", "--challenge", "TlRMTVNTUAACAAAA", "--password-env", "PW", "--ntlm-version", "3"}, 2, "1 or 2"},
		{[]string{"token", "authenticate", "--user", "a", "--challenge", "TlRMTVNTUAACAAAA", "--password-env", "PW"}, 1, "malformed"},
		{[]string{"hash"}, 2, "--user is required"},
		{[]string{"hash", "--user", "a", "extra"}, 2, "unexpected argument"},
		{[]string{"token", "negotiate", "--bogus"}, 2, "unknown flag --bogus"},
	} {
		code, _, errOut := sesame(t, "", map[string]string{"PW": "secret-pw"}, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.contains) {
			t.Errorf("sesame %q: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, errOut, tc.code, tc.contains)
		}
		if strings.Contains(errOut, "secret-pw") {
			t.Errorf("sesame %q printed the password: %q", tc.args, errOut)
		}
	}
	if code, _, _ := sesame(t, "", nil, "hash", "--user", "a"); code != 1 {
		t.Errorf("hash with empty stdin: exit %d, want 1", code)
	}
}
