//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// TestServiceIsWindowsOnly: elsewhere 'sesame service' says so and exits 2.
func TestServiceIsWindowsOnly(t *testing.T) {
	code, _, stderr := sesame(t, "", nil, "service", "install", "--listen", "127.0.0.1:3128")
	if code != 2 || !strings.Contains(stderr, "Windows only") || !strings.Contains(stderr, "contrib/systemd") {
		t.Fatalf("sesame service on Linux: status %d, stderr %q; want 2 and a pointer to the systemd unit", code, stderr)
	}
}

// wineCmdTimeout bounds one sesame.exe, sc or net command under Wine
// (they take well under a second with the persistent wineserver; a
// start waits at most serviceControlWait, 30 s, for the service).
const wineCmdTimeout = 90 * time.Second

// TestWindowsServiceUnderWine installs, starts, uses, stops and removes
// the real Windows service under Wine's own service control manager
// (services.exe): GOOS=windows sesame.exe, a private prefix, and the proxy
// checked from Linux on 127.0.0.1. Wine's sc.exe, not only sesame's own
// status, confirms each state.
func TestWindowsServiceUnderWine(t *testing.T) {
	lab.Require(t, "go")
	exe := buildWindowsSesame(t)
	w := lab.StartWine(t)
	dir := t.TempDir()

	// Secrets belong in the config file, never on the service's command
	// line; this one must not reach the log either.
	cfgPath := filepath.Join(dir, "sesame.toml")
	writeTestFile(t, cfgPath, "log_level = \"info\"\n\n[auth]\nschemes = [\"ntlm\"]\nuser = 'CORP\\alice'\nnt_hash = \"874649a24f9823fa52d36adfabf89d8e\"\n")
	addr := "127.0.0.1:" + strconv.Itoa(lab.FreePort(t))
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()

	sesameExe := func(wantCode int, args ...string) string {
		t.Helper()
		out, code, err := w.Run(wineCmdTimeout, w.WindowsPath(exe), args...)
		if err != nil || code != wantCode {
			t.Fatalf("wine sesame.exe %s: status %d (want %d), %v\n%s", strings.Join(args, " "), code, wantCode, err, out)
		}
		return out
	}
	scQuery := func() string {
		t.Helper()
		out, _, err := w.Run(wineCmdTimeout, "sc", "query", serviceNameForTest)
		if err != nil {
			t.Fatalf("wine sc query: %v\n%s", err, out)
		}
		return out
	}

	// Refused before the SCM is even asked: the hash would be readable by
	// every local user in the service's command line.
	if out := sesameExe(2, "service", "install", "--listen", addr, "--user", `CORP\alice`, "--nt-hash", "874649a24f9823fa52d36adfabf89d8e"); !strings.Contains(out, "config file") {
		t.Errorf("install with --nt-hash: %q, want a pointer to the config file", out)
	}

	out := sesameExe(0, "service", "install", "--config", w.WindowsPath(cfgPath), "--listen", addr)
	if !strings.Contains(out, "installed service sesame") || !strings.Contains(out, "service run --config="+w.WindowsPath(cfgPath)+" --listen="+addr) {
		t.Fatalf("install: %q", out)
	}
	logPath := filepath.Join(dir, "sesame-service.log")
	if !strings.Contains(out, w.WindowsPath(logPath)) {
		t.Errorf("install names the log %q, want it next to the config (%s)", out, w.WindowsPath(logPath))
	}
	if out := sesameExe(3, "service", "status"); !strings.Contains(out, "state:    stopped") || !strings.Contains(out, "start:    automatic") {
		t.Errorf("status after install: %q", out)
	}
	if out := sesameExe(1, "service", "install", "--listen", addr); !strings.Contains(out, "installed already") {
		t.Errorf("second install: %q", out)
	}

	begin := time.Now()
	if out := sesameExe(0, "service", "start"); !strings.Contains(out, "service sesame running") {
		t.Fatalf("start: %q", out)
	}
	t.Logf("service started in %v", time.Since(begin).Round(time.Millisecond))
	if q := scQuery(); !strings.Contains(q, "RUNNING") {
		t.Fatalf("sc query after start: %s", q)
	}
	if code, body := proxyGet(t, addr, origin.URL+"/through-the-service"); code != 200 || !strings.Contains(body, "path=/through-the-service") {
		t.Fatalf("GET through the service: %d %q\nlog:\n%s", code, body, readLog(logPath))
	}
	if out := sesameExe(0, "service", "status"); !strings.Contains(out, "state:    running (pid ") {
		t.Errorf("status while running: %q", out)
	}

	begin = time.Now()
	if out := sesameExe(0, "service", "stop"); !strings.Contains(out, "service sesame stopped") {
		t.Fatalf("stop: %q\nlog:\n%s", out, readLog(logPath))
	}
	// Stop cancels the proxy's context: the service is gone in moments,
	// not after the SCM's wait hint (15 s) ran out.
	// The service waits 15 s for a proxy that ignores Stop: well under
	// that means Stop cancelled it (about 0.2 s here; loose for load).
	if d := time.Since(begin); d > 12*time.Second {
		t.Errorf("service stop took %v: the proxy did not shut down when asked", d)
	}
	t.Logf("service stopped in %v", time.Since(begin).Round(time.Millisecond))
	waitPortClosed(t, addr)
	if q := scQuery(); !strings.Contains(q, "STOPPED") || !strings.Contains(q, "WIN32_EXIT_CODE    : 0") {
		t.Errorf("sc query after stop: %s", q)
	}
	log := readLog(logPath)
	for _, want := range []string{"service starting", "sesame proxy listening", "addr=" + addr, "auth=\"NTLM as CORP\\\\alice\"", "url=" + origin.URL + "/through-the-service", "service stopping", "service stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("service log lacks %q:\n%s", want, log)
		}
	}
	if s := secretsIn(log); s != "" {
		t.Errorf("service log holds the secret %s:\n%s", s, log)
	}

	// 'service run' by hand is the proxy in the foreground: the dispatcher
	// refuses a process the SCM did not start, at once.
	runForeground(t, w, exe, cfgPath, origin.URL)

	if out := sesameExe(0, "service", "uninstall"); !strings.Contains(out, "removed service sesame") {
		t.Fatalf("uninstall: %q", out)
	}
	if q, code, _ := w.Run(wineCmdTimeout, "sc", "query", serviceNameForTest); code == 0 || strings.Contains(q, "STATE") {
		t.Errorf("sc query after uninstall: status %d\n%s", code, q)
	}
	if out := sesameExe(1, "service", "status"); !strings.Contains(out, "not installed") {
		t.Errorf("status after uninstall: %q", out)
	}

	// A port in use: the start fails, and says why and where to look.
	taken, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	sesameExe(0, "service", "install", "--config", w.WindowsPath(cfgPath), "--listen", taken.Addr().String())
	out = sesameExe(1, "service", "start")
	if !strings.Contains(out, "did not start: stopped, exit code 1: the proxy failed; see "+w.WindowsPath(logPath)) {
		t.Errorf("start on a port in use: %q", out)
	}
	if log := readLog(logPath); !strings.Contains(log, "proxy stopped") || !strings.Contains(log, "listen "+taken.Addr().String()) {
		t.Errorf("service log after a failed start lacks the reason:\n%s", log)
	}
	if out := sesameExe(3, "service", "status"); !strings.Contains(out, "exit code 1: the proxy failed") {
		t.Errorf("status after a failed start: %q", out)
	}
	sesameExe(0, "service", "uninstall")
}

