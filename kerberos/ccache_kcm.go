package kerberos

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// The KCM protocol (Heimdal's; spoken by sssd-kcm, Heimdal kcm and MIT's
// KCM: client): over a UNIX stream socket, a request is a 4-byte
// big-endian length, then major version 2, minor 0, a 2-byte opcode and
// the arguments; a reply is a 4-byte length, a 4-byte transport status,
// then length bytes that start with the 4-byte status of the operation.
const (
	kcmOpGenNew          = 3
	kcmOpInitialize      = 4
	kcmOpDestroy         = 5
	kcmOpStore           = 6
	kcmOpGetPrincipal    = 8
	kcmOpGetCredUUIDList = 9
	kcmOpGetCredByUUID   = 10
	kcmOpGetCacheUUIDs   = 18
	kcmOpGetCacheByUUID  = 19
	kcmOpGetDefaultCache = 20
	kcmOpSetDefaultCache = 21

	kcmUUIDLen = 16
	// kcmTimeout bounds one exchange when the context has no deadline.
	kcmTimeout = 10 * time.Second
)

// Kerberos error codes KCM daemons answer with (com_err table krb5).
const (
	krb5CCNotFound = -1765328243 // KRB5_CC_NOTFOUND
	krb5CCEnd      = -1765328242 // KRB5_CC_END
	krb5FCCNoFile  = -1765328189 // KRB5_FCC_NOFILE
	krb5CCNoMem    = -1765328186 // KRB5_CC_NOMEM (sssd: over its quota)
)

// kcmStatusError is a KCM operation that failed with a Kerberos code.
type kcmStatusError struct {
	op   int
	code int32
}

func (e *kcmStatusError) Error() string {
	name := ""
	switch e.code {
	case krb5CCNotFound:
		name = " (KRB5_CC_NOTFOUND)"
	case krb5CCEnd:
		name = " (KRB5_CC_END)"
	case krb5FCCNoFile:
		name = " (KRB5_FCC_NOFILE)"
	case krb5CCNoMem:
		name = " (KRB5_CC_NOMEM)"
	}
	return fmt.Sprintf("KCM operation %d failed with code %d%s", e.op, e.code, name)
}

func (e *kcmStatusError) missing() bool {
	return e.code == krb5CCNotFound || e.code == krb5CCEnd || e.code == krb5FCCNoFile
}

// kcmCollection is the KCM: collection of one daemon; name "" is the
// whole collection, anything else one cache of it.
type kcmCollection struct {
	socket string
	only   string
}

func newKCMCollection(socket, res string) *kcmCollection {
	return &kcmCollection{socket: socket, only: res}
}

// kcmCCache is one cache a KCM daemon keeps.
type kcmCCache struct {
	socket, name string
}

func (c *kcmCollection) Name() string { return "KCM:" + c.only }

func (c *kcmCollection) Primary(ctx context.Context) (CCache, error) {
	if c.only != "" {
		return &kcmCCache{c.socket, c.only}, nil
	}
	b, err := kcmCall(ctx, c.socket, kcmOpGetDefaultCache, nil)
	if err != nil {
		return nil, err
	}
	name, err := kcmName(b)
	if err != nil {
		return nil, err
	}
	return &kcmCCache{c.socket, name}, nil
}

func (c *kcmCollection) Caches(ctx context.Context) ([]CCache, error) {
	prim, err := c.Primary(ctx)
	if err != nil {
		return nil, err
	}
	out := []CCache{prim}
	if c.only != "" {
		return out, nil
	}
	b, err := kcmCall(ctx, c.socket, kcmOpGetCacheUUIDs, nil)
	var se *kcmStatusError
	if errors.As(err, &se) && se.missing() {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	ids, err := kcmUUIDs(b)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		nb, err := kcmCall(ctx, c.socket, kcmOpGetCacheByUUID, id)
		if errors.As(err, &se) && se.missing() {
			continue // destroyed meanwhile
		}
		if err != nil {
			return nil, err
		}
		name, err := kcmName(nb)
		if err != nil {
			return nil, err
		}
		if name != prim.(*kcmCCache).name {
			out = append(out, &kcmCCache{c.socket, name})
		}
	}
	return out, nil
}

func (c *kcmCollection) New(ctx context.Context) (CCache, error) {
	if c.only != "" {
		return c.Primary(ctx)
	}
	b, err := kcmCall(ctx, c.socket, kcmOpGenNew, nil)
	if err != nil {
		return nil, err
	}
	name, err := kcmName(b)
	if err != nil {
		return nil, err
	}
	return &kcmCCache{c.socket, name}, nil
}

func (c *kcmCollection) SetPrimary(ctx context.Context, cc CCache) error {
	k, ok := cc.(*kcmCCache)
	if !ok {
		return fmt.Errorf("%w: %s is not a KCM cache", ErrConfig, cc.Name())
	}
	_, err := kcmCall(ctx, c.socket, kcmOpSetDefaultCache, cstr(k.name))
	return err
}

func (k *kcmCCache) Name() string { return "KCM:" + k.name }

