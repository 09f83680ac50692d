package kerberos

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// DefaultMaxClockSkew is the clock skew an Acceptor tolerates unless told
// otherwise, as MIT's and Windows' default.
const DefaultMaxClockSkew = 5 * time.Minute

// Acceptor verifies Kerberos initial context tokens (AP-REQs) with a
// service keytab: the acceptor side of RFC 4121. Configure its fields
// before the first Accept; it is then safe for concurrent use.
//
// gokrb5's service package is not used for the verification itself: it
// reads the wall clock (no skew tests), keeps one global replay cache
// keyed by time only, never checks the GSS checksum (flags, channel
// bindings, delegation), never answers with an AP-REP, and rejects
// MIT's minimal PAC while panicking on malformed ones.
type Acceptor struct {
	// Keytab holds the service keys. Required.
	Keytab *keytab.Keytab
	// Principal restricts the acceptor to one service principal
	// ("HTTP/www.corp.test" or with "@REALM"); "" accepts a ticket for
	// any service principal the keytab has a key for.
	Principal string
	// MaxClockSkew is the tolerated difference between the client's and
	// the acceptor's clocks, also applied to the ticket's validity;
	// 0 means DefaultMaxClockSkew.
	MaxClockSkew time.Duration
	// Replay is the replay cache; nil means one private to this Acceptor.
	// Replay detection cannot be turned off.
	Replay *ReplayCache
	// Now is the acceptor's clock; nil means time.Now.
	Now func() time.Time
	// EncTypes, when not empty, lists the ticket encryption types
	// accepted (etype numbers, e.g. 17 and 18 for AES); other tickets
	// fail with ErrPolicy.
	EncTypes []int32

	once   sync.Once
	replay *ReplayCache
}

// AcceptResult is what a verified AP-REQ proved.
type AcceptResult struct {
	// Principal is the client, "alice@CORP.TEST".
	Principal string
	// Name and Realm are the parts of Principal.
	Name, Realm string
	// Service is the service principal the ticket was for,
	// "HTTP/www.corp.test@CORP.TEST".
	Service string
	// GroupSIDs are the group SIDs of the PAC's logon info: the primary
	// group, the domain groups made absolute, extra SIDs and resource
	// groups. Empty without a PAC or with MIT's minimal PAC.
	GroupSIDs []string
	// UserSID is the user's SID from the PAC, if it had a logon info.
	UserSID string
	// LogonDomain is the PAC's NetBIOS logon domain name, if present.
	LogonDomain string
	// PAC reports that the ticket had a PAC and its server signature
	// verified with the service key.
	PAC bool
	// MutualToken is the GSS-API framed AP-REP to send back when the
	// client asked for mutual authentication; nil otherwise.
	MutualToken []byte
	// SessionKey is the context key: the initiator's subkey, else the
	// ticket's session key. Never log it.
	SessionKey []byte
	// Expires is the ticket's end time.
	Expires time.Time
	// Delegated is a credential cache (file format version 4) holding
	// the TGT the client forwarded, nil when it delegated none.
	Delegated []byte
	// Flags are the GSS-API flags the initiator requested (FlagMutual,
	// FlagDeleg, ...).
	Flags uint32
	// ChannelBound reports that the initiator sent channel bindings and
	// they matched the acceptor's. With no expected bindings, or an
	// initiator that sent none, it is false: a caller that requires
	// binding over TLS checks it.
	ChannelBound bool

	key      types.EncryptionKey   // context key for MIC tokens
	mechOID  asn1.ObjectIdentifier // OID framing the AP-REQ, for RC4-HMAC MIC tokens
	sendSeq  uint64
	recvSeq  uint64
	mu       sync.Mutex
	micFlags byte
}

// LoadKeytab reads a keytab file. With path "" it reads KRB5_KTNAME
// ("FILE:" or "WRFILE:" prefix allowed), else /etc/krb5.keytab, as MIT's
// default keytab.
func LoadKeytab(path string) (*keytab.Keytab, error) {
	if path == "" {
		path = os.Getenv("KRB5_KTNAME")
		if path == "" {
			path = "/etc/krb5.keytab"
		}
	}
	for _, p := range []string{"FILE:", "WRFILE:"} {
		path = strings.TrimPrefix(path, p)
	}
	if i := strings.Index(path, ":"); i > 0 && !strings.Contains(path[:i], "/") {
		return nil, fmt.Errorf("%w: keytab %q: only FILE keytabs can be read", ErrConfig, path)
	}
	kt, err := keytab.Load(path)
	if err != nil {
		return nil, fmt.Errorf("%w: keytab %s: %v", ErrConfig, path, err)
	}
	return kt, nil
}

