//go:build !linux

package lab

import (
	"os"
	"syscall"
)

// The fixtures target Debian (Linux) paths and process handling; elsewhere
// Require fails before any peer starts. These stubs only keep the package,
// and the tests that import it, compiling on every platform.

// terminateSignal asks a peer to shut down; os.Kill is the portable choice.
var terminateSignal = os.Kill

// sysProcAttr returns no special attributes.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// startWatchdog has no portable implementation.
func startWatchdog(pgid int) (dismiss func(), err error) { return func() {}, nil }

// killGroup has no portable implementation; the peer itself is killed.
func killGroup(pgid int) {}

// groupMembers cannot list a process group portably.
func groupMembers(pgid int) []string { return nil }
