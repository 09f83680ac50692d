package kerberos

// CacheError returns why a credential cache Client has no usable TGT
// now (an error wrapping ErrCacheEmpty, ErrTicketExpired, ErrCacheDaemon,
// ErrCacheFormat, ErrWrongPrincipal, ...), or nil when it has one. It is
// nil for a keytab or password Client, whose failures LoginError tells.
func (c *Client) CacheError() error {
	if c.src != fromCCache {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.tgtLocked()
	return err
}
