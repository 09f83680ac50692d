//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// runBin runs the built sesame with only PATH, the hermetic Kerberos
// variables and env as its environment, stdin as its input, and a time
// limit; it returns the exit status and the output. Every output is
// checked for the test secrets.
func runBin(t *testing.T, bin string, env []string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(append([]string{"PATH=/usr/bin:/bin"}, hermeticKerberosEnv...), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("sesame %v did not finish within 60s\n%s%s", args, out.String(), errOut.String())
	}
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("sesame %v: %v", args, err)
	}
	if leaked := secretsIn(out.String() + errOut.String()); leaked != "" {
		t.Errorf("sesame %v printed %s:\n%s%s", args, leaked, out.String(), errOut.String())
	}
	return code, out.String(), errOut.String()
}

// `sesame login` against a real Secret Service (gnome-keyring on a private
// session bus): it stores the password where libsecret's secret-tool
// finds it, --check sees it, a `sesame proxy` given only --user takes it
// from there and authenticates to squid with it, and --delete removes it,
// after which the proxy refuses to start and says to run `sesame login`.
// No output of any of these carries the password.
func TestLoginKeyringProxy(t *testing.T) {
	t.Parallel()
	bin := buildSesame(t)
	ss := lab.StartSecretService(t)
	keyringEnv := ss.Env()
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	t.Cleanup(origin.Close)
	users := []lab.ProxyUser{{Domain: "CORP", User: "alice", Password: "AlicePass123"}}

	for _, tc := range []struct{ scheme, user, want string }{
		{"ntlm", `CORP\alice`, `CORP\alice`},
		{"basic", "alice", "alice"},
	} {
		t.Run(tc.scheme, func(t *testing.T) {
			code, out, errOut := runBin(t, bin, keyringEnv, "AlicePass123\n", "login", "--user", tc.user, "--password-stdin")
			if code != 0 || !strings.Contains(out, "stored the password for "+tc.user) {
				t.Fatalf("login: exit %d %q %q", code, out, errOut)
			}
			// An independent client finds it under the documented
			// attributes.
			if got, err := ss.SecretTool(t, "", "lookup", "service", "sesame", "username", tc.user); err != nil || got != "AlicePass123" {
				t.Fatalf("secret-tool lookup after login: %v (found %d bytes)", err, len(got))
			}
			code, out, errOut = runBin(t, bin, keyringEnv, "", "login", "--check", "--user", tc.user)
			if code != 0 || !strings.Contains(out, "is stored") {
				t.Fatalf("login --check: exit %d %q %q", code, out, errOut)
			}

			sq := lab.StartSquid(t, lab.SquidOptions{Auth: tc.scheme, Users: users})
			// Only --user: no password flag, variable or config, and
			// stdin is not a terminal, so only the keyring can answer.
			p := startProxy(t, bin, keyringEnv, "--upstream", sq.Addr, "--user", tc.user)
			out, err := curl(t, "-x", p.URL, origin.URL+"/keyring")
			if err != nil || !strings.Contains(out, "proxy_user="+tc.want+"\n") {
				t.Fatalf("curl through sesame with the keyring's password: %v %q\nsesame:\n%s\nsquid:\n%s", err, out, p.stderr.String(), sq.CacheLog())
			}
			sq.WaitAccessEntry(t, func(e lab.SquidAccess) bool {
				return e.URL == origin.URL+"/keyring" && e.Status == 200 && e.User == tc.want
			})

			code, out, errOut = runBin(t, bin, keyringEnv, "", "login", "--delete", "--user", tc.user)
			if code != 0 || !strings.Contains(out, "removed") {
				t.Fatalf("login --delete: exit %d %q %q", code, out, errOut)
			}
			if _, err := ss.SecretTool(t, "", "lookup", "service", "sesame", "username", tc.user); err == nil {
				t.Errorf("secret-tool still finds the password after login --delete")
			}
			code, out, errOut = runBin(t, bin, keyringEnv, "", "login", "--check", "--user", tc.user)
			if code != 1 || !strings.Contains(errOut, "no password for "+tc.user) {
				t.Errorf("login --check after --delete: exit %d %q %q, want 1 and 'no password'", code, out, errOut)
			}
			// Deleting again is not a failure.
			code, out, errOut = runBin(t, bin, keyringEnv, "", "login", "--delete", "--user", tc.user)
			if code != 0 || !strings.Contains(out, "no password") {
				t.Errorf("second login --delete: exit %d %q %q", code, out, errOut)
			}
			// Nothing stored any more: the proxy does not start, and
			// says how to store one.
			code, _, errOut = runBin(t, bin, keyringEnv, "", "proxy", "--listen", fmt.Sprintf("127.0.0.1:%d", lab.FreePort(t)),
				"--upstream", sq.Addr, "--user", tc.user)
			if code != 2 || !strings.Contains(errOut, "none in the OS keyring") || !strings.Contains(errOut, "sesame login --user") {
				t.Errorf("proxy after login --delete: exit %d %q, want 2 naming the keyring and 'sesame login'", code, errOut)
			}
		})
	}
}

