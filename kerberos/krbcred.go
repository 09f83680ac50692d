package kerberos

import (
	"fmt"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/types"
)

// gokrb5 decodes KRB_CRED but cannot encode it, so the forwarded TGT is
// encoded here (RFC 4120 section 5.8).

type krbCredInfo struct {
	Key       types.EncryptionKey `asn1:"explicit,tag:0"`
	PRealm    string              `asn1:"generalstring,optional,explicit,tag:1"`
	PName     types.PrincipalName `asn1:"optional,explicit,tag:2"`
	Flags     asn1.BitString      `asn1:"optional,explicit,tag:3"`
	AuthTime  time.Time           `asn1:"generalized,optional,explicit,tag:4"`
	StartTime time.Time           `asn1:"generalized,optional,explicit,tag:5"`
	EndTime   time.Time           `asn1:"generalized,optional,explicit,tag:6"`
	RenewTill time.Time           `asn1:"generalized,optional,explicit,tag:7"`
	SRealm    string              `asn1:"generalstring,optional,explicit,tag:8"`
	SName     types.PrincipalName `asn1:"optional,explicit,tag:9"`
}

type encKrbCredPart struct {
	TicketInfo []krbCredInfo `asn1:"explicit,tag:0"`
	Timestamp  time.Time     `asn1:"generalized,optional,explicit,tag:2"`
	Usec       int           `asn1:"optional,explicit,tag:3"`
}

type krbCred struct {
	PVNO    int                 `asn1:"explicit,tag:0"`
	MsgType int                 `asn1:"explicit,tag:1"`
	Tickets asn1.RawValue       `asn1:"explicit,tag:2"`
	EncPart types.EncryptedData `asn1:"explicit,tag:3"`
}

// marshalKRBCred encodes a KRB_CRED carrying one ticket, its enc-part
// encrypted in key (the AP-REQ's session key, key usage 14), as MIT's
// GSS-API initiator does for delegation.
func marshalKRBCred(tgt *ticket, key types.EncryptionKey) ([]byte, error) {
	tb, err := tgt.ticket.Marshal()
	if err != nil {
		return nil, fmt.Errorf("kerberos: KRB-CRED: ticket: %v", err)
	}
	now := time.Now().UTC()
	part := encKrbCredPart{
		TicketInfo: []krbCredInfo{{
			Key:       tgt.key,
			PRealm:    tgt.crealm,
			PName:     tgt.cname,
			Flags:     tgt.flags,
			AuthTime:  tgt.authTime,
			StartTime: tgt.startTime,
			EndTime:   tgt.endTime,
			RenewTill: tgt.renewTill,
			SRealm:    tgt.ticket.Realm,
			SName:     tgt.ticket.SName,
		}},
		Timestamp: now.Truncate(time.Second),
		Usec:      now.Nanosecond() / 1000,
	}
	pb, err := asn1.Marshal(part)
	if err != nil {
		return nil, fmt.Errorf("kerberos: KRB-CRED: enc-part: %v", err)
	}
	pb = asn1tools.AddASNAppTag(pb, asnAppTag.EncKrbCredPart)
	ed, err := crypto.GetEncryptedData(pb, key, keyusage.KRB_CRED_ENCPART, 0)
	if err != nil {
		return nil, fmt.Errorf("kerberos: KRB-CRED: encrypt: %v", err)
	}
	seq, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: tb})
	if err != nil {
		return nil, err
	}
	// FullBytes is written as is, without the field's explicit tag, so
	// the [2] wrapper is part of it.
	tickets, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, IsCompound: true, Bytes: seq})
	if err != nil {
		return nil, err
	}
	m := krbCred{PVNO: 5, MsgType: msgtype.KRB_CRED, Tickets: asn1.RawValue{FullBytes: tickets}, EncPart: ed}
	b, err := asn1.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("kerberos: KRB-CRED: %v", err)
	}
	return asn1tools.AddASNAppTag(b, asnAppTag.KRBCred), nil
}
