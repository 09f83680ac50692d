package kerberos

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/types"
)

// gokrb5 decodes AP-REP but cannot encode it (RFC 4120 section 5.5.2).

type encAPRepPart struct {
	CTime          time.Time `asn1:"generalized,explicit,tag:0"`
	Cusec          int       `asn1:"explicit,tag:1"`
	SequenceNumber int64     `asn1:"explicit,tag:3"`
}

type apRep struct {
	PVNO    int                 `asn1:"explicit,tag:0"`
	MsgType int                 `asn1:"explicit,tag:1"`
	EncPart types.EncryptedData `asn1:"explicit,tag:2"`
}

// makeAPRep builds the mutual authentication token: an AP-REP that echoes
// the authenticator's time, encrypted with the ticket's session key. It
// asserts no acceptor subkey, so MIC tokens keep the initiator's subkey.
func (r *AcceptResult) makeAPRep(au *types.Authenticator, sessionKey types.EncryptionKey) error {
	var n [4]byte
	if _, err := rand.Read(n[:]); err != nil {
		return fmt.Errorf("kerberos: AP-REP sequence number: %v", err)
	}
	// MIT masks to 30 bits for interoperability with old peers that
	// treat the number as signed.
	r.sendSeq = uint64(binary.BigEndian.Uint32(n[:]) & 0x3fffffff)
	part := encAPRepPart{CTime: au.CTime, Cusec: au.Cusec, SequenceNumber: int64(r.sendSeq)}
	pb, err := asn1.Marshal(part)
	if err != nil {
		return fmt.Errorf("kerberos: AP-REP: %v", err)
	}
	pb = asn1tools.AddASNAppTag(pb, asnAppTag.EncAPRepPart)
	ed, err := crypto.GetEncryptedData(pb, sessionKey, keyusage.AP_REP_ENCPART, 0)
	if err != nil {
		return fmt.Errorf("kerberos: AP-REP: encrypt: %v", err)
	}
	b, err := asn1.Marshal(apRep{PVNO: 5, MsgType: msgtype.KRB_AP_REP, EncPart: ed})
	if err != nil {
		return fmt.Errorf("kerberos: AP-REP: %v", err)
	}
	r.MutualToken = WrapToken(TokIDAPRep, asn1tools.AddASNAppTag(b, asnAppTag.APREP))
	return nil
}

// micKind tells the format of the context's MIC tokens: RFC 4121
// (AES, Camellia), RFC 4757 (RC4-HMAC) or none (DES, 3DES).
func (r *AcceptResult) micKind() (cfxMIC, rc4MICs bool) {
	return cfx(r.key.KeyType), r.key.KeyType == etypeID.RC4_HMAC
}

// MIC returns a MIC token over data from the acceptor (GSS_GetMIC), as
// SPNEGO's mechListMIC needs: RFC 4121's format, or RFC 4757's for an
// RC4-HMAC context key, framed with the OID of the initiator's token. It
// returns ErrMICUnavailable for DES and 3DES keys.
func (r *AcceptResult) MIC(data []byte) ([]byte, error) {
	cfxMIC, rc4 := r.micKind()
	if !cfxMIC && !rc4 {
		return nil, fmt.Errorf("%w: context key of etype %d", ErrMICUnavailable, r.key.KeyType)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if rc4 {
		oid := r.mechOID
		if oid == nil {
			oid = OID
		}
		mic := rc4MIC(r.key.KeyValue, oid, uint32(r.sendSeq), true, data)
		r.sendSeq++
		return mic, nil
	}
	t := gssapi.MICToken{Flags: gssapi.MICTokenFlagSentByAcceptor, SndSeqNum: r.sendSeq, Payload: data}
	if err := t.SetChecksum(r.key, keyusage.GSSAPI_ACCEPTOR_SIGN); err != nil {
		return nil, fmt.Errorf("kerberos: MIC: %v", err)
	}
	r.sendSeq++
	return t.Marshal()
}

// VerifyMIC checks an initiator's MIC token over data (GSS_VerifyMIC),
// RFC 4121's or, for an RC4-HMAC context key, RFC 4757's. The sequence
// number of an RC4-HMAC token, which its checksum does not cover, must
// be the next one expected (the authenticator's, then one more per
// token); RFC 4121 tokens are not checked for replay. A token that does not decode wraps
// ErrMalformedToken, one that does not verify ErrBadMIC.
func (r *AcceptResult) VerifyMIC(data, mic []byte) error {
	cfxMIC, rc4 := r.micKind()
	if !cfxMIC && !rc4 {
		return fmt.Errorf("%w: context key of etype %d", ErrMICUnavailable, r.key.KeyType)
	}
	if rc4 {
		r.mu.Lock()
		defer r.mu.Unlock()
		seq, err := rc4VerifyMIC(r.key.KeyValue, mic, false, data)
		if err == nil {
			err = checkSeq(seq, &r.recvSeq)
		}
		if err != nil {
			return fmt.Errorf("kerberos: the initiator's MIC: %w", err)
		}
		return nil
	}
	var t gssapi.MICToken
	if err := safeUnmarshal(func() error { return t.Unmarshal(mic, false) }); err != nil {
		return fmt.Errorf("%w: MIC token: %v", ErrMalformedToken, err)
	}
	if t.Flags&(gssapi.MICTokenFlagSealed|gssapi.MICTokenFlagAcceptorSubkey) != 0 {
		return fmt.Errorf("%w: MIC token flags %#x", ErrMalformedToken, t.Flags)
	}
	t.Payload = data
	var ok bool
	err := safeUnmarshal(func() error {
		var err error
		ok, err = t.Verify(r.key, keyusage.GSSAPI_INITIATOR_SIGN)
		return err
	})
	if err != nil || !ok {
		return fmt.Errorf("kerberos: the initiator's MIC: %w", ErrBadMIC)
	}
	return nil
}

// MICAvailable reports whether MIC and VerifyMIC work for this context:
// its key is of an RFC 4121 encryption type or RC4-HMAC (not DES or
// 3DES).
func (r *AcceptResult) MICAvailable() bool {
	cfxMIC, rc4 := r.micKind()
	return cfxMIC || rc4
}
