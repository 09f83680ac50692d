package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/sesame-auth/sesame/proxy"
)

// maxDrain bounds how long a shutdown waits for transfers in progress
// when nobody presses Ctrl-C again (a service manager sending SIGTERM).
const maxDrain = 30 * time.Second

// shutdown is a graceful stop in two steps: the first SIGINT or SIGTERM
// (or the end of parent: a Windows service's Stop; or stop, when a
// listener fails) ends ctx, so the listeners close and transfers in
// progress drain; a second signal, or maxDrain, closes hard, and what
// still runs is cut.
type shutdown struct {
	ctx  context.Context
	stop context.CancelFunc
	hard chan struct{}
	done chan struct{}
	once sync.Once
}

// drainOnSignal starts watching for the signals; inFlight counts the
// requests still being served, for the message. Call release when done.
func drainOnSignal(parent context.Context, inFlight func() int64, logger *slog.Logger) *shutdown {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	s := &shutdown{ctx: ctx, stop: cancel, hard: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer signal.Stop(sigs)
		select {
		case <-sigs:
		case <-ctx.Done():
		case <-s.done:
			return
		}
		if n := inFlight(); n > 0 {
			logger.Info(plural(n, "draining %d request", "draining %d requests") + " (Ctrl-C again to stop now)")
		}
		cancel()
		select {
		case <-sigs:
			logger.Warn("stopping now", "in_flight", inFlight())
		case <-time.After(maxDrain):
			logger.Warn("stopping: the drain took too long", "in_flight", inFlight(), "waited", maxDrain)
		case <-s.done:
			return
		}
		close(s.hard)
	}()
	return s
}

// release stops watching for signals.
func (s *shutdown) release() {
	s.once.Do(func() {
		s.stop()
		close(s.done)
	})
}

// drained returns once no request is in flight any more (tunnels, which
// the HTTP server does not track, included) or hard is closed.
func drained(st *proxy.Stats, hard <-chan struct{}) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for st.InFlight.Load() > 0 {
		select {
		case <-hard:
			return
		case <-tick.C:
		}
	}
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return fmt.Sprintf(one, n)
	}
	return fmt.Sprintf(many, n)
}
