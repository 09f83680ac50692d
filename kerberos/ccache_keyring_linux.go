package kerberos

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The KEYRING: cache type, laid out as MIT Kerberos does (cc_keyring.c):
// a collection is a keyring "_krb_<collection>" linked from an anchor
// (session, user, process, thread; "persistent" uses the keyring "_krb"
// in the per-UID persistent keyring, legacy names the session anchor).
// It holds a user key "krb_ccache:primary" (version 1 and the primary
// cache's name) and one keyring per cache; a cache keyring holds a user
// key "__krb5_princ__" (the default principal) and one user or big_key
// key per credential, named after the server principal, both in the
// FILE version 4 encoding.
const (
	krccPrimaryKey   = "krb_ccache:primary"
	krccPrincKey     = "__krb5_princ__"
	krccOffsetsKey   = "__krb5_time_offsets__"
	krccPersistentKR = "_krb"
	krccPrefix       = "_krb_"
	maxKeyPayload    = 1 << 20 // big_key holds up to 1 MiB
)

// keyringCollection is a KEYRING: residual: anchor:collection[:cache].
type keyringCollection struct {
	anchor, collection, sub string
}

func newKeyringCollection(res string) (CCacheCollection, error) {
	k := &keyringCollection{}
	a, rest, ok := strings.Cut(res, ":")
	if !ok {
		a, rest = "legacy", res
	}
	k.anchor = a
	k.collection, k.sub, _ = strings.Cut(rest, ":")
	switch k.anchor {
	case "session", "user", "process", "thread", "legacy", "persistent":
	default:
		return nil, fmt.Errorf("%w: KEYRING:%s: unknown anchor %q (session, user, persistent, process, thread)", ErrConfig, res, k.anchor)
	}
	if k.anchor == "persistent" && k.collection != "" {
		if _, err := strconv.Atoi(k.collection); err != nil {
			return nil, fmt.Errorf("%w: KEYRING:%s: persistent wants a numeric uid", ErrConfig, res)
		}
	}
	return k, nil
}

func (k *keyringCollection) Name() string {
	n := "KEYRING:" + k.anchor + ":" + k.collection
	if k.sub != "" {
		n += ":" + k.sub
	}
	return n
}

// sessionAnchor is the keyring to write for the session anchor: the
// user session keyring when the process has no session keyring of its
// own (writing KEY_SPEC_SESSION_KEYRING would then make a new, private
// one).
func sessionAnchor() int {
	s, err1 := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false)
	u, err2 := unix.KeyctlGetKeyringID(unix.KEY_SPEC_USER_SESSION_KEYRING, false)
	if err1 == nil && err2 == nil && s == u {
		return unix.KEY_SPEC_USER_SESSION_KEYRING
	}
	return unix.KEY_SPEC_SESSION_KEYRING
}

// findKeyring returns the keyring named name in parent, creating it when
// create is set; -1 when it does not exist. possess (0 for none) is
// where it is linked so that this process holds it.
func findKeyring(parent, possess int, name string, create bool) (int, error) {
	id, err := unix.KeyctlSearch(parent, "keyring", name, possess)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, unix.ENOKEY) && !errors.Is(err, unix.EKEYEXPIRED) && !errors.Is(err, unix.EKEYREVOKED) {
		return -1, err
	}
	if !create {
		return -1, nil
	}
	if possess != 0 {
		if id, err = unix.AddKey("keyring", name, nil, possess); err != nil {
			return -1, err
		}
		if _, err := unix.KeyctlInt(unix.KEYCTL_LINK, id, parent, 0, 0); err != nil {
			return -1, err
		}
		return id, nil
	}
	return unix.AddKey("keyring", name, nil, parent)
}

// collectionID returns the collection keyring (-1 when it does not exist
// and create is false).
func (k *keyringCollection) collectionID(create bool) (int, error) {
	var anchor, possess int
	name := krccPrefix + k.collection
	switch k.anchor {
	case "persistent":
		uid := os.Geteuid()
		if k.collection != "" {
			uid, _ = strconv.Atoi(k.collection)
		}
		p, err := unix.KeyctlInt(unix.KEYCTL_GET_PERSISTENT, uid, unix.KEY_SPEC_PROCESS_KEYRING, 0, 0)
		if err != nil {
			if !(errors.Is(err, unix.EOPNOTSUPP) && uid == os.Geteuid()) {
				return -1, fmt.Errorf("%w: persistent keyring of uid %d: %v", ErrCacheUnsupported, uid, err)
			}
			p = unix.KEY_SPEC_USER_KEYRING
		}
		anchor, possess, name = p, unix.KEY_SPEC_PROCESS_KEYRING, krccPersistentKR
	case "process":
		anchor = unix.KEY_SPEC_PROCESS_KEYRING
	case "thread":
		anchor = unix.KEY_SPEC_THREAD_KEYRING
	case "user":
		anchor, possess = unix.KEY_SPEC_USER_KEYRING, unix.KEY_SPEC_PROCESS_KEYRING
	default: // session, legacy
		anchor = sessionAnchor()
	}
	id, err := findKeyring(anchor, possess, name, create)
	if err != nil {
		return -1, fmt.Errorf("kerberos: %s: keyring %s: %w", k.Name(), name, err)
	}
	return id, nil
}

