//go:build linux

package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// TestInstallIsWindowsOnly: elsewhere 'sesame install' says what to do
// instead (the systemd user unit) and exits 2.
func TestInstallIsWindowsOnly(t *testing.T) {
	for _, cmd := range []string{"install", "uninstall"} {
		code, _, stderr := sesame(t, "", nil, cmd)
		if code != 2 || !strings.Contains(stderr, "Windows only") || !strings.Contains(stderr, "systemctl --user enable --now sesame-proxy") {
			t.Errorf("sesame %s on Linux: status %d, stderr %q; want 2 and the systemd steps", cmd, code, stderr)
		}
	}
}

// TestInstallUnderWine: the windows `sesame install` writes the per-user
// Run value (read back with Wine's reg.exe) with absolute paths and no
// secret, `sesame uninstall` removes it (twice is fine). `sesame service`
// refuses an install without an account, saying why (LocalSystem, no
// single sign-on); with one it registers the event log source, and a
// service whose config lost its account refuses to start, with the reason
// in its log.
func TestInstallUnderWine(t *testing.T) {
	lab.Require(t, "go")
	exe := buildWindowsSesame(t)
	w := lab.StartWine(t)
	dir := t.TempDir()
	withAccount := filepath.Join(dir, "sesame.toml")
	writeTestFile(t, withAccount, "[auth]\nschemes = [\"ntlm\"]\nuser = 'CORP\\alice'\nnt_hash = \"874649a24f9823fa52d36adfabf89d8e\"\n")
	noAccount := filepath.Join(dir, "sso.toml")
	writeTestFile(t, noAccount, "log_level = \"info\"\n")
	addr := "127.0.0.1:" + strconv.Itoa(lab.FreePort(t))

	sesameExe := func(wantCode int, args ...string) string {
		t.Helper()
		begin := time.Now()
		out, code, err := w.Run(wineCmdTimeout, w.WindowsPath(exe), args...)
		t.Logf("sesame.exe %s: %v", args[0], time.Since(begin).Round(time.Millisecond))
		if err != nil || code != wantCode {
			t.Fatalf("wine sesame.exe %s: status %d (want %d), %v\n%s", strings.Join(args, " "), code, wantCode, err, out)
		}
		return out
	}
	reg := func(key string, args ...string) (string, int) {
		t.Helper()
		out, code, err := w.Run(wineCmdTimeout, "reg", append([]string{"query", key}, args...)...)
		if err != nil {
			t.Fatalf("wine reg query %s: %v\n%s", key, err, out)
		}
		return out, code
	}
	const run = `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`

	out := sesameExe(0, "install", "--config", w.WindowsPath(noAccount), "--listen", addr)
	if !strings.Contains(out, `HKCU\`+run[5:]+`\sesame`) {
		t.Errorf("install: %q", out)
	}
	q, code := reg(run, "/v", "sesame")
	want := w.WindowsPath(exe) + " proxy --config=" + w.WindowsPath(noAccount) + " --listen=" + addr
	if code != 0 || !strings.Contains(q, want) {
		t.Fatalf("reg query %s /v sesame: status %d\n%s\nwant the value %q", run, code, q, want)
	}
	if out := sesameExe(2, "install", "--user", `CORP\alice`, "--nt-hash", "874649a24f9823fa52d36adfabf89d8e"); !strings.Contains(out, "config file") {
		t.Errorf("install --nt-hash: %q, want a pointer to the config file", out)
	}
	if out := sesameExe(0, "uninstall"); !strings.Contains(out, "removed the autostart entry") {
		t.Errorf("uninstall: %q", out)
	}
	if q, code := reg(run, "/v", "sesame"); code == 0 || strings.Contains(q, "proxy --config") {
		t.Errorf("reg query after uninstall: status %d\n%s", code, q)
	}
	if out := sesameExe(0, "uninstall"); !strings.Contains(out, "nothing to remove") {
		t.Errorf("second uninstall: %q", out)
	}

	// The service: no account, no install, and the reason.
	out = sesameExe(2, "service", "install", "--config", w.WindowsPath(noAccount), "--listen", addr)
	for _, s := range []string{"LocalSystem", "single sign-on", "auth.user", "sesame install"} {
		if !strings.Contains(out, s) {
			t.Errorf("service install without an account: %q lacks %q", out, s)
		}
	}
	const source = `HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\sesame`
	out = sesameExe(0, "service", "install", "--config", w.WindowsPath(withAccount), "--listen", addr)
	if strings.Contains(out, "no event log source") {
		t.Errorf("service install could not register the event log source:\n%s", out)
	}
	if q, code := reg(source); code != 0 || !strings.Contains(q, "EventCreate.exe") {
		t.Errorf("reg query %s: status %d\n%s", source, code, q)
	}
	// With its account the service runs, and the event log opened (Wine's
	// ReportEvent is a stub that only traces: the records themselves
	// cannot be read back under Wine).
	logPath := filepath.Join(dir, "sesame-service.log")
	sesameExe(0, "service", "start")
	if c, err := net.DialTimeout("tcp", addr, 5*time.Second); err != nil {
		t.Errorf("the service does not listen on %s: %v\n%s", addr, err, readLog(logPath))
	} else {
		c.Close()
	}
	sesameExe(0, "service", "stop")
	if log := readLog(logPath); strings.Contains(log, "no Windows event log") || !strings.Contains(log, "service stopped") {
		t.Errorf("service log:\n%s", log)
	}
	// The config lost its account: the service refuses to start.
	if err := os.WriteFile(withAccount, []byte("log_level = \"info\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out = sesameExe(1, "service", "start")
	if !strings.Contains(out, "exit code 2: bad flags or configuration") {
		t.Errorf("start without an account: %q", out)
	}
	if log := readLog(logPath); !strings.Contains(log, "service refused to start") || !strings.Contains(log, "LocalSystem") {
		t.Errorf("service log after the refusal lacks the reason:\n%s", log)
	}
	sesameExe(0, "service", "uninstall")
	if q, code := reg(source); code == 0 {
		t.Errorf("event log source still registered after uninstall:\n%s", q)
	}
}
