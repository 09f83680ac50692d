//go:build windows && winelab

// These tests need peers that the Linux side starts: they are built
// only with -tags winelab and run under Wine by TestSSPIHandshakeLoopUnderWine
// (cmd/sesame), which passes the peers in SESAME_LAB_* variables.
package sspi

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/sesame-auth/sesame/auth"
)

var (
	kernel32                  = windows.NewLazySystemDLL("kernel32.dll")
	procGetProcessMemoryInfo  = kernel32.NewProc("K32GetProcessMemoryInfo")
	procGetProcessHandleCount = kernel32.NewProc("GetProcessHandleCount")
)

// processMemoryCounters is PROCESS_MEMORY_COUNTERS_EX.
type processMemoryCounters struct {
	cb                         uint32
	pageFaultCount             uint32
	peakWorkingSetSize         uintptr
	workingSetSize             uintptr
	quotaPeakPagedPoolUsage    uintptr
	quotaPagedPoolUsage        uintptr
	quotaPeakNonPagedPoolUsage uintptr
	quotaNonPagedPoolUsage     uintptr
	pagefileUsage              uintptr
	peakPagefileUsage          uintptr
	privateUsage               uintptr
}

// usage is what the loop watches for leaks.
type usage struct {
	handles    uint32  // GetProcessHandleCount
	workingSet uintptr // GetProcessMemoryInfo
	private    uintptr
	// Under Wine, GetProcessHandleCount answers 0 and PrivateUsage 0:
	// the Linux view of the same process (Z:\proc\self, Wine maps Z: to
	// /) stands in: its open file descriptors and VmRSS, which is where
	// Wine's Kerberos contexts (MIT GSSAPI in the process) would leak.
	linuxFDs int
	linuxRSS int64 // KiB
}

func measure(t *testing.T) usage {
	runtime.GC()
	var u usage
	if r, _, err := procGetProcessHandleCount.Call(uintptr(windows.CurrentProcess()), uintptr(unsafe.Pointer(&u.handles))); r == 0 {
		t.Fatalf("GetProcessHandleCount: %v", err)
	}
	var c processMemoryCounters
	c.cb = uint32(unsafe.Sizeof(c))
	if r, _, err := procGetProcessMemoryInfo.Call(uintptr(windows.CurrentProcess()), uintptr(unsafe.Pointer(&c)), uintptr(c.cb)); r == 0 {
		t.Fatalf("GetProcessMemoryInfo: %v", err)
	}
	u.workingSet, u.private = c.workingSetSize, c.privateUsage
	if fds, err := os.ReadDir(`Z:\proc\self\fd`); err == nil {
		u.linuxFDs = len(fds)
	}
	if b, err := os.ReadFile(`Z:\proc\self\status`); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				u.linuxRSS, _ = strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			}
		}
	}
	return u
}

func labEnv(t *testing.T, k string) string {
	v := os.Getenv(k)
	if v == "" {
		t.Fatalf("%s is not set: run through TestSSPIHandshakeLoopUnderWine", k)
	}
	return v
}

// handshakeOnce runs one complete Negotiate handshake on a connection of
// its own: the AP-REQ, the 200, the AP-REP verified in Finish.
func handshakeOnce(t *testing.T, c *Credential, client *http.Client, u *url.URL) {
	hs, err := c.Start(&auth.Target{Host: u.Hostname(), Method: "GET", URI: u.RequestURI()})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	v, final, err := hs.Next(context.Background(), nil)
	if err != nil || !final {
		t.Fatalf("Next: %q final=%v: %v", v, final, err)
	}
	req, _ := http.NewRequest("GET", u.String(), nil)
	req.Header.Set("Authorization", v)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET: %s", resp.Status)
	}
	chs, err := auth.ParseChallenges(resp.Header.Values("WWW-Authenticate"))
	if err != nil || len(chs) == 0 {
		t.Fatalf("200 without the AP-REP: %v %q", err, resp.Header.Values("WWW-Authenticate"))
	}
	if err := hs.Finish(&chs[0]); err != nil {
		t.Fatalf("Finish at %s: %v\n200's WWW-Authenticate: %q", time.Now().Format(time.RFC3339Nano), err, resp.Header.Values("WWW-Authenticate"))
	}
}

// TestLabHandshakeLoop runs SESAME_LAB_N Kerberos handshakes as the
// logged-on user against Apache and checks that the process's handle
// count and private memory stay flat, that every security context was
// deleted, and that each AP-REP was verified. Then it abandons handshakes
// half-way and checks that their contexts are deleted once collected.
func TestLabHandshakeLoop(t *testing.T) {
	u, err := url.Parse(labEnv(t, "SESAME_LAB_URL"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(labEnv(t, "SESAME_LAB_N"))
	if err != nil {
		t.Fatal(err)
	}
	c := &Credential{Package: Negotiate}
	defer c.Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}, Timeout: 30 * time.Second}
	const warm = 200
	for range warm {
		handshakeOnce(t, c, client, u)
	}
	u0 := measure(t)
	begin := time.Now()
	for range n {
		handshakeOnce(t, c, client, u)
	}
	took := time.Since(begin)
	u1 := measure(t)
	st := c.Stats()
	t.Logf("%d handshakes in %v (%.2f ms each); stats %+v\nbefore %+v\nafter  %+v",
		n, took.Round(time.Millisecond), float64(took.Microseconds())/1000/float64(n), st, u0, u1)
	if st.Open != 0 {
		t.Errorf("%d security contexts not deleted", st.Open)
	}
	if st.MutualVerified != int64(n+warm) {
		t.Errorf("mutual authentication verified %d times, want %d", st.MutualVerified, n+warm)
	}
	if u1.handles > u0.handles+20 || u1.linuxFDs > u0.linuxFDs+20 {
		t.Errorf("handles grew over %d handshakes: %+v -> %+v", n, u0, u1)
	}
	// Flat: under 8 MiB of noise plus 4 bytes a handshake (a leaked
	// context costs kilobytes).
	if grew := u1.private - u0.private; u1.private > u0.private && grew > 8<<20+uintptr(n)*4 {
		t.Errorf("private bytes grew by %d KiB over %d handshakes", grew>>10, n)
	}
	if grew := u1.linuxRSS - u0.linuxRSS; grew > 8<<10+int64(n)*4/1024 {
		t.Errorf("VmRSS grew by %d KiB over %d handshakes", grew, n)
	}

	// Abandoned: the first leg made, then dropped, as a transport whose
	// connection died would; the cleanup deletes the contexts.
	for range 100 {
		hs, err := c.Start(&auth.Target{Host: u.Hostname()})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := hs.Next(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Open != 0 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if open := c.Stats().Open; open != 0 {
		t.Errorf("%d abandoned security contexts not deleted after GC", open)
	}
	if u2 := measure(t); u2.handles > u0.handles+20 || u2.linuxFDs > u0.linuxFDs+20 {
		t.Errorf("handles after abandoned handshakes: %+v (was %+v)", u2, u0)
	}
}
