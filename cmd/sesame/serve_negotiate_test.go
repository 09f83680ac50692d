//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// curlEnv runs curl with env (nothing of the test's own environment) and
// returns the body and the status code.
func curlEnv(t *testing.T, env []string, args ...string) (body string, status int) {
	t.Helper()
	lab.Require(t, "curl")
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "curl", append([]string{"-sS", "--max-time", "30", "-w", "\n%{http_code}"}, args...)...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("curl %v: %v: %s", args, err, errOut.String())
	}
	s := out.String()
	i := strings.LastIndex(s, "\n")
	fmt.Sscan(s[i+1:], &status)
	return s[:i], status
}

// sesame serve with the lab KDC's service keytab (HTTP/localhost): curl
// --negotiate after kinit, Basic checked against the KDC
// (basic_kerberos), delegated credentials written for the backend,
// python3-requests-kerberos with mutual authentication required, and
// sesame's own client.
func TestServeNegotiate(t *testing.T) {
	kdc := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: "AlicePass123"}, {Name: "bob", Password: "BobPass456"}}})
	aliceCC := kdc.Kinit(t, "alice", "AlicePass123")
	bobCC := kdc.Kinit(t, "bob", "BobPass456")
	backend := echoBackend(t)
	bin := buildSesame(t)
	deleg := t.TempDir()
	srv := startServe(t, bin, kdc.Env(), "http", "--backend", backend.URL,
		"--keytab", kdc.ServiceKeytab, "--basic-kerberos", "--delegation-dir", deleg)
	// The ticket is for HTTP/localhost: clients must ask by that name.
	url := "http://" + strings.Replace(srv.Addr, "127.0.0.1", "localhost", 1) + "/app"
	resolve := "localhost:" + srv.Addr[strings.LastIndexByte(srv.Addr, ':')+1:] + ":127.0.0.1"
	clientEnv := func(cc string) []string {
		return append(kdc.Env(), "KRB5CCNAME=FILE:"+cc)
	}
	wantUser := func(t *testing.T, body string, status int, user string) {
		t.Helper()
		if status != 200 {
			t.Fatalf("status %d: %s\n%s", status, body, srv.log.String())
		}
		h := echoed(t, body)
		if got := h.Values("X-Remote-User"); len(got) != 1 || got[0] != user {
			t.Errorf("X-Remote-User %q, want %q", got, user)
		}
		if got := h.Get("X-Remote-Realm"); got != "CORP.TEST" {
			t.Errorf("X-Remote-Realm %q, want CORP.TEST", got)
		}
	}

	t.Run("curl --negotiate", func(t *testing.T) {
		for cc, user := range map[string]string{aliceCC: "alice@CORP.TEST", bobCC: "bob@CORP.TEST"} {
			body, status := curlEnv(t, clientEnv(cc), "--negotiate", "-u", ":", "--resolve", resolve,
				"-H", "X-Remote-User: mallory", url)
			wantUser(t, body, status, user)
		}
		if !strings.Contains(srv.log.String(), "auth=Negotiate") {
			t.Errorf("access log names no Negotiate:\n%s", srv.log.String())
		}
	})
	t.Run("no ticket", func(t *testing.T) {
		body, status := curlEnv(t, kdc.Env(), "--negotiate", "-u", ":", "--resolve", resolve, "-D", "-", url)
		if status != 401 || !strings.Contains(strings.ToLower(body), "www-authenticate: negotiate\r\n") {
			t.Errorf("status %d, want 401 offering Negotiate:\n%s", status, body)
		}
	})
	t.Run("basic_kerberos", func(t *testing.T) {
		body, status := curlEnv(t, nil, "--basic", "-u", "alice:AlicePass123", url)
		wantUser(t, body, status, "alice@CORP.TEST")
		_, status = curlEnv(t, nil, "--basic", "-u", "alice:wrong", url)
		if status != 401 {
			t.Errorf("wrong password: status %d, want 401", status)
		}
		_, status = curlEnv(t, nil, "--basic", "-u", "nosuch:AlicePass123", url)
		if status != 401 {
			t.Errorf("unknown user: status %d, want 401", status)
		}
	})
	t.Run("delegation", func(t *testing.T) {
		body, status := curlEnv(t, clientEnv(aliceCC), "--negotiate", "--delegation", "always", "-u", ":", "--resolve", resolve,
			"-H", "X-Remote-Ccache: /etc/passwd", url)
		wantUser(t, body, status, "alice@CORP.TEST")
		h := echoed(t, body)
		path := h.Get("X-Remote-Ccache")
		if filepath.Dir(path) != deleg {
			t.Fatalf("X-Remote-Ccache %q, want a file in %s", path, deleg)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("delegated ccache %s: %v, mode %v (want private)", path, err, fi.Mode())
		}
		out, err := exec.Command("klist", "-c", "FILE:"+path).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Default principal: alice@CORP.TEST") || !strings.Contains(string(out), "krbtgt/CORP.TEST@CORP.TEST") {
			t.Errorf("klist of the delegated ccache: %v\n%s", err, out)
		}
		// The backend can use it: a service ticket with the delegated TGT.
		kvno := exec.Command("kvno", "HTTP/127.0.0.1@CORP.TEST")
		kvno.Env = append(kdc.Env(), "KRB5CCNAME=FILE:"+path)
		if out, err := kvno.CombinedOutput(); err != nil {
			t.Errorf("kvno with the delegated TGT: %v\n%s", err, out)
		}
		// Without delegation, no header.
		body, _ = curlEnv(t, clientEnv(bobCC), "--negotiate", "-u", ":", "--resolve", resolve, url)
		if got := echoed(t, body).Get("X-Remote-Ccache"); got != "" {
			t.Errorf("bob did not delegate, yet X-Remote-Ccache %q", got)
		}
	})
	t.Run("requests-kerberos mutual", func(t *testing.T) {
		lab.RequirePython(t, "requests_kerberos")
		script := `import sys, requests
from requests_kerberos import HTTPKerberosAuth, REQUIRED
r = requests.get(sys.argv[1], auth=HTTPKerberosAuth(mutual_authentication=REQUIRED), timeout=30)
print(r.status_code)
print(r.json().get("X-Remote-User", ["-"])[0])
`
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "/usr/bin/python3", "-c", script, url)
		cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, clientEnv(aliceCC)...)
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Fields(string(out))[0] != "200" || !strings.Contains(string(out), "alice@CORP.TEST") {
			t.Errorf("requests-kerberos: %v\n%s\n%s", err, out, srv.log.String())
		}
	})
	t.Run("sesame get", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "get", "-u", ":", url)
		cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}, clientEnv(aliceCC)...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("sesame get -u : %v\n%s", err, errOut.String())
		}
		if got := echoed(t, out.String()).Get("X-Remote-User"); got != "alice@CORP.TEST" {
			t.Errorf("X-Remote-User %q, want alice@CORP.TEST\n%s", got, errOut.String())
		}
	})
}

