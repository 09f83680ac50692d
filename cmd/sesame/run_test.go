package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/internal/lab"
)

// serveOn127002 serves h on 127.0.0.2, a loopback address that is not in
// the NO_PROXY list `sesame run` sets (localhost,127.0.0.1,::1), so tools
// really send their requests through the proxy; squid's ACL admits all of
// 127.0.0.0/8.
func serveOn127002(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.2 (loopback): %v", err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// git clone over dumb HTTP through `sesame run` → ephemeral sesame proxy
// → squid demanding NTLM: the clone succeeds and squid logs git's
// requests as CORP\alice.
func TestRunGitCloneThroughSquid(t *testing.T) {
	lab.Require(t, "git")
	dir := t.TempDir()
	gitCmd := func(d string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = d
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.test", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.test"}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	gitCmd(src, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(src, "hello.txt"), []byte("hello through the proxy\n"), 0o644)
	gitCmd(src, "add", "hello.txt")
	gitCmd(src, "commit", "-q", "-m", "first")
	gitCmd(dir, "clone", "-q", "--bare", src, filepath.Join(dir, "www", "repo.git"))
	gitCmd(filepath.Join(dir, "www", "repo.git"), "update-server-info")
	origin := serveOn127002(t, http.FileServer(http.Dir(filepath.Join(dir, "www"))))

	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "ntlm", Users: []lab.ProxyUser{{Domain: "CORP", User: "alice", Password: "AlicePass123"}}})
	bin := buildSesame(t)
	clone := filepath.Join(dir, "clone")
	cmd := exec.Command(bin, "run", "--upstream", sq.Addr, "--user", `CORP\alice`, "--password-env", "PW", "--listen", fmt.Sprintf("127.0.0.1:%d", lab.FreePort(t)),
		"--", "git", "clone", "-q", origin+"/repo.git", clone)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + dir, "PW=AlicePass123", "GIT_CONFIG_NOSYSTEM=1"}, hermeticKerberosEnv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("sesame run git clone: %v\n%s\nsquid:\n%s", err, out.String(), sq.CacheLog())
	}
	b, err := os.ReadFile(filepath.Join(clone, "hello.txt"))
	if err != nil || string(b) != "hello through the proxy\n" {
		t.Fatalf("cloned file: %q %v", b, err)
	}
	var viaSquid int
	for _, e := range sq.AccessEntries() {
		if strings.Contains(e.URL, "/repo.git/") && e.Status == 200 {
			viaSquid++
			if e.User != `CORP\alice` {
				t.Errorf("squid logged %s as %q", e.URL, e.User)
			}
		}
	}
	if viaSquid == 0 {
		t.Fatalf("git's requests did not pass squid:\n%s", sq.AccessLog())
	}
	t.Logf("git clone: %d requests through sesame and squid", viaSquid)
}

// The command's exit status is passed on, and a bad command is an error.
func TestRunExitStatus(t *testing.T) {
	code, _, errOut := sesame(t, "", nil, "run", "--listen", fmt.Sprintf("127.0.0.1:%d", lab.FreePort(t)), "--", "sh", "-c", "exit 7")
	if code != 7 || errOut != "" && !strings.Contains(errOut, "listening") {
		t.Errorf("exit %d, stderr %q; want 7 and no error message", code, errOut)
	}
	code, _, errOut = sesame(t, "", nil, "run")
	if code != 2 || !strings.Contains(errOut, "no command") {
		t.Errorf("no command: %d %q", code, errOut)
	}
}
