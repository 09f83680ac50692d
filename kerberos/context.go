package kerberos

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// MutualMode says what the initiator demands of the acceptor's AP-REP,
// as httpx-gssapi's mutual_authentication does.
type MutualMode int

const (
	// MutualRequired (the default) asks for mutual authentication and
	// fails a context whose final acceptor token is not a valid AP-REP.
	MutualRequired MutualMode = iota
	// MutualOptional asks for mutual authentication and verifies an
	// AP-REP if the acceptor sends one, but accepts its absence.
	MutualOptional
	// MutualDisabled does not ask for mutual authentication and ignores
	// any AP-REP.
	MutualDisabled
)

// String returns "required", "optional" or "disabled".
func (m MutualMode) String() string {
	switch m {
	case MutualRequired:
		return "required"
	case MutualOptional:
		return "optional"
	case MutualDisabled:
		return "disabled"
	}
	return fmt.Sprintf("MutualMode(%d)", int(m))
}

// Delegation is the credential delegation policy, like curl's
// --delegation.
type Delegation int

const (
	// DelegateNone (the default) never forwards the TGT.
	DelegateNone Delegation = iota
	// DelegatePolicy forwards the TGT only when the KDC marked the
	// service OK-AS-DELEGATE in its ticket.
	DelegatePolicy
	// DelegateAlways forwards the TGT to any service.
	DelegateAlways
)

// String returns "none", "policy" or "always".
func (d Delegation) String() string {
	switch d {
	case DelegateNone:
		return "none"
	case DelegatePolicy:
		return "policy"
	case DelegateAlways:
		return "always"
	}
	return fmt.Sprintf("Delegation(%d)", int(d))
}

// ParseDelegation parses "none", "policy" or "always".
func ParseDelegation(s string) (Delegation, error) {
	switch strings.ToLower(s) {
	case "none", "":
		return DelegateNone, nil
	case "policy":
		return DelegatePolicy, nil
	case "always":
		return DelegateAlways, nil
	}
	return 0, fmt.Errorf("kerberos: delegation %q: want none, policy or always", s)
}

// ContextOptions configures a security context.
type ContextOptions struct {
	// Mutual is the mutual authentication mode; default MutualRequired.
	Mutual MutualMode
	// Delegation decides whether the TGT is forwarded; default
	// DelegateNone.
	Delegation Delegation
	// ChannelBindings is the application data of the channel bindings
	// (RFC 5929 "tls-server-end-point:" and the hash of the TLS server's
	// certificate, see ntlm.TLSServerEndPoint), whose MD5 goes into the
	// authenticator's GSS checksum (RFC 4121 section 4.1.1.2); nil sends
	// none. An acceptor that checks bindings (IIS with Extended
	// Protection, sesame serve with channel_binding) refuses a token
	// bound to another channel, one that does not ignores them.
	ChannelBindings []byte
}

type ctxState int

const (
	ctxSent     ctxState = iota // initial token made, acceptor's answer pending
	ctxComplete                 // established
	ctxFailed
)

// SecContext is the initiator side of one Kerberos GSS-API security
// context (RFC 4121): the initial token, then the verification of the
// acceptor's AP-REP, then MIC tokens. It is safe for concurrent use, but
// serves one handshake.
type SecContext struct {
	mu             sync.Mutex
	spn            string
	client         string
	opts           ContextOptions
	token          []byte
	flags          uint32
	okAsDelegate   bool
	delegated      bool
	sessionKey     types.EncryptionKey
	subkey         types.EncryptionKey
	acceptorSubkey *types.EncryptionKey
	ctime          time.Time
	cusec          int
	seq            uint64
	peerSeq        uint64
	state          ctxState
	verified       bool
}

