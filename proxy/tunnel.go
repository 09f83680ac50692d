package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// relay copies both ways between a client and its upstream (a CONNECT
// tunnel, or a connection that switched protocols) and returns the bytes
// moved. It ends when one side closes; when nothing moves either way for
// TunnelIdle; or when one side stops reading what it is sent for
// TunnelIdle (every write has that deadline), since a peer that never
// reads would otherwise hold a goroutine and two descriptors forever.
// When relay returns, both connections are closed and both copying
// goroutines have ended.
func (s *Server) relay(client net.Conn, clientBuf *bufio.Reader, upstream net.Conn) int64 {
	t := &tunnel{idle: s.tunnelIdle()}
	t.touch()
	up, down := make(chan error, 1), make(chan error, 1)
	go func() { up <- t.copy(upstream, clientBuf, client) }()
	go func() { down <- t.copy(client, upstream, upstream) }()
	upDone, downDone := false, false
	select {
	case err := <-up:
		upDone = true
		if err == nil {
			// The client half-closed: let the upstream finish its
			// answer, for at most the idle timeout.
			select {
			case <-down:
				downDone = true
			case <-time.After(t.idle):
			}
		}
	case <-down:
		downDone = true
	}
	// Closing both wakes whichever copy still waits, on a read or on a
	// write to a peer that does not read.
	client.Close()
	upstream.Close()
	if !upDone {
		<-up
	}
	if !downDone {
		<-down
	}
	return t.total.Load()
}

// tunnel is the state the two directions of a relay share.
type tunnel struct {
	idle       time.Duration
	total      atomic.Int64
	lastActive atomic.Int64 // UnixNano of the last byte read or written
}

func (t *tunnel) touch() { t.lastActive.Store(time.Now().UnixNano()) }

func (t *tunnel) quiet() time.Duration { return time.Since(time.Unix(0, t.lastActive.Load())) }

// copy moves bytes from src (read through srcConn's deadline) to dst. It
// returns nil at the end of src, after passing the half-close on, and the
// error otherwise: a failed or timed-out write, a read error, or a read
// timeout while the other direction was idle too.
func (t *tunnel) copy(dst net.Conn, src io.Reader, srcConn net.Conn) error {
	buf := make([]byte, 32<<10)
	for {
		srcConn.SetReadDeadline(time.Now().Add(t.idle))
		k, err := src.Read(buf)
		if k > 0 {
			t.touch()
			dst.SetWriteDeadline(time.Now().Add(t.idle))
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return werr
			}
			t.touch()
			t.total.Add(int64(k))
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && t.quiet() < t.idle {
				continue // the other direction is busy
			}
			if err == io.EOF {
				if cw, ok := dst.(interface{ CloseWrite() error }); ok {
					cw.CloseWrite()
				}
				return nil
			}
			return err
		}
	}
}
