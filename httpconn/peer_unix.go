//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package httpconn

import (
	"errors"
	"syscall"
)

// peekGone looks at the socket under nc without blocking and without
// consuming anything: it reports true when the peer closed (EOF), reset,
// or sent bytes. ok is false when nc has no socket to look at.
func peekGone(nc syscall.Conn) (gone, ok bool) {
	rc, err := nc.SyscallConn()
	if err != nil {
		return false, false
	}
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case rerr == nil:
			gone = true // 0 bytes is EOF; more is data nobody asked for
		case errors.Is(rerr, syscall.EAGAIN), errors.Is(rerr, syscall.EWOULDBLOCK), errors.Is(rerr, syscall.EINTR):
			gone = false // nothing to read: the connection is quiet
		default:
			gone = true // ECONNRESET and the like
		}
		return true // never wait for readability
	})
	if err != nil {
		return true, true // closed under us
	}
	return gone, true
}
