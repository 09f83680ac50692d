package kerberos

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// dirCollection is a DIR: collection (MIT): a directory of FILE caches
// named tkt*, and a file "primary" naming the primary one. "DIR:/dir"
// is the collection; "DIR::/dir/tktX" one of its caches.
type dirCollection struct {
	name string // as resolved
	dir  string
	only string // DIR::path: the one cache this name denotes
}

func newDirCollection(res string) (CCacheCollection, error) {
	if p, ok := strings.CutPrefix(res, ":"); ok {
		if !strings.HasPrefix(filepath.Base(p), "tkt") {
			return nil, fmt.Errorf("%w: DIR::%s: a subsidiary cache's file name starts with tkt", ErrConfig, p)
		}
		return &dirCollection{name: "DIR:" + res, dir: filepath.Dir(p), only: p}, nil
	}
	if res == "" {
		return nil, fmt.Errorf("%w: empty DIR: cache name", ErrConfig)
	}
	return &dirCollection{name: "DIR:" + res, dir: res}, nil
}

// dirCCache is one cache of a DIR collection: a FILE cache named
// DIR::path.
type dirCCache struct{ fileCCache }

func (d *dirCCache) Name() string { return "DIR::" + d.path }

func (d *dirCCache) Load(ctx context.Context) (*CCacheContents, error) {
	cc, err := d.fileCCache.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, d.Name())
	}
	return cc, nil
}

// Store makes the directory (0700) if need be, as MIT does.
func (d *dirCCache) Store(ctx context.Context, cc *CCacheContents) error {
	if err := os.MkdirAll(filepath.Dir(d.path), 0o700); err != nil {
		return fmt.Errorf("kerberos: %s: %w", d.Name(), err)
	}
	return d.fileCCache.Store(ctx, cc)
}

func (c *dirCollection) Name() string { return c.name }

func (c *dirCollection) cache(file string) *dirCCache {
	return &dirCCache{fileCCache{path: filepath.Join(c.dir, file)}}
}

// primaryFile returns the primary cache's file name: the first line of
// the primary file, "tkt" without one.
func (c *dirCollection) primaryFile() (string, error) {
	b, err := os.ReadFile(filepath.Join(c.dir, "primary"))
	if errors.Is(err, fs.ErrNotExist) {
		return "tkt", nil
	}
	if err != nil {
		return "", fmt.Errorf("kerberos: %s: %w", c.name, err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if !strings.HasPrefix(line, "tkt") || strings.ContainsAny(line, `/\`) {
		return "", fmt.Errorf("%w: %s: primary file names %q, not a tkt* file in the directory", ErrCacheFormat, c.name, line)
	}
	return line, nil
}

func (c *dirCollection) Primary(context.Context) (CCache, error) {
	if c.only != "" {
		return &dirCCache{fileCCache{path: c.only}}, nil
	}
	f, err := c.primaryFile()
	if err != nil {
		return nil, err
	}
	return c.cache(f), nil
}

func (c *dirCollection) Caches(ctx context.Context) ([]CCache, error) {
	prim, err := c.Primary(ctx)
	if err != nil {
		return nil, err
	}
	out := []CCache{prim}
	if c.only != "" {
		return out, nil
	}
	ents, err := os.ReadDir(c.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kerberos: %s: %w", c.name, err)
	}
	var names []string
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, "tkt") && e.Type().IsRegular() && c.cache(n).Name() != prim.Name() {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, c.cache(n))
	}
	return out, nil
}

// New creates an empty tktXXXXXX file (0600), reserving the name.
func (c *dirCollection) New(ctx context.Context) (CCache, error) {
	if c.only != "" {
		return c.Primary(ctx)
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return nil, fmt.Errorf("kerberos: %s: %w", c.name, err)
	}
	f, err := os.CreateTemp(c.dir, "tkt")
	if err != nil {
		return nil, fmt.Errorf("kerberos: %s: %w", c.name, err)
	}
	f.Close()
	return c.cache(filepath.Base(f.Name())), nil
}

// SetPrimary rewrites the primary file (through a rename, as MIT does).
func (c *dirCollection) SetPrimary(_ context.Context, cc CCache) error {
	d, ok := cc.(*dirCCache)
	if !ok || filepath.Dir(d.path) != filepath.Clean(c.dir) {
		return fmt.Errorf("%w: %s is not a cache of %s", ErrConfig, cc.Name(), c.name)
	}
	tmp, err := os.CreateTemp(c.dir, "primary-tmp")
	if err != nil {
		return fmt.Errorf("kerberos: %s: %w", c.name, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(filepath.Base(d.path) + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(c.dir, "primary"))
	}
	if err != nil {
		return fmt.Errorf("kerberos: %s: %w", c.name, err)
	}
	return nil
}
