package kerberos

import (
	"context"
	"fmt"
	"sync"
)

// memoryCaches holds the MEMORY: caches of the process, by name.
var memoryCaches sync.Map // string -> *CCacheContents

// memoryCCache is a MEMORY: cache: contents that live as long as the
// process, for programs that log in and hand a cache name around.
type memoryCCache string

// Name returns "MEMORY:name".
func (m memoryCCache) Name() string { return "MEMORY:" + string(m) }

// Load returns a copy of the contents.
func (m memoryCCache) Load(context.Context) (*CCacheContents, error) {
	v, ok := memoryCaches.Load(string(m))
	if !ok {
		return nil, fmt.Errorf("%w: no credentials cache found (%s)", ErrCacheEmpty, m.Name())
	}
	return copyContents(v.(*CCacheContents)), nil
}

// Store replaces the contents with a copy of cc.
func (m memoryCCache) Store(_ context.Context, cc *CCacheContents) error {
	memoryCaches.Store(string(m), copyContents(cc))
	return nil
}

// Destroy forgets the cache.
func (m memoryCCache) Destroy(context.Context) error {
	memoryCaches.Delete(string(m))
	return nil
}

// copyContents copies through the encoding, which also drops anything
// the other cache types could not store either.
func copyContents(cc *CCacheContents) *CCacheContents {
	out, err := ParseFileCCache(MarshalFileCCache(cc))
	if err != nil {
		return &CCacheContents{Principal: cc.Principal}
	}
	return out
}
