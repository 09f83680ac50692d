package auth_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/ntlm"
)

// Accounts of the test servers.
const (
	mwBobPass   = "Bob-Pass2" // alicePass is negotiate_test.go's
	digestRealm = "sesame test"
)

// whoami answers with the request's identity, for tests to read back.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	u, ok := auth.UserFrom(r.Context())
	if !ok {
		fmt.Fprint(w, "anonymous")
		return
	}
	fmt.Fprintf(w, "user=%s scheme=%s verified=%s", u.Principal, u.Scheme, u.Verified)
})

// ntlmServer is an NTLM acceptor with alice and bob in CORP.
func ntlmServer(t testing.TB) *ntlm.Server {
	t.Helper()
	uf, err := ntlm.ParseUserFile(strings.NewReader("CORP:alice:"+alicePass+"\nCORP:bob:"+mwBobPass+"\n"), false)
	if err != nil {
		t.Fatal(err)
	}
	return &ntlm.Server{Store: uf, NetBIOSDomain: "CORP", NetBIOSComputer: "WEB"}
}

// startMiddleware serves h wrapped by m on 127.0.0.1, with the
// Middleware's connection hooks installed.
func startMiddleware(t testing.TB, m *auth.Middleware, h http.Handler) *httptest.Server {
	t.Helper()
	if m.Logger == nil {
		m.Logger = testLogger(t)
	}
	srv := httptest.NewUnstartedServer(m.Wrap(h))
	m.Install(srv.Config)
	srv.Config.ReadHeaderTimeout = 10 * time.Second
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// run runs a client program with a deadline and returns its stdout.
func mwRun(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed (scripts/install-test-deps.sh): %v", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err = cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s: %w: %s", name, err, stderr.String())
	}
	return out.String(), err
}

// curlStatus runs curl and returns the status code and body.
func curlStatus(t testing.TB, args ...string) (int, string) {
	t.Helper()
	args = append([]string{"-s", "--max-time", "20", "-w", "\n%{http_code}"}, args...)
	out, err := mwRun(t, "curl", args...)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndexByte(out, '\n')
	var code int
	fmt.Sscan(out[i+1:], &code)
	return code, out[:i]
}

// htpasswdFile writes an htpasswd file with Apache's htpasswd tool, in
// the given format flag (-B bcrypt, -s SHA, -m MD5-crypt).
func htpasswdFile(t testing.TB, format string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "htpasswd")
	if _, err := mwRun(t, "htpasswd", "-c", "-b", format, path, "alice", alicePass); err != nil {
		t.Fatal(err)
	}
	if _, err := mwRun(t, "htpasswd", "-b", format, path, "bob", mwBobPass); err != nil {
		t.Fatal(err)
	}
	return path
}

// htdigestFile writes an htdigest file with Apache's htdigest tool (MD5
// lines for alice and bob).
func htdigestFile(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "htdigest")
	for i, u := range []struct{ name, pass string }{{"alice", alicePass}, {"bob", mwBobPass}} {
		args := []string{path, digestRealm, u.name}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		htd, err := exec.LookPath("htdigest")
		if err != nil {
			t.Fatalf("htdigest is not installed (apache2-utils): %v", err)
		}
		cmd := exec.Command(htd, args...)
		cmd.Stdin = strings.NewReader(u.pass + "\n" + u.pass + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("htdigest: %v: %s", err, out)
		}
	}
	return path
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// get does a GET with client and returns status and body.
func mwGet(t testing.TB, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
