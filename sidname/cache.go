package sidname

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the Cache.
const (
	DefaultCacheTTL         = 15 * time.Minute
	DefaultCacheNegativeTTL = time.Minute
	DefaultCacheSize        = 10000
)

// Cache remembers a Resolver's answers. Names are kept for TTL; SIDs the
// resolver could not name are remembered for the shorter NegativeTTL (a
// group created a minute ago gets its name soon). Errors are not
// cached. Set the fields before first use; it is then safe for
// concurrent use.
type Cache struct {
	// Resolver answers what the cache does not know. Required.
	Resolver Resolver
	// TTL and NegativeTTL; defaults DefaultCacheTTL and
	// DefaultCacheNegativeTTL.
	TTL, NegativeTTL time.Duration
	// Size bounds the entries; when full, expired entries are dropped,
	// and then, if still full, all of them. Default DefaultCacheSize.
	Size int
	// Now replaces time.Now, for tests.
	Now func() time.Time

	mu      sync.Mutex
	entries map[string]cacheEntry
	hits    atomic.Int64
	misses  atomic.Int64
}

type cacheEntry struct {
	name    string // "" = the resolver had no name
	expires time.Time
}

// Names implements Resolver.
func (c *Cache) Names(ctx context.Context, sids []string) (map[string]string, error) {
	now := c.now()
	out := make(map[string]string, len(sids))
	var missing []string
	c.mu.Lock()
	for _, s := range sids {
		if e, ok := c.entries[s]; ok && now.Before(e.expires) {
			c.hits.Add(1)
			if e.name != "" {
				out[s] = e.name
			}
			continue
		}
		c.misses.Add(1)
		missing = append(missing, s)
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	got, err := c.Resolver.Names(ctx, missing)
	if err != nil {
		return out, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]cacheEntry)
	}
	if len(c.entries)+len(missing) > c.size() {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries)+len(missing) > c.size() {
			clear(c.entries)
		}
	}
	for _, s := range missing {
		name, ok := got[s]
		if ok {
			out[s] = name
			c.entries[s] = cacheEntry{name: name, expires: now.Add(c.ttl())}
		} else {
			c.entries[s] = cacheEntry{expires: now.Add(c.negativeTTL())}
		}
	}
	return out, nil
}

// Stats returns the lookups answered from the cache and those passed to
// the Resolver, per SID.
func (c *Cache) Stats() (hits, misses int64) { return c.hits.Load(), c.misses.Load() }

func (c *Cache) ttl() time.Duration {
	if c.TTL > 0 {
		return c.TTL
	}
	return DefaultCacheTTL
}

func (c *Cache) negativeTTL() time.Duration {
	if c.NegativeTTL > 0 {
		return c.NegativeTTL
	}
	return DefaultCacheNegativeTTL
}

func (c *Cache) size() int {
	if c.Size > 0 {
		return c.Size
	}
	return DefaultCacheSize
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
