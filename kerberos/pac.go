package kerberos

import (
	"crypto/hmac"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/adtype"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/pac"
	"github.com/jcmturner/gokrb5/v8/types"
)

// The PAC (MS-PAC) is parsed here rather than with gokrb5's
// pac.PACType: that one slices buffers without bounds checks (a panic on
// a hostile PAC), allocates whatever count the header claims, and
// insists on a logon info and a KDC signature, which MIT's KDC (1.20+)
// does not put in its minimal PAC. gokrb5's NDR decoder is still used for
// the logon info.

// PAC buffer types (MS-PAC section 2.4).
const (
	pacLogonInfo       = 1
	pacServerChecksum  = 6
	pacPrivSvrChecksum = 7
	pacClientInfo      = 10
	pacUPNDNSInfo      = 12
)

// Limits of the PAC parser.
const (
	maxPACBuffers = 64
	maxPACGroups  = 4096
)

// pacData is a parsed PAC: the raw bytes and the buffers it has.
type pacData struct {
	raw     []byte
	buffers map[uint32]pacBuffer
}

type pacBuffer struct {
	off, size int
}

func (p *pacData) buf(t uint32) ([]byte, bool) {
	b, ok := p.buffers[t]
	if !ok {
		return nil, false
	}
	return p.raw[b.off : b.off+b.size], true
}

// parsePAC checks the PACTYPE header and buffer table (MS-PAC 2.3, 2.4):
// version 0, every buffer inside the PAC and after the table, no
// duplicate of the buffers it uses. Errors wrap ErrBadPAC.
func parsePAC(b []byte) (*pacData, error) {
	if len(b) > MaxTokenSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadPAC, len(b))
	}
	if len(b) < 8 {
		return nil, fmt.Errorf("%w: truncated header", ErrBadPAC)
	}
	n := binary.LittleEndian.Uint32(b)
	if v := binary.LittleEndian.Uint32(b[4:]); v != 0 {
		return nil, fmt.Errorf("%w: version %d", ErrBadPAC, v)
	}
	if n == 0 || n > maxPACBuffers {
		return nil, fmt.Errorf("%w: %d buffers", ErrBadPAC, n)
	}
	hdr := 8 + 16*int(n)
	if len(b) < hdr {
		return nil, fmt.Errorf("%w: buffer table truncated", ErrBadPAC)
	}
	p := &pacData{raw: b, buffers: make(map[uint32]pacBuffer, n)}
	for i := range int(n) {
		e := b[8+16*i:]
		t := binary.LittleEndian.Uint32(e)
		size := uint64(binary.LittleEndian.Uint32(e[4:]))
		off := binary.LittleEndian.Uint64(e[8:])
		if off < uint64(hdr) || off > uint64(len(b)) || size > uint64(len(b))-off {
			return nil, fmt.Errorf("%w: buffer %d (type %d) lies outside the PAC", ErrBadPAC, i, t)
		}
		if _, dup := p.buffers[t]; dup {
			switch t {
			case pacLogonInfo, pacServerChecksum, pacPrivSvrChecksum, pacClientInfo:
				return nil, fmt.Errorf("%w: two buffers of type %d", ErrBadPAC, t)
			}
			continue // MS-PAC: later buffers of a type are ignored
		}
		p.buffers[t] = pacBuffer{off: int(off), size: int(size)}
	}
	return p, nil
}

// pacChecksumLen is the length of the signature of a PAC checksum type.
func pacChecksumLen(t int32) (int, bool) {
	switch t {
	case chksumtype.KERB_CHECKSUM_HMAC_MD5, chksumtype.HMAC_SHA256_128_AES128:
		return 16, true
	case chksumtype.HMAC_SHA1_96_AES128, chksumtype.HMAC_SHA1_96_AES256:
		return 12, true
	case chksumtype.HMAC_SHA384_192_AES256:
		return 24, true
	}
	return 0, false
}

// signature returns the checksum type and signature of a signature
// buffer, and the signature's offset in the PAC.
func (p *pacData) signature(t uint32) (int32, []byte, int, error) {
	b, ok := p.buffers[t]
	if !ok {
		return 0, nil, 0, fmt.Errorf("%w: no signature buffer of type %d", ErrBadPAC, t)
	}
	if b.size < 4 {
		return 0, nil, 0, fmt.Errorf("%w: signature buffer %d truncated", ErrBadPAC, t)
	}
	ct := int32(binary.LittleEndian.Uint32(p.raw[b.off:]))
	n, ok := pacChecksumLen(ct)
	if !ok {
		return 0, nil, 0, fmt.Errorf("%w: signature type %d in buffer %d", ErrBadPAC, ct, t)
	}
	if b.size < 4+n {
		return 0, nil, 0, fmt.Errorf("%w: signature buffer %d truncated", ErrBadPAC, t)
	}
	return ct, p.raw[b.off+4 : b.off+4+n], b.off + 4, nil
}

