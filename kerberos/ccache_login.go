package kerberos

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/jcmturner/gokrb5/v8/iana/nametype"
)

// LoginContents logs in (a keytab or password Client; a cache Client
// reads its cache) and returns the TGT as the contents of a credential
// cache, for `sesame kinit` to store.
func (c *Client) LoginContents(ctx context.Context) (*CCacheContents, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.src != fromCCache {
		c.tgt = nil // a fresh TGT, as kinit gets one
	}
	t, err := c.tgtLocked()
	if err != nil {
		return nil, err
	}
	tb, err := t.ticket.Marshal()
	if err != nil {
		return nil, fmt.Errorf("kerberos: encoding the TGT: %v", err)
	}
	var fl uint32
	if b := t.flags.Bytes; len(b) >= 4 {
		fl = binary.BigEndian.Uint32(b)
	} else {
		var x [4]byte
		copy(x[:], b)
		fl = binary.BigEndian.Uint32(x[:])
	}
	client := CCPrincipal{NameType: t.cname.NameType, Components: append([]string(nil), t.cname.NameString...), Realm: t.crealm}
	return &CCacheContents{
		Principal: client,
		Credentials: []*CCCredential{{
			Client:   client,
			Server:   CCPrincipal{NameType: nametype.KRB_NT_SRV_INST, Components: []string{"krbtgt", t.crealm}, Realm: t.crealm},
			Key:      t.key,
			AuthTime: t.authTime, StartTime: t.startTime, EndTime: t.endTime, RenewTill: t.renewTill,
			Flags:  fl,
			Ticket: tb,
		}},
	}, nil
}
