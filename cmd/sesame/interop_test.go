//go:build linux

package main

import (
	"bytes"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// buildSesame compiles the command once per test binary run, so tests can
// drive it the way a user's script does.
func buildSesame(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sesame")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestTokenRoundTripScript runs testdata/token-roundtrip.sh, a bash script
// that does the three NTLM legs on one /dev/tcp connection with `sesame
// token negotiate` and `sesame token authenticate`, against stock Apache +
// mod_auth_gssapi + gss-ntlmssp (which rejects compact messages, so this
// also proves the CLI sends full-size ones with a valid MIC).
func TestTokenRoundTripScript(t *testing.T) {
	lab.Require(t, "bash")
	ap := lab.StartApache(t, lab.ApacheOptions{NTLMUsers: []lab.NTLMUser{{Domain: "CORP", User: "alice", Password: "AlicePass123"}}})
	bin := buildSesame(t)
	u, err := url.Parse(ap.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, password string
		ok             bool
	}{
		{"right password", "AlicePass123", true},
		{"wrong password", "AlicePass124", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command("bash", "testdata/token-roundtrip.sh", bin, u.Hostname(), u.Port(), "/ntlm/", `CORP\alice`)
			cmd.Stdin = strings.NewReader(tc.password + "\n")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("script hung; stdout %q stderr %q", stdout.String(), stderr.String())
			}
			out := stdout.String()
			if tc.ok {
				if err != nil || !strings.Contains(out, "status 200") || !strings.Contains(out, `user=CORP\alice`) {
					t.Fatalf("script: %v\nstdout:\n%s\nstderr:\n%s\nApache:\n%s", err, out, stderr.String(), ap.ErrorLog())
				}
				return
			}
			if err == nil || !strings.Contains(out, "status 401") {
				t.Fatalf("wrong password: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
			}
		})
	}
}
