package spnego

import (
	"bytes"
	"encoding/asn1"
	"fmt"
	"strconv"
)

// Bounds on what the decoders accept and the encoders produce. A Negotiate
// header carrying a Kerberos ticket with a large PAC stays well below
// MaxTokenSize (Windows caps the whole header near 48 KiB by default).
const (
	// MaxTokenSize is the largest token, in bytes, that is decoded or
	// encoded.
	MaxTokenSize = 64 << 10
	// MaxMechTypes is the longest mechanism list accepted. Real
	// initiators offer two to five mechanisms.
	MaxMechTypes = 32
)

// Bit positions of ContextFlags (RFC 4178 section 4.2.1) in
// NegTokenInit.ReqFlags. Bit 0 is the most significant bit of the first
// byte, as asn1.BitString numbers them.
const (
	FlagDeleg    = 0
	FlagMutual   = 1
	FlagReplay   = 2
	FlagSequence = 3
	FlagAnon     = 4
	FlagConf     = 5
	FlagInteg    = 6
)

// NegState is the negState of a NegTokenResp (RFC 4178 section 4.2.2).
type NegState int

// The values of NegState. NegStateAbsent is not on the wire: it stands for
// a NegTokenResp without the optional negState field, as initiators send
// after their first token. Note that the zero value is AcceptCompleted.
const (
	NegStateAbsent   NegState = -1
	AcceptCompleted  NegState = 0
	AcceptIncomplete NegState = 1
	Reject           NegState = 2
	RequestMIC       NegState = 3
)

// String returns the RFC 4178 name of the state.
func (s NegState) String() string {
	switch s {
	case NegStateAbsent:
		return "absent"
	case AcceptCompleted:
		return "accept-completed"
	case AcceptIncomplete:
		return "accept-incomplete"
	case Reject:
		return "reject"
	case RequestMIC:
		return "request-mic"
	}
	return "NegState(" + strconv.Itoa(int(s)) + ")"
}

// NegTokenInit is the initiator's first token (RFC 4178 section 4.2.1),
// also in Microsoft's NegTokenInit2 form with negHints (MS-SPNG 2.2.1).
type NegTokenInit struct {
	// MechTypes lists the initiator's mechanisms, most preferred first.
	MechTypes []asn1.ObjectIdentifier
	// RawMechTypes is the DER encoding of the MechTypeList exactly as
	// received; the mechListMIC is computed over these bytes. It is set
	// by ParseNegTokenInit and ignored by Marshal, which encodes MechTypes.
	RawMechTypes []byte
	// ReqFlags are the optional, unprotected ContextFlags (see FlagDeleg
	// and the other Flag constants). BitLength 0 means absent.
	ReqFlags asn1.BitString
	// MechToken is the optimistic token of MechTypes[0], if any.
	MechToken []byte
	// NegHints is set in a NegTokenInit2; Marshal then writes that form.
	NegHints *NegHints
	// MechListMIC is rarely sent in a NegTokenInit; it is carried here for
	// completeness.
	MechListMIC []byte
}

// NegHints are the hints of a NegTokenInit2, which Windows acceptors send
// unsolicited. They are unauthenticated and Windows itself fills hintName
// with "not_defined_in_RFC4178@please_ignore".
type NegHints struct {
	// HintName is a GeneralString; empty means absent.
	HintName string
	// HintAddress is an opaque address; nil means absent.
	HintAddress []byte
}

// NegTokenResp is every token after the first (RFC 4178 section 4.2.2).
type NegTokenResp struct {
	// NegState is the acceptor's verdict, or NegStateAbsent.
	NegState NegState
	// SupportedMech is the mechanism the acceptor chose, present only in
	// its first reply.
	SupportedMech asn1.ObjectIdentifier
	// ResponseToken is the mechanism token, if any.
	ResponseToken []byte
	// MechListMIC is the mechanism's MIC over the initiator's
	// MechTypeList, if any.
	MechListMIC []byte
}

