//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package httpconn

import "syscall"

// peekGone cannot look at a socket without blocking here; idle
// connections are then only reaped after IdleTimeout.
func peekGone(nc syscall.Conn) (gone, ok bool) { return false, false }