// A keyring that cannot be asked is not an error for the proxy: it falls
// through to the message that names every way to give the secret, and
// says why the keyring had none. Both a machine without a session bus and
// one whose bus has no Secret Service; neither may hang.
func TestProxyWithoutKeyring(t *testing.T) {
	bin := buildSesame(t)
	bare := lab.StartSessionBus(t)
	for _, tc := range []struct {
		name string
		env  []string
		why  string
	}{
		{"no session bus", nil, "no D-Bus session bus"},
		{"no Secret Service", bare.Env(), "no Secret Service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			begin := time.Now()
			code, _, errOut := runBin(t, bin, tc.env, "", "proxy", "--listen", fmt.Sprintf("127.0.0.1:%d", lab.FreePort(t)),
				"--upstream", "127.0.0.1:9", "--user", `CORP\alice`)
			if code != 2 || !strings.Contains(errOut, tc.why) || !strings.Contains(errOut, `sesame login --user 'CORP\alice'`) ||
				!strings.Contains(errOut, "--password-env") {
				t.Errorf("exit %d %q, want 2 saying %q and suggesting sesame login and the other ways", code, errOut, tc.why)
			}
			if d := time.Since(begin); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
			code, _, errOut = runBin(t, bin, tc.env, "", "login", "--check", "--user", `CORP\alice`)
			if code != 1 || !strings.Contains(errOut, tc.why) {
				t.Errorf("login --check: exit %d %q, want 1 saying %q", code, errOut, tc.why)
			}
		})
	}
}

func TestLoginUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"login"}, "--user is required"},
		{[]string{"login", "--user", "a", "--check", "--delete"}, "exclude"},
		{[]string{"login", "--user", "a", "--check", "--password-stdin"}, "--password-stdin"},
		{[]string{"login", "--user", "a", "AlicePass123"}, "never an argument"},
		// In-process, stdin is a string: not a terminal.
		{[]string{"login", "--user", "a"}, "--password-stdin"},
	} {
		code, out, errOut := sesame(t, "AlicePass123\n", nil, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d %q, want 2 mentioning %q", tc.args, code, errOut, tc.want)
		}
		if leaked := secretsIn(out + errOut); leaked != "" {
			t.Errorf("%v printed %s", tc.args, leaked)
		}
	}
	// An environment that names another bus than the process's is
	// refused rather than half-honoured (the library reads only the
	// process's).
	code, _, errOut := sesame(t, "AlicePass123\n", map[string]string{"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus"},
		"login", "--user", "a", "--password-stdin")
	if code != 1 || !strings.Contains(errOut, "DBUS_SESSION_BUS_ADDRESS differs") {
		t.Errorf("login with another bus in env: exit %d %q", code, errOut)
	}
}
