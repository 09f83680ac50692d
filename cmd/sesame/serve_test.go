//go:build linux

package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// serveProcess is a `sesame serve` started as a user would, on a free
// loopback port, stopped (SIGINT) at cleanup.
type serveProcess struct {
	URL  string
	Addr string
	log  *lockedBuffer
	cmd  *exec.Cmd
}

// startServe runs `sesame serve --listen 127.0.0.1:PORT ARGS...` and
// waits until it accepts connections. scheme is "http" or "https" (with
// --tls-cert in args). At cleanup it checks that the log holds no
// secret and no data race, and that SIGINT stops the server.
func startServe(t *testing.T, bin string, env []string, scheme string, args ...string) *serveProcess {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", lab.FreePort(t))
	cmd := exec.Command(bin, append([]string{"serve", "--listen", addr, "--log-level", "debug"}, args...)...)
	cmd.Env = append(append([]string{"PATH=/usr/bin:/bin"}, hermeticKerberosEnv...), env...)
	out := &lockedBuffer{mu: make(chan struct{}, 1)}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		defer func() {
			if leaked := secretsIn(out.String()); leaked != "" {
				t.Errorf("sesame serve's log contains %s:\n%s", leaked, out.String())
			}
			if strings.Contains(out.String(), "WARNING: DATA RACE") {
				t.Errorf("sesame serve (built with -race) found a data race:\n%s", out.String())
			}
		}()
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			t.Errorf("sesame serve did not stop on SIGINT\n%s", out.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("sesame serve exited:\n%s", out.String())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sesame serve did not listen on %s:\n%s", addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &serveProcess{URL: scheme + "://" + addr, Addr: addr, log: out, cmd: cmd}
}

// echoBackend is a trivial application: it answers with the request's
// headers as JSON (names as received), so tests see exactly what sesame
// serve forwarded.
func echoBackend(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		h := map[string][]string{"_path": {r.URL.Path}}
		for k, v := range r.Header {
			h[k] = v
		}
		json.NewEncoder(w).Encode(h)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// echoed decodes an echoBackend answer.
func echoed(t *testing.T, body string) http.Header {
	t.Helper()
	var h map[string][]string
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatalf("backend answer %q: %v", body, err)
	}
	return h
}

// identityHeadersIn returns the headers of h that any spelling of an
// identity header name (any case, '_' for '-') matches.
func identityHeadersIn(h http.Header, names ...string) []string {
	var found []string
	for k, v := range h {
		for _, n := range names {
			if strings.EqualFold(strings.ReplaceAll(k, "_", "-"), n) {
				found = append(found, k+": "+strings.Join(v, ","))
			}
		}
	}
	return found
}

// curlStatus runs curl and returns the body and the status code, as
// curl -w prints it on the last line.
func curlStatus(t *testing.T, args ...string) (body string, status int) {
	t.Helper()
	out, err := curl(t, append([]string{"-w", "\n%{http_code}"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndex(out, "\n")
	fmt.Sscan(out[i+1:], &status)
	return out[:i], status
}

// A client's X-Remote-User (and the other identity headers, in any case
// and with underscores, under the default names and the configured
// ones) never reaches the backend, also where nothing authenticates.
func TestServeStripsSpoofedIdentity(t *testing.T) {
	backend := echoBackend(t)
	bin := buildSesame(t)
	conf := filepath.Join(t.TempDir(), "sesame.toml")
	if err := os.WriteFile(conf, []byte("[serve]\nmode = 'off'\nuser_header = 'X-Forwarded-User'\ngroups_header = 'X-Groups'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, bin, nil, "http", "--config", conf, "--backend", backend.URL)
	spoofed := []string{"X-Remote-User: mallory", "X_Remote_User: mallory", "x-remote-groups: Domain Admins", "X-REMOTE-REALM: EVIL",
		"X-Forwarded-User: mallory", "x_forwarded_user: mallory", "X_GROUPS: admins", "X-Remote-Ccache: /tmp/krb5cc_0"}
	args := []string{srv.URL + "/page"}
	for _, h := range spoofed {
		args = append(args, "-H", h)
	}
	body, status := curlStatus(t, args...)
	if status != 200 {
		t.Fatalf("status %d: %s\n%s", status, body, srv.log.String())
	}
	h := echoed(t, body)
	if found := identityHeadersIn(h, "X-Remote-User", "X-Remote-Groups", "X-Remote-Realm", "X-Remote-Ccache", "X-Forwarded-User", "X-Groups"); len(found) > 0 {
		t.Errorf("spoofed identity reached the backend: %v", found)
	}
	if h.Get("_path") != "/page" || h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("X-Forwarded-Proto") != "http" {
		t.Errorf("backend got %v", h)
	}
}

// /healthz answers without authentication and without the backend; the
// access log has one line per request with path, status and user; a
// path that is not canonical is refused (its mode could not be told);
// an unreachable backend is a 502 with a log line.
func TestServeHealthzAccessLogAndPaths(t *testing.T) {
	backend := echoBackend(t)
	bin := buildSesame(t)
	srv := startServe(t, bin, nil, "http", "--mode", "off", "--backend", backend.URL)
	if body, status := curlStatus(t, srv.URL+"/healthz"); status != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", status, body)
	}
	if _, status := curlStatus(t, srv.URL+"/a/b?token=s3cr3t"); status != 200 {
		t.Errorf("/a/b: %d", status)
	}
	for _, p := range []string{"/public/../admin", "/a//b", `/a\b`, "/public/%2e%2e/admin"} {
		if _, status := curlStatus(t, "--path-as-is", srv.URL+p); status != 400 {
			t.Errorf("%s: status %d, want 400", p, status)
		}
	}
	log := srv.log.String()
	if !strings.Contains(log, "msg=request") || !strings.Contains(log, "path=/a/b") || !strings.Contains(log, "status=200") || !strings.Contains(log, "user=-") {
		t.Errorf("access log:\n%s", log)
	}
	if strings.Contains(log, "s3cr3t") {
		t.Errorf("the query string was logged:\n%s", log)
	}

	dead := startServe(t, bin, nil, "http", "--mode", "off", "--backend", "http://127.0.0.1:9")
	if _, status := curlStatus(t, dead.URL+"/"); status != 502 {
		t.Errorf("dead backend: %d, want 502", status)
	}
	if !strings.Contains(dead.log.String(), "level=ERROR msg=backend") {
		t.Errorf("no log line for the dead backend:\n%s", dead.log.String())
	}
}

// Listening beyond loopback needs an allow-list; SIGTERM stops the
// server cleanly.
func TestServeListenAndSignals(t *testing.T) {
	bin := buildSesame(t)
	cmd := exec.Command(bin, "serve", "--mode", "off", "--backend", "http://127.0.0.1:9", "--listen", "0.0.0.0:0")
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, hermeticKerberosEnv...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "--allow") {
		t.Errorf("non-loopback listen without allow: %v\n%s", err, out)
	}
	cmd = exec.Command(bin, "serve", "--backend", "http://127.0.0.1:9")
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, hermeticKerberosEnv...)
	out, err = cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "no way to authenticate") {
		t.Errorf("required mode without verifiers: %v\n%s", err, out)
	}

	srv := startServe(t, bin, nil, "http", "--mode", "off", "--backend", "http://127.0.0.1:9", "--allow", "192.0.2.0/24")
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(srv.log.String(), "sesame serve stopped") {
		if time.Now().After(deadline) {
			t.Fatalf("no clean stop on SIGTERM:\n%s", srv.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TLS termination: curl trusts the test's CA; the backend learns the
// scheme from X-Forwarded-Proto, the log from proto=https; HTTP/2 is
// not offered (NTLM and Negotiate authenticate connections).
func TestServeTLS(t *testing.T) {
	backend := echoBackend(t)
	bin := buildSesame(t)
	certFile, keyFile := writeServeCert(t)
	srv := startServe(t, bin, nil, "https", "--mode", "off", "--backend", backend.URL, "--tls-cert", certFile, "--tls-key", keyFile)
	out, err := curl(t, "--cacert", certFile, "-w", "\n%{http_version}", srv.URL+"/x")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndex(out, "\n")
	body, version := out[:i], out[i+1:]
	if h := echoed(t, body); h.Get("X-Forwarded-Proto") != "https" {
		t.Errorf("backend got %v", h)
	}
	if version != "1.1" {
		t.Errorf("HTTP version %q, want 1.1", version)
	}
	if !strings.Contains(srv.log.String(), "proto=https") {
		t.Errorf("access log:\n%s", srv.log.String())
	}
}

// writeServeCert writes a self-signed certificate for 127.0.0.1 and
// localhost, and its key, as PEM files.
func writeServeCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// `sesame serve --check` lists the keytab's principals and encryption
// types, and decrypts a ticket the KDC issues to alice for each; a
// keytab from another realm's database (same names, other keys) fails.
func TestServeCheckKeytab(t *testing.T) {
	kdc := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: "AlicePass123"}}})
	other := lab.StartKDC(t, lab.KDCOptions{})
	bin := buildSesame(t)
	run := func(env []string, args ...string) (string, error) {
		cmd := exec.Command(bin, append([]string{"serve", "--check"}, args...)...)
		cmd.Env = append(kdc.Env(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(nil, "--keytab", kdc.ServiceKeytab)
	if err != nil || !strings.Contains(out, "HTTP/localhost@CORP.TEST") || !strings.Contains(out, "aes256-cts-hmac-sha1-96") {
		t.Errorf("--check: %v\n%s", err, out)
	}
	out, err = run([]string{"PW=AlicePass123", "KRB5_KTNAME=FILE:" + kdc.ServiceKeytab}, "--check-user", "alice", "--password-env", "PW")
	if err != nil || strings.Count(out, ": ok, a ticket for alice@CORP.TEST decrypts") != 2 {
		t.Errorf("--check-user: %v\n%s\n%s", err, out, kdc.Log())
	}
	out, err = run([]string{"PW=AlicePass123"}, "--keytab", other.ServiceKeytab, "--spn", "HTTP/localhost", "--check-user", "alice", "--password-env", "PW")
	if err == nil || !strings.Contains(out, "HTTP/localhost@CORP.TEST: FAILED: ") || strings.Contains(out, "HTTP/127.0.0.1@CORP.TEST: ok") {
		t.Errorf("foreign keytab: %v\n%s", err, out)
	}
	out, err = run([]string{"PW=wrong"}, "--keytab", kdc.ServiceKeytab, "--check-user", "alice", "--password-env", "PW")
	if err == nil || !strings.Contains(out, "the KDC refused the login of alice") || strings.Contains(out, "wrong") {
		t.Errorf("wrong password: %v\n%s", err, out)
	}
	out, err = run(nil, "--keytab", kdc.ServiceKeytab, "--spn", "HTTP/nosuch.corp.test")
	if err == nil || !strings.Contains(out, "not in the keytab") {
		t.Errorf("unknown spn: %v\n%s", err, out)
	}
}
