package kerberos

import (
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"time"
)

// DefaultReplayEntries is the default bound of a ReplayCache: at 10,000
// authentications a second it covers about 26 seconds before the oldest
// entries are dropped early (see ReplayCache).
const DefaultReplayEntries = 1 << 18

// ReplayCache remembers the authenticators an Acceptor accepted, so that
// the same AP-REQ is refused the second time (RFC 4120 section 3.2.3).
// An entry is kept for twice the clock skew: an authenticator older than
// the skew is refused anyway.
//
// The cache is bounded. When it is full, the entry with the oldest
// authenticator time is dropped and that time becomes a floor: from then
// on, authenticators not newer than the floor are refused as possible
// replays. Clients stamp authenticators with the current time, so a full
// cache costs only clients whose clocks run behind the dropped ones,
// never a replay that slips through.
//
// A ReplayCache is safe for concurrent use and may be shared by Acceptors
// that share a keytab. The zero value is ready to use.
type ReplayCache struct {
	// MaxEntries bounds the cache; 0 means DefaultReplayEntries.
	MaxEntries int

	mu    sync.Mutex
	seen  map[replayKey]struct{}
	order replayHeap
	floor time.Time
}

// replayKey is a hash of what identifies an authenticator: the service,
// the client, its time and the authenticator's ciphertext (which holds a
// random confounder, so two authenticators of one microsecond differ).
type replayKey [32]byte

type replayEntry struct {
	key   replayKey
	ctime time.Time
}

type replayHeap []replayEntry

func (h replayHeap) Len() int           { return len(h) }
func (h replayHeap) Less(i, j int) bool { return h[i].ctime.Before(h[j].ctime) }
func (h replayHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *replayHeap) Push(x any)        { *h = append(*h, x.(replayEntry)) }
func (h *replayHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func newReplayKey(service, client string, ctime time.Time, cusec int, cipher []byte) replayKey {
	h := sha256.New()
	var n [8]byte
	for _, s := range []string{service, client} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	binary.BigEndian.PutUint64(n[:], uint64(ctime.Unix()))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(cusec))
	h.Write(n[:])
	h.Write(cipher)
	var k replayKey
	h.Sum(k[:0])
	return k
}

// check records an authenticator, or returns an error wrapping ErrReplay
// if it was recorded before (or is older than the floor). now is the
// acceptor's clock, keep how long entries must be kept.
func (c *ReplayCache) check(k replayKey, ctime, now time.Time, keep time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = make(map[replayKey]struct{})
	}
	for len(c.order) > 0 && now.Sub(c.order[0].ctime) > keep {
		delete(c.seen, heap.Pop(&c.order).(replayEntry).key)
	}
	if _, ok := c.seen[k]; ok {
		return fmt.Errorf("%w: this authenticator was already used", ErrReplay)
	}
	if !c.floor.IsZero() && !ctime.After(c.floor) {
		return fmt.Errorf("%w: the replay cache is full and the authenticator (%s) is not newer than its oldest entry (%s)",
			ErrReplay, ctime.UTC().Format(time.RFC3339), c.floor.UTC().Format(time.RFC3339))
	}
	max := c.MaxEntries
	if max <= 0 {
		max = DefaultReplayEntries
	}
	for len(c.order) >= max {
		e := heap.Pop(&c.order).(replayEntry)
		delete(c.seen, e.key)
		if e.ctime.After(c.floor) {
			c.floor = e.ctime
		}
	}
	c.seen[k] = struct{}{}
	heap.Push(&c.order, replayEntry{key: k, ctime: ctime})
	return nil
}

// Len reports how many authenticators the cache holds.
func (c *ReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.order)
}
