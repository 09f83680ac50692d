package lab

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startHelperBinary re-runs this test binary with only testName selected
// and envVar=1 set, so that the test plays the helper: it starts a peer,
// prints one line beginning "LAB " describing it, and sleeps. It returns
// that line and the running helper, which the caller then kills with
// SIGKILL to check that the peer does not outlive a test binary that
// could not clean up.
func startHelperBinary(t *testing.T, testName, envVar string) (string, *exec.Cmd) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	helper := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+testName+"$", "-test.count=1")
	helper.Env = append(os.Environ(), envVar+"=1")
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	helper.Stderr = os.Stderr
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "LAB ") {
				line <- sc.Text()
				break
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case l := <-line:
		return l, helper
	case <-time.After(30 * time.Second):
		helper.Process.Kill()
		t.Fatalf("%s helper did not start its peer within 30s", testName)
		return "", nil
	}
}

// removeHelperTempDir removes the temp dir of a killed helper, which could
// not remove it itself, after checking that dir is a test's temp dir.
func removeHelperTempDir(dir, testName string) {
	if parent := filepath.Dir(dir); filepath.Dir(parent) == filepath.Clean(os.TempDir()) &&
		strings.HasPrefix(filepath.Base(parent), testName) {
		os.RemoveAll(parent)
	}
}

// listeningSockets returns the local addresses (ss's fifth column) of the
// sockets that process pid listens on, and ss's whole output for messages.
func listeningSockets(t *testing.T, pid int) (addrs []string, out string) {
	t.Helper()
	Require(t, "ss")
	b, err := exec.Command("ss", "-Hlntup").Output()
	if err != nil {
		t.Fatalf("ss: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.Contains(l, fmt.Sprintf("pid=%d,", pid)) {
			continue
		}
		f := strings.Fields(l)
		if len(f) < 5 {
			addrs = append(addrs, l) // unparseable: let the caller reject it
			continue
		}
		addrs = append(addrs, f[4])
	}
	return addrs, string(b)
}
