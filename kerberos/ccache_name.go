package kerberos

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// CCache is one credential cache: FILE:, a member of a DIR:, KCM: or
// KEYRING: collection, or MEMORY:.
type CCache interface {
	// Name is the cache's full name, type included ("KCM:1000:abc"),
	// as KRB5CCNAME or klist would show it.
	Name() string
	// Load returns the cache's default principal and entries. A cache
	// that does not exist or has no principal gives an error wrapping
	// ErrCacheEmpty.
	Load(ctx context.Context) (*CCacheContents, error)
	// Store replaces the cache's contents (MIT's initialize, then a
	// store of each credential), creating the cache if need be.
	Store(ctx context.Context, cc *CCacheContents) error
	// Destroy removes the cache; a missing cache is not an error.
	Destroy(ctx context.Context) error
}

// CCacheCollection is a set of caches with a primary one (MIT's cache
// collections). A name that denotes a single cache (FILE:, DIR::/dir/tkt1,
// KCM:name) resolves to a collection of that one cache.
type CCacheCollection interface {
	// Name is the name the collection was resolved from.
	Name() string
	// Primary returns the primary cache, which need not be initialized.
	Primary(ctx context.Context) (CCache, error)
	// Caches lists the caches, the primary first. Uninitialized caches
	// may be listed; Load tells them apart.
	Caches(ctx context.Context) ([]CCache, error)
	// New makes a new, empty cache in the collection (MIT's
	// krb5_cc_new_unique); a single-cache collection returns its cache.
	New(ctx context.Context) (CCache, error)
	// SetPrimary makes c the primary cache (kswitch).
	SetPrimary(ctx context.Context, c CCache) error
}

// DefaultKCMSocket is where sssd-kcm and Heimdal's kcm listen, and MIT
// looks for them, unless krb5.conf's kcm_socket says otherwise.
const DefaultKCMSocket = "/var/run/.heim_org.h5l.kcm-socket"

// DefaultCCacheName returns the name of the default credential cache:
// KRB5CCNAME through getenv (nil means os.Getenv), else krb5.conf's
// default_ccache_name with its %{...} tokens expanded, else
// FILE:/tmp/krb5cc_<uid>, as MIT Kerberos chooses.
func DefaultCCacheName(cfg *Config, getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if n := getenv("KRB5CCNAME"); n != "" {
		return n
	}
	if cfg != nil && cfg.DefaultCCacheName != "" {
		return ExpandCCacheName(cfg.DefaultCCacheName)
	}
	return "FILE:/tmp/krb5cc_" + strconv.Itoa(os.Getuid())
}

// ExpandCCacheName expands the tokens MIT allows in cache names:
// %{uid}, %{USERID}, %{euid}, %{username}, %{TEMP} and %{null}. Unknown
// tokens are left as they are.
func ExpandCCacheName(s string) string {
	if !strings.Contains(s, "%{") {
		return s
	}
	tmp := os.Getenv("TMPDIR")
	if tmp == "" {
		tmp = "/tmp"
	}
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	uid := strconv.Itoa(os.Getuid())
	return strings.NewReplacer(
		"%{uid}", uid,
		"%{USERID}", uid,
		"%{euid}", strconv.Itoa(os.Geteuid()),
		"%{username}", name,
		"%{TEMP}", tmp,
		"%{null}", "",
	).Replace(s)
}