// InitContext starts a security context with the service principal spn
// ("HTTP/host" or "HTTP/host@REALM"; the realm defaults to the host's
// [domain_realm] mapping or the default realm). It obtains the TGT and a
// service ticket if needed (a TGS exchange with the KDC), and forwards the
// TGT when opts.Delegation allows it and the TGT is forwardable; a failed
// forward only leaves delegation out, as MIT's library does. The initial
// token is then available from Token.
func (c *Client) InitContext(ctx context.Context, spn string, opts ContextOptions) (*SecContext, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name, realm := splitSPN(spn)
	svc, host, ok := strings.Cut(name, "/")
	if !ok || svc == "" || host == "" {
		return nil, fmt.Errorf("%w: service principal %q is not service/host", ErrConfig, spn)
	}
	if realm == "" {
		realm = c.cfg.RealmFor(host)
	}
	c.mu.Lock()
	tgt, err := c.tgtLocked()
	var st, fwd *ticket
	if err == nil {
		st, err = c.serviceTicketLocked(tgt, name, realm)
	}
	deleg := err == nil && (opts.Delegation == DelegateAlways || (opts.Delegation == DelegatePolicy && st.has(flags.OKAsDelegate)))
	if deleg {
		// A failed forward is not fatal: the context goes on without
		// delegation, as with MIT's gss_init_sec_context.
		fwd, _ = c.forwardedTGTLocked(tgt)
	}
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	x := &SecContext{
		spn:          name + "@" + realm,
		client:       tgt.cname.PrincipalNameString() + "@" + tgt.crealm,
		opts:         opts,
		okAsDelegate: st.has(flags.OKAsDelegate),
		sessionKey:   st.key,
	}
	if err := x.build(st, fwd); err != nil {
		return nil, err
	}
	return x, nil
}

// build makes the AP-REQ and the initial token.
func (x *SecContext) build(st, fwd *ticket) error {
	x.flags = FlagInteg | FlagConf | FlagSequence | FlagReplay
	if x.opts.Mutual != MutualDisabled {
		x.flags |= FlagMutual
	}
	sum := GSSChecksum{}
	if x.opts.ChannelBindings != nil {
		sum.Bindings = channelBindingHash(x.opts.ChannelBindings)
	}
	if fwd != nil {
		cred, err := marshalKRBCred(fwd, st.key)
		if err == nil {
			sum.Deleg = cred
			x.flags |= FlagDeleg
			x.delegated = true
		}
	}
	sum.Flags = x.flags
	sb, err := sum.Marshal()
	if err != nil {
		return err
	}
	auth, err := types.NewAuthenticator(st.crealm, st.cname)
	if err != nil {
		return fmt.Errorf("kerberos: authenticator: %v", err)
	}
	now := time.Now().UTC()
	auth.CTime = now.Truncate(time.Second)
	auth.Cusec = now.Nanosecond() / 1000
	auth.Cksum = types.Checksum{CksumType: chksumtype.GSSAPI, Checksum: sb}
	et, err := crypto.GetEtype(st.key.KeyType)
	if err != nil {
		return fmt.Errorf("kerberos: session key: %v", err)
	}
	if err := auth.GenerateSeqNumberAndSubKey(st.key.KeyType, et.GetKeyByteSize()); err != nil {
		return fmt.Errorf("kerberos: subkey: %v", err)
	}
	ap, err := messages.NewAPReq(st.ticket, st.key, auth)
	if err != nil {
		return fmt.Errorf("kerberos: AP-REQ: %v", err)
	}
	if x.flags&FlagMutual != 0 {
		types.SetFlag(&ap.APOptions, flags.APOptionMutualRequired)
	}
	b, err := ap.Marshal()
	if err != nil {
		return fmt.Errorf("kerberos: AP-REQ: %v", err)
	}
	x.token = WrapToken(TokIDAPReq, b)
	x.subkey = auth.SubKey
	x.ctime, x.cusec = auth.CTime, auth.Cusec
	x.seq = uint64(auth.SeqNumber)
	// Without an AP-REP, the acceptor's numbers start from ours too
	// (RFC 4121 section 4.1); verifyAPRep replaces this.
	x.peerSeq = x.seq
	if x.flags&FlagMutual == 0 {
		x.state = ctxComplete
	}
	return nil
}

// Token returns the initial context token: the GSS-API framed AP-REQ.
func (x *SecContext) Token() []byte { return x.token }

// SPN returns the service principal with realm, e.g.
// "HTTP/web.corp.example@CORP.EXAMPLE".
func (x *SecContext) SPN() string { return x.spn }

// Principal returns the client principal, "user@REALM".
func (x *SecContext) Principal() string { return x.client }

// Flags returns the GSS-API flags requested in the initial token
// (FlagMutual, FlagDeleg, ...).
func (x *SecContext) Flags() uint32 { return x.flags }

// Delegated reports whether the initial token carries a forwarded TGT.
func (x *SecContext) Delegated() bool { return x.delegated }

// OKAsDelegate reports whether the service ticket has the OK-AS-DELEGATE
// flag, which DelegatePolicy requires.
func (x *SecContext) OKAsDelegate() bool { return x.okAsDelegate }

