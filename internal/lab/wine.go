//go:build linux

package lab

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Debian's wine64 (Wine 8.0 on Debian 12) installs its loader and server
// under /usr/lib/wine; /usr/bin/wine comes with the "wine" package, which
// --no-install-recommends leaves out, so the fixture calls them directly.
const (
	wineBin       = "/usr/lib/wine/wine64"
	wineserverBin = "/usr/lib/wine/wineserver"
)

// Timeouts for the Wine fixture.
const (
	// wineBootTimeout bounds wineboot -i, which creates the prefix
	// (~10 s, ~700 MB: Wine copies its DLLs into system32).
	wineBootTimeout = 2 * time.Minute
	// wineStopGrace is how long the wineserver gets after SIGTERM; by
	// then "wineserver -k" has already killed every Windows process.
	wineStopGrace = 5 * time.Second
	// wineKillTimeout bounds "wineserver -k".
	wineKillTimeout = 20 * time.Second
)

// Wine is a private Wine prefix with its own persistent wineserver, for
// running GOOS=windows programs, Windows services included (Wine has a
// service control manager of its own, services.exe, and sc.exe and
// net.exe), on Linux.
//
// Nothing leaves loopback: the prefix has no display (DISPLAY is empty),
// Mono and Gecko are never fetched (mscoree and mshtml are disabled), and
// the environment has no proxy variables.
type Wine struct {
	// Prefix is WINEPREFIX; its drive_c is C:, and Z: is the Linux root.
	Prefix string
	// Dir is the fixture's temporary directory: the prefix, HOME and
	// wineserver.log.
	Dir string

	t               testing.TB
	env             []string
	server          *peerProc
	dismissWatchdog func()
	stopOnce        sync.Once
}

// StartWine creates a Wine prefix in a temporary directory (wineboot -i,
// ~10 s), adds the bcryptprimitives.dll that Go programs need and Wine 8
// lacks (see bcryptPrimitivesDLL), and starts a persistent wineserver
// for it, so that each later command starts in a fraction of a second.
// Everything is stopped in t.Cleanup ("wineserver -k", then the server),
// and the cleanup fails the test if any process of the prefix survives.
// It fails the test (never skips it) if Wine is missing.
func StartWine(t testing.TB) *Wine {
	t.Helper()
	Require(t, wineBin, wineserverBin)
	begin := time.Now()
	dir := t.TempDir()
	w := &Wine{Dir: dir, Prefix: filepath.Join(dir, "prefix"), t: t}
	mkdirs(t, dir, "prefix", "home")
	w.env = []string{
		"PATH=/usr/lib/wine:/usr/bin:/bin",
		"HOME=" + filepath.Join(dir, "home"), // Wine's caches stay in the test's directory
		"LANG=C.UTF-8",
		"WINEPREFIX=" + w.Prefix,
		"WINEDEBUG=-all",
		"WINEDLLOVERRIDES=mscoree,mshtml=", // no prompt to download Mono or Gecko
		"DISPLAY=",
		"WINESERVER=" + wineserverBin,
	}
	// Registered first (it runs last): the watchdog must cover wineboot's
	// processes too.
	var err error
	if w.dismissWatchdog, err = startWineWatchdog(w.Prefix); err != nil {
		t.Fatalf("lab: starting the Wine watchdog: %v", err)
	}
	t.Cleanup(w.Stop)

	// wineboot under a wineserver of its own, then "wineserver -w" until
	// that server and every process wineboot started have exited, as the
	// recipe does: wineboot returns while services.exe is still setting
	// the prefix up, and a service installed meanwhile was lost (the SCM
	// that ended the setup did not know it).
	if out, code, err := w.Run(wineBootTimeout, "wineboot", "-i"); err != nil || code != 0 {
		t.Fatalf("lab: wineboot -i: status %d, %v\n%s", code, err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wineBootTimeout)
	defer cancel()
	settle := exec.CommandContext(ctx, wineserverBin, "-w")
	settle.Env = w.env
	if out, err := settle.CombinedOutput(); err != nil {
		t.Fatalf("lab: wineserver -w after wineboot: %v\n%s", err, out)
	}
	sys32 := filepath.Join(w.Prefix, "drive_c", "windows", "system32")
	if _, err := os.Stat(filepath.Join(sys32, "kernel32.dll")); err != nil {
		t.Fatalf("lab: wineboot made no prefix: %v", err)
	}
	if dll := filepath.Join(sys32, "bcryptprimitives.dll"); !fileExists(dll) {
		// Only where Wine has none (< 9): a real one stays.
		writeFile(t, dll, bcryptPrimitivesDLL(), 0o644)
	}

	// In the foreground (-f) so that it is a child of the test with a
	// watchdog like any peer; persistent (-p) so that it does not exit, and
	// take services.exe with it, between two commands.
	w.server, err = startPeer(t, "wineserver", dir, filepath.Join(dir, "wineserver.log"), w.env, wineStopGrace, wineserverBin, "-f", "-p")
	if err != nil {
		t.Fatalf("lab: starting %s: %v", wineserverBin, err)
	}
	// Again, to run before startPeer's cleanup stops the server:
	// "wineserver -k" needs it alive to kill the Windows processes, which
	// outlive it otherwise.
	t.Cleanup(w.Stop)
	t.Logf("lab: Wine prefix ready in %v (%s)", time.Since(begin).Round(time.Millisecond), w.Prefix)
	return w
}

// Command returns a command that runs a Windows program (a path, or a
// name Wine finds, such as "sc" or "net") in the prefix. A Windows program
// runs in the Linux process itself, so ctx ending kills it.
//
// Give it files, not pipes, for output (or use [Wine.Run]): processes it
// starts, services.exe above all, inherit its standard handles and outlive
// it, so a pipe would never reach EOF and Wait would hang.
func (w *Wine) Command(ctx context.Context, program string, args ...string) *exec.Cmd {
	return w.CommandEnv(ctx, nil, program, args...)
}

// CommandEnv is Command with extra environment entries (KEY=value, the
// last of duplicate keys wins), which the Windows program sees too: Wine
// passes the Linux environment through. KRB5_CONFIG and KRB5CCNAME reach
// Wine's Kerberos provider this way, which runs MIT libkrb5 on the Linux
// side and so reads the Linux credential cache.
func (w *Wine) CommandEnv(ctx context.Context, env []string, program string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, wineBin, append([]string{program}, args...)...)
	cmd.Env = append(append([]string(nil), w.env...), env...)
	cmd.Dir = w.Dir
	return cmd
}

