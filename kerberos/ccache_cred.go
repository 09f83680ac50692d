package kerberos

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/types"
)

// Limits on decoded credential caches. MIT's own KCM client refuses
// replies over 10 MiB; a cache of a few hundred tickets is well below.
const (
	maxCacheBytes     = 10 << 20
	maxCacheCreds     = 4096
	maxPrincipalParts = 64
	maxCacheField     = 1 << 20 // one ticket, key, address or string
)

// CCPrincipal is a principal as a credential cache stores it.
type CCPrincipal struct {
	NameType   int32
	Components []string
	Realm      string
}

// String returns "name/instance@REALM".
func (p CCPrincipal) String() string {
	return strings.Join(p.Components, "/") + "@" + p.Realm
}

// Name returns the principal name without the realm, as gokrb5 keeps it.
func (p CCPrincipal) Name() types.PrincipalName {
	return types.PrincipalName{NameType: p.NameType, NameString: append([]string(nil), p.Components...)}
}

// IsZero reports an unset principal.
func (p CCPrincipal) IsZero() bool { return len(p.Components) == 0 && p.Realm == "" }

// CCCredential is one entry of a credential cache: a ticket with what the
// client knows of it (MIT's krb5_creds).
type CCCredential struct {
	Client, Server                          CCPrincipal
	Key                                     types.EncryptionKey
	AuthTime, StartTime, EndTime, RenewTill time.Time
	IsSKey                                  bool
	Flags                                   uint32 // ticket flags, bit 0 (reserved) as the most significant bit
	Addresses                               []types.HostAddress
	AuthData                                []types.AuthorizationDataEntry
	Ticket, SecondTicket                    []byte
}

// IsConfig reports a configuration entry (server realm X-CACHECONF:),
// which MIT keeps in the cache next to tickets.
func (c *CCCredential) IsConfig() bool { return c.Server.Realm == "X-CACHECONF:" }

// IsTGT reports a ticket-granting ticket of the client's realm.
func (c *CCCredential) IsTGT() bool {
	s := c.Server.Components
	return len(s) == 2 && s[0] == "krbtgt" && s[1] == c.Server.Realm && c.Server.Realm == c.Client.Realm
}

// TicketFlags returns the flags as the BitString gokrb5 uses.
func (c *CCCredential) TicketFlags() asn1.BitString {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, c.Flags)
	return asn1.BitString{Bytes: b, BitLength: 32}
}

// CCacheContents is what one credential cache holds: its default
// principal and its entries.
type CCacheContents struct {
	Principal   CCPrincipal
	Credentials []*CCCredential
	// KDCOffset is the FILE v4 header's KDC time offset (seconds), if any.
	KDCOffset time.Duration
}

// TGT returns the ticket-granting ticket with the latest end time for the
// default principal's realm, or nil.
func (c *CCacheContents) TGT() *CCCredential {
	var best *CCCredential
	for _, cr := range c.Credentials {
		if cr.IsConfig() || !cr.IsTGT() || !strings.EqualFold(cr.Client.String(), c.Principal.String()) {
			continue
		}
		if best == nil || cr.EndTime.After(best.EndTime) {
			best = cr
		}
	}
	return best
}

// errShort reports a truncated cache encoding.
var errShort = errors.New("truncated")

// ccReader decodes the MIT ccache encoding (big-endian, FILE format
// version 3 and 4, which KCM and the keyring cache use too; versions 1
// and 2 in native order, little-endian on every platform sesame targets).
type ccReader struct {
	b       []byte
	version int
	order   binary.ByteOrder
	err     error
}

func newCCReader(b []byte, version int) *ccReader {
	r := &ccReader{b: b, version: version, order: binary.BigEndian}
	if version == 1 || version == 2 {
		r.order = binary.LittleEndian
	}
	return r
}

func (r *ccReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = errShort
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *ccReader) u8() uint8 {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *ccReader) u16() uint16 {
	if v := r.take(2); v != nil {
		return r.order.Uint16(v)
	}
	return 0
}

func (r *ccReader) u32() uint32 {
	if v := r.take(4); v != nil {
		return r.order.Uint32(v)
	}
	return 0
}