func (a *Acceptor) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Acceptor) skew() time.Duration {
	if a.MaxClockSkew > 0 {
		return a.MaxClockSkew
	}
	return DefaultMaxClockSkew
}

func (a *Acceptor) replayCache() *ReplayCache {
	a.once.Do(func() {
		a.replay = a.Replay
		if a.replay == nil {
			a.replay = &ReplayCache{}
		}
	})
	return a.replay
}

// Accept verifies a Kerberos initial context token: a GSS-API framed
// AP-REQ (RFC 4121 section 4.1, krb5 or Microsoft's OID) or a raw AP-REQ.
// It checks that the ticket decrypts with the keytab and is valid, that
// the authenticator is the ticket's client's, within MaxClockSkew and not
// a replay, the GSS checksum with the channel bindings, and the PAC's
// server signature when there is a PAC.
//
// channelBindings is the application data of the channel (for TLS,
// ntlm.TLSServerEndPoint of the server's certificate), nil for none: then
// any initiator bindings are accepted, as MIT's acceptor does. Initiator
// bindings that differ from non-nil ones fail with ErrChannelBinding; an
// initiator that sent none is accepted with ChannelBound false.
//
// Errors wrap ErrMalformed, ErrWrongService, ErrBadTicket, ErrClockSkew,
// ErrReplay, ErrChannelBinding, ErrBadPAC or ErrPolicy, and name the
// client when it is known; they hold no key material.
func (a *Acceptor) Accept(ctx context.Context, token, channelBindings []byte) (*AcceptResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if a.Keytab == nil {
		return nil, fmt.Errorf("%w: acceptor has no keytab", ErrConfig)
	}
	ap, gss, err := parseAPReq(token)
	if err != nil {
		return nil, acceptError{err}
	}
	r, err := a.verify(ap, gss, channelBindings)
	if err != nil {
		return nil, acceptError{err}
	}
	r.mechOID = tokenOID(token)
	return r, nil
}

// parseAPReq decodes the token; gss reports GSS-API framing.
func parseAPReq(token []byte) (ap *messages.APReq, gss bool, err error) {
	if len(token) > MaxTokenSize {
		return nil, false, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(token), MaxTokenSize)
	}
	msg := token
	if len(token) > 0 && token[0] == 0x60 {
		id, m, err := UnwrapToken(token)
		if err != nil {
			return nil, false, err
		}
		if id != TokIDAPReq {
			return nil, false, fmt.Errorf("%w: TOK_ID %#04x is not an AP-REQ", ErrMalformed, id)
		}
		msg, gss = m, true
	}
	var r messages.APReq
	if err := safeUnmarshal(func() error { return r.Unmarshal(msg) }); err != nil {
		return nil, false, fmt.Errorf("%w: AP-REQ: %v", ErrMalformed, err)
	}
	if r.PVNO != 5 || r.MsgType != msgtype.KRB_AP_REQ {
		return nil, false, fmt.Errorf("%w: AP-REQ pvno %d type %d", ErrMalformed, r.PVNO, r.MsgType)
	}
	if len(r.Ticket.SName.NameString) == 0 || r.Ticket.Realm == "" {
		return nil, false, fmt.Errorf("%w: ticket without service name", ErrMalformed)
	}
	if types.IsFlagSet(&r.APOptions, flags.APOptionUseSessionKey) {
		return nil, false, fmt.Errorf("%w: user-to-user tickets are not supported", ErrMalformed)
	}
	return &r, gss, nil
}

// serviceKey returns the keytab key that decrypts the ticket, after the
// Principal restriction and the encryption type policy.
func (a *Acceptor) serviceKey(t *messages.Ticket) (types.EncryptionKey, error) {
	spn := t.SName.PrincipalNameString() + "@" + t.Realm
	if a.Principal != "" {
		name, realm := splitSPN(a.Principal)
		if name != t.SName.PrincipalNameString() || (realm != "" && realm != t.Realm) {
			return types.EncryptionKey{}, fmt.Errorf("%w: ticket for %s, this acceptor is %s", ErrWrongService, spn, a.Principal)
		}
	}
	if len(a.EncTypes) > 0 && !containsEType(a.EncTypes, t.EncPart.EType) {
		return types.EncryptionKey{}, fmt.Errorf("%w: ticket for %s encrypted with etype %d", ErrPolicy, spn, t.EncPart.EType)
	}
	key, _, err := a.Keytab.GetEncryptionKey(t.SName, t.Realm, t.EncPart.KVNO, t.EncPart.EType)
	if err != nil {
		if a.hasPrincipal(t.SName, t.Realm) {
			return key, fmt.Errorf("%w: the keytab has %s but no key of version %d and etype %d (keytab out of date?)", ErrWrongService, spn, t.EncPart.KVNO, t.EncPart.EType)
		}
		return key, fmt.Errorf("%w: no key for %s in the keytab", ErrWrongService, spn)
	}
	return key, nil
}