// Run runs a Windows program to completion (at most timeout) and returns
// its output (stdout and stderr) and exit status; err is set only when it
// could not run or was killed at the timeout.
func (w *Wine) Run(timeout time.Duration, program string, args ...string) (out string, code int, err error) {
	return w.RunEnv(timeout, nil, program, args...)
}

// RunEnv is Run with extra environment entries, as for CommandEnv.
func (w *Wine) RunEnv(timeout time.Duration, env []string, program string, args ...string) (out string, code int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	f, err := os.CreateTemp(w.Dir, "run-*.log")
	if err != nil {
		return "", -1, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd := w.CommandEnv(ctx, env, program, args...)
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	b, _ := os.ReadFile(f.Name())
	var xe *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return string(b), -1, fmt.Errorf("%s %s: killed after %v", program, strings.Join(args, " "), timeout)
	case errors.As(err, &xe):
		return string(b), xe.ExitCode(), nil
	case err != nil:
		return string(b), -1, err
	}
	return string(b), 0, nil
}

// WindowsPath is a Linux absolute path as Windows programs in the prefix
// see it, through drive Z: (the Linux root, mapped by wineboot).
func (w *Wine) WindowsPath(linuxPath string) string {
	return `Z:` + strings.ReplaceAll(filepath.Clean(linuxPath), "/", `\`)
}

// DriveC is the Linux directory of drive C:.
func (w *Wine) DriveC() string { return filepath.Join(w.Prefix, "drive_c") }

// ServerLog returns what the wineserver wrote (with WINEDEBUG=-all, only
// its errors).
func (w *Wine) ServerLog() string {
	b, err := os.ReadFile(filepath.Join(w.Dir, "wineserver.log"))
	if err != nil {
		return fmt.Sprintf("[lab: %v]", err)
	}
	return string(b)
}

// Stop kills every Windows process of the prefix (services included) and
// the wineserver, and fails the test if any process of the prefix is left.
// t.Cleanup does the same; calling both is fine.
func (w *Wine) Stop() {
	w.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wineKillTimeout)
		defer cancel()
		kill := exec.CommandContext(ctx, wineserverBin, "-k")
		kill.Env = w.env
		if out, err := kill.CombinedOutput(); err != nil {
			w.t.Logf("lab: wineserver -k: %v %s", err, out)
		}
		if w.server != nil {
			w.server.stop()
		}
		// The Windows processes are not in the server's process group;
		// they are found by their WINEPREFIX and must go with the server.
		deadline := time.Now().Add(peerGoneTimeout)
		left := processesWithEnv("WINEPREFIX=" + w.Prefix)
		for len(left) > 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			left = processesWithEnv("WINEPREFIX=" + w.Prefix)
		}
		if len(left) > 0 {
			w.t.Errorf("lab: Wine processes of %s still running after wineserver -k: %v", w.Prefix, left)
			killWithEnv("WINEPREFIX=" + w.Prefix)
		}
		w.dismissWatchdog()
	})
}

// wineWatchdogScript is the Wine fixture's watchdog (see startWatchdog for
// the mechanism): once the test process is gone it kills every process
// whose environment holds WINEPREFIX=$1. The Windows processes (services.exe,
// winedevice.exe, a service under test) are daemons in process groups of
// their own, outside the wineserver's, and they do not all exit when the
// wineserver dies, so the peer watchdog's group kill is not enough. The
// prefix is a fresh temporary directory: nothing else has that entry.
const wineWatchdogScript = `trap '' HUP INT QUIT TERM PIPE
read _ || :
for e in /proc/[0-9]*/environ; do
  if tr '\0' '\n' < "$e" 2>/dev/null | grep -qxF "WINEPREFIX=$1"; then
    p=${e#/proc/}; kill -s KILL "${p%/environ}" 2>/dev/null
  fi
done
exit 0`

// startWineWatchdog starts the watchdog for prefix and returns the
// function that dismisses it after a clean stop.
func startWineWatchdog(prefix string) (dismiss func(), err error) {
	cmd := exec.Command("/bin/sh", "-c", wineWatchdogScript, "lab-wine-watchdog", prefix)
	// Not the fixture's environment: the watchdog must not match itself.
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	return runWatchdog(cmd)
}

// killWithEnv sends SIGKILL to every process whose environment holds kv.
func killWithEnv(kv string) {
	for _, p := range processesWithEnv(kv) {
		if pid, err := strconv.Atoi(strings.Fields(p)[0]); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// processesWithEnv lists the live processes whose environment holds the
// entry kv, as "pid (cmdline)". Processes it may not read are passed over.
func processesWithEnv(kv string) []string {
	envs, _ := filepath.Glob("/proc/[0-9]*/environ")
	var found []string
	for _, f := range envs {
		data, err := os.ReadFile(f)
		if err != nil || !bytes.Contains(data, []byte(kv)) {
			continue
		}
		pdir := filepath.Dir(f)
		if st, err := os.ReadFile(filepath.Join(pdir, "stat")); err == nil {
			if i := bytes.LastIndexByte(st, ')'); i >= 0 {
				if f := bytes.Fields(st[i+1:]); len(f) > 0 && string(f[0]) == "Z" {
					continue // a zombie holds nothing
				}
			}
		}
		for _, e := range bytes.Split(data, []byte{0}) {
			if string(e) == kv {
				cmd, _ := os.ReadFile(filepath.Join(pdir, "cmdline"))
				found = append(found, fmt.Sprintf("%s (%s)", filepath.Base(pdir), strings.TrimSpace(string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))))
				break
			}
		}
	}
	return found
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// bcryptPrimitivesDLL returns a tiny PE32+ DLL, bcryptprimitives.dll,
// without code: its one export, ProcessPrng, forwards to
// advapi32.SystemFunction036 (RtlGenRandom). The Go runtime (>= 1.22)
// will not start on Windows without ProcessPrng, and Wine before 9.0 has
// no bcryptprimitives.dll. The two functions fit: ProcessPrng(PBYTE,
// SIZE_T) BOOL and RtlGenRandom(PVOID, ULONG) BOOLEAN share the x64
// calling convention, and Go only tests the result for non-zero.
//
// It is the DLL of shared/lab/wine/mk_bcryptprimitives.py, written in Go
// so that the fixture needs no Python and no file outside the repository.
func bcryptPrimitivesDLL() []byte {
	const (
		sectRVA    = 0x1000
		fileAlign  = 0x200
		sectAlign  = 0x1000
		imageBase  = 0x180000000
		exportsOff = 40 // the export directory is 40 bytes
	)
	dllName := "bcryptprimitives.dll\x00"
	fnName := "ProcessPrng\x00"
	forward := "advapi32.SystemFunction036\x00"
	// The export section: directory, address table (1), name pointer
	// table (1), ordinal table (1, padded to 4), then the strings.
	offEAT := exportsOff
	offNames := offEAT + 4
	offOrds := offNames + 4
	offDLL := offOrds + 4
	offFn := offDLL + len(dllName)
	offFwd := offFn + len(fnName)
	size := offFwd + len(forward)
	rva := func(off int) uint32 { return uint32(sectRVA + off) }

	le := binary.LittleEndian
	var edata bytes.Buffer
	for _, v := range []any{
		uint32(0), uint32(0), uint16(0), uint16(0), // flags, time stamp, version
		rva(offDLL), uint32(1), uint32(1), uint32(1), // name, ordinal base, functions, names
		rva(offEAT), rva(offNames), rva(offOrds),
		// An address inside the export directory makes the entry a
		// forwarder: the loader resolves the named export instead.
		rva(offFwd),
		rva(offFn),
		uint16(0), uint16(0), // ordinal 0 (+ padding)
	} {
		binary.Write(&edata, le, v)
	}
	edata.WriteString(dllName + fnName + forward)
	if edata.Len() != size {
		panic("lab: bcryptprimitives.dll export section miscomputed")
	}
	raw := make([]byte, fileAlign)
	copy(raw, edata.Bytes())

	var hdr bytes.Buffer
	hdr.WriteString("MZ")
	hdr.Write(make([]byte, 58))
	binary.Write(&hdr, le, uint32(0x40)) // e_lfanew: the PE header follows at once
	hdr.WriteString("PE\x00\x00")
	// COFF: AMD64, 1 section, optional header 240 bytes,
	// EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE | DLL.
	for _, v := range []any{uint16(0x8664), uint16(1), uint32(0), uint32(0), uint32(0), uint16(240), uint16(0x2022)} {
		binary.Write(&hdr, le, v)
	}
	// Optional header (PE32+).
	for _, v := range []any{
		uint16(0x20B), uint8(14), uint8(0), // magic, linker version
		uint32(0), uint32(fileAlign), uint32(0), uint32(0), uint32(sectRVA), // code/data sizes, entry point (none), base of code
		uint64(imageBase), uint32(sectAlign), uint32(fileAlign),
		uint16(6), uint16(0), uint16(0), uint16(0), uint16(6), uint16(0), // OS, image, subsystem versions
		uint32(0),                                      // Win32VersionValue
		uint32(sectRVA + sectAlign), uint32(fileAlign), // SizeOfImage, SizeOfHeaders
		uint32(0), uint16(3), uint16(0x0100), // checksum, console subsystem, NX compatible
		uint64(0x100000), uint64(0x1000), uint64(0x100000), uint64(0x1000), // stack and heap reserve/commit
		uint32(0), uint32(16), // loader flags, 16 data directories
	} {
		binary.Write(&hdr, le, v)
	}
	for i := range 16 {
		if i == 0 { // the export directory
			binary.Write(&hdr, le, [2]uint32{sectRVA, uint32(size)})
		} else {
			binary.Write(&hdr, le, [2]uint32{})
		}
	}
	// The one section, .edata: initialized data, readable.
	var name [8]byte
	copy(name[:], ".edata")
	hdr.Write(name[:])
	for _, v := range []any{uint32(size), uint32(sectRVA), uint32(fileAlign), uint32(fileAlign), uint32(0), uint32(0), uint16(0), uint16(0), uint32(0x40000040)} {
		binary.Write(&hdr, le, v)
	}
	head := make([]byte, fileAlign)
	copy(head, hdr.Bytes())
	return append(head, raw...)
}
