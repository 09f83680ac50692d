//go:build !linux

package kerberos

import "fmt"

func newKeyringCollection(res string) (CCacheCollection, error) {
	return nil, fmt.Errorf("%w: KEYRING:%s: kernel keyrings exist on Linux only", ErrCacheUnsupported, res)
}
