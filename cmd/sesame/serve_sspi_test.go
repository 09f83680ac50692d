//go:build linux

package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// `sspi` names Windows' security packages: elsewhere serve refuses it at
// start with the settings to use instead, never starting without the
// authentication the operator asked for.
func TestServeSSPIIsWindowsOnly(t *testing.T) {
	bin := buildSesame(t)
	for _, args := range [][]string{
		{"--sspi", "negotiate"},
		{"--sspi", "ntlm"},
	} {
		cmd := exec.Command(bin, append([]string{"serve", "--backend", "http://127.0.0.1:9"}, args...)...)
		cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, hermeticKerberosEnv...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "only on Windows") {
			t.Errorf("serve %v: %v\n%s", args, err, out)
		}
	}
	cmd := exec.Command(bin, "serve", "--backend", "http://127.0.0.1:9", "--sspi", "kerberos")
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "negotiate or ntlm") {
		t.Errorf("sspi kerberos: %v\n%s", err, out)
	}
}

// The windows `sesame serve` with sspi = "ntlm" under Wine: Windows' NTLM
// acceptor (Wine's secur32) logs visitors on, as IIS does, and the
// backend gets the identity. Linux curl --ntlm is the client. Wine's NTLM
// acceptor needs a domain (winbindd) to check a response; acceptShim
// stands in for the domain controller (see TestSSPIAcceptUnderWine).
func TestServeSSPIUnderWine(t *testing.T) {
	lab.Require(t, "go", "/usr/bin/ntlm_auth", "curl")
	exe := buildWindowsSesame(t)
	w := lab.StartWine(t)
	shim := t.TempDir()
	if err := os.WriteFile(filepath.Join(shim, "ntlm_auth"), []byte(acceptShim), 0o755); err != nil {
		t.Fatal(err)
	}
	backend := echoBackend(t)
	addr := "127.0.0.1:" + strconv.Itoa(lab.FreePort(t))
	logPath := filepath.Join(t.TempDir(), "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := []string{"PATH=" + shim + ":/usr/lib/wine:/usr/bin:/bin", "SESAME_LAB_NTLM_PASSWORD=ServePass-1"}
	begin := time.Now()
	cmd := w.CommandEnv(ctx, env, w.WindowsPath(exe), "serve", "--listen", addr, "--backend", backend.URL, "--sspi", "ntlm", "--log-level", "debug")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	serveLog := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sesame.exe serve did not listen on %s: %v\n%s", addr, err, serveLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("sesame.exe serve listening after %v", time.Since(begin).Round(time.Millisecond))

	body, status := curlStatus(t, "--ntlm", "-u", `CORP\alice:ServePass-1`, "-H", "X-Remote-User: mallory", "http://"+addr+"/app")
	if status != 200 {
		t.Fatalf("curl --ntlm: %d %q\n%s", status, body, serveLog())
	}
	h := echoed(t, body)
	if got := h.Get("X-Remote-User"); !strings.EqualFold(got, `CORP\alice`) {
		t.Errorf("X-Remote-User %q, want CORP\\alice (spoofed header must not pass)\n%s", got, serveLog())
	}
	if _, status := curlStatus(t, "--ntlm", "-u", `CORP\alice:wrong`, "http://"+addr+"/app"); status != 401 {
		t.Errorf("wrong password: %d, want 401\n%s", status, serveLog())
	}
	if _, status := curlStatus(t, "http://"+addr+"/app"); status != 401 {
		t.Errorf("anonymous: %d, want 401", status)
	}
	if !strings.Contains(serveLog(), "NTLM (SSPI)") {
		t.Errorf("the start-up line does not name the SSPI scheme:\n%s", serveLog())
	}
}
