package kerberos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// fileCCache is a FILE: credential cache.
type fileCCache struct{ path string }

func newFileCCache(path string) *fileCCache { return &fileCCache{path: path} }

// Name returns "FILE:path".
func (f *fileCCache) Name() string { return "FILE:" + f.path }

// Load reads and decodes the file.
func (f *fileCCache) Load(ctx context.Context) (*CCacheContents, error) {
	fh, err := os.Open(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no credentials cache found (%s)", ErrCacheEmpty, f.Name())
	}
	if err != nil {
		return nil, fmt.Errorf("kerberos: credential cache %s: %w", f.Name(), err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxCacheBytes+1))
	if err != nil {
		return nil, fmt.Errorf("kerberos: credential cache %s: %w", f.Name(), err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: %s is an empty file", ErrCacheEmpty, f.Name())
	}
	cc, err := ParseFileCCache(b)
	if err != nil {
		return nil, fmt.Errorf("credential cache %s: %w", f.Name(), err)
	}
	if cc.Principal.IsZero() {
		return nil, fmt.Errorf("%w: %s has no default principal", ErrCacheEmpty, f.Name())
	}
	return cc, nil
}

// Store writes the cache to a temporary file in the same directory and
// renames it into place, so that a reader never sees half a cache. The
// file is private to the user (0600), as kinit makes it.
func (f *fileCCache) Store(ctx context.Context, cc *CCacheContents) error {
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.path)+".tmp*")
	if err != nil {
		return fmt.Errorf("kerberos: credential cache %s: %w", f.Name(), err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("kerberos: credential cache %s: %w", f.Name(), err)
	}
	if _, err := tmp.Write(MarshalFileCCache(cc)); err != nil {
		tmp.Close()
		return fmt.Errorf("kerberos: credential cache %s: %w", f.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("kerberos: credential cache %s: %w", f.Name(), err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("kerberos: credential cache %s: %w", f.Name(), err)
	}
	return nil
}

// Destroy removes the file.
func (f *fileCCache) Destroy(context.Context) error {
	if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("kerberos: credential cache %s: %w", f.Name(), err)
	}
	return nil
}