// verifyServer checks the server signature: a keyed checksum with the
// service key over the PAC whose server and KDC signatures are zeroed
// (MS-PAC 2.8.1). The KDC signature needs the krbtgt key; it is only
// located, to be zeroed.
func (p *pacData) verifyServer(key types.EncryptionKey) error {
	st, sig, soff, err := p.signature(pacServerChecksum)
	if err != nil {
		return err
	}
	_, ksig, koff, err := p.signature(pacPrivSvrChecksum)
	if err != nil {
		return err
	}
	et, err := crypto.GetChksumEtype(st)
	if err != nil || et.GetETypeID() != key.KeyType {
		return fmt.Errorf("%w: server signature type %d does not fit the service key (etype %d)", ErrBadPAC, st, key.KeyType)
	}
	z := append([]byte(nil), p.raw...)
	clear(z[soff : soff+len(sig)])
	clear(z[koff : koff+len(ksig)])
	var sum []byte
	err = safeUnmarshal(func() error {
		var err error
		sum, err = et.GetChecksumHash(key.KeyValue, z, keyusage.KERB_NON_KERB_CKSUM_SALT)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: server signature: %v", ErrBadPAC, err)
	}
	if len(sum) > len(sig) {
		sum = sum[:len(sig)]
	}
	if !hmac.Equal(sum, sig) {
		return fmt.Errorf("%w: the server signature does not verify with the service key", ErrBadPAC)
	}
	return nil
}

// checkClient compares the PAC's client info (MS-PAC 2.7) with the
// ticket: the time must be the ticket's authtime and the name the
// client's (with or without realm), as MIT's acceptor requires.
func (p *pacData) checkClient(cname types.PrincipalName, crealm string, authTime time.Time) error {
	b, ok := p.buf(pacClientInfo)
	if !ok {
		return fmt.Errorf("%w: no client info", ErrBadPAC)
	}
	if len(b) < 10 {
		return fmt.Errorf("%w: client info truncated", ErrBadPAC)
	}
	ft := binary.LittleEndian.Uint64(b)
	n := int(binary.LittleEndian.Uint16(b[8:]))
	if n%2 != 0 || len(b) < 10+n {
		return fmt.Errorf("%w: client info name truncated", ErrBadPAC)
	}
	if t := fileTime(ft); !t.Equal(authTime.Truncate(time.Second)) {
		return fmt.Errorf("%w: client info time %s is not the ticket's authtime %s", ErrBadPAC, t.Format(time.RFC3339), authTime.UTC().Format(time.RFC3339))
	}
	name := utf16String(b[10 : 10+n])
	want := cname.PrincipalNameString()
	if !strings.EqualFold(name, want) && !strings.EqualFold(name, want+"@"+crealm) {
		return fmt.Errorf("%w: client info names %q, the ticket %s@%s", ErrBadPAC, name, want, crealm)
	}
	return nil
}

// fileTime converts a Windows FILETIME (100 ns since 1601) to UTC time.
func fileTime(ft uint64) time.Time {
	const epochDiff = 116444736000000000 // 1601-01-01 to 1970-01-01 in 100 ns
	if ft < epochDiff {
		return time.Time{}
	}
	d := ft - epochDiff
	return time.Unix(int64(d/1e7), int64(d%1e7)*100).UTC()
}

func utf16String(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// pacIdentity is what the acceptor reports from a verified PAC.
type pacIdentity struct {
	userSID     string
	groups      []string
	logonDomain string
}

// identity decodes the logon info (KERB_VALIDATION_INFO, NDR) if there is
// one: MIT's minimal PAC has none.
func (p *pacData) identity() (*pacIdentity, error) {
	b, ok := p.buf(pacLogonInfo)
	if !ok {
		return &pacIdentity{}, nil
	}
	var k pac.KerbValidationInfo
	if err := safeUnmarshal(func() error { return k.Unmarshal(b) }); err != nil {
		return nil, fmt.Errorf("%w: logon info: %v", ErrBadPAC, err)
	}
	if int(k.GroupCount)+int(k.SIDCount)+int(k.ResourceGroupCount) > maxPACGroups {
		return nil, fmt.Errorf("%w: more than %d groups", ErrBadPAC, maxPACGroups)
	}
	id := &pacIdentity{logonDomain: k.LogonDomainName.Value}
	if dom := k.LogonDomainID.String(); dom != "" {
		id.userSID = dom + "-" + strconv.FormatUint(uint64(k.UserID), 10)
		primary := dom + "-" + strconv.FormatUint(uint64(k.PrimaryGroupID), 10)
		id.groups = append(id.groups, primary)
	}
	for _, g := range k.GetGroupMembershipSIDs() {
		if g != "" && !contains(id.groups, g) {
			id.groups = append(id.groups, g)
		}
	}
	return id, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ticketPAC returns the PAC of a decrypted ticket: the AD-WIN2K-PAC
// element inside an AD-IF-RELEVANT element of its authorization data, or
// nil when there is none. Two PACs are an error.
func ticketPAC(t *messages.Ticket) ([]byte, error) {
	var found []byte
	for _, ad := range t.DecryptedEncPart.AuthorizationData {
		if ad.ADType != adtype.ADIfRelevant {
			continue
		}
		var inner types.AuthorizationData
		if err := safeUnmarshal(func() error { return inner.Unmarshal(ad.ADData) }); err != nil {
			return nil, fmt.Errorf("%w: AD-IF-RELEVANT: %v", ErrBadPAC, err)
		}
		for _, e := range inner {
			if e.ADType != adtype.ADWin2KPAC {
				continue
			}
			if found != nil {
				return nil, fmt.Errorf("%w: the ticket carries two PACs", ErrBadPAC)
			}
			found = e.ADData
		}
	}
	return found, nil
}
