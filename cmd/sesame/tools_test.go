//go:build linux

package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sesame-auth/sesame/internal/lab"
)

// Real package tools fetching from local origins through `sesame run` →
// ephemeral sesame proxy → squid demanding NTLM (as CORP\alice). Each test
// proves the path twice: squid's access log names CORP\alice for the tool's
// requests, and the origin saw squid's X-Proxy-User header on every one of
// them, so no request went around the proxy.

// toolsAlice is the account squid accepts and sesame logs in with.
var toolsAlice = lab.ProxyUser{Domain: "CORP", User: "alice", Password: "AlicePass123"}

// originLog records what an origin served and whom squid said it had
// authenticated (the X-Proxy-User header squid adds to what it forwards;
// absent on a request that did not pass squid).
type originLog struct {
	mu   sync.Mutex
	seen []string // "PATH USER"
}

func (l *originLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := r.Header.Get("X-Proxy-User")
		if user == "" {
			user = "(not via squid)"
		}
		l.mu.Lock()
		l.seen = append(l.seen, r.URL.Path+" "+user)
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// check fails t unless the origin served every path in want, and every
// request it got came through squid as CORP\alice. It returns the number
// of requests.
func (l *originLog) check(t *testing.T, want ...string) int {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	got := map[string]bool{}
	for _, s := range l.seen {
		path, user, _ := strings.Cut(s, " ")
		got[path] = true
		if user != `CORP\alice` {
			t.Errorf("origin served %s to %s, want every request via squid as CORP\\alice", path, user)
		}
	}
	for _, p := range want {
		if !got[p] {
			t.Errorf("origin never served %s; it served %q", p, l.seen)
		}
	}
	return len(l.seen)
}

// checkSquidLog fails t unless squid's access log has a 200 for every URL
// path in want, for which the log's user is CORP\alice.
func checkSquidLog(t *testing.T, sq *lab.Squid, want ...string) {
	t.Helper()
	// squid logs a request once its response is sent: wait for the last.
	for _, p := range want {
		sq.WaitAccessEntry(t, func(e lab.SquidAccess) bool {
			u, err := url.Parse(e.URL)
			return err == nil && u.Path == p && e.Status == http.StatusOK
		})
	}
	passed := map[string]bool{}
	for _, e := range sq.AccessEntries() {
		if e.Status != http.StatusOK {
			continue
		}
		u, err := url.Parse(e.URL)
		if err != nil {
			continue
		}
		passed[u.Path] = true
		if e.User != `CORP\alice` {
			t.Errorf("squid logged %s as %q, want CORP\\alice", e.URL, e.User)
		}
	}
	for _, p := range want {
		if !passed[p] {
			t.Errorf("squid's access log has no 200 for %s:\n%s", p, sq.AccessLog())
		}
	}
}

// zipFile returns a zip archive of files (name → content), in the order of
// names.
func zipFile(t *testing.T, names []string, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(files[n]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// demoWheel builds sesamedemo-0.1-py3-none-any.whl, a minimal valid wheel
// (PEP 427): the package, METADATA, WHEEL and a RECORD listing the others
// with their urlsafe-base64 SHA-256 (no padding) and size.
func demoWheel(t *testing.T) []byte {
	t.Helper()
	files := map[string]string{
		"sesamedemo/__init__.py":            "GREETING = \"hello through the proxy\"\n",
		"sesamedemo-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: sesamedemo\nVersion: 0.1\nSummary: sesame's pip test package\n",
		"sesamedemo-0.1.dist-info/WHEEL":    "Wheel-Version: 1.0\nGenerator: sesame-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
	}
	names := []string{"sesamedemo/__init__.py", "sesamedemo-0.1.dist-info/METADATA", "sesamedemo-0.1.dist-info/WHEEL"}
	var record strings.Builder
	for _, n := range names {
		sum := sha256.Sum256([]byte(files[n]))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", n, base64.RawURLEncoding.EncodeToString(sum[:]), len(files[n]))
	}
	record.WriteString("sesamedemo-0.1.dist-info/RECORD,,\n")
	files["sesamedemo-0.1.dist-info/RECORD"] = record.String()
	return zipFile(t, append(names, "sesamedemo-0.1.dist-info/RECORD"), files)
}

// pip download through `sesame run` from a PEP 503 simple index on
// 127.0.0.2: loopback, but not in the NO_PROXY list sesame run sets, and
// unlike Go's, pip's HTTP stack (requests, urllib) bypasses the proxy only
// for NO_PROXY hosts, so no namespace is needed here. Debian's pip
// (/usr/bin/python3 -m pip, package python3-pip) in an environment built
// from scratch: no pip.conf, no cache, HOME in the test's directory.
func TestToolsPipDownload(t *testing.T) {
	lab.RequirePython(t, "pip")
	dir := t.TempDir()
	wheel := demoWheel(t)
	sum := sha256.Sum256(wheel)
	const wheelName = "sesamedemo-0.1-py3-none-any.whl"

	mux := http.NewServeMux()
	mux.HandleFunc("/simple/sesamedemo/", func(w http.ResponseWriter, r *http.Request) {
		// PEP 503: an anchor per file, its text the file name, the hash in
		// the URL fragment (pip checks the download against it).
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<!DOCTYPE html>\n<html><body>\n<a href=\"../../packages/%s#sha256=%s\">%s</a>\n</body></html>\n",
			wheelName, hex.EncodeToString(sum[:]), wheelName)
	})
	mux.HandleFunc("/packages/"+wheelName, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(wheel)
	})
	var seen originLog
	origin := serveOn127002(t, seen.wrap(mux))

	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "ntlm", Users: []lab.ProxyUser{toolsAlice}})
	bin := buildSesame(t)
	dest := filepath.Join(dir, "dest")
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o755)
	cmd := exec.Command(bin, "run", "--upstream", sq.Addr, "--user", `CORP\alice`, "--password-env", "PW",
		"--listen", fmt.Sprintf("127.0.0.1:%d", lab.FreePort(t)), "--",
		"/usr/bin/python3", "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--disable-pip-version-check",
		"--index-url", origin+"/simple/", "--trusted-host", "127.0.0.2", "-d", dest, "sesamedemo==0.1")
	// PIP_CONFIG_FILE=/dev/null: no pip.conf of this machine's (an index
	// URL or proxy of its own would change what is tested).
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8", "PW=" + toolsAlice.Password,
		"PIP_CONFIG_FILE=/dev/null", "PIP_NO_INPUT=1", "PYTHONNOUSERSITE=1", "PYTHONDONTWRITEBYTECODE=1"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("sesame run pip download: %v\n%s\nsquid:\n%s\n%s", err, out.String(), sq.AccessLog(), sq.CacheLog())
	}
	got, err := os.ReadFile(filepath.Join(dest, wheelName))
	if err != nil || !bytes.Equal(got, wheel) {
		t.Fatalf("downloaded wheel: %v (%d bytes, want the %d served)\n%s", err, len(got), len(wheel), out.String())
	}
	checkSquidLog(t, sq, "/simple/sesamedemo/", "/packages/"+wheelName)
	n := seen.check(t, "/simple/sesamedemo/", "/packages/"+wheelName)
	t.Logf("pip download: the origin served %d requests, all via sesame and squid", n)
}

