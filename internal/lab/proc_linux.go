package lab

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
)

// terminateSignal asks a peer to shut down cleanly.
var terminateSignal os.Signal = syscall.SIGTERM

// sysProcAttr puts a peer in a process group of its own, so that it and
// everything it forks (Apache's children, mod_cgid's daemon, CGIs) can be
// found and killed together, and so that a Ctrl-C meant for go test does
// not reach it before its cleanup runs.
//
// No Pdeathsig: it would only kill the parent (Apache's children would live
// on, still listening), and it fires when the OS thread that forked exits,
// which a goroutine using runtime.LockOSThread can cause mid-test. The
// watchdog (startWatchdog) covers the test binary dying instead.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// watchdogScript waits for EOF on stdin, i.e. for the test process to close
// the pipe or to die (a -timeout panic, SIGKILL, a crash: cases where
// t.Cleanup never runs), and then kills the peer's process group. Signals
// are ignored so that only the pipe decides.
const watchdogScript = `trap '' HUP INT QUIT TERM PIPE
read _ || :
kill -s KILL -- "-$1" 2>/dev/null
exit 0`

// startWatchdog starts a /bin/sh watchdog for process group pgid and
// returns the function that dismisses it once the group is known to be
// gone. The watchdog runs in a process group of its own, outside the
// peer's (it must survive killing that) and outside go test's (Ctrl-C).
func startWatchdog(pgid int) (dismiss func(), err error) {
	return runWatchdog(exec.Command("/bin/sh", "-c", watchdogScript, "lab-watchdog", strconv.Itoa(pgid)))
}

// runWatchdog starts a watchdog script that acts when its stdin reaches
// EOF, in a process group of its own, and returns the function that
// dismisses it after a clean stop.
func runWatchdog(cmd *exec.Cmd) (dismiss func(), err error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// The write end stays in this process only (Go opens it close-on-exec),
	// so its closing means exactly "the test process is gone".
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return func() {
		// Kill rather than close the pipe first: what it guards is
		// already gone, and a kill of a stale id is best never sent.
		_ = cmd.Process.Kill()
		_ = w.Close()
		_ = cmd.Wait()
	}, nil
}

// killGroup sends SIGKILL to every process in process group pgid.
func killGroup(pgid int) {
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// groupMembers lists the live (non-zombie) processes in process group pgid
// as "pid (comm)". It reads /proc rather than probing with kill(-pgid, 0),
// which also counts zombies: orphans are reaped by PID 1, and in some
// containers and VMs PID 1 never reaps, so a zombie would look like a leak.
func groupMembers(pgid int) []string {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var left []string
	for _, f := range stats {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // exited meanwhile
		}
		// "pid (comm) state ppid pgrp ...": comm may contain spaces and
		// parentheses, so split after the last ')'.
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			continue
		}
		fields := bytes.Fields(data[i+1:])
		if len(fields) < 3 || string(fields[0]) == "Z" {
			continue
		}
		if pg, err := strconv.Atoi(string(fields[2])); err == nil && pg == pgid {
			j := bytes.IndexByte(data, ' ')
			left = append(left, fmt.Sprintf("%s %s", data[:j], data[j+1:i+1]))
		}
	}
	return left
}
