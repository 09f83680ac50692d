//go:build linux

package lab

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBcryptPrimitivesDLL pins the DLL to the bytes of
// shared/lab/wine/mk_bcryptprimitives.py, the recipe it was tried with.
func TestBcryptPrimitivesDLL(t *testing.T) {
	const want = "50b7737df16e24e8ef58ed9aba6eee8a08b914ca36d646823da401e47589f259"
	sum := sha256.Sum256(bcryptPrimitivesDLL())
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("bcryptprimitives.dll sha256 %s, want %s (the Python recipe's)", got, want)
	}
}

// TestWineRunsGoProgram builds a GOOS=windows Go program, runs it in a
// fresh prefix (which needs the bcryptprimitives shim on Wine 8), checks
// that it sees a Linux file through Z:, and that Stop leaves no process.
func TestWineRunsGoProgram(t *testing.T) {
	Require(t, "go")
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "go.mod"), []byte("module winehello\n\ngo 1.22\n"), 0o644)
	writeFile(t, filepath.Join(src, "main.go"), []byte(`package main

import (
	"fmt"
	"os"
	"runtime"
)

func main() {
	b, err := os.ReadFile(os.Args[1])
	fmt.Printf("%s %v %q %v\n", runtime.GOOS, os.Getenv("WINEPREFIX") != "", b, err)
}
`), 0o644)
	exe := filepath.Join(src, "hello.exe")
	build := exec.Command("go", "build", "-o", exe, ".")
	build.Dir = src
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(src, "data.txt")
	writeFile(t, data, []byte("from linux"), 0o644)

	w := StartWine(t)
	out, code, err := w.Run(time.Minute, w.WindowsPath(exe), w.WindowsPath(data))
	if err != nil || code != 0 || strings.TrimSpace(out) != `windows true "from linux" <nil>` {
		t.Fatalf("hello.exe under Wine: code %d, err %v, output %q\nwineserver: %s", code, err, out, w.ServerLog())
	}
	w.Stop()
	if left := processesWithEnv("WINEPREFIX=" + w.Prefix); len(left) > 0 {
		t.Fatalf("processes left after Stop: %v", left)
	}
}
