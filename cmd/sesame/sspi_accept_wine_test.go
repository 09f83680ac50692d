//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// acceptShim is an ntlm_auth that Wine's NTLM acceptor finds first on
// PATH: the real Samba ntlm_auth, given --password in its server mode so
// that it checks the NTLM response against that password itself
// (ntlm_auth's local check) instead of asking winbindd, which needs a
// domain member. It stands in for the domain controller only: Wine's
// secur32, its NTLM provider and ntlm_auth's NTLMSSP code are the real
// ones. Note that ntlm_auth's local check does not compare the user name.
const acceptShim = `#!/bin/sh
case "$*" in
*squid-2.5-ntlmssp*) exec /usr/bin/ntlm_auth "$@" --password="$SESAME_LAB_NTLM_PASSWORD" ;;
esac
exec /usr/bin/ntlm_auth "$@"
`

// TestSSPIAcceptUnderWine runs the sspi package's acceptor tests
// (GOOS=windows, -tags winelab) under Wine: sspi.Acceptor
// (AcceptSecurityContext) against an SSPI client in the same process,
// token handling with bad input, and auth.Middleware with the acceptor as
// its Platform answering sesame's own NTLM client. Once with the real
// ntlm_auth (Wine then denies every NTLM logon: no winbindd) and once
// with acceptShim (the logon succeeds, a wrong password is denied).
func TestSSPIAcceptUnderWine(t *testing.T) {
	lab.Require(t, "go", "/usr/bin/ntlm_auth")
	exe := filepath.Join(t.TempDir(), "sspi.test.exe")
	cmd := exec.Command("go", "test", "-c", "-tags", "winelab", "-o", exe, "../../sspi")
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows go test -c ./sspi: %v\n%s", err, out)
	}
	w := lab.StartWine(t)
	shim := t.TempDir()
	if err := os.WriteFile(filepath.Join(shim, "ntlm_auth"), []byte(acceptShim), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ mode, path, run string }{
		{"plain", "/usr/lib/wine:/usr/bin:/bin", "TestLabAccept(NTLM|Negotiate|Buffers)$"},
		{"shim", shim + ":/usr/lib/wine:/usr/bin:/bin", "TestLabAccept"},
	} {
		env := []string{"PATH=" + c.path, "SESAME_LAB_ACCEPT=" + c.mode,
			`SESAME_LAB_NTLM_USER=CORP\alice`, "SESAME_LAB_NTLM_PASSWORD=AcceptPass-1"}
		begin := time.Now()
		out, code, err := w.RunEnv(2*time.Minute, env, w.WindowsPath(exe), "-test.v", "-test.run", c.run)
		t.Logf("%s: under Wine in %v:\n%s", c.mode, time.Since(begin).Round(time.Millisecond), out)
		if err != nil || code != 0 {
			t.Fatalf("%s: sspi.test.exe: status %d, %v", c.mode, code, err)
		}
	}
}