// Negotiate over TLS with channel_binding = "required": python3-gssapi
// (MIT's libgssapi) binding the ticket to the TLS channel
// (tls-server-end-point of the server's certificate) gets in; the same
// with bindings of another certificate, and curl 7.88, which sends no
// bindings, are refused.
func TestServeNegotiateTLSChannelBinding(t *testing.T) {
	lab.RequirePython(t, "gssapi")
	kdc := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: "AlicePass123"}}})
	cc := kdc.Kinit(t, "alice", "AlicePass123")
	backend := echoBackend(t)
	bin := buildSesame(t)
	cert, key := writeServeCert(t)
	srv := startServe(t, bin, kdc.Env(), "https", "--backend", backend.URL, "--keytab", kdc.ServiceKeytab,
		"--tls-cert", cert, "--tls-key", key, "--config", writeTOML(t, "[serve]\nchannel_binding = \"required\"\n"))
	port := srv.Addr[strings.LastIndexByte(srv.Addr, ':')+1:]
	url := "https://localhost:" + port + "/app"
	env := append(kdc.Env(), "KRB5CCNAME=FILE:"+cc)

	if _, status := curlEnv(t, env, "--negotiate", "-u", ":", "--cacert", cert, "--resolve", "localhost:"+port+":127.0.0.1", url); status != 401 {
		t.Errorf("curl without channel bindings: status %d, want 401", status)
	}
	if !strings.Contains(srv.log.String(), "channel binding required, the client sent none") {
		t.Errorf("the log does not say why curl was refused:\n%s", srv.log.String())
	}

	code, out, errOut := sesame(t, "", map[string]string{"KRB5_CONFIG": kdc.Krb5Conf, "KRB5CCNAME": "FILE:" + cc},
		"get", "-u", ":", "--cacert", cert, url)
	if code != 0 || !strings.Contains(out, "alice@CORP.TEST") {
		t.Errorf("sesame get -u : over TLS with channel_binding required: exit %d\n%s\n%s\n%s", code, out, errOut, srv.log.String())
	}

	// One request with a Kerberos token (MIT's initiator) bound to the
	// certificate the server presented (or, with "wrong", to another).
	script := `import sys, ssl, hashlib, base64, json, http.client, gssapi
port, cafile, mode = sys.argv[1], sys.argv[2], sys.argv[3]
conn = http.client.HTTPSConnection("localhost", int(port), context=ssl.create_default_context(cafile=cafile), timeout=30)
conn.connect()
der = conn.sock.getpeercert(binary_form=True)
if mode == "wrong":
    der = b"another certificate"
cb = gssapi.raw.ChannelBindings(application_data=b"tls-server-end-point:" + hashlib.sha256(der).digest())
ctx = gssapi.SecurityContext(name=gssapi.Name("HTTP@localhost", gssapi.NameType.hostbased_service), usage="initiate", channel_bindings=cb)
tok = ctx.step()
conn.request("GET", "/app", headers={"Authorization": "Negotiate " + base64.b64encode(tok).decode()})
r = conn.getresponse()
body = r.read().decode()
print(r.status)
print(json.loads(body).get("X-Remote-User", ["-"])[0] if r.status == 200 else "-")
`
	for _, tc := range []struct{ mode, want string }{{"right", "200\nalice@CORP.TEST\n"}, {"wrong", "401\n-\n"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, "/usr/bin/python3", "-c", script, port, cert, tc.mode)
		cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil || string(out) != tc.want {
			t.Errorf("python3-gssapi with %s bindings: %v\n%s\nwant %q\n%s", tc.mode, err, out, tc.want, srv.log.String())
		}
	}
}

// writeTOML writes a configuration file and returns its path.
func writeTOML(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sesame.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