// MechTypeListBytes returns the DER encoding of a MechTypeList (SEQUENCE OF
// OBJECT IDENTIFIER): the bytes an initiator signs for the mechListMIC.
func MechTypeListBytes(mechs []asn1.ObjectIdentifier) ([]byte, error) {
	if len(mechs) > MaxMechTypes {
		return nil, fmt.Errorf("spnego: encode MechTypeList: %d mechanisms, more than %d", len(mechs), MaxMechTypes)
	}
	for _, m := range mechs {
		// encoding/asn1 checks the first two arcs but silently encodes
		// a negative arc as nothing.
		for _, arc := range m {
			if arc < 0 {
				return nil, fmt.Errorf("spnego: encode MechTypeList: negative arc in OID %v", m)
			}
		}
	}
	if mechs == nil {
		mechs = []asn1.ObjectIdentifier{} // encoding/asn1 writes nil as SEQUENCE too, but be explicit
	}
	b, err := asn1.Marshal(mechs)
	if err != nil {
		return nil, fmt.Errorf("spnego: encode MechTypeList: %w", err)
	}
	return b, nil
}

// Marshal encodes the token as an InitialContextToken: [APPLICATION 0]
// with thisMech OIDSPNEGO, around NegotiationToken choice [0] (RFC 2743
// section 3.1, RFC 4178 section 4.2). With NegHints set it writes a
// NegTokenInit2, where negHints is [3] and mechListMIC moves to [4].
func (t *NegTokenInit) Marshal() ([]byte, error) {
	mechs, err := MechTypeListBytes(t.MechTypes)
	if err != nil {
		return nil, err
	}
	var fields [][]byte
	add := func(tag int, inner []byte) {
		fields = append(fields, tlv(asn1.ClassContextSpecific, tag, true, inner))
	}
	add(0, mechs)
	if t.ReqFlags.BitLength > 0 {
		bs, err := marshalBitString(t.ReqFlags)
		if err != nil {
			return nil, fmt.Errorf("spnego: encode NegTokenInit: %w", err)
		}
		add(1, bs)
	}
	if len(t.MechToken) > 0 {
		add(2, octetString(t.MechToken))
	}
	micTag := 3
	if t.NegHints != nil {
		var hints []byte
		if t.NegHints.HintName != "" {
			hints = append(hints, tlv(asn1.ClassContextSpecific, 0, true,
				tlv(asn1.ClassUniversal, asn1.TagGeneralString, false, []byte(t.NegHints.HintName)))...)
		}
		if t.NegHints.HintAddress != nil {
			hints = append(hints, tlv(asn1.ClassContextSpecific, 1, true, octetString(t.NegHints.HintAddress))...)
		}
		add(3, tlv(asn1.ClassUniversal, asn1.TagSequence, true, hints))
		micTag = 4
	}
	if len(t.MechListMIC) > 0 {
		add(micTag, octetString(t.MechListMIC))
	}
	oid, err := asn1.Marshal(OIDSPNEGO)
	if err != nil {
		return nil, fmt.Errorf("spnego: encode NegTokenInit: %w", err)
	}
	choice := tlv(asn1.ClassContextSpecific, 0, true, tlv(asn1.ClassUniversal, asn1.TagSequence, true, bytes.Join(fields, nil)))
	out := tlv(asn1.ClassApplication, 0, true, append(oid, choice...))
	if len(out) > MaxTokenSize {
		return nil, fmt.Errorf("spnego: encode NegTokenInit: %d bytes, more than MaxTokenSize", len(out))
	}
	return out, nil
}

