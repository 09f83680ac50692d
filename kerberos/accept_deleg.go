package kerberos

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// delegatedCCache decrypts the KRB-CRED of a GSS checksum (the forwarded
// TGT) and returns it as a credential cache file image. MIT encrypts the
// KRB-CRED with the ticket's session key, some initiators with their
// subkey, and Windows may send it unencrypted (etype 0): all three are
// tried. The credentials must be the authenticated client's.
func delegatedCCache(raw []byte, tp *messages.EncTicketPart, subkey types.EncryptionKey) ([]byte, error) {
	var kc messages.KRBCred
	if err := safeUnmarshal(func() error { return kc.Unmarshal(raw) }); err != nil {
		return nil, fmt.Errorf("%w: KRB-CRED: %v", ErrMalformed, err)
	}
	var plain []byte
	if kc.EncPart.EType == 0 {
		plain = kc.EncPart.Cipher
	} else {
		for _, k := range []types.EncryptionKey{tp.Key, subkey} {
			if k.KeyType != kc.EncPart.EType || len(k.KeyValue) == 0 {
				continue
			}
			err := safeUnmarshal(func() error {
				var err error
				plain, err = crypto.DecryptEncPart(kc.EncPart, k, keyusage.KRB_CRED_ENCPART)
				return err
			})
			if err == nil {
				break
			}
			plain = nil
		}
		if plain == nil {
			return nil, fmt.Errorf("%w: KRB-CRED does not decrypt with the session key", ErrBadTicket)
		}
	}
	var part messages.EncKrbCredPart
	if err := safeUnmarshal(func() error { return part.Unmarshal(plain) }); err != nil {
		return nil, fmt.Errorf("%w: KRB-CRED enc-part: %v", ErrMalformed, err)
	}
	if len(part.TicketInfo) == 0 || len(part.TicketInfo) != len(kc.Tickets) {
		return nil, fmt.Errorf("%w: KRB-CRED with %d tickets and %d ticket infos", ErrMalformed, len(kc.Tickets), len(part.TicketInfo))
	}
	cc := newCCacheWriter(tp.CName, tp.CRealm)
	for i, info := range part.TicketInfo {
		if (len(info.PName.NameString) > 0 && !info.PName.Equal(tp.CName)) || (info.PRealm != "" && info.PRealm != tp.CRealm) {
			return nil, fmt.Errorf("%w: delegated credentials of %s@%s, not the client's", ErrBadTicket, info.PName.PrincipalNameString(), info.PRealm)
		}
		tb, err := kc.Tickets[i].Marshal()
		if err != nil {
			return nil, fmt.Errorf("%w: KRB-CRED ticket: %v", ErrMalformed, err)
		}
		sname, srealm := info.SName, info.SRealm
		if len(sname.NameString) == 0 {
			sname, srealm = kc.Tickets[i].SName, kc.Tickets[i].Realm
		}
		cc.add(ccacheCred{
			server: sname, srealm: srealm, key: info.Key,
			authTime: info.AuthTime, startTime: info.StartTime, endTime: info.EndTime, renewTill: info.RenewTill,
			flags: info.Flags.Bytes, ticket: tb,
		})
	}
	return cc.bytes(), nil
}

// ccacheWriter encodes an MIT credential cache, file format version 4
// (all integers big-endian, no header tags): gokrb5 reads ccaches but
// cannot write them.
type ccacheWriter struct {
	b      bytes.Buffer
	client types.PrincipalName
	realm  string
}

type ccacheCred struct {
	server                                  types.PrincipalName
	srealm                                  string
	key                                     types.EncryptionKey
	authTime, startTime, endTime, renewTill time.Time
	flags                                   []byte
	ticket                                  []byte
}

func newCCacheWriter(client types.PrincipalName, realm string) *ccacheWriter {
	w := &ccacheWriter{client: client, realm: realm}
	w.u16(0x0504)
	w.u16(0) // header length: no tags
	w.principal(client, realm)
	return w
}

func (w *ccacheWriter) u16(v uint16) { _ = binary.Write(&w.b, binary.BigEndian, v) }
func (w *ccacheWriter) u32(v uint32) { _ = binary.Write(&w.b, binary.BigEndian, v) }
func (w *ccacheWriter) data(d []byte) {
	w.u32(uint32(len(d)))
	w.b.Write(d)
}

func (w *ccacheWriter) principal(p types.PrincipalName, realm string) {
	w.u32(uint32(p.NameType))
	w.u32(uint32(len(p.NameString)))
	w.data([]byte(realm))
	for _, c := range p.NameString {
		w.data([]byte(c))
	}
}

func ccTime(t time.Time) uint32 {
	if t.IsZero() {
		return 0
	}
	return uint32(t.Unix())
}

func (w *ccacheWriter) add(c ccacheCred) {
	w.principal(w.client, w.realm)
	w.principal(c.server, c.srealm)
	w.u16(uint16(c.key.KeyType))
	w.data(c.key.KeyValue)
	start := c.startTime
	if start.IsZero() {
		start = c.authTime
	}
	w.u32(ccTime(c.authTime))
	w.u32(ccTime(start))
	w.u32(ccTime(c.endTime))
	w.u32(ccTime(c.renewTill))
	w.b.WriteByte(0) // is_skey
	var fl [4]byte
	copy(fl[:], c.flags)
	w.b.Write(fl[:])
	w.u32(0) // addresses
	w.u32(0) // authdata
	w.data(c.ticket)
	w.data(nil) // second ticket
}

func (w *ccacheWriter) bytes() []byte { return w.b.Bytes() }
