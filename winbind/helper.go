package winbind

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// helperGrace is how long a helper may take to exit after its input is
// closed before it is killed.
const helperGrace = 2 * time.Second

// helper is one running `ntlm_auth --helper-protocol=ntlm-server-1`. It
// answers one request at a time; the pool hands it to one caller at once.
type helper struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr *tailWriter
	exited chan struct{} // closed when the process has been waited for
	err    error         // Wait's result, after exited
}

// startHelper starts ntlm_auth with cmd (made by the Verifier's Command).
func startHelper(cmd *exec.Cmd) (*helper, error) {
	h := &helper{cmd: cmd, stderr: &tailWriter{max: 2048}, exited: make(chan struct{})}
	var err error
	if h.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	h.out = bufio.NewReaderSize(stdout, maxAnswerLine)
	cmd.Stderr = h.stderr
	cmd.WaitDelay = helperGrace
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		h.err = cmd.Wait()
		close(h.exited)
	}()
	return h, nil
}

// alive reports whether the process still runs (as far as is known).
func (h *helper) alive() bool {
	select {
	case <-h.exited:
		return false
	default:
		return true
	}
}

// do sends one request and reads its answer. When ctx ends first the
// process is killed: its place in the conversation is then unknown.
func (h *helper) do(ctx context.Context, req []byte) (*answer, error) {
	stop := context.AfterFunc(ctx, h.kill)
	defer stop()
	if _, err := h.stdin.Write(req); err != nil {
		return nil, h.failure(ctx, fmt.Errorf("writing to ntlm_auth: %w", err))
	}
	a, err := readAnswer(h.out)
	if err != nil {
		return nil, h.failure(ctx, err)
	}
	return a, nil
}

// resync puts the conversation back in step after a refused logon.
// ntlm_auth 4.17 answers a refused challenge-response with an extra "."
// line after the answer's own; other versions may not. A lone "." is a
// request without a user name, which every version answers with an
// "Error:" line and a "."; reading up to that skips whatever came before.
func (h *helper) resync(ctx context.Context) error {
	stop := context.AfterFunc(ctx, h.kill)
	defer stop()
	if _, err := io.WriteString(h.stdin, ".\n"); err != nil {
		return h.failure(ctx, fmt.Errorf("writing to ntlm_auth: %w", err))
	}
	sawError := false
	for range maxAnswerLines {
		line, err := readLine(h.out)
		if err != nil {
			return h.failure(ctx, err)
		}
		switch {
		case strings.HasPrefix(line, "Error:"):
			sawError = true
		case line == "." && sawError:
			return nil
		case line != ".":
			return fmt.Errorf("%w: resynchronising: unexpected line", ErrProtocol)
		}
	}
	return fmt.Errorf("%w: resynchronising: no end", ErrProtocol)
}

// failure explains an I/O error: the context's end, or the process's.
func (h *helper) failure(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: ntlm_auth: %w", ErrUnavailable, context.Cause(ctx))
	}
	if errors.Is(err, ErrProtocol) {
		return err
	}
	select {
	case <-h.exited:
		return fmt.Errorf("%w: ntlm_auth exited (%v): %v; stderr: %s", ErrUnavailable, h.err, err, h.stderr.String())
	case <-time.After(100 * time.Millisecond):
		return fmt.Errorf("%w: ntlm_auth: %v", ErrUnavailable, err)
	}
}

func (h *helper) kill() {
	if h.cmd.Process != nil {
		_ = h.cmd.Process.Kill()
	}
}

// stop closes the helper's input, on which ntlm_auth exits, and kills it
// if it has not after helperGrace.
func (h *helper) stop() {
	_ = h.stdin.Close()
	select {
	case <-h.exited:
	case <-time.After(helperGrace):
		h.kill()
		<-h.exited
	}
}

// tailWriter keeps the last max bytes written to it: a helper's stderr,
// for error messages. ntlm_auth writes no secrets there.
type tailWriter struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	if len(w.b) > w.max {
		w.b = append(w.b[:0], w.b[len(w.b)-w.max:]...)
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return printable(string(w.b))
}