// Complete reports whether the context is established: the AP-REP
// verified, or none expected (MutualDisabled).
func (x *SecContext) Complete() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.state == ctxComplete
}

// MutualVerified reports whether the acceptor's AP-REP was received and
// verified.
func (x *SecContext) MutualVerified() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.verified
}

// Step processes a token from the acceptor during context establishment:
// an AP-REP completes the context (verified unless MutualDisabled, which
// ignores it); a KRB-ERROR fails it with an error wrapping ErrRejected.
func (x *SecContext) Step(tok []byte) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.stepLocked(tok)
}

func (x *SecContext) stepLocked(tok []byte) error {
	if x.state == ctxFailed {
		return fmt.Errorf("%w: context already failed", ErrState)
	}
	if x.verified {
		return fmt.Errorf("%w: a second acceptor token", ErrState)
	}
	if x.opts.Mutual == MutualDisabled {
		return nil
	}
	at, err := ParseAcceptorToken(tok)
	if err != nil {
		x.state = ctxFailed
		return fmt.Errorf("%w: %w", ErrMutualAuth, err)
	}
	if at.Error != nil {
		x.state = ctxFailed
		e := at.Error
		return fmt.Errorf("%w: %s (%s)", ErrRejected, errorcode.Lookup(e.ErrorCode), e.EText)
	}
	if err := x.verifyAPRep(at.APRep); err != nil {
		x.state = ctxFailed
		return err
	}
	x.verified = true
	x.state = ctxComplete
	return nil
}

// verifyAPRep checks that the AP-REP decrypts with the session key and
// echoes the authenticator's ctime and cusec (RFC 4120 section 3.2.5),
// and keeps the acceptor's subkey and sequence number.
func (x *SecContext) verifyAPRep(r *messages.APRep) error {
	if r.EncPart.EType != x.sessionKey.KeyType {
		return fmt.Errorf("%w: AP-REP encrypted with etype %d, the session key is %d", ErrMutualAuth, r.EncPart.EType, x.sessionKey.KeyType)
	}
	var plain []byte
	err := safeUnmarshal(func() error {
		var err error
		plain, err = crypto.DecryptEncPart(r.EncPart, x.sessionKey, keyusage.AP_REP_ENCPART)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: AP-REP does not decrypt with the session key", ErrMutualAuth)
	}
	var p messages.EncAPRepPart
	if err := safeUnmarshal(func() error { return p.Unmarshal(plain) }); err != nil {
		return fmt.Errorf("%w: AP-REP encrypted part: %v", ErrMutualAuth, err)
	}
	if !p.CTime.Equal(x.ctime) || p.Cusec != x.cusec {
		return fmt.Errorf("%w: AP-REP does not echo the authenticator's time", ErrMutualAuth)
	}
	if len(p.Subkey.KeyValue) > 0 {
		k := p.Subkey
		x.acceptorSubkey = &k
	}
	x.peerSeq = uint64(p.SequenceNumber)
	return nil
}

// Finish applies the mutual authentication mode to the acceptor's token
// on the final response (nil if it carried none). MutualRequired fails,
// with an error wrapping ErrMutualAuth, unless a valid AP-REP arrived now
// or earlier; MutualOptional verifies a token if there is one;
// MutualDisabled accepts anything. A caller that gets an error must treat
// the response as coming from an unauthenticated server.
func (x *SecContext) Finish(tok []byte) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case x.opts.Mutual == MutualDisabled:
		return nil
	case len(tok) > 0 && !x.verified:
		if err := x.stepLocked(tok); err != nil {
			return fmt.Errorf("%w: %w", ErrMutualAuth, err)
		}
		return nil
	case len(tok) > 0:
		return fmt.Errorf("%w: %w: a second AP-REP", ErrMutualAuth, ErrState)
	case x.verified || x.opts.Mutual == MutualOptional:
		if x.state == ctxSent {
			x.state = ctxComplete
		}
		return nil
	}
	x.state = ctxFailed
	return fmt.Errorf("%w: the server sent no AP-REP for %s", ErrMutualAuth, x.spn)
}

// cfx reports whether an encryption type uses RFC 4121's token formats
// (every type except the DES, 3DES and RC4 families of RFC 1964/4757).
func cfx(etype int32) bool {
	switch etype {
	case etypeID.DES_CBC_CRC, etypeID.DES_CBC_MD4, etypeID.DES_CBC_MD5, etypeID.DES3_CBC_SHA1_KD,
		etypeID.DES3_CBC_SHA1, etypeID.DES3_CBC_MD5, etypeID.RC4_HMAC, etypeID.RC4_HMAC_EXP, 0:
		return false
	}
	return true
}

