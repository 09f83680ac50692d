package kerberos

import (
	"context"
)

// LoginContents logs in (a keytab or password Client; a cache Client
// reads its cache) and returns the TGT as the contents of a credential
// cache, for `sesame kinit` to store.
func (c *Client) LoginContents(ctx context.Context) (*CCacheContents, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.src != fromCCache {
		c.tgt = nil // a fresh TGT, as kinit gets one
	}
	t, err := c.tgtLocked()
	if err != nil {
		return nil, err
	}
	cred, err := ticketCredential(t)
	if err != nil {
		return nil, err
	}
	return &CCacheContents{Principal: cred.Client, Credentials: []*CCCredential{cred}}, nil
}