// data reads a counted octet string.
func (r *ccReader) data() []byte {
	n := r.u32()
	if r.err == nil && n > maxCacheField {
		r.err = fmt.Errorf("field of %d bytes exceeds the limit", n)
		return nil
	}
	v := r.take(int(n))
	if v == nil {
		return nil
	}
	return append([]byte{}, v...)
}

func (r *ccReader) principal() CCPrincipal {
	var p CCPrincipal
	if r.version != 1 {
		p.NameType = int32(r.u32())
	}
	n := r.u32()
	if r.version == 1 && n > 0 {
		n-- // version 1 counts the realm as a component
	}
	if r.err == nil && n > maxPrincipalParts {
		r.err = fmt.Errorf("principal with %d components", n)
		return p
	}
	p.Realm = string(r.data())
	for i := uint32(0); i < n && r.err == nil; i++ {
		p.Components = append(p.Components, string(r.data()))
	}
	return p
}

func (r *ccReader) time() time.Time {
	v := r.u32()
	if v == 0 {
		return time.Time{}
	}
	// MIT treats the 32-bit timestamps as unsigned (valid to 2106).
	return time.Unix(int64(v), 0).UTC()
}

func (r *ccReader) credential() *CCCredential {
	c := &CCCredential{}
	c.Client = r.principal()
	c.Server = r.principal()
	c.Key.KeyType = int32(r.u16())
	if r.version == 3 {
		c.Key.KeyType = int32(r.u16()) // stored twice in version 3
	}
	c.Key.KeyValue = r.data()
	c.AuthTime, c.StartTime, c.EndTime, c.RenewTill = r.time(), r.time(), r.time(), r.time()
	c.IsSKey = r.u8() != 0
	c.Flags = r.u32()
	n := r.u32()
	if r.err == nil && n > maxCacheCreds {
		r.err = fmt.Errorf("%d addresses", n)
		return c
	}
	for i := uint32(0); i < n && r.err == nil; i++ {
		c.Addresses = append(c.Addresses, types.HostAddress{AddrType: int32(r.u16()), Address: r.data()})
	}
	n = r.u32()
	if r.err == nil && n > maxCacheCreds {
		r.err = fmt.Errorf("%d authorization data entries", n)
		return c
	}
	for i := uint32(0); i < n && r.err == nil; i++ {
		c.AuthData = append(c.AuthData, types.AuthorizationDataEntry{ADType: int32(r.u16()), ADData: r.data()})
	}
	c.Ticket = r.data()
	c.SecondTicket = r.data()
	return c
}

// ParseCCPrincipal decodes a principal in the version 4 encoding (the
// keyring cache's __krb5_princ__ key, a KCM GET_PRINCIPAL reply).
func ParseCCPrincipal(b []byte) (CCPrincipal, error) {
	r := newCCReader(b, 4)
	p := r.principal()
	if r.err != nil {
		return CCPrincipal{}, fmt.Errorf("%w: principal: %v", ErrCacheFormat, r.err)
	}
	return p, nil
}

// ParseCCCredential decodes one credential in the version 4 encoding (a
// keyring cache's ticket key, a KCM GET_CRED_BY_UUID reply).
func ParseCCCredential(b []byte) (*CCCredential, error) {
	r := newCCReader(b, 4)
	c := r.credential()
	if r.err != nil {
		return nil, fmt.Errorf("%w: credential: %v", ErrCacheFormat, r.err)
	}
	return c, nil
}