// micKey returns the key of MIC tokens and whether they take RC4-HMAC's
// format (RFC 4757) rather than RFC 4121's: the acceptor's subkey if it
// asserted one, else the initiator's subkey (RFC 4121 section 2). As in
// MIT's library, an RC4 acceptor's subkey of the initiator's subkey's own
// type is not used (RFC 1964 contexts keep the initiator's subkey).
func (x *SecContext) micKey() (key types.EncryptionKey, flags byte, rc4 bool, err error) {
	if x.state != ctxComplete {
		return types.EncryptionKey{}, 0, false, ErrMICUnavailable
	}
	k := x.subkey
	if len(k.KeyValue) == 0 {
		k = x.sessionKey
	}
	if a := x.acceptorSubkey; a != nil && (cfx(a.KeyType) || a.KeyType != k.KeyType) {
		if !cfx(a.KeyType) {
			if a.KeyType == etypeID.RC4_HMAC {
				return *a, 0, true, nil
			}
			return types.EncryptionKey{}, 0, false, fmt.Errorf("%w: acceptor subkey of etype %d", ErrMICUnavailable, a.KeyType)
		}
		return *a, gssapi.MICTokenFlagAcceptorSubkey, false, nil
	}
	switch {
	case cfx(k.KeyType):
		return k, 0, false, nil
	case k.KeyType == etypeID.RC4_HMAC:
		return k, 0, true, nil
	}
	return types.EncryptionKey{}, 0, false, fmt.Errorf("%w: context key of etype %d", ErrMICUnavailable, k.KeyType)
}

// MIC returns a MIC token over data (GSS_GetMIC), with the initiator's
// next sequence number: RFC 4121's format, or RFC 4757's for an
// RC4-HMAC context key. It returns ErrMICUnavailable before the context
// is complete or for DES and 3DES keys.
func (x *SecContext) MIC(data []byte) ([]byte, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	key, fl, rc4, err := x.micKey()
	if err != nil {
		return nil, err
	}
	if rc4 {
		mic := rc4MIC(key.KeyValue, OID, uint32(x.seq), false, data)
		x.seq++
		return mic, nil
	}
	t := gssapi.MICToken{Flags: fl, SndSeqNum: x.seq, Payload: data}
	if err := t.SetChecksum(key, keyusage.GSSAPI_INITIATOR_SIGN); err != nil {
		return nil, fmt.Errorf("kerberos: MIC: %v", err)
	}
	x.seq++
	return t.Marshal()
}

// VerifyMIC checks the acceptor's MIC token over data (GSS_VerifyMIC),
// RFC 4121's or, for an RC4-HMAC context key, RFC 4757's. The sequence
// number of an RC4-HMAC token, which its checksum does not cover, must
// be the next one expected (the AP-REP's, then one more per token), as
// MIT's sequence checks demand; RFC 4121 tokens are not checked for
// replay. A token that does not decode wraps
// ErrMalformedToken, one that does not verify ErrBadMIC.
func (x *SecContext) VerifyMIC(data, mic []byte) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	key, fl, rc4, err := x.micKey()
	if err != nil {
		return err
	}
	if rc4 {
		seq, err := rc4VerifyMIC(key.KeyValue, mic, true, data)
		if err == nil {
			err = checkSeq(seq, &x.peerSeq)
		}
		if err != nil {
			return fmt.Errorf("kerberos: the acceptor's MIC: %w", err)
		}
		return nil
	}
	var t gssapi.MICToken
	if err := safeUnmarshal(func() error { return t.Unmarshal(mic, true) }); err != nil {
		return fmt.Errorf("%w: MIC token: %v", ErrMalformedToken, err)
	}
	if t.Flags&gssapi.MICTokenFlagSealed != 0 || t.Flags&gssapi.MICTokenFlagAcceptorSubkey != fl {
		return fmt.Errorf("%w: MIC token flags %#x", ErrMalformedToken, t.Flags)
	}
	t.Payload = data
	var ok bool
	err = safeUnmarshal(func() error {
		var err error
		ok, err = t.Verify(key, keyusage.GSSAPI_ACCEPTOR_SIGN)
		return err
	})
	if err != nil || !ok {
		return fmt.Errorf("kerberos: the acceptor's MIC: %w", ErrBadMIC)
	}
	return nil
}
