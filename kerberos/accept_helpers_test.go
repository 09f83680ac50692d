package kerberos

import (
	"encoding/binary"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/adtype"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// Helpers that make tickets and PACs the way a KDC does, for tampering
// with real tickets and for fuzz seeds.

// sealTicket encrypts an EncTicketPart with the service key.
func sealTicket(t testing.TB, etp messages.EncTicketPart, sname types.PrincipalName, realm string, key types.EncryptionKey, kvno int) messages.Ticket {
	t.Helper()
	b, err := asn1.Marshal(etp)
	if err != nil {
		t.Fatal(err)
	}
	b = asn1tools.AddASNAppTag(b, asnAppTag.EncTicketPart)
	ed, err := crypto.GetEncryptedData(b, key, keyusage.KDC_REP_TICKET, kvno)
	if err != nil {
		t.Fatal(err)
	}
	return messages.Ticket{TktVNO: 5, Realm: realm, SName: sname, EncPart: ed}
}

// apReqToken makes a GSS-API initial token for a ticket with a fresh
// authenticator.
func apReqToken(t testing.TB, tkt messages.Ticket, sessionKey types.EncryptionKey, cname types.PrincipalName, crealm string, flags uint32, now time.Time) []byte {
	t.Helper()
	sum := GSSChecksum{Flags: flags}
	sb, err := sum.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	auth, err := types.NewAuthenticator(crealm, cname)
	if err != nil {
		t.Fatal(err)
	}
	auth.CTime = now.UTC().Truncate(time.Second)
	auth.Cusec = now.Nanosecond() / 1000
	auth.Cksum = types.Checksum{CksumType: chksumtype.GSSAPI, Checksum: sb}
	ap, err := messages.NewAPReq(tkt, sessionKey, auth)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ap.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return WrapToken(TokIDAPReq, b)
}

// testKeytab is a keytab with an AES256 key for HTTP/localhost@CORP.TEST.
func testKeytab(t testing.TB) (*keytab.Keytab, types.EncryptionKey) {
	t.Helper()
	kt := keytab.New()
	if err := kt.AddEntry("HTTP/localhost", "CORP.TEST", "service-password", time.Now(), 2, etypeID.AES256_CTS_HMAC_SHA1_96); err != nil {
		t.Fatal(err)
	}
	key, _, err := kt.GetEncryptionKey(types.NewPrincipalName(nametype.KRB_NT_SRV_HST, "HTTP/localhost"), "CORP.TEST", 2, etypeID.AES256_CTS_HMAC_SHA1_96)
	if err != nil {
		t.Fatal(err)
	}
	return kt, key
}

// buildPAC makes a PAC with a client info, a server signature with key
// and a KDC signature (also with key: the acceptor cannot check it).
func buildPAC(t testing.TB, key types.EncryptionKey, name string, authTime time.Time) []byte {
	t.Helper()
	u := utf16.Encode([]rune(name))
	ci := binary.LittleEndian.AppendUint64(nil, uint64(authTime.Unix())*1e7+116444736000000000)
	ci = binary.LittleEndian.AppendUint16(ci, uint16(2*len(u)))
	for _, c := range u {
		ci = binary.LittleEndian.AppendUint16(ci, c)
	}
	sig := make([]byte, 16) // type + 12 bytes, padded
	binary.LittleEndian.PutUint32(sig, uint32(chksumtype.HMAC_SHA1_96_AES256))
	bufs := [][]byte{ci, sig, append([]byte(nil), sig...)}
	types := []uint32{pacClientInfo, pacServerChecksum, pacPrivSvrChecksum}
	hdr := 8 + 16*len(bufs)
	out := make([]byte, hdr)
	binary.LittleEndian.PutUint32(out, uint32(len(bufs)))
	offs := make([]int, len(bufs))
	for i, b := range bufs {
		for len(out)%8 != 0 {
			out = append(out, 0)
		}
		offs[i] = len(out)
		e := out[8+16*i:]
		binary.LittleEndian.PutUint32(e, types[i])
		binary.LittleEndian.PutUint32(e[4:], uint32(len(b)))
		binary.LittleEndian.PutUint64(e[8:], uint64(len(out)))
		out = append(out, b...)
	}
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := et.GetChecksumHash(key.KeyValue, out, keyusage.KERB_NON_KERB_CKSUM_SALT)
	if err != nil {
		t.Fatal(err)
	}
	copy(out[offs[1]+4:], sum[:12])
	copy(out[offs[2]+4:], sum[:12])
	return out
}

// withPAC wraps a PAC as a ticket's authorization data.
func withPAC(t testing.TB, p []byte) types.AuthorizationData {
	t.Helper()
	inner, err := asn1.Marshal(types.AuthorizationData{{ADType: adtype.ADWin2KPAC, ADData: p}})
	if err != nil {
		t.Fatal(err)
	}
	return types.AuthorizationData{{ADType: adtype.ADIfRelevant, ADData: inner}}
}

// syntheticToken makes an AP-REQ for HTTP/localhost@CORP.TEST from alice,
// its ticket sealed with key and carrying ad.
func syntheticToken(t testing.TB, key types.EncryptionKey, ad types.AuthorizationData, authTime, now time.Time) []byte {
	t.Helper()
	cname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "alice")
	et, _ := crypto.GetEtype(key.KeyType)
	sk, err := types.GenerateEncryptionKey(et)
	if err != nil {
		t.Fatal(err)
	}
	etp := messages.EncTicketPart{
		Flags: types.NewKrbFlags(), Key: sk, CRealm: "CORP.TEST", CName: cname,
		AuthTime: authTime, EndTime: authTime.Add(10 * time.Hour), AuthorizationData: ad,
	}
	tkt := sealTicket(t, etp, types.NewPrincipalName(nametype.KRB_NT_SRV_HST, "HTTP/localhost"), "CORP.TEST", key, 2)
	return apReqToken(t, tkt, sk, cname, "CORP.TEST", FlagMutual, now)
}

var testPrincipal = types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "alice")