func containsEType(list []int32, e int32) bool {
	for _, v := range list {
		if v == e {
			return true
		}
	}
	return false
}

func (a *Acceptor) hasPrincipal(sname types.PrincipalName, realm string) bool {
	for _, e := range a.Keytab.Entries {
		if e.Principal.Realm == realm && strings.Join(e.Principal.Components, "/") == sname.PrincipalNameString() {
			return true
		}
	}
	return false
}

// verify runs the checks of RFC 4120 section 3.2.3 and RFC 4121 section
// 4.1 on a decoded AP-REQ.
func (a *Acceptor) verify(ap *messages.APReq, gss bool, cb []byte) (*AcceptResult, error) {
	t := &ap.Ticket
	key, err := a.serviceKey(t)
	if err != nil {
		return nil, err
	}
	spn := t.SName.PrincipalNameString() + "@" + t.Realm
	if err := safeUnmarshal(func() error { return t.Decrypt(key) }); err != nil {
		return nil, fmt.Errorf("%w: ticket for %s does not decrypt with the keytab's key (kvno %d): %v", ErrBadTicket, spn, t.EncPart.KVNO, err)
	}
	tp := &t.DecryptedEncPart
	client := tp.CName.PrincipalNameString() + "@" + tp.CRealm
	now := a.now().UTC()
	skew := a.skew()
	if tp.Key.KeyType != ap.EncryptedAuthenticator.EType {
		return nil, fmt.Errorf("%w: authenticator of %s encrypted with etype %d, the session key is %d", ErrBadTicket, client, ap.EncryptedAuthenticator.EType, tp.Key.KeyType)
	}
	var plain []byte
	err = safeUnmarshal(func() error {
		var err error
		plain, err = crypto.DecryptEncPart(ap.EncryptedAuthenticator, tp.Key, keyusage.AP_REQ_AUTHENTICATOR)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: authenticator of %s does not decrypt with the ticket's session key", ErrBadTicket, client)
	}
	au := &ap.Authenticator
	if err := safeUnmarshal(func() error { return au.Unmarshal(plain) }); err != nil {
		return nil, fmt.Errorf("%w: authenticator: %v", ErrMalformed, err)
	}
	if !au.CName.Equal(tp.CName) || au.CRealm != tp.CRealm {
		return nil, fmt.Errorf("%w: authenticator names %s@%s, the ticket %s", ErrBadTicket, au.CName.PrincipalNameString(), au.CRealm, client)
	}
	ct := au.CTime.Add(time.Duration(au.Cusec) * time.Microsecond)
	if d := ct.Sub(now); d > skew || -d > skew {
		return nil, fmt.Errorf("%w: the clock of %s is %s %s the acceptor's (limit %s)", ErrClockSkew, client, absDuration(d).Round(time.Second), aheadBehind(d), skew)
	}
	if err := a.checkTicketTimes(tp, now, skew, client); err != nil {
		return nil, err
	}
	rk := newReplayKey(spn, client, au.CTime, au.Cusec, ap.EncryptedAuthenticator.Cipher)
	if err := a.replayCache().check(rk, ct, now, 2*skew); err != nil {
		return nil, fmt.Errorf("%w (client %s)", err, client)
	}

	r := &AcceptResult{
		Principal: client,
		Name:      tp.CName.PrincipalNameString(),
		Realm:     tp.CRealm,
		Service:   spn,
		Expires:   tp.EndTime,
		key:       tp.Key,
	}
	if len(au.SubKey.KeyValue) > 0 {
		if au.SubKey.KeyType != tp.Key.KeyType {
			if _, err := crypto.GetEtype(au.SubKey.KeyType); err != nil {
				return nil, fmt.Errorf("%w: authenticator subkey of etype %d", ErrBadTicket, au.SubKey.KeyType)
			}
		}
		r.key = au.SubKey
	}
	r.SessionKey = append([]byte(nil), r.key.KeyValue...)
	r.recvSeq = uint64(uint32(au.SeqNumber))

	var sum *GSSChecksum
	switch {
	case au.Cksum.CksumType == gssChecksumType:
		if sum, err = ParseGSSChecksum(au.Cksum.Checksum); err != nil {
			return nil, err
		}
		r.Flags = sum.Flags
	case gss:
		// RFC 4121 section 4.1.1: the GSS mechanism always uses 0x8003.
		return nil, fmt.Errorf("%w: authenticator checksum type %d, want the GSS checksum %#x", ErrMalformed, au.Cksum.CksumType, gssChecksumType)
	}
	if types.IsFlagSet(&ap.APOptions, flags.APOptionMutualRequired) {
		r.Flags |= FlagMutual
	}
	if sum != nil {
		bound, err := checkBindings(sum.Bindings, cb)
		if err != nil {
			return nil, fmt.Errorf("%w (client %s)", err, client)
		}
		r.ChannelBound = bound
	}

	if p, err := ticketPAC(t); err != nil {
		return nil, err
	} else if p != nil {
		if err := applyPAC(r, p, key, t); err != nil {
			return nil, fmt.Errorf("%w (client %s)", err, client)
		}
	}
	if sum != nil && sum.Flags&FlagDeleg != 0 && len(sum.Deleg) > 0 {
		cc, err := delegatedCCache(sum.Deleg, tp, r.key)
		if err != nil {
			return nil, fmt.Errorf("delegated credentials of %s: %w", client, err)
		}
		r.Delegated = cc
	} else {
		r.Flags &^= FlagDeleg
	}
	if r.Flags&FlagMutual != 0 {
		if err := r.makeAPRep(au, tp.Key); err != nil {
			return nil, err
		}
	} else {
		// Without an AP-REP, both directions start from the initiator's
		// sequence number (RFC 4121 section 4.1).
		r.sendSeq = r.recvSeq
	}
	return r, nil
}

// checkTicketTimes refuses an invalid, expired or not yet valid ticket.
func (a *Acceptor) checkTicketTimes(tp *messages.EncTicketPart, now time.Time, skew time.Duration, client string) error {
	if types.IsFlagSet(&tp.Flags, flags.Invalid) {
		return fmt.Errorf("%w: ticket of %s is marked invalid", ErrBadTicket, client)
	}
	start := tp.StartTime
	if start.IsZero() {
		start = tp.AuthTime
	}
	if d := start.Sub(now); d > skew {
		return fmt.Errorf("%w: ticket of %s is valid only from %s, %s ahead (limit %s)", ErrClockSkew, client, start.Format(time.RFC3339), d.Round(time.Second), skew)
	}
	if d := now.Sub(tp.EndTime); d > skew {
		return fmt.Errorf("%w: ticket of %s expired at %s", ErrBadTicket, client, tp.EndTime.Format(time.RFC3339))
	}
	return nil
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func aheadBehind(d time.Duration) string {
	if d > 0 {
		return "ahead of"
	}
	return "behind"
}

// checkBindings compares the initiator's channel binding hash with the
// expected application data (RFC 4121 section 4.1.1.2). An all-zero hash
// means the initiator sent none.
func checkBindings(got [16]byte, expected []byte) (bound bool, err error) {
	if got == ([16]byte{}) || expected == nil {
		return false, nil
	}
	want := channelBindingHash(expected)
	if !hmac.Equal(got[:], want[:]) {
		return false, fmt.Errorf("%w: the initiator bound the token to another channel", ErrChannelBinding)
	}
	return true, nil
}

// channelBindingHash is the MD5 of a gss_channel_bindings_struct with
// empty addresses and the application data (lengths little-endian).
func channelBindingHash(app []byte) [16]byte {
	b := make([]byte, 20, 20+len(app))
	binary.LittleEndian.PutUint32(b[16:], uint32(len(app)))
	return md5.Sum(append(b, app...))
}

// applyPAC verifies the ticket's PAC and copies the identity into r.
func applyPAC(r *AcceptResult, raw []byte, key types.EncryptionKey, t *messages.Ticket) error {
	p, err := parsePAC(raw)
	if err != nil {
		return err
	}
	if err := p.verifyServer(key); err != nil {
		return err
	}
	tp := &t.DecryptedEncPart
	if err := p.checkClient(tp.CName, tp.CRealm, tp.AuthTime); err != nil {
		return err
	}
	id, err := p.identity()
	if err != nil {
		return err
	}
	r.PAC = true
	r.UserSID, r.GroupSIDs, r.LogonDomain = id.userSID, id.groups, id.logonDomain
	return nil
}