// demoModule is the module the GOPROXY origin serves.
const (
	demoModule  = "example.test/demo"
	demoVersion = "v0.1.0"
	demoGoMod   = "module example.test/demo\n\ngo 1.21\n"
	demoGoFile  = "// Package demo is sesame's go mod download test module.\npackage demo\n\nconst Greeting = \"hello through the proxy\"\n"
)

// go mod download through `sesame run` from a GOPROXY-layout file server.
//
// Go's HTTP client never proxies "localhost" or a loopback IP literal,
// whatever NO_PROXY says, so GOPROXY=http://127.0.0.2:PORT would bypass
// sesame; and the lab's squid forwards to loopback destinations only. The
// test therefore runs isolated (lab.Isolate): in a network namespace of its
// own with only lo, where a private /etc/hosts maps goproxy.sesame.test to
// 127.0.0.2. go sends requests for that name to the proxy, sesame to
// squid, and squid resolves it (hosts_file /etc/hosts) to the loopback
// origin. Nothing can leave the namespace, so neither can go's requests
// for anything else (proxy.golang.org, sum.golang.org, a toolchain).
func TestToolsGoModDownload(t *testing.T) {
	const originHost = "goproxy.sesame.test"
	if !lab.Isolate(t, lab.IsolateOptions{Hosts: map[string]string{originHost: "127.0.0.2"}}) {
		return
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command (which runs this test) is not on PATH: %v", err)
	}
	dir := t.TempDir()

	// The GOPROXY protocol's files, served from a plain directory tree.
	www := filepath.Join(dir, "www")
	vdir := filepath.Join(www, demoModule, "@v")
	zipName := demoModule + "@" + demoVersion + "/"
	moduleZip := zipFile(t, []string{zipName + "go.mod", zipName + "demo.go"},
		map[string]string{zipName + "go.mod": demoGoMod, zipName + "demo.go": demoGoFile})
	os.MkdirAll(vdir, 0o755)
	for name, content := range map[string]string{
		"list":                demoVersion + "\n",
		demoVersion + ".info": `{"Version":"` + demoVersion + `","Time":"2024-01-02T03:04:05Z"}`,
		demoVersion + ".mod":  demoGoMod,
		demoVersion + ".zip":  string(moduleZip),
	} {
		if err := os.WriteFile(filepath.Join(vdir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var seen originLog
	origin := serveOn127002(t, seen.wrap(http.FileServer(http.Dir(www))))
	goproxy := strings.Replace(origin, "127.0.0.2", originHost, 1)

	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "ntlm", Users: []lab.ProxyUser{toolsAlice}})
	bin := buildSesame(t)
	modcache := filepath.Join(dir, "gopath", "pkg", "mod")
	cmd := exec.Command(bin, "run", "--upstream", sq.Addr, "--user", `CORP\alice`, "--password-env", "PW",
		"--listen", fmt.Sprintf("127.0.0.1:%d", lab.FreePort(t)), "--",
		goBin, "mod", "download", "-json", demoModule+"@"+demoVersion)
	cmd.Dir = dir // outside any module
	// From scratch: GOENV=off ignores go env -w settings; GOSUMDB=off as
	// the test module is in no checksum database; GOTOOLCHAIN=local, never
	// a toolchain download; -modcacherw so t.TempDir can remove the cache.
	cmd.Env = []string{"PATH=" + filepath.Dir(goBin) + ":/usr/bin:/bin", "HOME=" + dir, "PW=" + toolsAlice.Password,
		"GOENV=off", "GOPROXY=" + goproxy, "GOSUMDB=off", "GONOSUMDB=", "GOPRIVATE=", "GOTOOLCHAIN=local",
		"GOFLAGS=-mod=mod -modcacherw", "GOPATH=" + filepath.Join(dir, "gopath"), "GOMODCACHE=" + modcache,
		"GOCACHE=" + filepath.Join(dir, "gocache")}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sesame run go mod download: %v\n%s%s\nsquid:\n%s\n%s", err, stdout.String(), stderr.String(), sq.AccessLog(), sq.CacheLog())
	}
	var res struct{ Path, Version, Error, Info, GoMod, Zip, Dir string }
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res.Error != "" {
		t.Fatalf("go mod download -json: %v %s\n%s", err, res.Error, stdout.String())
	}
	if want := filepath.Join(modcache, demoModule+"@"+demoVersion); res.Dir != want {
		t.Errorf("module extracted to %q, want %q", res.Dir, want)
	}
	if b, err := os.ReadFile(filepath.Join(res.Dir, "demo.go")); err != nil || string(b) != demoGoFile {
		t.Errorf("demo.go in the module cache: %q %v", b, err)
	}
	base := "/" + demoModule + "/@v/" + demoVersion
	checkSquidLog(t, sq, base+".info", base+".mod", base+".zip")
	n := seen.check(t, base+".info", base+".mod", base+".zip")
	t.Logf("go mod download: the origin served %d requests, all via sesame and squid", n)
}
