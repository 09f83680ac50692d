package winbind

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
)

// pool holds up to size helpers. A slot holds a running helper or nil (to
// be started when next taken); taking a slot is what bounds concurrency.
type pool struct {
	start  func(ctx context.Context) (*exec.Cmd, error)
	slots  chan *helper
	size   int
	ctx    context.Context // ends at Close; kills every helper (exec.CommandContext)
	cancel context.CancelFunc

	closeOnce sync.Once
	started   func() // called after each helper start, for metrics and tests
}

func newPool(size int, start func(ctx context.Context) (*exec.Cmd, error)) *pool {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pool{start: start, slots: make(chan *helper, size), size: size, ctx: ctx, cancel: cancel}
	for range size {
		p.slots <- nil
	}
	return p
}

// do runs one request on a helper of the pool. A helper that died since
// its last request (killed, or winbindd restarted) is replaced, and the
// request is sent once more: verifying a response has no side effect.
func (p *pool) do(ctx context.Context, req []byte) (*answer, error) {
	var h *helper
	select {
	case h = <-p.slots:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for a free ntlm_auth: %w", ErrUnavailable, context.Cause(ctx))
	case <-p.ctx.Done():
		return nil, ErrClosed
	}
	defer func() { p.slots <- h }()
	for attempt := 0; ; attempt++ {
		if p.ctx.Err() != nil {
			return nil, ErrClosed
		}
		if h != nil && (!h.alive() || h.out.Buffered() > 0) {
			// Dead, or out of step (output nobody asked for): an answer
			// must never be taken for another request's.
			h.kill()
			h = nil
		}
		fresh := h == nil
		if fresh {
			var err error
			if h, err = p.spawn(); err != nil {
				return nil, err
			}
		}
		a, err := h.do(ctx, req)
		if err == nil && !a.authenticated && a.protoError == "" {
			err = h.resync(ctx)
			if err == nil {
				return a, nil
			}
			// The answer stands; only this process is not trusted any more.
			h.kill()
			h = nil
			return a, nil
		}
		if err == nil && a.protoError == "" {
			return a, nil
		}
		// The conversation's state is unknown after any failure: never
		// reuse this process.
		h.kill()
		h = nil
		if err == nil {
			return nil, fmt.Errorf("%w: ntlm_auth: %s", ErrProtocol, a.protoError)
		}
		if fresh || attempt > 0 || ctx.Err() != nil || errors.Is(err, ErrProtocol) {
			return nil, err
		}
	}
}

func (p *pool) spawn() (*helper, error) {
	cmd, err := p.start(p.ctx)
	if err != nil {
		return nil, err
	}
	h, err := startHelper(cmd)
	if err != nil {
		return nil, fmt.Errorf("%w: starting ntlm_auth: %w", ErrUnavailable, err)
	}
	if p.started != nil {
		p.started()
	}
	return h, nil
}

// close stops the helpers: idle ones at once, busy ones when their
// request ends (cancelling p.ctx kills them, so that is soon).
func (p *pool) close() {
	p.closeOnce.Do(func() {
		p.cancel()
		for range p.size {
			if h := <-p.slots; h != nil {
				h.stop()
			}
		}
	})
}