// serviceNameForTest is the service's name; service_windows.go's
// serviceName is not compiled on Linux.
const serviceNameForTest = "sesame"

// runForeground runs 'sesame.exe service run' from a console and checks
// that it serves like 'sesame proxy' until killed.
func runForeground(t *testing.T, w *lab.Wine, exe, cfgPath, originURL string) {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(lab.FreePort(t))
	ctx, cancel := context.WithTimeout(context.Background(), wineCmdTimeout)
	defer cancel()
	outPath := filepath.Join(t.TempDir(), "foreground.log")
	f, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := w.Command(ctx, w.WindowsPath(exe), "service", "run", "--config", w.WindowsPath(cfgPath), "--listen", addr)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
	}()
	if code, body := proxyGet(t, addr, originURL+"/foreground"); code != 200 || !strings.Contains(body, "path=/foreground") {
		t.Fatalf("GET through 'service run' in the foreground: %d %q\n%s", code, body, readLog(outPath))
	}
}

// buildWindowsSesame cross-compiles sesame.exe for windows/amd64.
func buildWindowsSesame(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "sesame.exe")
	cmd := exec.Command("go", "build", "-o", exe, ".")
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows go build: %v\n%s", err, out)
	}
	return exe
}

// proxyGet sends GET url in absolute form over a plain TCP connection to
// the proxy at addr, retrying the connection for a few seconds (the
// service reports Running as its listener comes up). Not http.Client with
// Transport.Proxy: Go never sends a request for a loopback URL through a
// proxy.
func proxyGet(t *testing.T, addr, url string) (int, string) {
	t.Helper()
	var conn net.Conn
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		if conn, err = net.DialTimeout("tcp", addr, time.Second); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("connect to the proxy: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	host := strings.TrimPrefix(url, "http://")
	host, _, _ = strings.Cut(host, "/")
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", url, host)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("response from the proxy: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("response body from the proxy: %v", err)
	}
	return resp.StatusCode, string(body)
}

// waitPortClosed waits until nothing accepts on addr: a stopped service
// must release its port.
func waitPortClosed(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if errors.Is(err, syscall.ECONNREFUSED) {
			return
		}
		if conn != nil {
			conn.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still accepts connections (%v) after the service stopped", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func readLog(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("[%v]", err)
	}
	return string(b)
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