// primaryName returns the primary cache's name in the collection: the
// primary key's, else the collection name ("tkt" if that is empty).
func (k *keyringCollection) primaryName(col int) (string, error) {
	def := k.collection
	if def == "" {
		def = "tkt"
	}
	if col < 0 {
		return def, nil
	}
	id, err := unix.KeyctlSearch(col, "user", krccPrimaryKey, 0)
	if err != nil {
		return def, nil
	}
	b, err := readKey(id)
	if err != nil {
		return "", fmt.Errorf("kerberos: %s: %w", k.Name(), err)
	}
	name, err := parseKeyringPrimary(b)
	if err != nil {
		return "", fmt.Errorf("%s: %w", k.Name(), err)
	}
	return name, nil
}

// parseKeyringPrimary decodes the payload of the primary key.
func parseKeyringPrimary(b []byte) (string, error) {
	if len(b) < 8 {
		return "", fmt.Errorf("%w: keyring primary key of %d bytes", ErrCacheFormat, len(b))
	}
	if v := binary.BigEndian.Uint32(b); v != 1 {
		return "", fmt.Errorf("%w: keyring collection version %d", ErrCacheFormat, v)
	}
	n := binary.BigEndian.Uint32(b[4:])
	if uint64(n) > uint64(len(b)-8) || n == 0 {
		return "", fmt.Errorf("%w: keyring primary name of %d bytes", ErrCacheFormat, n)
	}
	return string(b[8 : 8+n]), nil
}

func marshalKeyringPrimary(name string) []byte {
	b := binary.BigEndian.AppendUint32(nil, 1)
	b = binary.BigEndian.AppendUint32(b, uint32(len(name)))
	return append(b, name...)
}

// readKey reads a key's payload (a keyring's: its key IDs).
func readKey(id int) ([]byte, error) {
	buf := make([]byte, 4096)
	for {
		n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, buf, 0)
		if err != nil {
			return nil, err
		}
		if n <= len(buf) {
			return buf[:n], nil
		}
		if n > maxKeyPayload {
			return nil, fmt.Errorf("%w: key %d holds %d bytes", ErrCacheFormat, id, n)
		}
		buf = make([]byte, n)
	}
}

// describeKey returns a key's type and description.
func describeKey(id int) (typ, desc string, err error) {
	s, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, id)
	if err != nil {
		return "", "", err
	}
	// type;uid;gid;perm;description
	parts := strings.SplitN(s, ";", 5)
	if len(parts) != 5 {
		return "", "", fmt.Errorf("%w: key description %q", ErrCacheFormat, s)
	}
	return parts[0], parts[4], nil
}

func (k *keyringCollection) cacheNamed(name string) *keyringCCache {
	c := *k
	c.sub = name
	return &keyringCCache{col: &c}
}

func (k *keyringCollection) Primary(context.Context) (CCache, error) {
	if k.sub != "" {
		return &keyringCCache{col: k}, nil
	}
	col, err := k.collectionID(false)
	if err != nil {
		return nil, err
	}
	name, err := k.primaryName(col)
	if err != nil {
		return nil, err
	}
	return k.cacheNamed(name), nil
}

func (k *keyringCollection) Caches(ctx context.Context) ([]CCache, error) {
	prim, err := k.Primary(ctx)
	if err != nil || k.sub != "" {
		return []CCache{prim}, err
	}
	out := []CCache{prim}
	col, err := k.collectionID(false)
	if err != nil || col < 0 {
		return out, err
	}
	b, err := readKey(col)
	if err != nil {
		return nil, fmt.Errorf("kerberos: %s: %w", k.Name(), err)
	}
	for _, id := range keyIDs(b) {
		typ, desc, err := describeKey(id)
		if err != nil || typ != "keyring" || desc == prim.(*keyringCCache).col.sub {
			continue
		}
		out = append(out, k.cacheNamed(desc))
	}
	return out, nil
}

func keyIDs(b []byte) []int {
	var ids []int
	for ; len(b) >= 4; b = b[4:] {
		ids = append(ids, int(int32(binaryNative.Uint32(b))))
	}
	return ids
}

// binaryNative is the byte order of the kernel's key ID lists.
var binaryNative = binary.NativeEndian

func (k *keyringCollection) New(ctx context.Context) (CCache, error) {
	if k.sub != "" {
		return k.Primary(ctx)
	}
	col, err := k.collectionID(true)
	if err != nil {
		return nil, err
	}
	for range 100 {
		name := "krb_ccache_" + randomName(8)
		if _, err := unix.KeyctlSearch(col, "keyring", name, 0); err == nil {
			continue
		}
		if _, err := unix.AddKey("keyring", name, nil, col); err != nil {
			return nil, fmt.Errorf("kerberos: %s: %w", k.Name(), err)
		}
		return k.cacheNamed(name), nil
	}
	return nil, fmt.Errorf("kerberos: %s: no unique cache name", k.Name())
}

