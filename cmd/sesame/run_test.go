//go:build linux

package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/internal/lab"
	"github.com/sesame-auth/sesame/proxy"
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

// The variable --password-env names is not passed to the command.
func TestRunChildDoesNotSeePasswordEnv(t *testing.T) {
	const v = "SESAME_RUN_TEST_PW"
	t.Setenv(v, "Run-Secret-123")
	code, out, errOut := sesame(t, "", map[string]string{v: "Run-Secret-123"}, "run",
		"--listen", fmt.Sprintf("127.0.0.1:%d", lab.FreePort(t)), "--user", `CORP\alice`, "--password-env", v,
		"--", "sh", "-c", `echo "pw=[${`+v+`-unset}] proxy=$HTTP_PROXY"; env | grep -c Run-Secret-123 || true`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "pw=[unset] proxy=http://127.0.0.1:") || strings.Contains(out, "Run-Secret-123") || !strings.HasSuffix(out, "\n0\n") {
		t.Fatalf("the command saw the password variable:\n%s", out)
	}
}

func TestChildEnv(t *testing.T) {
	env := childEnv([]string{"PATH=/bin", "PW=x", "PWX=y", "HTTP_PROXY=old", "SESAME_NT_HASH=h1", "SESAME_NTLMV2_HASH=h2"}, "PW", "http://127.0.0.1:1")
	got := strings.Join(env, " ")
	if strings.Contains(got, "PW=x") || strings.Contains(got, "HASH=") || !strings.Contains(got, "PWX=y") || !strings.Contains(got, "HTTP_PROXY=http://127.0.0.1:1") {
		t.Errorf("childEnv: %q", env)
	}
}

// The decision, with a fake owner lookup: only a listener of this user
// that answers as sesame is used.
func TestRunListenerCheck(t *testing.T) {
	sesameOK := func(string) error { return nil }
	notSesame := func(string) error { return fmt.Errorf("answered 200 OK") }
	owners := func(uids []int, err error) func(string) ([]int, error) {
		return func(string) ([]int, error) { return uids, err }
	}
	for _, tc := range []struct {
		name  string
		check listenerCheck
		ok    bool
		why   string
	}{
		{"ours, sesame", listenerCheck{owners([]int{1000}, nil), 1000, sesameOK}, true, ""},
		{"another user's sesame", listenerCheck{owners([]int{1001}, nil), 1000, sesameOK}, false, "another user (uid 1001)"},
		{"ours and another's (reuseport)", listenerCheck{owners([]int{1000, 1001}, nil), 1000, sesameOK}, false, "uid 1001"},
		{"ours, not sesame", listenerCheck{owners([]int{1000}, nil), 1000, notSesame}, false, "does not answer as sesame"},
		{"no socket found", listenerCheck{owners(nil, nil), 1000, sesameOK}, false, "cannot tell"},
		{"lookup failed", listenerCheck{owners(nil, fmt.Errorf("permission denied")), 1000, sesameOK}, false, "cannot tell"},
		{"no /proc: probe alone", listenerCheck{owners(nil, errOwnerUnknown), 1000, sesameOK}, true, ""},
		{"no /proc, not sesame", listenerCheck{owners(nil, errOwnerUnknown), 1000, notSesame}, false, "sesame"},
	} {
		ok, why := tc.check.trust("127.0.0.1:3128")
		if ok != tc.ok || !strings.Contains(why, tc.why) {
			t.Errorf("%s: trust = %v, %q; want %v, %q", tc.name, ok, why, tc.ok, tc.why)
		}
	}
}

func TestListenerUIDs(t *testing.T) {
	tcp := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0C38 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 111 1 0000000000000000 100 0 0 10 0
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1002        0 112 1 0000000000000000 100 0 0 10 0
   2: 0100007F:0C38 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000  1003        0 113 1 0000000000000000 100 0 0 10 0
   3: 0200007F:0C38 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1004        0 114 1 0000000000000000 100 0 0 10 0
`
	tcp6 := `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0C38 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  2001        0 211 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  2002        0 212 1 0000000000000000 100 0 0 10 0
`
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("table written for a little-endian machine")
	}
	lo := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	v6 := []netip.Addr{netip.MustParseAddr("::1")}
	for _, tc := range []struct {
		table string
		port  uint16
		ips   []netip.Addr
		want  string
	}{
		{tcp, 3128, lo, "[1001]"},  // the listener, not the connection of uid 1003, nor 127.0.0.2's
		{tcp, 8080, lo, "[1002]"},  // 0.0.0.0 serves 127.0.0.1
		{tcp, 8080, v6, "[]"},      // but not ::1
		{tcp6, 3128, v6, "[2001]"}, // ::1
		{tcp6, 8080, lo, "[2002]"}, // :: may serve IPv4 too
		{tcp6, 3128, lo, "[]"},     // ::1 is not 127.0.0.1
	} {
		if got := fmt.Sprint(listenerUIDs(tc.table, tc.port, tc.ips)); got != tc.want && !(got == "[]" && tc.want == "[]") {
			t.Errorf("port %d %v: uids %s, want %s", tc.port, tc.ips, got, tc.want)
		}
	}
	// This process's own listener, read from the real /proc.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	uids, err := procListenerOwners(ln.Addr().String())
	if errors.Is(err, errOwnerUnknown) {
		t.Skip("no /proc/net/tcp")
	}
	if err != nil || len(uids) != 1 || uids[0] != os.Getuid() {
		t.Errorf("own listener: uids %v, %v; want [%d]", uids, err, os.Getuid())
	}
}

// A listener on the configured port that is not sesame (here: a web
// server of this user) is not used: sesame run starts its own proxy and
// says so. A sesame proxy of this user is used.
func TestRunDoesNotTrustForeignListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello") })}
	go srv.Serve(ln)
	defer srv.Close()
	addr := ln.Addr().String()
	code, out, errOut := sesame(t, "", nil, "run", "--listen", addr, "--", "sh", "-c", `echo "$HTTP_PROXY"`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.TrimSpace(out) == "http://"+addr || !strings.HasPrefix(out, "http://127.0.0.1:") {
		t.Errorf("the command was pointed at %q, the foreign listener is %s", strings.TrimSpace(out), addr)
	}
	if !strings.Contains(errOut, "not using the listener at "+addr) || !strings.Contains(errOut, "does not answer as sesame") {
		t.Errorf("stderr does not say why: %q", errOut)
	}

	// Our own sesame proxy on the port is used, silently.
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	px := &http.Server{Handler: &proxy.Server{Transport: &auth.Transport{}}}
	go px.Serve(ln2)
	defer px.Close()
	addr = ln2.Addr().String()
	code, out, errOut = sesame(t, "", nil, "run", "--listen", addr, "--", "sh", "-c", `echo "$HTTP_PROXY"`)
	if code != 0 || strings.TrimSpace(out) != "http://"+addr || strings.Contains(errOut, "not using") {
		t.Errorf("own sesame proxy at %s: exit %d, command got %q, stderr %q", addr, code, strings.TrimSpace(out), errOut)
	}
}
