//go:build linux

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
	"github.com/sesame-auth/sesame/ntlm"
)

// TestTokenSSPIUnderWine: `sesame.exe token negotiate|authenticate
// --sspi` under Wine make their NTLM tokens with Wine's NTLM package (the
// one Windows programs get from secur32, here backed by Samba's
// ntlm_auth): the NEGOTIATE decodes; the AUTHENTICATE answering a
// CHALLENGE of sesame's own ntlm.Server is accepted by that Server (its
// NTLMv2 proof and MIC checked) and by `sesame token decode` given the
// password; a wrong password gives an AUTHENTICATE the Server refuses.
// --server-cert finds a certificate in the user's MY store by thumbprint
// and by subject.
func TestTokenSSPIUnderWine(t *testing.T) {
	lab.Require(t, "go")
	exe := buildWindowsSesame(t)
	w := lab.StartWine(t)
	const password = "SspiTok-321"
	env := []string{"TOKEN_TEST_PW=" + password, "TOKEN_TEST_WRONG=wrong"}
	run := func(wantCode int, args ...string) (token, stderr string) {
		t.Helper()
		begin := time.Now()
		out, code, err := w.RunEnv(wineCmdTimeout, env, w.WindowsPath(exe), args...)
		t.Logf("sesame.exe %s: %v", strings.Join(args[:3], " "), time.Since(begin).Round(time.Millisecond))
		if err != nil || code != wantCode {
			t.Fatalf("wine sesame.exe %s: status %d (want %d), %v\n%s", strings.Join(args, " "), code, wantCode, err, out)
		}
		// Wine gives stdout and stderr in one file: the token is the
		// line that is not sesame's note.
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "sesame") {
				stderr += l + "\n"
			} else if l != "" {
				token = l
			}
		}
		return token, stderr
	}
	decode := func(name, b64 string) []byte {
		t.Helper()
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatalf("%s is not base64: %v: %q", name, err, b64)
		}
		return b
	}

	negB64, _ := run(0, "token", "negotiate", "--sspi", "--user", `CORP\alice`, "--password-env", "TOKEN_TEST_PW")
	neg, err := ntlm.ParseNegotiate(decode("NEGOTIATE", negB64))
	if err != nil {
		t.Fatalf("Wine's NEGOTIATE: %v (%s)", err, negB64)
	}
	if neg.Flags&ntlm.FlagUnicode == 0 || neg.Flags&ntlm.FlagNTLM == 0 {
		t.Errorf("Wine's NEGOTIATE flags %v lack UNICODE or NTLM", neg.Flags)
	}
	if code, out, errOut := sesame(t, "", nil, "token", "decode", negB64); code != 0 || !strings.Contains(out, "NEGOTIATE") {
		t.Fatalf("sesame token decode of Wine's NEGOTIATE: exit %d\n%s%s", code, out, errOut)
	}

	users, err := ntlm.ParseUserFile(strings.NewReader("CORP:alice:"+password+"\n"), false)
	if err != nil {
		t.Fatal(err)
	}
	srv := &ntlm.Server{Store: users, NetBIOSDomain: "CORP", NetBIOSComputer: "WEB", DNSDomain: "corp.test", DNSComputer: "web.corp.test"}
	answer := func(pwEnv string, extra ...string) (hs *ntlm.ServerHandshake, chal, auth []byte, note string) {
		t.Helper()
		hs, chal, err := srv.Challenge(decode("NEGOTIATE", negB64))
		if err != nil {
			t.Fatalf("ntlm.Server.Challenge(Wine's NEGOTIATE): %v", err)
		}
		args := append([]string{"token", "authenticate", "--sspi", "--user", `CORP\alice`, "--password-env", pwEnv,
			"--challenge", base64.StdEncoding.EncodeToString(chal), "--negotiate", negB64, "--spn", "HTTP/web.corp.test"}, extra...)
		authB64, note := run(0, args...)
		return hs, chal, decode("AUTHENTICATE", authB64), note
	}

	hs, chal, auth, note := answer("TOKEN_TEST_PW")
	if note != "" {
		t.Logf("NEGOTIATE of the second context differs: %s", note)
	}
	id, err := hs.Authenticate(context.Background(), auth, nil)
	if err != nil {
		t.Fatalf("ntlm.Server refused Wine's AUTHENTICATE: %v", err)
	}
	if !strings.EqualFold(id.User, "alice") || id.NTLMVersion != 2 {
		t.Fatalf("identity %+v, want alice over NTLMv2", id)
	}
	t.Logf("Wine's AUTHENTICATE accepted: %s\\%s from %q, NTLMv%d, target %q", id.Domain, id.User, id.Workstation, id.NTLMVersion, id.TargetName)
	code, out, errOut := sesame(t, "", map[string]string{"PW": password}, "token", "decode", "--password-env", "PW",
		negB64, base64.StdEncoding.EncodeToString(chal), base64.StdEncoding.EncodeToString(auth))
	if code != 0 || !strings.Contains(out, "VALID") {
		t.Fatalf("sesame token decode --password-env of Wine's exchange: exit %d\n%s%s", code, out, errOut)
	}

	hs, _, auth, _ = answer("TOKEN_TEST_WRONG")
	if _, err := hs.Authenticate(context.Background(), auth, nil); err == nil {
		t.Fatal("ntlm.Server accepted Wine's AUTHENTICATE made with a wrong password")
	}

	// The certificate store: a self-signed certificate put in the user's
	// MY store (the registry's serialized form, which Wine's crypt32 and
	// Windows read), found by thumbprint and by subject.
	cert := selfSigned(t, "sesame-token-test.corp.test")
	sum := sha1.Sum(cert.Raw)
	thumb := strings.ToUpper(hex.EncodeToString(sum[:]))
	key := `HKCU\Software\Microsoft\SystemCertificates\MY\Certificates\` + thumb
	if out, code, err := w.Run(wineCmdTimeout, "reg", "add", key, "/v", "Blob", "/t", "REG_BINARY", "/d", hex.EncodeToString(serializedCert(cert.Raw)), "/f"); err != nil || code != 0 {
		t.Fatalf("reg add %s: status %d, %v\n%s", key, code, err, out)
	}
	for _, q := range []string{thumb, strings.ToLower(thumb[:20]) + " " + thumb[20:], "sesame-token-test"} {
		hs, _, auth, _ = answer("TOKEN_TEST_PW", "--server-cert", q)
		d, err := ntlm.Describe(auth)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(d.String(), "MsvAvChannelBindings") && !strings.Contains(d.String(), "MsvAvChannelBindings: 00000000000000000000000000000000") {
			if _, err := hs.Authenticate(context.Background(), auth, ntlm.TLSServerEndPoint(cert)); err != nil {
				t.Errorf("--server-cert %q: bindings present but not those of the certificate: %v", q, err)
			}
		} else {
			// Wine 8's NTLM (ntlm_auth) ignores SECBUFFER_CHANNEL_BINDINGS.
			t.Logf("--server-cert %q: certificate found; Wine's NTLM sent no channel bindings", q)
		}
	}
	out2, code2, _ := w.RunEnv(wineCmdTimeout, env, w.WindowsPath(exe), "token", "authenticate", "--sspi", "--user", `CORP\alice`, "--password-env", "TOKEN_TEST_PW",
		"--challenge", base64.StdEncoding.EncodeToString(chal), "--server-cert", strings.Repeat("AB", 20))
	if code2 != 1 || !strings.Contains(out2, "certificate not found") {
		t.Errorf("--server-cert with an unknown thumbprint: status %d, want 1 and 'certificate not found'\n%s", code2, out2)
	}
}

// selfSigned makes a throwaway certificate for cn.
func selfSigned(t *testing.T, cn string) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// serializedCert is a certificate as a registry system store holds it
// (the "Blob" value): serialized properties, here only
// CERT_CERT_PROP_ID (32) with the DER, each as {id, 1, length, data}.
func serializedCert(der []byte) []byte {
	b := make([]byte, 12, 12+len(der))
	binary.LittleEndian.PutUint32(b[0:], 32)
	binary.LittleEndian.PutUint32(b[4:], 1)
	binary.LittleEndian.PutUint32(b[8:], uint32(len(der)))
	return append(b, der...)
}

// TestTokenSSPIWindowsOnly: elsewhere --sspi is a usage error (exit 2)
// that says why, and the account flags of `token negotiate` need it.
func TestTokenSSPIWindowsOnly(t *testing.T) {
	for _, args := range [][]string{
		{"token", "negotiate", "--sspi"},
		{"token", "authenticate", "--sspi", "--challenge", "TlRMTVNTUAACAAAA"},
	} {
		if code, _, errOut := sesame(t, "", nil, args...); code != 2 || !strings.Contains(errOut, "Windows only") {
			t.Errorf("%v: exit %d %q, want 2 and 'Windows only'", args, code, errOut)
		}
	}
	if code, _, errOut := sesame(t, "", nil, "token", "negotiate", "--user", `CORP\alice`); code != 2 || !strings.Contains(errOut, "go with --sspi") {
		t.Errorf("token negotiate --user without --sspi: exit %d %q", code, errOut)
	}
}