// splitCCacheName splits "TYPE:residual"; a name without a type, or a
// Windows drive letter, is a FILE path.
func splitCCacheName(name string) (typ, residual string) {
	typ, rest, ok := strings.Cut(name, ":")
	if !ok || len(typ) <= 1 || strings.ContainsAny(typ, `/\`) {
		return "FILE", name
	}
	return strings.ToUpper(typ), rest
}

// ResolveCCache returns the collection (or the single cache) a cache
// name denotes: "" means DefaultCCacheName(cfg, nil). cfg may be nil; it
// supplies kcm_socket. Resolving does not touch the cache: a missing
// cache or an absent KCM daemon shows on first use.
func ResolveCCache(name string, cfg *Config) (CCacheCollection, error) {
	if name == "" {
		name = DefaultCCacheName(cfg, nil)
	}
	typ, res := splitCCacheName(name)
	switch typ {
	case "FILE":
		if res == "" {
			return nil, fmt.Errorf("%w: empty FILE: cache name", ErrConfig)
		}
		return single{newFileCCache(res)}, nil
	case "DIR":
		return newDirCollection(res)
	case "KCM":
		sock := DefaultKCMSocket
		if cfg != nil && cfg.KCMSocket != "" {
			sock = cfg.KCMSocket
		}
		return newKCMCollection(sock, res), nil
	case "KEYRING":
		return newKeyringCollection(res)
	case "MEMORY":
		return single{memoryCCache(res)}, nil
	default:
		return nil, fmt.Errorf("%w: %q is a %s: cache (sesame reads FILE:, DIR:, KCM:, KEYRING: and MEMORY:)", ErrCacheUnsupported, name, typ)
	}
}

// single is the collection of one cache.
type single struct{ c CCache }

func (s single) Name() string                                 { return s.c.Name() }
func (s single) Primary(context.Context) (CCache, error)      { return s.c, nil }
func (s single) Caches(context.Context) ([]CCache, error)     { return []CCache{s.c}, nil }
func (s single) New(context.Context) (CCache, error)          { return s.c, nil }
func (s single) SetPrimary(_ context.Context, c CCache) error { return nil }

// FindCCache returns the cache of a collection whose default principal is
// the account user names (MatchUser), with that principal; user ""
// selects the primary cache. A named user is authoritative: when no cache
// holds that principal the error wraps ErrCacheEmpty and names the
// principals there are.
func FindCCache(ctx context.Context, col CCacheCollection, user string) (CCache, *CCacheContents, error) {
	if user == "" {
		c, err := col.Primary(ctx)
		if err != nil {
			return nil, nil, err
		}
		cc, err := c.Load(ctx)
		if err != nil {
			return nil, nil, err
		}
		return c, cc, nil
	}
	caches, err := col.Caches(ctx)
	if err != nil {
		return nil, nil, err
	}
	var seen []string
	var firstErr error
	for _, c := range caches {
		cc, err := c.Load(ctx)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		p := cc.Principal.String()
		if MatchUser(user, p) {
			return c, cc, nil
		}
		seen = append(seen, p)
	}
	if len(seen) == 0 && firstErr != nil && !isCacheEmpty(firstErr) {
		return nil, nil, firstErr // the daemon or a format problem, not "no such principal"
	}
	held := "no principal"
	if len(seen) > 0 {
		held = strings.Join(seen, ", ")
	}
	return nil, nil, fmt.Errorf("%w: no cache of %s in %s (it holds %s)", ErrCacheEmpty, user, col.Name(), held)
}

// CCacheInfo is one cache of a collection as ListCCaches reports it.
type CCacheInfo struct {
	Cache     CCache
	Contents  *CCacheContents // nil when Err is set
	Err       error
	IsPrimary bool
}

// ListCCaches loads every cache of a collection, the primary first, for
// klist -l / -A. Caches without a principal are left out.
func ListCCaches(ctx context.Context, col CCacheCollection) ([]CCacheInfo, error) {
	caches, err := col.Caches(ctx)
	if err != nil {
		return nil, err
	}
	prim, _ := col.Primary(ctx)
	var out []CCacheInfo
	for _, c := range caches {
		cc, err := c.Load(ctx)
		if err != nil && isCacheEmpty(err) {
			continue
		}
		out = append(out, CCacheInfo{Cache: c, Contents: cc, Err: err, IsPrimary: prim != nil && prim.Name() == c.Name()})
	}
	return out, nil
}

// randomName returns n random letters and digits, for new cache names.
func randomName(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