func (k *keyringCollection) SetPrimary(_ context.Context, c CCache) error {
	kc, ok := c.(*keyringCCache)
	if !ok {
		return fmt.Errorf("%w: %s is not a KEYRING cache", ErrConfig, c.Name())
	}
	col, err := k.collectionID(true)
	if err != nil {
		return err
	}
	if _, err := unix.AddKey("user", krccPrimaryKey, marshalKeyringPrimary(kc.col.sub), col); err != nil {
		return fmt.Errorf("kerberos: %s: %w", k.Name(), err)
	}
	return nil
}

// keyringCCache is one cache keyring of a collection.
type keyringCCache struct{ col *keyringCollection }

func (c *keyringCCache) Name() string { return c.col.Name() }

func (c *keyringCCache) cacheID(create bool) (int, error) {
	col, err := c.col.collectionID(create)
	if err != nil || col < 0 {
		return -1, err
	}
	id, err := findKeyring(col, 0, c.col.sub, create)
	if err != nil {
		return -1, fmt.Errorf("kerberos: %s: %w", c.Name(), err)
	}
	if create {
		// A collection without a primary key names the first cache stored.
		if _, err := unix.KeyctlSearch(col, "user", krccPrimaryKey, 0); err != nil {
			_, _ = unix.AddKey("user", krccPrimaryKey, marshalKeyringPrimary(c.col.sub), col)
		}
	}
	return id, nil
}

func (c *keyringCCache) Load(context.Context) (*CCacheContents, error) {
	id, err := c.cacheID(false)
	if err != nil {
		return nil, err
	}
	if id < 0 {
		return nil, fmt.Errorf("%w: no credentials cache found (%s)", ErrCacheEmpty, c.Name())
	}
	b, err := readKey(id)
	if err != nil {
		return nil, fmt.Errorf("kerberos: %s: %w", c.Name(), err)
	}
	cc := &CCacheContents{}
	havePrinc := false
	for _, kid := range keyIDs(b) {
		typ, desc, err := describeKey(kid)
		if err != nil || (typ != "user" && typ != "big_key") || desc == krccOffsetsKey {
			continue // unlinked meanwhile, or not ours
		}
		payload, err := readKey(kid)
		if err != nil {
			continue
		}
		if desc == krccPrincKey {
			if cc.Principal, err = ParseCCPrincipal(payload); err != nil {
				return nil, fmt.Errorf("%s: %w", c.Name(), err)
			}
			havePrinc = true
			continue
		}
		if len(cc.Credentials) >= maxCacheCreds {
			break
		}
		cr, err := ParseCCCredential(payload)
		if err != nil {
			return nil, fmt.Errorf("%s: key %q: %w", c.Name(), desc, err)
		}
		cc.Credentials = append(cc.Credentials, cr)
	}
	if !havePrinc {
		return nil, fmt.Errorf("%w: %s has no default principal", ErrCacheEmpty, c.Name())
	}
	return cc, nil
}

func (c *keyringCCache) Store(_ context.Context, cc *CCacheContents) error {
	id, err := c.cacheID(true)
	if err != nil {
		return err
	}
	if _, err := unix.KeyctlInt(unix.KEYCTL_CLEAR, id, 0, 0, 0); err != nil {
		return fmt.Errorf("kerberos: %s: clear: %w", c.Name(), err)
	}
	if _, err := unix.AddKey("user", krccPrincKey, MarshalCCPrincipal(cc.Principal), id); err != nil {
		return fmt.Errorf("kerberos: %s: %w", c.Name(), err)
	}
	for _, cr := range cc.Credentials {
		name := unparsePrincipal(cr.Server)
		payload := MarshalCCCredential(cr)
		_, err := unix.AddKey("big_key", name, payload, id)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.EOPNOTSUPP) {
			_, err = unix.AddKey("user", name, payload, id)
		}
		if err != nil {
			return fmt.Errorf("kerberos: %s: store %s: %w", c.Name(), name, err)
		}
	}
	return nil
}

func (c *keyringCCache) Destroy(context.Context) error {
	col, err := c.col.collectionID(false)
	if err != nil || col < 0 {
		return err
	}
	id, err := findKeyring(col, 0, c.col.sub, false)
	if err != nil || id < 0 {
		return err
	}
	_, _ = unix.KeyctlInt(unix.KEYCTL_CLEAR, id, 0, 0, 0)
	if _, err := unix.KeyctlInt(unix.KEYCTL_UNLINK, id, col, 0, 0); err != nil {
		return fmt.Errorf("kerberos: %s: %w", c.Name(), err)
	}
	return nil
}

// unparsePrincipal writes a principal as krb5_unparse_name does, with
// '/', '@' and '\' inside components escaped.
func unparsePrincipal(p CCPrincipal) string {
	esc := strings.NewReplacer(`\`, `\\`, `/`, `\/`, `@`, `\@`, "\n", `\n`, "\t", `\t`, "\x00", `\0`)
	parts := make([]string, len(p.Components))
	for i, c := range p.Components {
		parts[i] = esc.Replace(c)
	}
	return strings.Join(parts, "/") + "@" + strings.NewReplacer(`\`, `\\`, `@`, `\@`).Replace(p.Realm)
}