// ParseFileCCache decodes the bytes of a FILE credential cache (format
// versions 1 to 4, https://web.mit.edu/kerberos/krb5-latest/doc/formats/ccache_file_format.html).
// A file of only a header and principal (kinit's state before the first
// ticket, or kdestroy's leftovers) decodes with no credentials.
func ParseFileCCache(b []byte) (*CCacheContents, error) {
	if len(b) > maxCacheBytes {
		return nil, fmt.Errorf("%w: %d bytes, over the %d limit", ErrCacheFormat, len(b), maxCacheBytes)
	}
	if len(b) < 2 || b[0] != 5 || b[1] < 1 || b[1] > 4 {
		return nil, fmt.Errorf("%w: not a credential cache file (no 0x05 0x01-04 magic)", ErrCacheFormat)
	}
	r := newCCReader(b[2:], int(b[1]))
	cc := &CCacheContents{}
	if r.version == 4 {
		hl := r.u16()
		h := newCCReader(r.take(int(hl)), 4)
		for r.err == nil && h.err == nil && len(h.b) > 0 {
			tag, v := h.u16(), h.take(int(h.u16()))
			if tag == 1 && len(v) == 8 {
				cc.KDCOffset = time.Duration(int32(binary.BigEndian.Uint32(v)))*time.Second +
					time.Duration(int32(binary.BigEndian.Uint32(v[4:])))*time.Microsecond
			}
		}
		if h.err != nil {
			r.err = fmt.Errorf("header: %v", h.err)
		}
	}
	cc.Principal = r.principal()
	for r.err == nil && len(r.b) > 0 {
		if len(cc.Credentials) >= maxCacheCreds {
			r.err = fmt.Errorf("more than %d credentials", maxCacheCreds)
			break
		}
		cc.Credentials = append(cc.Credentials, r.credential())
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCacheFormat, r.err)
	}
	return cc, nil
}

// ccWriter encodes the version 4 encoding.
type ccWriter struct{ b []byte }

func (w *ccWriter) u8(v uint8)   { w.b = append(w.b, v) }
func (w *ccWriter) u16(v uint16) { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *ccWriter) u32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *ccWriter) data(v []byte) {
	w.u32(uint32(len(v)))
	w.b = append(w.b, v...)
}

func (w *ccWriter) principal(p CCPrincipal) {
	w.u32(uint32(p.NameType))
	w.u32(uint32(len(p.Components)))
	w.data([]byte(p.Realm))
	for _, c := range p.Components {
		w.data([]byte(c))
	}
}

func (w *ccWriter) time(t time.Time) {
	if t.IsZero() {
		w.u32(0)
		return
	}
	w.u32(uint32(t.Unix()))
}

func (w *ccWriter) credential(c *CCCredential) {
	w.principal(c.Client)
	w.principal(c.Server)
	w.u16(uint16(c.Key.KeyType))
	w.data(c.Key.KeyValue)
	w.time(c.AuthTime)
	w.time(c.StartTime)
	w.time(c.EndTime)
	w.time(c.RenewTill)
	if c.IsSKey {
		w.u8(1)
	} else {
		w.u8(0)
	}
	w.u32(c.Flags)
	w.u32(uint32(len(c.Addresses)))
	for _, a := range c.Addresses {
		w.u16(uint16(a.AddrType))
		w.data(a.Address)
	}
	w.u32(uint32(len(c.AuthData)))
	for _, a := range c.AuthData {
		w.u16(uint16(a.ADType))
		w.data(a.ADData)
	}
	w.data(c.Ticket)
	w.data(c.SecondTicket)
}

// MarshalCCPrincipal encodes a principal in the version 4 encoding.
func MarshalCCPrincipal(p CCPrincipal) []byte {
	var w ccWriter
	w.principal(p)
	return w.b
}

// MarshalCCCredential encodes a credential in the version 4 encoding.
func MarshalCCCredential(c *CCCredential) []byte {
	var w ccWriter
	w.credential(c)
	return w.b
}

// MarshalFileCCache encodes contents as a FILE credential cache, format
// version 4, as MIT kinit writes it.
func MarshalFileCCache(cc *CCacheContents) []byte {
	// The KDC time offset header, also when zero, as MIT kinit writes it.
	w := ccWriter{b: []byte{5, 4}}
	w.u16(12)
	w.u16(1)
	w.u16(8)
	w.u32(uint32(int32(cc.KDCOffset / time.Second)))
	w.u32(uint32(int32((cc.KDCOffset % time.Second) / time.Microsecond)))
	w.principal(cc.Principal)
	for _, c := range cc.Credentials {
		w.credential(c)
	}
	return w.b
}