// Marshal encodes the token as NegotiationToken choice [1], without any
// GSS-API framing: RFC 4178 frames only the initial token.
func (t *NegTokenResp) Marshal() ([]byte, error) {
	var fields [][]byte
	add := func(tag int, inner []byte) {
		fields = append(fields, tlv(asn1.ClassContextSpecific, tag, true, inner))
	}
	switch {
	case t.NegState == NegStateAbsent:
	case t.NegState < 0:
		return nil, fmt.Errorf("spnego: encode NegTokenResp: invalid negState %d", int(t.NegState))
	default:
		e, err := asn1.Marshal(asn1.Enumerated(t.NegState))
		if err != nil {
			return nil, fmt.Errorf("spnego: encode NegTokenResp: %w", err)
		}
		add(0, e)
	}
	if len(t.SupportedMech) > 0 {
		o, err := asn1.Marshal(t.SupportedMech)
		if err != nil {
			return nil, fmt.Errorf("spnego: encode NegTokenResp: %w", err)
		}
		add(1, o)
	}
	if len(t.ResponseToken) > 0 {
		add(2, octetString(t.ResponseToken))
	}
	if len(t.MechListMIC) > 0 {
		add(3, octetString(t.MechListMIC))
	}
	out := tlv(asn1.ClassContextSpecific, 1, true, tlv(asn1.ClassUniversal, asn1.TagSequence, true, bytes.Join(fields, nil)))
	if len(out) > MaxTokenSize {
		return nil, fmt.Errorf("spnego: encode NegTokenResp: %d bytes, more than MaxTokenSize", len(out))
	}
	return out, nil
}

// tagEnumerated is the universal tag of ENUMERATED, which encoding/asn1
// does not name.
const tagEnumerated = 10

// ntlmSignature starts every NTLMSSP message.
var ntlmSignature = []byte("NTLMSSP\x00")

// ParseNegTokenInit decodes an initiator's first token, with or without
// the GSS-API [APPLICATION 0] framing (the bare [0] form is not what RFC
// 4178 sends, but costs nothing to accept). NegTokenInit2 is accepted too.
// A raw NTLMSSP or Kerberos token yields an error wrapping ErrNotSPNEGO.
func ParseNegTokenInit(b []byte) (*NegTokenInit, error) {
	t, err := parseNegTokenInit(b)
	if err != nil {
		return nil, fmt.Errorf("spnego: decode NegTokenInit: %w", err)
	}
	return t, nil
}

func parseNegTokenInit(b []byte) (*NegTokenInit, error) {
	if err := checkSize(b); err != nil {
		return nil, err
	}
	if bytes.HasPrefix(b, ntlmSignature) {
		return nil, fmt.Errorf("%w: an NTLMSSP message", ErrNotSPNEGO)
	}
	if b[0] == 0x60 {
		oid, inner, err := unwrapGSS(b)
		if err != nil {
			return nil, err
		}
		if !oid.Equal(OIDSPNEGO) {
			if isKerberos(oid) {
				return nil, fmt.Errorf("%w: a Kerberos token (%v)", ErrNotSPNEGO, oid)
			}
			return nil, fmt.Errorf("%w: GSS-API token of mechanism %v, not SPNEGO", ErrMalformed, oid)
		}
		b = inner
	}
	choice, err := single(b)
	if err != nil {
		return nil, err
	}
	if !isContext(choice, 0) {
		return nil, fmt.Errorf("%w: NegotiationToken is %s, want negTokenInit [0]", ErrMalformed, describeTag(choice))
	}
	seq, err := single(choice.Bytes)
	if err != nil {
		return nil, err
	}
	return parseInitSequence(seq)
}