func (k *kcmCCache) Load(ctx context.Context) (*CCacheContents, error) {
	arg := cstr(k.name)
	b, err := kcmCall(ctx, k.socket, kcmOpGetPrincipal, arg)
	var se *kcmStatusError
	if (errors.As(err, &se) && se.missing()) || (err == nil && len(b) == 0) {
		// Heimdal answers an uninitialized cache with no principal.
		return nil, fmt.Errorf("%w: no credentials cache found (%s)", ErrCacheEmpty, k.Name())
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.Name(), err)
	}
	p, err := ParseCCPrincipal(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.Name(), err)
	}
	cc := &CCacheContents{Principal: p}
	b, err = kcmCall(ctx, k.socket, kcmOpGetCredUUIDList, arg)
	if errors.As(err, &se) && se.missing() {
		return cc, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.Name(), err)
	}
	ids, err := kcmUUIDs(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.Name(), err)
	}
	for _, id := range ids {
		b, err := kcmCall(ctx, k.socket, kcmOpGetCredByUUID, append(append([]byte{}, arg...), id...))
		if errors.As(err, &se) && se.missing() {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.Name(), err)
		}
		cr, err := ParseCCCredential(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.Name(), err)
		}
		cc.Credentials = append(cc.Credentials, cr)
	}
	return cc, nil
}

// Store initializes the cache with the principal (which empties it),
// then stores each credential. Readers in between see a cache without
// tickets, as with MIT's kinit into KCM.
func (k *kcmCCache) Store(ctx context.Context, cc *CCacheContents) error {
	arg := cstr(k.name)
	if _, err := kcmCall(ctx, k.socket, kcmOpInitialize, append(arg, MarshalCCPrincipal(cc.Principal)...)); err != nil {
		return fmt.Errorf("%s: initialize: %w", k.Name(), err)
	}
	for _, cr := range cc.Credentials {
		if _, err := kcmCall(ctx, k.socket, kcmOpStore, append(cstr(k.name), MarshalCCCredential(cr)...)); err != nil {
			return fmt.Errorf("%s: store: %w", k.Name(), err)
		}
	}
	return nil
}

func (k *kcmCCache) Destroy(ctx context.Context) error {
	_, err := kcmCall(ctx, k.socket, kcmOpDestroy, cstr(k.name))
	var se *kcmStatusError
	if errors.As(err, &se) && se.missing() {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: destroy: %w", k.Name(), err)
	}
	return nil
}

func cstr(s string) []byte { return append([]byte(s), 0) }

// kcmCall makes one exchange on a connection of its own: the daemons
// keep no state per connection that a client needs, and sssd-kcm drops
// idle ones.
func kcmCall(ctx context.Context, socket string, op int, arg []byte) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, kcmTimeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v (is sssd-kcm or kcm running? krb5.conf kcm_socket names another socket)", ErrCacheDaemon, socket, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	req := make([]byte, 8, 8+len(arg))
	binary.BigEndian.PutUint32(req, uint32(4+len(arg)))
	req[4], req[5] = 2, 0
	binary.BigEndian.PutUint16(req[6:], uint16(op))
	if _, err := conn.Write(append(req, arg...)); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCacheDaemon, socket, err)
	}
	status, body, err := readKCMReply(conn)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: %s: no reply: %v", ErrCacheDaemon, socket, err)
		}
		return nil, err
	}
	if status != 0 {
		return nil, &kcmStatusError{op: op, code: status}
	}
	return body, nil
}

// readKCMReply reads one reply and returns the operation's status and
// the rest of the reply.
func readKCMReply(r io.Reader) (int32, []byte, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n > maxCacheBytes {
		return 0, nil, fmt.Errorf("%w: KCM reply of %d bytes", ErrCacheFormat, n)
	}
	if code := int32(binary.BigEndian.Uint32(hdr[4:])); code != 0 {
		return code, nil, nil
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return parseKCMReply(body)
}

// parseKCMReply splits a reply body into status and payload.
func parseKCMReply(body []byte) (int32, []byte, error) {
	if len(body) < 4 {
		return 0, nil, fmt.Errorf("%w: KCM reply of %d bytes has no status", ErrCacheFormat, len(body))
	}
	return int32(binary.BigEndian.Uint32(body)), body[4:], nil
}

// kcmName decodes a NUL-terminated cache name.
func kcmName(b []byte) (string, error) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return "", fmt.Errorf("%w: KCM cache name without terminator", ErrCacheFormat)
	}
	name := string(b[:i])
	if name == "" || strings.ContainsAny(name, "\n\r") {
		return "", fmt.Errorf("%w: KCM cache name %q", ErrCacheFormat, name)
	}
	return name, nil
}

// kcmUUIDs decodes a list of 16-byte UUIDs filling the reply.
func kcmUUIDs(b []byte) ([][]byte, error) {
	if len(b)%kcmUUIDLen != 0 {
		return nil, fmt.Errorf("%w: KCM UUID list of %d bytes", ErrCacheFormat, len(b))
	}
	if len(b)/kcmUUIDLen > maxCacheCreds {
		return nil, fmt.Errorf("%w: %d UUIDs in a KCM reply", ErrCacheFormat, len(b)/kcmUUIDLen)
	}
	var out [][]byte
	for ; len(b) > 0; b = b[kcmUUIDLen:] {
		out = append(out, b[:kcmUUIDLen])
	}
	return out, nil
}