// parseInitSequence decodes the SEQUENCE of a NegTokenInit or NegTokenInit2.
// The two differ only at [3]: mechListMIC (OCTET STRING) in the first,
// negHints (SEQUENCE) in the second, whose mechListMIC is [4].
func parseInitSequence(seq asn1.RawValue) (*NegTokenInit, error) {
	if !isUniversal(seq, asn1.TagSequence, true) {
		return nil, fmt.Errorf("%w: NegTokenInit is %s, want SEQUENCE", ErrMalformed, describeTag(seq))
	}
	t := &NegTokenInit{}
	err := eachField(seq.Bytes, func(tag int, v asn1.RawValue) error {
		var err error
		switch tag {
		case 0:
			t.MechTypes, t.RawMechTypes, err = parseMechTypes(v)
		case 1:
			t.ReqFlags, err = parseBitString(v)
		case 2:
			t.MechToken, err = parseOctetString(v, "mechToken")
		case 3:
			if isUniversal(v, asn1.TagSequence, true) {
				t.NegHints, err = parseNegHints(v)
			} else {
				t.MechListMIC, err = parseOctetString(v, "mechListMIC")
			}
		case 4:
			if t.NegHints == nil {
				// [4] only exists in NegTokenInit2, after negHints;
				// RFC 4178's extension marker could put something
				// else here one day, so ignore it like any
				// unknown field rather than reject the token.
				return nil
			}
			t.MechListMIC, err = parseOctetString(v, "mechListMIC")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// ParseNegTokenResp decodes a NegTokenResp, the bare [1] choice. A raw
// NTLMSSP or Kerberos token yields an error wrapping ErrNotSPNEGO.
func ParseNegTokenResp(b []byte) (*NegTokenResp, error) {
	t, err := parseNegTokenResp(b)
	if err != nil {
		return nil, fmt.Errorf("spnego: decode NegTokenResp: %w", err)
	}
	return t, nil
}

func parseNegTokenResp(b []byte) (*NegTokenResp, error) {
	if err := checkSize(b); err != nil {
		return nil, err
	}
	if bytes.HasPrefix(b, ntlmSignature) {
		return nil, fmt.Errorf("%w: an NTLMSSP message", ErrNotSPNEGO)
	}
	if b[0] == 0x60 {
		if oid, _, err := unwrapGSS(b); err == nil && isKerberos(oid) {
			return nil, fmt.Errorf("%w: a Kerberos token (%v)", ErrNotSPNEGO, oid)
		}
	}
	choice, err := single(b)
	if err != nil {
		return nil, err
	}
	if !isContext(choice, 1) {
		return nil, fmt.Errorf("%w: NegotiationToken is %s, want negTokenResp [1]", ErrMalformed, describeTag(choice))
	}
	seq, err := single(choice.Bytes)
	if err != nil {
		return nil, err
	}
	if !isUniversal(seq, asn1.TagSequence, true) {
		return nil, fmt.Errorf("%w: NegTokenResp is %s, want SEQUENCE", ErrMalformed, describeTag(seq))
	}
	t := &NegTokenResp{NegState: NegStateAbsent}
	err = eachField(seq.Bytes, func(tag int, v asn1.RawValue) error {
		var err error
		switch tag {
		case 0:
			if !isUniversal(v, tagEnumerated, false) {
				return fmt.Errorf("%w: negState is %s, want ENUMERATED", ErrMalformed, describeTag(v))
			}
			var e asn1.Enumerated
			if _, err := asn1.Unmarshal(v.FullBytes, &e); err != nil {
				return fmt.Errorf("%w: negState: %v", ErrMalformed, err)
			}
			if e < 0 {
				return fmt.Errorf("%w: negState %d", ErrMalformed, e)
			}
			// Values above request-mic are kept so that a dump can
			// show them; the initiator refuses them.
			t.NegState = NegState(e)
		case 1:
			t.SupportedMech, err = parseOID(v)
		case 2:
			t.ResponseToken, err = parseOctetString(v, "responseToken")
		case 3:
			t.MechListMIC, err = parseOctetString(v, "mechListMIC")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Kind says what Parse found.
type Kind int

// The kinds of token Parse recognises.
const (
	// KindNegTokenInit is a SPNEGO NegTokenInit (or NegTokenInit2).
	KindNegTokenInit Kind = iota + 1
	// KindNegTokenResp is a SPNEGO NegTokenResp.
	KindNegTokenResp
	// KindNTLMSSP is a raw NTLM message, sent under "Negotiate" by
	// servers and clients that skip SPNEGO.
	KindNTLMSSP
	// KindKerberos is a raw Kerberos GSS-API token (AP-REQ, AP-REP or
	// KRB-ERROR, RFC 4121 section 4.1) framed with OIDKerberos or
	// OIDMSKerberos, as sent by initiators that skip SPNEGO and by
	// acceptors answering them.
	KindKerberos
	// KindGSSAPI is a GSS-API InitialContextToken of another mechanism.
	KindGSSAPI
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindNegTokenInit:
		return "NegTokenInit"
	case KindNegTokenResp:
		return "NegTokenResp"
	case KindNTLMSSP:
		return "NTLMSSP"
	case KindKerberos:
		return "Kerberos"
	case KindGSSAPI:
		return "GSS-API"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Token is what Parse found in a Negotiate token.
type Token struct {
	// Kind says which of the fields below are set.
	Kind Kind
	// Init is set for KindNegTokenInit, Resp for KindNegTokenResp.
	Init *NegTokenInit
	Resp *NegTokenResp
	// Mech is the mechanism of a raw token: OIDNTLMSSP, the framing OID
	// of a Kerberos or other GSS-API token.
	Mech asn1.ObjectIdentifier
	// MechToken is the raw mechanism token: the whole NTLM message, or
	// the innerToken of the GSS-API framing (for Kerberos, the two-byte
	// TOK_ID followed by the Kerberos message).
	MechToken []byte
}

// Parse decodes any token that may arrive under "Negotiate": a NegTokenInit
// (framed or bare), a NegTokenResp, or a raw NTLMSSP or GSS-API mechanism
// token, and says which it is.
func Parse(b []byte) (*Token, error) {
	if err := checkSize(b); err != nil {
		return nil, fmt.Errorf("spnego: decode token: %w", err)
	}
	switch {
	case bytes.HasPrefix(b, ntlmSignature):
		return &Token{Kind: KindNTLMSSP, Mech: OIDNTLMSSP, MechToken: bytes.Clone(b)}, nil
	case b[0] == 0x60:
		oid, inner, err := unwrapGSS(b)
		if err != nil {
			return nil, fmt.Errorf("spnego: decode token: %w", err)
		}
		switch {
		case oid.Equal(OIDSPNEGO):
			t, err := ParseNegTokenInit(b)
			if err != nil {
				return nil, err
			}
			return &Token{Kind: KindNegTokenInit, Init: t}, nil
		case isKerberos(oid):
			if len(inner) < 2 {
				return nil, fmt.Errorf("spnego: decode token: %w: Kerberos token without TOK_ID", ErrMalformed)
			}
			return &Token{Kind: KindKerberos, Mech: oid, MechToken: bytes.Clone(inner)}, nil
		default:
			return &Token{Kind: KindGSSAPI, Mech: oid, MechToken: bytes.Clone(inner)}, nil
		}
	case b[0] == 0xa0:
		t, err := ParseNegTokenInit(b)
		if err != nil {
			return nil, err
		}
		return &Token{Kind: KindNegTokenInit, Init: t}, nil
	case b[0] == 0xa1:
		t, err := ParseNegTokenResp(b)
		if err != nil {
			return nil, err
		}
		return &Token{Kind: KindNegTokenResp, Resp: t}, nil
	}
	return nil, fmt.Errorf("spnego: decode token: %w: unknown token starting with %#02x", ErrMalformed, b[0])
}

// ---- DER helpers over encoding/asn1 ----

func checkSize(b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: empty token", ErrMalformed)
	}
	if len(b) > MaxTokenSize {
		return fmt.Errorf("%w: %d bytes, more than MaxTokenSize", ErrMalformed, len(b))
	}
	return nil
}

// tlv encodes one DER element. It cannot fail for the class, tag and
// content sizes used here (all bounded by MaxTokenSize), so errors from
// encoding/asn1 are impossible; writing it by hand keeps Marshal free of
// unreachable error paths.
func tlv(class, tag int, compound bool, content []byte) []byte {
	id := byte(class<<6) | byte(tag) // every tag used here is below 31
	if compound {
		id |= 0x20
	}
	out := []byte{id}
	n := len(content)
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n <= 0xff:
		out = append(out, 0x81, byte(n))
	case n <= 0xffff:
		out = append(out, 0x82, byte(n>>8), byte(n))
	case n <= 0xffffff:
		out = append(out, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		out = append(out, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(out, content...)
}

func octetString(b []byte) []byte {
	return tlv(asn1.ClassUniversal, asn1.TagOctetString, false, b)
}

// marshalBitString writes a BIT STRING as given, checking that its length
// fits its bytes (encoding/asn1 would silently write inconsistent ones).
func marshalBitString(bs asn1.BitString) ([]byte, error) {
	if bs.BitLength < 0 || bs.BitLength > 8*len(bs.Bytes) || bs.BitLength <= 8*(len(bs.Bytes)-1) {
		return nil, fmt.Errorf("reqFlags: BitLength %d does not match %d bytes", bs.BitLength, len(bs.Bytes))
	}
	unused := byte(8*len(bs.Bytes) - bs.BitLength)
	return tlv(asn1.ClassUniversal, asn1.TagBitString, false, append([]byte{unused}, bs.Bytes...)), nil
}

// element reads one DER element. encoding/asn1 enforces DER lengths
// (definite, minimal) and bounds them by the input.
func element(b []byte) (asn1.RawValue, []byte, error) {
	var v asn1.RawValue
	rest, err := asn1.Unmarshal(b, &v)
	if err != nil {
		return v, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return v, rest, nil
}

// single reads exactly one DER element filling b.
func single(b []byte) (asn1.RawValue, error) {
	v, rest, err := element(b)
	if err != nil {
		return v, err
	}
	if len(rest) > 0 {
		return v, fmt.Errorf("%w: %d bytes after %s", ErrMalformed, len(rest), describeTag(v))
	}
	return v, nil
}

// unwrapGSS splits the GSS-API framing of RFC 2743 section 3.1,
// [APPLICATION 0] IMPLICIT SEQUENCE { thisMech OID, innerToken ANY }, into
// the OID and the inner token.
func unwrapGSS(b []byte) (asn1.ObjectIdentifier, []byte, error) {
	app, err := single(b)
	if err != nil {
		return nil, nil, err
	}
	if app.Class != asn1.ClassApplication || app.Tag != 0 || !app.IsCompound {
		return nil, nil, fmt.Errorf("%w: GSS-API token is %s, want [APPLICATION 0]", ErrMalformed, describeTag(app))
	}
	var oid asn1.ObjectIdentifier
	inner, err := asn1.Unmarshal(app.Bytes, &oid)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: GSS-API thisMech: %v", ErrMalformed, err)
	}
	return oid, inner, nil
}

// eachField walks the fields of a SEQUENCE whose members are all explicitly
// context-tagged, as in every SPNEGO type, and calls f with each tag and
// the element inside it. Tags must increase (DER order, no repeats);
// unknown tags are passed to f, which ignores them, since RFC 4178's
// types end with an extension marker.
func eachField(b []byte, f func(tag int, v asn1.RawValue) error) error {
	last := -1
	for len(b) > 0 {
		fld, rest, err := element(b)
		if err != nil {
			return err
		}
		b = rest
		if fld.Class != asn1.ClassContextSpecific || !fld.IsCompound {
			return fmt.Errorf("%w: field is %s, want an explicit context tag", ErrMalformed, describeTag(fld))
		}
		if fld.Tag <= last {
			return fmt.Errorf("%w: field [%d] after [%d]", ErrMalformed, fld.Tag, last)
		}
		last = fld.Tag
		v, err := single(fld.Bytes)
		if err != nil {
			return err
		}
		if err := f(fld.Tag, v); err != nil {
			return err
		}
	}
	return nil
}

func parseMechTypes(v asn1.RawValue) ([]asn1.ObjectIdentifier, []byte, error) {
	if !isUniversal(v, asn1.TagSequence, true) {
		return nil, nil, fmt.Errorf("%w: mechTypes is %s, want SEQUENCE OF", ErrMalformed, describeTag(v))
	}
	var mechs []asn1.ObjectIdentifier
	for b := v.Bytes; len(b) > 0; {
		if len(mechs) == MaxMechTypes {
			return nil, nil, fmt.Errorf("%w: more than %d mechanisms", ErrMalformed, MaxMechTypes)
		}
		e, rest, err := element(b)
		if err != nil {
			return nil, nil, err
		}
		b = rest
		oid, err := parseOID(e)
		if err != nil {
			return nil, nil, err
		}
		mechs = append(mechs, oid)
	}
	return mechs, bytes.Clone(v.FullBytes), nil
}

func parseOID(v asn1.RawValue) (asn1.ObjectIdentifier, error) {
	if !isUniversal(v, asn1.TagOID, false) {
		return nil, fmt.Errorf("%w: mechanism is %s, want OBJECT IDENTIFIER", ErrMalformed, describeTag(v))
	}
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(v.FullBytes, &oid); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return oid, nil
}

func parseOctetString(v asn1.RawValue, what string) ([]byte, error) {
	if !isUniversal(v, asn1.TagOctetString, false) {
		return nil, fmt.Errorf("%w: %s is %s, want OCTET STRING", ErrMalformed, what, describeTag(v))
	}
	return bytes.Clone(v.Bytes), nil
}

// parseBitString decodes reqFlags by hand rather than with encoding/asn1,
// which refuses non-zero padding bits. RFC 4178 says acceptors should
// ignore reqFlags, so a sloppy encoding of them must not fail the logon.
func parseBitString(v asn1.RawValue) (asn1.BitString, error) {
	if !isUniversal(v, asn1.TagBitString, false) {
		return asn1.BitString{}, fmt.Errorf("%w: reqFlags is %s, want BIT STRING", ErrMalformed, describeTag(v))
	}
	b := v.Bytes
	if len(b) == 0 || b[0] > 7 || (len(b) == 1 && b[0] != 0) {
		return asn1.BitString{}, fmt.Errorf("%w: reqFlags: invalid BIT STRING", ErrMalformed)
	}
	return asn1.BitString{Bytes: bytes.Clone(b[1:]), BitLength: 8*(len(b)-1) - int(b[0])}, nil
}

func parseNegHints(v asn1.RawValue) (*NegHints, error) {
	h := &NegHints{}
	err := eachField(v.Bytes, func(tag int, e asn1.RawValue) error {
		switch tag {
		case 0:
			// GeneralString: encoding/asn1 cannot decode it; Windows
			// writes ASCII.
			if !isUniversal(e, asn1.TagGeneralString, false) {
				return fmt.Errorf("%w: hintName is %s, want GeneralString", ErrMalformed, describeTag(e))
			}
			h.HintName = string(e.Bytes)
		case 1:
			var err error
			if h.HintAddress, err = parseOctetString(e, "hintAddress"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

func isUniversal(v asn1.RawValue, tag int, compound bool) bool {
	return v.Class == asn1.ClassUniversal && v.Tag == tag && v.IsCompound == compound
}

func isContext(v asn1.RawValue, tag int) bool {
	return v.Class == asn1.ClassContextSpecific && v.Tag == tag && v.IsCompound
}

// describeTag names an element's tag for error messages.
func describeTag(v asn1.RawValue) string {
	class := [...]string{"UNIVERSAL ", "APPLICATION ", "", "PRIVATE "}[v.Class&3]
	form := "primitive"
	if v.IsCompound {
		form = "constructed"
	}
	return fmt.Sprintf("[%s%d] %s", class, v.Tag, form)
}
